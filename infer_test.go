package nlevents

import (
	"net/netip"
	"testing"

	"github.com/mdlayher/netlink"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func trackedRoute4(flags netlink.HeaderFlags, oif int, gateway string) *RouteEvent {
	ev := &RouteEvent{
		Info:     Info{Header: netlink.Header{Flags: flags}},
		Family:   afInet,
		Dst:      netip.MustParsePrefix("198.51.100.0/24"),
		Table:    TableMain,
		OutIndex: oif,
	}
	if gateway != "" {
		ev.Gateway = netip.MustParseAddr(gateway)
	}
	return ev
}

func TestTrackerKeepsRoutesApartByNextHop(t *testing.T) {
	tracker := newRouteTracker()
	tracker.observe(trackedRoute4(0, 2, ""))
	tracker.observe(trackedRoute4(0, 3, ""))
	require.Len(t, tracker.routes, 2)

	tracker.startDump()
	tracker.observe(trackedRoute4(0, 2, ""))
	vanished := tracker.finishDump()
	require.Len(t, vanished, 1, "only the route through link 3 vanished")
	assert.Equal(t, 3, vanished[0].OutIndex)
	assert.True(t, tracker.usesLink(2))
	assert.False(t, tracker.usesLink(3))
}

func TestTrackerReplaceForgetsFirstRoute(t *testing.T) {
	tracker := newRouteTracker()
	tracker.observe(trackedRoute4(0, 2, "192.0.2.254"))
	tracker.observe(trackedRoute4(0, 3, "203.0.113.254"))
	tracker.observe(trackedRoute4(nlmFReplace, 2, "192.0.2.253"))

	require.Len(t, tracker.routes, 2)
	var gateways []string
	for id := range tracker.routes {
		gateways = append(gateways, id.gateway.String())
	}
	assert.ElementsMatch(t, []string{"192.0.2.253", "203.0.113.254"}, gateways)
}
