package apply

import (
	"context"
	"net/netip"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
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

// TestIntegrationIPv6RouteConflict checks that an IPv6 route whose place
// another route holds is reported by Plan, and by Apply before any change,
// with the holder named.
func TestIntegrationIPv6RouteConflict(t *testing.T) {
	ns := newVethNS(t)
	ns.IP(t, "link", "set", "va", "up")
	ns.IP(t, "link", "set", "vb", "up")
	ns.IP(t, "-6", "addr", "add", "2001:db8:1::1/64", "dev", "va", "nodad")
	ns.IP(t, "-6", "addr", "add", "2001:db8:2::1/64", "dev", "vb", "nodad")
	ns.IP(t, "-6", "route", "add", "2001:db8:9::/64", "dev", "vb", "metric", "5")
	ns.IP(t, "-6", "route", "add", "blackhole", "2001:db8:8::/64", "metric", "5")
	mtu := showLink(t, ns, "va").MTU

	cases := []struct {
		name   string
		route  Route
		holder string
	}{
		{"link route", Route{Destination: netip.MustParsePrefix("2001:db8:9::/64"), Metric: 5}, "through link vb"},
		{"via gateway", Route{Destination: netip.MustParsePrefix("2001:db8:9::/64"), Gateway: netip.MustParseAddr("2001:db8:1::2"), Metric: 5}, "through link vb"},
		{"blackhole", Route{Destination: netip.MustParsePrefix("2001:db8:8::/64"), Metric: 5}, "through a blackhole route"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			spec := Link{Name: "va", MTU: 1400, Routes: []Route{tc.route}}

			_, err := Plan(context.Background(), spec, WithNetNSPath(ns.Path))
			require.ErrorIs(t, err, ErrRouteConflict)
			assert.ErrorContains(t, err, tc.holder)
			assert.ErrorContains(t, err, tc.route.Destination.String())

			done, err := Apply(context.Background(), spec, WithNetNSPath(ns.Path))
			require.ErrorIs(t, err, ErrRouteConflict)
			assert.Empty(t, done)
			assert.Equal(t, mtu, showLink(t, ns, "va").MTU, "Apply changed the MTU before it found the conflict")
		})
	}

	// Another metric is another place.
	spec := Link{Name: "va", Routes: []Route{{Destination: netip.MustParsePrefix("2001:db8:9::/64"), Metric: 6}}}
	done, err := Apply(context.Background(), spec, WithNetNSPath(ns.Path))
	require.NoError(t, err)
	assert.Equal(t, []string{"add route 2001:db8:9::/64 metric 6"}, lines(done))
	assert.Equal(t, []string{"2001:db8:9::/64 metric 6"}, showRoutes(t, ns, "va"))
}

// TestIntegrationIPv6RouteConflictNewLink checks that a link that Apply
// would create is not created when one of its IPv6 routes has no place.
func TestIntegrationIPv6RouteConflictNewLink(t *testing.T) {
	ns := newVethNS(t)
	ns.IP(t, "link", "set", "vb", "up")
	ns.IP(t, "-6", "route", "add", "2001:db8:9::/64", "dev", "vb", "metric", "5")
	spec := Link{Name: "vc", Kind: KindVeth, Peer: "vd", State: StateUp,
		Routes: []Route{{Destination: netip.MustParsePrefix("2001:db8:9::/64"), Metric: 5}}}

	done, err := Apply(context.Background(), spec, WithNetNSPath(ns.Path))
	require.ErrorIs(t, err, ErrRouteConflict)
	assert.ErrorContains(t, err, "through link vb")
	assert.Empty(t, done)
	assert.False(t, linkExists(ns, "vc"), "Apply created the link despite the conflict")
}
