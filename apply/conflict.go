package apply

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strings"

	"github.com/jsimonetti/rtnetlink/v2"
	"github.com/mdlayher/netlink"
)

// ErrRouteConflict reports an IPv6 route of the description, through a
// gateway, whose place another route through a gateway holds: the same
// destination, table and metric. The kernel would merge the two into one
// multipath route, so apply does not add the route. IPv4 routes and
// routes without a gateway coexist in one place instead; in IPv4 the first
// route there carries the traffic. Test for it with errors.Is.
var ErrRouteConflict = errors.New("apply: route conflict")

// routeConflict is one route change that ErrRouteConflict reports.
type routeConflict struct {
	route  Route
	reason string // such as "would merge with the route through link vb"
}

// conflictError reports route changes left out because of a conflict. It
// matches ErrRouteConflict.
type conflictError struct {
	conflicts []routeConflict
}

func (e *conflictError) Error() string {
	parts := make([]string, len(e.conflicts))
	for i, c := range e.conflicts {
		parts[i] = fmt.Sprintf("the route to %v via %v (table %d, metric %d) %s",
			c.route.Destination, c.route.Gateway, c.route.table(), c.route.metric(), c.reason)
	}
	return fmt.Sprintf("%v: %s; the kernel merges IPv6 routes through gateways that share a destination, table and metric into one multipath route: delete the other route or give this one another metric",
		ErrRouteConflict, strings.Join(parts, "; "))
}

func (e *conflictError) Is(target error) bool { return target == ErrRouteConflict }

// places returns the destinations, tables and metrics of the conflicts.
func (e *conflictError) places() []routeKey {
	keys := make([]routeKey, len(e.conflicts))
	for i, c := range e.conflicts {
		keys[i] = c.route.key()
	}
	return keys
}

// splitConflicts returns changes without the IPv6 route changes that would
// merge into another route, and a *conflictError for those, or nil. index
// is the link's, 0 when the plan creates it.
func (c *conn) splitConflicts(changes Changes, index uint32) (Changes, error, error) {
	holders := map[uint32][]kernelPlace{} // by table, read once each
	var others Changes
	var conflicts []routeConflict
	for _, ch := range changes {
		if !mayMerge(ch) {
			others = append(others, ch)
			continue
		}

		table := ch.Route.table()
		if _, read := holders[table]; !read {
			places, err := c.gatewayPlaces(table)
			if err != nil {
				return nil, nil, err
			}
			holders[table] = places
		}
		if holder, ok := holderOf(holders[table], ch.Route, index); ok {
			conflicts = append(conflicts, routeConflict{route: ch.Route, reason: c.describe(holder, ch.Route, index)})
			continue
		}
		others = append(others, ch)
	}

	if len(conflicts) == 0 {
		return others, nil, nil
	}
	return others, &conflictError{conflicts: conflicts}, nil
}

// mayMerge reports whether ch adds an IPv6 route through a gateway, which
// the kernel merges into a route through a gateway in its place.
func mayMerge(ch Change) bool {
	added := ch.Action == AddRoute || ch.Action == ReplaceRoute
	return added && ch.Route.Destination.Addr().Is6() && ch.Route.Gateway.IsValid()
}

// kernelPlace is an IPv6 route of the kernel that a route through a
// gateway would merge with: a route through one or more gateways, without a
// nexthop object.
//
// NOTE: routes that the kernel learnt from router advertisements do not
// merge. A dump does not tell them from routes that a program added with
// protocol ra, which do merge, so both count as conflicts.
type kernelPlace struct {
	key       routeKey
	outIndex  uint32 // RTA_OIF, 0 for a multipath route
	multipath bool
	hops      []placeHop // a multipath route's next hops
}

// holderOf returns the route in r's place that is not the link's own.
func holderOf(places []kernelPlace, r Route, index uint32) (kernelPlace, bool) {
	for _, p := range places {
		own := index != 0 && p.outIndex == index && !p.multipath
		if p.key == r.key() && !own {
			return p, true
		}
	}
	return kernelPlace{}, false
}

// placeHop is one next hop of a multipath route.
type placeHop struct {
	index   uint32
	gateway netip.Addr
}

// describe explains how r conflicts with the route p, for an error: "would
// merge with the route through link vb", or for a multipath route, which
// of its next hops are this link's. index is the link's.
func (c *conn) describe(p kernelPlace, r Route, index uint32) string {
	if !p.multipath {
		return "would merge with the route through link " + c.linkName(p.outIndex)
	}

	var others []string
	mine, exact := false, false
	for _, hop := range p.hops {
		if index != 0 && hop.index == index {
			mine = true
			exact = exact || hop.gateway == r.Gateway
			continue
		}
		if name := c.linkName(hop.index); !slices.Contains(others, name) {
			others = append(others, name)
		}
	}
	through := "link " + strings.Join(others, ", ")
	if len(others) > 1 {
		through = "links " + strings.Join(others, ", ")
	}
	switch {
	case len(others) == 0 && exact:
		return "is already a next hop of a multipath route whose next hops are all through this link"
	case len(others) == 0:
		return "would merge with a multipath route whose next hops are all through this link"
	case exact:
		return "is already a next hop of a multipath route, merged with the route through " + through
	case mine:
		return "would merge with a multipath route through this link and " + through
	}
	return "would merge with a multipath route through " + through
}

// gatewayPlaces reads the IPv6 routes of table that a route through a
// gateway would merge with. The dump is parsed here, because rtnetlink/v2
// does not decode RTA_NH_ID, and a route with a nexthop object does not
// merge.
func (c *conn) gatewayPlaces(table uint32) ([]kernelPlace, error) {
	req := &rtnetlink.RouteMessage{Family: afInet6, Attributes: rtnetlink.RouteAttributes{Table: table}}
	if _, err := c.rt.Send(req, rtmGetRoute, netlink.Request|netlink.Dump); err != nil {
		return nil, fmt.Errorf("apply: read IPv6 routes of table %d: %w", table, err)
	}
	_, msgs, err := c.rt.Receive()
	if errors.Is(err, errnoENOENT) {
		return nil, nil // no such table, so no route in it
	}
	if err != nil {
		return nil, fmt.Errorf("apply: read IPv6 routes of table %d: %w", table, err)
	}

	var places []kernelPlace
	for _, m := range msgs {
		if p, ok := parsePlace(m, table); ok {
			places = append(places, p)
		}
	}
	return places, nil
}

// Route attributes and values that parsePlace reads (linux/rtnetlink.h).
const (
	rtaDst       = 1
	rtaOif       = 4
	rtaGateway   = 5
	rtaPriority  = 6
	rtaMultipath = 9
	rtaTable     = 15
	rtaNhID      = 30
	rtmsgLen     = 12
	rtnexthopLen = 8
)

// parsePlace reads an RTM_NEWROUTE message of a dump, and reports whether
// it is a kernelPlace in table.
func parsePlace(m netlink.Message, table uint32) (kernelPlace, bool) {
	b := m.Data
	if m.Header.Type != rtmNewRoute || len(b) < rtmsgLen {
		return kernelPlace{}, false
	}
	// Reject routes (blackhole, unreachable, ...) have no gateway, and the
	// kernel merges routes of the other types alike.
	family, dstLen, srcLen := b[0], b[1], b[2]
	if family != afInet6 || srcLen != 0 {
		return kernelPlace{}, false
	}

	p := kernelPlace{key: routeKey{dst: netip.PrefixFrom(netip.IPv6Unspecified(), int(dstLen)), table: uint32(b[4])}}
	gateway := false
	ad, err := netlink.NewAttributeDecoder(b[rtmsgLen:])
	if err != nil {
		return kernelPlace{}, false
	}
	for ad.Next() {
		data := ad.Bytes()
		switch ad.Type() {
		case rtaDst:
			if a, ok := netip.AddrFromSlice(data); ok {
				p.key.dst = netip.PrefixFrom(a, int(dstLen))
			}
		case rtaOif:
			p.outIndex = nativeUint32(data)
		case rtaGateway:
			gateway = true
		case rtaPriority:
			p.key.metric = nativeUint32(data)
		case rtaMultipath:
			p.multipath, p.hops = true, multipathHops(data)
		case rtaTable:
			p.key.table = nativeUint32(data)
		case rtaNhID:
			return kernelPlace{}, false
		}
	}
	if ad.Err() != nil || (!gateway && !p.multipath) || p.key.table != table {
		return kernelPlace{}, false
	}
	return p, true
}

// multipathHops reads the struct rtnexthop entries of RTA_MULTIPATH: a
// 2-byte length, flags, hops and the 4-byte ifindex, then attributes, of
// which RTA_GATEWAY is read.
func multipathHops(b []byte) []placeHop {
	var hops []placeHop
	for len(b) >= rtnexthopLen {
		length := int(binary.NativeEndian.Uint16(b))
		if length < rtnexthopLen || length > len(b) {
			break
		}
		hop := placeHop{index: binary.NativeEndian.Uint32(b[4:8])}
		if ad, err := netlink.NewAttributeDecoder(b[rtnexthopLen:length]); err == nil {
			for ad.Next() {
				if ad.Type() == rtaGateway {
					hop.gateway, _ = netip.AddrFromSlice(ad.Bytes())
				}
			}
		}
		hops = append(hops, hop)
		b = b[min(len(b), (length+3)&^3):]
	}
	return hops
}

func nativeUint32(b []byte) uint32 {
	if len(b) != 4 {
		return 0
	}
	return binary.NativeEndian.Uint32(b)
}

// linkName returns the name of the link with the given index, or the index
// in words when the name cannot be read.
func (c *conn) linkName(index uint32) string {
	req := &rtnetlink.LinkMessage{Index: index}
	msgs, err := c.rt.Execute(req, rtmGetLink, netlink.Request)
	if err == nil && len(msgs) == 1 {
		if link, ok := msgs[0].(*rtnetlink.LinkMessage); ok && link.Attributes != nil && link.Attributes.Name != "" {
			return link.Attributes.Name
		}
	}
	return fmt.Sprintf("index %d", index)
}
