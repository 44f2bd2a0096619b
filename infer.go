package nlevents

import (
	"cmp"
	"net/netip"
	"slices"
)

// routeTracker remembers the IPv4 routes the subscription has seen, so that
// routes the kernel removes without RTM_DELROUTE can be found by dumping the
// routes again and comparing. The kernel flushes IPv4 routes silently when
// their link goes down or is deleted, when an address they depend on is
// removed, and when a nexthop object they use is deleted.
type routeTracker struct {
	routes map[routeID]*RouteEvent
	// seen is non-nil while an IPv4 route dump runs: the routes that the
	// dump or a notification confirmed since it started.
	seen map[routeID]struct{}
}

// routeID identifies an IPv4 route as the kernel does.
type routeID struct {
	table    uint32
	dst      netip.Prefix
	tos      uint8
	priority uint32
}

func newRouteTracker() *routeTracker {
	return &routeTracker{routes: make(map[routeID]*RouteEvent)}
}

func idOf(ev *RouteEvent) routeID {
	return routeID{table: ev.Table, dst: ev.Dst, tos: ev.TOS, priority: ev.Priority}
}

// observe records an IPv4 route event.
func (t *routeTracker) observe(ev *RouteEvent) {
	if ev.Family != afInet {
		return
	}
	id := idOf(ev)
	if ev.Deleted {
		delete(t.routes, id)
		return
	}

	t.routes[id] = ev
	if t.seen != nil {
		t.seen[id] = struct{}{}
	}
}

func (t *routeTracker) startDump() { t.seen = make(map[routeID]struct{}) }

func (t *routeTracker) abortDump() { t.seen = nil }

// finishDump forgets the routes that the dump did not confirm and returns
// them, ordered by table, destination and metric.
func (t *routeTracker) finishDump() []*RouteEvent {
	if t.seen == nil {
		return nil
	}

	var vanished []*RouteEvent
	for id, ev := range t.routes {
		if _, ok := t.seen[id]; !ok {
			vanished = append(vanished, ev)
			delete(t.routes, id)
		}
	}
	t.seen = nil

	slices.SortFunc(vanished, func(a, b *RouteEvent) int {
		return cmp.Or(cmp.Compare(a.Table, b.Table), a.Dst.Addr().Compare(b.Dst.Addr()),
			cmp.Compare(a.Dst.Bits(), b.Dst.Bits()), cmp.Compare(a.Priority, b.Priority))
	})
	return vanished
}

// usesLink reports whether a tracked route leaves through the link.
func (t *routeTracker) usesLink(index int) bool {
	for _, ev := range t.routes {
		if ev.OutIndex == index {
			return true
		}
		for _, hop := range ev.NextHops {
			if hop.Index == index {
				return true
			}
		}
	}
	return false
}

// usesNexthop reports whether a tracked route uses the nexthop object.
func (t *routeTracker) usesNexthop(id uint32) bool {
	for _, ev := range t.routes {
		if ev.NexthopID == id {
			return true
		}
	}
	return false
}

// needsCheck reports whether a live event may have made the kernel flush
// tracked routes without notifications.
func (t *routeTracker) needsCheck(ev Event) bool {
	if len(t.routes) == 0 {
		return false
	}
	switch e := ev.(type) {
	case *LinkEvent:
		return (e.Deleted || !e.Up()) && t.usesLink(e.Index)
	case *AddrEvent:
		return e.Deleted && e.Family == afInet
	case *NexthopEvent:
		return e.Deleted && t.usesNexthop(e.ID)
	}
	return false
}

// inferGroups are the groups whose events can flush IPv4 routes silently;
// WithInferredDeletes joins them even when the consumer did not ask for them,
// and hides their events.
const inferGroups = Link | IPv4Addr | Nexthop

// groupOf returns the group a typed event belongs to, or 0 when the event
// has no single group.
func groupOf(ev Event) Groups {
	switch e := ev.(type) {
	case *LinkEvent:
		return Link
	case *AddrEvent:
		return familyGroup(e.Family, IPv4Addr, IPv6Addr)
	case *RouteEvent:
		return familyGroup(e.Family, IPv4Route, IPv6Route)
	case *NexthopEvent:
		return Nexthop
	}
	return 0
}

func familyGroup(family uint8, v4, v6 Groups) Groups {
	switch family {
	case afInet:
		return v4
	case afInet6:
		return v6
	}
	return 0
}
