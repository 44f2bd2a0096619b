package apply

import (
	"net/netip"
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/nlevents/nlevents"
)

// TestRelevantRouteInConflictPlace checks that, after a check left a route
// out because of a conflict, a change of any route in its place starts a
// check, so that Enforce adds the route soon after the other route goes.
func TestRelevantRouteInConflictPlace(t *testing.T) {
	dst := netip.MustParsePrefix("2001:db8:9::/64")
	e := &enforcer{spec: Link{Name: "va"}, index: 3, conflicts: []routeKey{{dst: dst, table: 254, metric: 5}}}
	other := func(change func(*nlevents.RouteEvent)) *nlevents.RouteEvent {
		ev := &nlevents.RouteEvent{Family: 10, Dst: dst, Table: 254, Priority: 5, OutIndex: 7}
		change(ev)
		return ev
	}

	assert.True(t, e.relevant(other(func(*nlevents.RouteEvent) {})), "a route in the place, through another link")
	assert.False(t, e.relevant(other(func(ev *nlevents.RouteEvent) { ev.Priority = 6 })), "another metric")
	assert.False(t, e.relevant(other(func(ev *nlevents.RouteEvent) { ev.Table = 100 })), "another table")
	assert.False(t, e.relevant(other(func(ev *nlevents.RouteEvent) { ev.Dst = netip.MustParsePrefix("2001:db8:8::/64") })), "another destination")

	e.conflicts = nil
	assert.False(t, e.relevant(other(func(*nlevents.RouteEvent) {})), "no conflict left")
}
