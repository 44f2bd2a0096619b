// Package table keeps a picture of a namespace's links, addresses and routes
// up to date from an nlevents stream: the typical consumer of the library.
//
// Feed it every step of the stream, events and errors alike, in order:
//
//	t := table.New()
//	for ev, err := range nlevents.Stream(ctx, nlevents.Link|nlevents.Addr|nlevents.Route,
//		nlevents.WithInitialDump(), nlevents.WithResync(), nlevents.WithInferredDeletes()) {
//		t.Update(ev, err)
//	}
//
// WithInferredDeletes matters for routes: the kernel removes IPv4 routes
// without notifying when their link goes down, and without it the table
// keeps them. With WithInitialDump the picture is complete once Synced
// returns true.
// After an overrun it is stale until the *SyncEvent of the resync. Update
// marks the picture when it receives ErrOverrun, and at the marker it sweeps
// out every entry that neither the dump nor a notification mentioned since.
package table

import (
	"cmp"
	"errors"
	"net/netip"
	"slices"

	"github.com/nlevents/nlevents"
)

// Table is a picture of links, addresses and routes. It is not safe for
// concurrent use: one goroutine calls Update and reads it, or the caller
// locks.
type Table struct {
	links  map[int]entry[*nlevents.LinkEvent]
	addrs  map[AddrKey]entry[*nlevents.AddrEvent]
	routes map[RouteKey]entry[*Route]

	generation uint64 // bumped at each overrun; entries older than it are stale
	routeOrder uint64 // the order of the last inserted route
	synced     bool   // a marker arrived and no overrun since
	dumpFailed bool   // a dump failed since the last mark, so sweeping is unsafe
}

type entry[T any] struct {
	value      T
	generation uint64
}

// AddrKey identifies an address: the link and the address with its prefix
// length.
type AddrKey struct {
	Index  int          // the link's index
	Prefix netip.Prefix // the local address with its prefix length
}

// RouteKey identifies a route the way the kernel does: two routes with the
// same key cannot coexist.
type RouteKey struct {
	Family   uint8        // AF_INET (2) or AF_INET6 (10)
	Table    uint32       // routing table, such as nlevents.TableMain
	Dst      netip.Prefix // destination, 0.0.0.0/0 or ::/0 for a default route
	Src      netip.Prefix // source prefix of an IPv6 source route, invalid when absent
	TOS      uint8        // type of service (IPv4)
	Priority uint32       // metric
	// Dev and Gateway tell apart routes that the kernel keeps apart by
	// their next hop. IPv4 keeps routes that differ only in their next hop
	// (ip route append, or addresses of one prefix on two links): for a
	// single-path IPv4 route they are its link and gateway. IPv6 keeps
	// routes without a gateway apart per link (fe80::/64 on every link):
	// for those Dev is the link. They are zero for multipath routes and
	// for IPv6 routes through gateways, which the kernel merges into one
	// multipath route.
	Dev     int
	Gateway netip.Addr
}

// Route is a route with all its next hops merged from the notifications
// about it. A single-path route has one next hop.
type Route struct {
	RouteKey
	Type      nlevents.RouteType     // unicast, local, blackhole, ...
	Protocol  nlevents.RouteProtocol // who installed the route
	Scope     nlevents.RouteScope    // route scope
	PrefSrc   netip.Addr             // preferred source address, invalid when absent
	NexthopID uint32                 // nexthop object the route uses, 0 for none
	NextHops  []nlevents.NextHop     // every path; one for a single-path route

	// order is when the route was first inserted, so that an IPv4 replace
	// can find the route the kernel replaced: the first of those with the
	// same destination, TOS and metric.
	order uint64
}

// New returns an empty table.
func New() *Table {
	return &Table{
		links:  make(map[int]entry[*nlevents.LinkEvent]),
		addrs:  make(map[AddrKey]entry[*nlevents.AddrEvent]),
		routes: make(map[RouteKey]entry[*Route]),
	}
}

// Synced reports whether a *SyncEvent arrived with no overrun after it, so
// that the table matches the kernel as of the last event.
func (t *Table) Synced() bool { return t.synced }

// Update applies one step of the stream: an event, or an error. Errors
// other than nlevents.ErrOverrun and *nlevents.DumpError change nothing.
func (t *Table) Update(ev nlevents.Event, err error) {
	if err != nil {
		t.updateError(err)
		return
	}

	switch e := ev.(type) {
	case *nlevents.LinkEvent:
		t.updateLink(e)
	case *nlevents.AddrEvent:
		t.updateAddr(e)
	case *nlevents.RouteEvent:
		t.updateRoute(e)
	case *nlevents.SyncEvent:
		t.sweep()
	}
}

func (t *Table) updateError(err error) {
	var dumpErr *nlevents.DumpError
	switch {
	case errors.Is(err, nlevents.ErrOverrun):
		// Everything not confirmed from now to the resync marker is stale.
		t.generation++
		t.synced = false
		t.dumpFailed = false
	case errors.As(err, &dumpErr):
		t.dumpFailed = true
	}
}

func (t *Table) updateLink(e *nlevents.LinkEvent) {
	if e.Deleted {
		delete(t.links, e.Index)
		return
	}
	t.links[e.Index] = entry[*nlevents.LinkEvent]{e, t.generation}
}

func (t *Table) updateAddr(e *nlevents.AddrEvent) {
	key := AddrKey{Index: e.Index, Prefix: e.Prefix}
	if e.Deleted {
		delete(t.addrs, key)
		return
	}
	t.addrs[key] = entry[*nlevents.AddrEvent]{e, t.generation}
}

// sweep drops the entries that no event confirmed since the last overrun,
// unless a dump failed, in which case their absence proves nothing.
func (t *Table) sweep() {
	if !t.dumpFailed {
		sweepMap(t.links, t.generation)
		sweepMap(t.addrs, t.generation)
		sweepMap(t.routes, t.generation)
	}
	t.synced = true
	t.dumpFailed = false
}

func sweepMap[K comparable, V any](m map[K]entry[V], generation uint64) {
	for k, e := range m {
		if e.generation < generation {
			delete(m, k)
		}
	}
}

// Links returns the links, ordered by index.
func (t *Table) Links() []*nlevents.LinkEvent {
	links := values(t.links)
	slices.SortFunc(links, func(a, b *nlevents.LinkEvent) int { return cmp.Compare(a.Index, b.Index) })
	return links
}

// Addrs returns the addresses, ordered by link index and then address.
func (t *Table) Addrs() []*nlevents.AddrEvent {
	addrs := values(t.addrs)
	slices.SortFunc(addrs, func(a, b *nlevents.AddrEvent) int {
		return cmp.Or(cmp.Compare(a.Index, b.Index), a.Prefix.Addr().Compare(b.Prefix.Addr()), cmp.Compare(a.Prefix.Bits(), b.Prefix.Bits()))
	})
	return addrs
}

// Routes returns the routes, ordered by family, table, destination and
// metric.
func (t *Table) Routes() []*Route {
	routes := values(t.routes)
	slices.SortFunc(routes, func(a, b *Route) int { return compareKeys(a.RouteKey, b.RouteKey) })
	return routes
}

func compareKeys(a, b RouteKey) int {
	return cmp.Or(
		cmp.Compare(a.Family, b.Family),
		cmp.Compare(a.Table, b.Table),
		a.Dst.Addr().Compare(b.Dst.Addr()),
		cmp.Compare(a.Dst.Bits(), b.Dst.Bits()),
		a.Src.Addr().Compare(b.Src.Addr()),
		cmp.Compare(a.Src.Bits(), b.Src.Bits()),
		cmp.Compare(a.TOS, b.TOS),
		cmp.Compare(a.Priority, b.Priority),
		cmp.Compare(a.Dev, b.Dev),
		a.Gateway.Compare(b.Gateway),
	)
}

func values[K comparable, V any](m map[K]entry[V]) []V {
	out := make([]V, 0, len(m))
	for _, e := range m {
		out = append(out, e.value)
	}
	return out
}
