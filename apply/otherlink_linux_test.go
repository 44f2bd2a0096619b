package apply

import (
	"context"
	"net/netip"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/nlevents/nlevents/testutil"
)

func TestIntegrationRouteAddLeavesOtherLinksRoute(t *testing.T) {
	ns := newVethNS(t)
	ns.IP(t, "addr", "add", "192.0.2.1/24", "dev", "va")
	ns.IP(t, "addr", "add", "203.0.113.1/24", "dev", "vb")
	ns.IP(t, "route", "add", "198.51.100.0/24", "via", "192.0.2.254", "dev", "va")
	spec := Link{Name: "vb", Routes: []Route{{
		Destination: netip.MustParsePrefix("198.51.100.0/24"),
		Gateway:     netip.MustParseAddr("203.0.113.254"),
	}}}

	done, err := Apply(context.Background(), spec, WithNetNSPath(ns.Path))
	require.NoError(t, err)
	assert.Equal(t, []string{"add route 198.51.100.0/24 via 203.0.113.254"}, lines(done))
	assert.Equal(t, []string{"198.51.100.0/24 via 192.0.2.254"}, showRoutes(t, ns, "va"), "the other link's route changed")
	assert.Equal(t, []string{"198.51.100.0/24 via 203.0.113.254"}, showRoutes(t, ns, "vb"))

	again, err := Apply(context.Background(), spec, WithNetNSPath(ns.Path))
	require.NoError(t, err)
	assert.Empty(t, again)

	// Changing the gateway replaces vb's route only.
	spec.Routes[0].Gateway = netip.MustParseAddr("203.0.113.253")
	done, err = Apply(context.Background(), spec, WithNetNSPath(ns.Path))
	require.NoError(t, err)
	assert.Equal(t, []string{"replace route 198.51.100.0/24 via 203.0.113.253 (gateway 203.0.113.254 -> 203.0.113.253)"}, lines(done))
	assert.Equal(t, []string{"198.51.100.0/24 via 192.0.2.254"}, showRoutes(t, ns, "va"), "the other link's route changed")
	assert.Equal(t, []string{"198.51.100.0/24 via 203.0.113.253"}, showRoutes(t, ns, "vb"))
}

// newIPv6NS makes a namespace with va and vb up, with the addresses
// 2001:db8:1::1/64 on va and 2001:db8:2::1/64 on vb.
func newIPv6NS(t *testing.T) *testutil.NetNS {
	t.Helper()
	ns := newVethNS(t)
	ns.IP(t, "link", "set", "va", "up")
	ns.IP(t, "link", "set", "vb", "up")
	ns.IP(t, "-6", "addr", "add", "2001:db8:1::1/64", "dev", "va", "nodad")
	ns.IP(t, "-6", "addr", "add", "2001:db8:2::1/64", "dev", "vb", "nodad")
	return ns
}

// TestIntegrationIPv6RoutesCoexist checks that IPv6 routes are added next
// to other links' routes in their place wherever the kernel keeps them
// apart, and that those routes stay as they were.
func TestIntegrationIPv6RoutesCoexist(t *testing.T) {
	ns := newIPv6NS(t)
	ns.IP(t, "-6", "route", "add", "2001:db8:9::/64", "dev", "vb", "metric", "5")
	ns.IP(t, "-6", "route", "add", "blackhole", "2001:db8:8::/64", "metric", "5")
	ns.IP(t, "nexthop", "add", "id", "11", "via", "2001:db8:2::2", "dev", "vb")
	ns.IP(t, "-6", "route", "add", "2001:db8:7::/64", "nhid", "11", "metric", "5")
	ns.IP(t, "-6", "route", "add", "2001:db8:6::/64", "from", "2001:db8:5::/64", "via", "2001:db8:2::2", "dev", "vb", "metric", "5")
	vbBefore := ns.IP(t, "-6", "route", "show", "table", "all")

	gateway := netip.MustParseAddr("2001:db8:1::2")
	route := func(dst string, gw netip.Addr) Route {
		return Route{Destination: netip.MustParsePrefix(dst), Gateway: gw, Metric: 5}
	}
	spec := Link{Name: "va", Routes: []Route{
		route("2001:db8:9::/64", netip.Addr{}), // next to vb's route without a gateway
		route("2001:db8:8::/64", gateway),      // next to a blackhole route
		route("2001:db8:7::/64", gateway),      // next to a route with a nexthop object
		route("2001:db8:6::/64", gateway),      // next to a source-specific route
	}}

	done, err := Apply(context.Background(), spec, WithNetNSPath(ns.Path))
	require.NoError(t, err)
	assert.Len(t, done, 4)
	assert.Equal(t, []string{
		"2001:db8:6::/64 via 2001:db8:1::2 metric 5",
		"2001:db8:7::/64 via 2001:db8:1::2 metric 5",
		"2001:db8:8::/64 via 2001:db8:1::2 metric 5",
		"2001:db8:9::/64 metric 5",
	}, showRoutes(t, ns, "va"))
	for _, line := range strings.Split(vbBefore, "\n") {
		assert.Contains(t, ns.IP(t, "-6", "route", "show", "table", "all"), line, "another route changed")
	}

	again, err := Apply(context.Background(), spec, WithNetNSPath(ns.Path))
	require.NoError(t, err)
	assert.Empty(t, again)
}

// TestIntegrationIPv6GatewayRouteConflict adds an IPv6 route through a
// gateway where another route through a gateway is. Plan, and Apply
// before any change, must report the conflict and name the other route,
// which must not be merged with the new one.
func TestIntegrationIPv6GatewayRouteConflict(t *testing.T) {
	ns := newIPv6NS(t)
	ns.IP(t, "-6", "route", "add", "2001:db8:9::/64", "via", "2001:db8:2::2", "dev", "vb", "metric", "5")
	ns.IP(t, "-6", "route", "add", "2001:db8:8::/64", "metric", "5",
		"nexthop", "via", "2001:db8:2::2", "dev", "vb", "nexthop", "via", "2001:db8:2::3", "dev", "vb")
	ns.IP(t, "-6", "route", "add", "2001:db8:7::/64", "via", "2001:db8:2::2", "dev", "vb", "metric", "5", "proto", "ra")
	ns.IP(t, "-6", "route", "add", "local", "2001:db8:6::/64", "via", "2001:db8:2::2", "dev", "vb", "metric", "5", "table", "main")
	ns.IP(t, "-6", "route", "add", "2001:db8:5::/64", "via", "2001:db8:2::2", "dev", "vb", "metric", "5", "table", "1000")
	mtu := showLink(t, ns, "va").MTU
	before := ns.IP(t, "-6", "route", "show", "table", "all")

	cases := []struct {
		name   string
		dst    string
		table  uint32
		holder string
	}{
		{"single route", "2001:db8:9::/64", 0, "would merge with the route through link vb"},
		{"multipath route", "2001:db8:8::/64", 0, "would merge with a multipath route through link vb;"},
		{"protocol ra", "2001:db8:7::/64", 0, "would merge with the route through link vb"},
		{"local route", "2001:db8:6::/64", 0, "would merge with the route through link vb"},
		{"table 1000", "2001:db8:5::/64", 1000, "(table 1000, metric 5) would merge with the route through link vb"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			route := Route{Destination: netip.MustParsePrefix(tc.dst), Gateway: netip.MustParseAddr("2001:db8:1::2"), Metric: 5, Table: tc.table}
			spec := Link{Name: "va", MTU: 1400, Routes: []Route{route}}

			_, err := Plan(context.Background(), spec, WithNetNSPath(ns.Path))
			require.ErrorIs(t, err, ErrRouteConflict)
			assert.ErrorContains(t, err, tc.holder)
			assert.ErrorContains(t, err, tc.dst)

			done, err := Apply(context.Background(), spec, WithNetNSPath(ns.Path))
			require.ErrorIs(t, err, ErrRouteConflict)
			assert.Empty(t, done)
			assert.Equal(t, mtu, showLink(t, ns, "va").MTU, "Apply changed the MTU before it found the conflict")
			assert.Equal(t, before, ns.IP(t, "-6", "route", "show", "table", "all"), "the routes changed")
		})
	}

	// Another metric, or another table, is another place.
	spec := Link{Name: "va", Routes: []Route{
		{Destination: netip.MustParsePrefix("2001:db8:9::/64"), Gateway: netip.MustParseAddr("2001:db8:1::2"), Metric: 6},
		{Destination: netip.MustParsePrefix("2001:db8:5::/64"), Gateway: netip.MustParseAddr("2001:db8:1::2"), Metric: 5},
	}}
	done, err := Apply(context.Background(), spec, WithNetNSPath(ns.Path))
	require.NoError(t, err)
	assert.Equal(t, []string{
		"add route 2001:db8:9::/64 via 2001:db8:1::2 metric 6",
		"add route 2001:db8:5::/64 via 2001:db8:1::2 metric 5",
	}, lines(done))
}

// TestIntegrationIPv6GatewayChange checks the change of an IPv6 route's
// gateway. Next to the link's own route it is no conflict, and it leaves
// one route. Into a place that another link's route through a gateway
// holds, it is a conflict that changes nothing.
func TestIntegrationIPv6GatewayChange(t *testing.T) {
	ns := newIPv6NS(t)
	ns.IP(t, "-6", "route", "add", "2001:db8:9::/64", "via", "2001:db8:1::2", "dev", "va", "metric", "5")
	ns.IP(t, "-6", "route", "add", "2001:db8:8::/64", "dev", "va", "metric", "5")
	ns.IP(t, "-6", "route", "append", "2001:db8:8::/64", "via", "2001:db8:2::2", "dev", "vb", "metric", "5")
	gateway := netip.MustParseAddr("2001:db8:1::3")

	own := Link{Name: "va", Routes: []Route{{Destination: netip.MustParsePrefix("2001:db8:9::/64"), Gateway: gateway, Metric: 5}}}
	done, err := Apply(context.Background(), own, WithNetNSPath(ns.Path))
	require.NoError(t, err)
	assert.Equal(t, []string{"replace route 2001:db8:9::/64 via 2001:db8:1::3 metric 5 (gateway 2001:db8:1::2 -> 2001:db8:1::3)"}, lines(done))
	assert.Equal(t, []string{"2001:db8:8::/64 metric 5", "2001:db8:9::/64 via 2001:db8:1::3 metric 5"}, showRoutes(t, ns, "va"))

	placeHeld := Link{Name: "va", Routes: []Route{{Destination: netip.MustParsePrefix("2001:db8:8::/64"), Gateway: gateway, Metric: 5}}}
	before := ns.IP(t, "-6", "route", "show", "table", "all")
	_, err = Apply(context.Background(), placeHeld, WithNetNSPath(ns.Path))
	require.ErrorIs(t, err, ErrRouteConflict)
	assert.ErrorContains(t, err, "the route through link vb")
	assert.Equal(t, before, ns.IP(t, "-6", "route", "show", "table", "all"), "the routes changed")
}

// TestIntegrationIPv6RouteConflictNewLink checks that a link that Apply
// would create is not created when one of its IPv6 routes conflicts.
func TestIntegrationIPv6RouteConflictNewLink(t *testing.T) {
	ns := newIPv6NS(t)
	ns.IP(t, "-6", "route", "add", "2001:db8:9::/64", "via", "2001:db8:2::2", "dev", "vb", "metric", "5")
	spec := Link{Name: "vc", Kind: KindVeth, Peer: "vd", State: StateUp,
		Addresses: []netip.Prefix{netip.MustParsePrefix("2001:db8:3::1/64")},
		Routes:    []Route{{Destination: netip.MustParsePrefix("2001:db8:9::/64"), Gateway: netip.MustParseAddr("2001:db8:3::2"), Metric: 5}}}

	done, err := Apply(context.Background(), spec, WithNetNSPath(ns.Path))
	require.ErrorIs(t, err, ErrRouteConflict)
	assert.ErrorContains(t, err, "the route through link vb")
	assert.Empty(t, done)
	assert.False(t, linkExists(ns, "vc"), "Apply created the link despite the conflict")
}

// TestIntegrationIPv6MergedRouteNamed checks the message when the link's
// route was merged with another link's into a multipath route, which
// holds the place that the description's route needs.
func TestIntegrationIPv6MergedRouteNamed(t *testing.T) {
	ns := newIPv6NS(t)
	ns.IP(t, "-6", "route", "add", "2001:db8:9::/64", "via", "2001:db8:1::2", "dev", "va", "metric", "5")
	ns.IP(t, "-6", "route", "append", "2001:db8:9::/64", "via", "2001:db8:2::2", "dev", "vb", "metric", "5")
	spec := Link{Name: "va", Routes: []Route{{Destination: netip.MustParsePrefix("2001:db8:9::/64"), Gateway: netip.MustParseAddr("2001:db8:1::3"), Metric: 5}}}

	_, err := Plan(context.Background(), spec, WithNetNSPath(ns.Path))
	require.ErrorIs(t, err, ErrRouteConflict)
	assert.ErrorContains(t, err, "via 2001:db8:1::3 (table 254, metric 5) would merge with a multipath route through this link and link vb")

	// The wanted route is one of the merged next hops already.
	spec.Routes[0].Gateway = netip.MustParseAddr("2001:db8:1::2")
	_, err = Plan(context.Background(), spec, WithNetNSPath(ns.Path))
	require.ErrorIs(t, err, ErrRouteConflict)
	assert.ErrorContains(t, err, "via 2001:db8:1::2 (table 254, metric 5) is already a next hop of a multipath route, merged with the route through link vb")
}

// TestIntegrationIPv6OwnMultipathRouteNamed checks the message for a
// multipath route whose next hops all go through the link.
func TestIntegrationIPv6OwnMultipathRouteNamed(t *testing.T) {
	ns := newIPv6NS(t)
	ns.IP(t, "-6", "route", "add", "2001:db8:7::/64", "metric", "5",
		"nexthop", "via", "2001:db8:1::2", "dev", "va", "nexthop", "via", "2001:db8:1::3", "dev", "va")
	spec := Link{Name: "va", Routes: []Route{{Destination: netip.MustParsePrefix("2001:db8:7::/64"), Gateway: netip.MustParseAddr("2001:db8:1::4"), Metric: 5}}}

	_, err := Plan(context.Background(), spec, WithNetNSPath(ns.Path))
	require.ErrorIs(t, err, ErrRouteConflict)
	assert.ErrorContains(t, err, "would merge with a multipath route whose next hops are all through this link")

	spec.Routes[0].Gateway = netip.MustParseAddr("2001:db8:1::2")
	_, err = Plan(context.Background(), spec, WithNetNSPath(ns.Path))
	require.ErrorIs(t, err, ErrRouteConflict)
	assert.ErrorContains(t, err, "is already a next hop of a multipath route whose next hops are all through this link")
}
