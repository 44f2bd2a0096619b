package table

import (
	"fmt"
	"net/netip"
	"slices"
	"strings"

	"github.com/nlevents/nlevents"
)

// Header flags of route notifications (linux/netlink.h).
const (
	flagReplace = 0x100
	flagAppend  = 0x800
)

// updateRoute applies a route notification. IPv6 multipath routes change
// one next hop at a time: NLM_F_APPEND adds the listed next hops to the
// route, and a deletion that lists next hops removes only those, so the
// table merges instead of replacing.
func (t *Table) updateRoute(e *nlevents.RouteEvent) {
	key := routeKey(e)
	old, exists := t.routes[key]
	hops := hopsOf(e)

	switch {
	case e.Deleted && exists && e.Family == afInet6 && len(hops) > 0 && len(old.value.NextHops) > len(hops):
		old.value.NextHops = removeHops(old.value.NextHops, hops)
		if len(old.value.NextHops) > 0 {
			return
		}
		delete(t.routes, key)
	case e.Deleted:
		delete(t.routes, key)
	case exists && e.Family == afInet6 && e.Header.Flags&flagAppend != 0 && e.Header.Flags&flagReplace == 0:
		merged := routeOf(e, key)
		merged.NextHops = addHops(old.value.NextHops, hops)
		merged.order = old.value.order
		t.routes[key] = entry[*Route]{merged, t.generation}
	default:
		t.insertRoute(e, key, exists)
	}
}

// insertRoute adds or overwrites a route. An IPv4 replace removes the route
// the kernel replaced, which may have another next hop and so another key.
func (t *Table) insertRoute(e *nlevents.RouteEvent, key RouteKey, exists bool) {
	route := routeOf(e, key)
	switch {
	case exists:
		route.order = t.routes[key].value.order
	case e.Family == afInet && e.Header.Flags&flagReplace != 0:
		route.order = t.removeReplaced(key)
	}
	if route.order == 0 {
		t.routeOrder++
		route.order = t.routeOrder
	}
	t.routes[key] = entry[*Route]{route, t.generation}
}

// removeReplaced removes the first inserted IPv4 route with key's
// destination, TOS and metric, and returns its order, or 0 if there is none.
func (t *Table) removeReplaced(key RouteKey) uint64 {
	var first RouteKey
	var order uint64
	for k, e := range t.routes {
		if sameBase(k, key) && (order == 0 || e.value.order < order) {
			first, order = k, e.value.order
		}
	}
	if order != 0 {
		delete(t.routes, first)
	}
	return order
}

func sameBase(a, b RouteKey) bool {
	a.Dev, a.Gateway, b.Dev, b.Gateway = 0, netip.Addr{}, 0, netip.Addr{}
	return a == b
}

// Address families (linux/socket.h).
const (
	afInet  = 2
	afInet6 = 10
)

func routeKey(e *nlevents.RouteEvent) RouteKey {
	key := RouteKey{Family: e.Family, Table: e.Table, Dst: e.Dst, Src: e.Src, TOS: e.TOS, Priority: e.Priority}
	switch {
	case len(e.NextHops) > 0:
	case e.Family == afInet:
		key.Dev, key.Gateway = e.OutIndex, e.Gateway
	case e.Family == afInet6 && !e.Gateway.IsValid():
		key.Dev = e.OutIndex
	}
	return key
}

func routeOf(e *nlevents.RouteEvent, key RouteKey) *Route {
	return &Route{
		RouteKey: key, Type: e.Type, Protocol: e.Protocol, Scope: e.Scope,
		PrefSrc: e.PrefSrc, NexthopID: e.NexthopID, NextHops: hopsOf(e),
	}
}

// hopsOf returns the route's next hops, turning a single-path route into
// one next hop of weight 1. A route with neither gateway nor device has
// none.
func hopsOf(e *nlevents.RouteEvent) []nlevents.NextHop {
	if len(e.NextHops) > 0 {
		return slices.Clone(e.NextHops)
	}
	if !e.Gateway.IsValid() && e.OutIndex == 0 {
		return nil
	}
	return []nlevents.NextHop{{Gateway: e.Gateway, Index: e.OutIndex, Weight: 1}}
}

// sameHop compares next hops by where they lead, ignoring flags and weight,
// which a deletion need not repeat.
func sameHop(a, b nlevents.NextHop) bool {
	return a.Gateway == b.Gateway && a.Index == b.Index
}

func removeHops(hops, gone []nlevents.NextHop) []nlevents.NextHop {
	return slices.DeleteFunc(slices.Clone(hops), func(h nlevents.NextHop) bool {
		return slices.ContainsFunc(gone, func(g nlevents.NextHop) bool { return sameHop(h, g) })
	})
}

func addHops(hops, added []nlevents.NextHop) []nlevents.NextHop {
	out := slices.Clone(hops)
	for _, h := range added {
		i := slices.IndexFunc(out, func(o nlevents.NextHop) bool { return sameHop(o, h) })
		if i >= 0 {
			out[i] = h
		} else {
			out = append(out, h)
		}
	}
	return out
}

// String describes the route in the words of ip route, for example
// "198.51.100.0/24 via 192.0.2.1 dev 3 table 254 metric 100" or
// "local 192.0.2.1/32 dev 3 table 255".
func (r *Route) String() string {
	var b strings.Builder
	if r.Type != nlevents.RouteUnicast {
		fmt.Fprintf(&b, "%v ", r.Type)
	}
	fmt.Fprintf(&b, "%v", r.Dst)
	if r.Src.IsValid() {
		fmt.Fprintf(&b, " from %v", r.Src)
	}
	for _, hop := range r.NextHops {
		if len(r.NextHops) > 1 {
			b.WriteString(" nexthop")
		}
		if hop.Gateway.IsValid() {
			fmt.Fprintf(&b, " via %v", hop.Gateway)
		}
		fmt.Fprintf(&b, " dev %d", hop.Index)
		if len(r.NextHops) > 1 {
			fmt.Fprintf(&b, " weight %d", hop.Weight)
		}
	}
	if r.NexthopID != 0 {
		fmt.Fprintf(&b, " nhid %d", r.NexthopID)
	}
	fmt.Fprintf(&b, " table %d", r.Table)
	if r.Priority != 0 {
		fmt.Fprintf(&b, " metric %d", r.Priority)
	}
	return b.String()
}
