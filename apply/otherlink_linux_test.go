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
