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
	routes map[routeID]trackedRoute
	order  uint64 // the order of the last route added
	// seen is non-nil while an IPv4 route dump runs: the routes that the
	// dump or a notification confirmed since it started.
	seen map[routeID]struct{}
}

// trackedRoute is a route's last event and when it was first seen, so that
// a replace can find the route the kernel replaced.
type trackedRoute struct {
	event *RouteEvent
	order uint64
}

// routeID identifies an IPv4 route as the kernel does: by table,
// destination, TOS and metric, and by the single next hop's link and
// gateway. ip route append, and addresses of one prefix on two links, make
// routes that differ only in those.
type routeID struct {
	table    uint32
	dst      netip.Prefix
	tos      uint8
	priority uint32
	oif      int
	gateway  netip.Addr
}

func newRouteTracker() *routeTracker {
	return &routeTracker{routes: make(map[routeID]trackedRoute)}
}

func idOf(ev *RouteEvent) routeID {
	id := routeID{table: ev.Table, dst: ev.Dst, tos: ev.TOS, priority: ev.Priority}
	if len(ev.NextHops) == 0 {
		id.oif, id.gateway = ev.OutIndex, ev.Gateway
	}
	return id
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

	order := t.routes[id].order
	if order == 0 && ev.Header.Flags&nlmFReplace != 0 {
		order = t.removeReplaced(id)
	}
	if order == 0 {
		t.order++
		order = t.order
	}
	t.routes[id] = trackedRoute{event: ev, order: order}
	if t.seen != nil {
		t.seen[id] = struct{}{}
	}
}

// removeReplaced removes the route that an IPv4 replace replaced: the
// first one added with id's table, destination, TOS and metric. It returns
// that route's order, or 0 if there is none.
func (t *routeTracker) removeReplaced(id routeID) uint64 {
	var first routeID
	var order uint64
	for other, route := range t.routes {
		sameBase := other.table == id.table && other.dst == id.dst && other.tos == id.tos && other.priority == id.priority
		if sameBase && (order == 0 || route.order < order) {
			first, order = other, route.order
		}
	}
	if order != 0 {
		delete(t.routes, first)
	}
	return order
}

func (t *routeTracker) startDump() { t.seen = make(map[routeID]struct{}) }

func (t *routeTracker) abortDump() { t.seen = nil }

// finishDump removes the routes that the dump did not confirm and returns
// them, ordered by table, destination and metric.
func (t *routeTracker) finishDump() []*RouteEvent {
	if t.seen == nil {
		return nil
	}

	var vanished []*RouteEvent
	for id, route := range t.routes {
		if _, ok := t.seen[id]; !ok {
			vanished = append(vanished, route.event)
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
	for _, route := range t.routes {
		if route.event.OutIndex == index {
			return true
		}
		for _, hop := range route.event.NextHops {
			if hop.Index == index {
				return true
			}
		}
	}
	return false
}

// usesNexthop reports whether a tracked route uses the nexthop object.
func (t *routeTracker) usesNexthop(id uint32) bool {
	for _, route := range t.routes {
		if route.event.NexthopID == id {
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
