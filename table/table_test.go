package table_test

import (
	"net/netip"
	"syscall"
	"testing"

	"github.com/mdlayher/netlink"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/nlevents/nlevents"
	"github.com/nlevents/nlevents/table"
)

// Linux values, written out so that these tests build on every OS.
const (
	afInet      = 2
	afInet6     = 10
	flagReplace = 0x100
	flagCreate  = 0x400
	flagAppend  = 0x800
)

func link(index int, name string, info nlevents.Info) *nlevents.LinkEvent {
	return &nlevents.LinkEvent{Info: info, Index: index, Name: name}
}

func names(tbl *table.Table) []string {
	var out []string
	for _, l := range tbl.Links() {
		out = append(out, l.Name)
	}
	return out
}

func TestResyncSweepsStaleEntries(t *testing.T) {
	tbl := table.New()
	tbl.Update(link(1, "lo", nlevents.Info{Dumped: true}), nil)
	tbl.Update(link(2, "eth0", nlevents.Info{Dumped: true}), nil)
	tbl.Update(&nlevents.SyncEvent{}, nil)
	require.True(t, tbl.Synced())

	// eth0 vanished while notifications were lost; the resync dump lists lo
	// only, and a new link arrives as a notification during it.
	tbl.Update(nil, nlevents.ErrOverrun)
	assert.False(t, tbl.Synced())
	tbl.Update(link(1, "lo", nlevents.Info{Dumped: true}), nil)
	tbl.Update(link(3, "eth1", nlevents.Info{}), nil)
	assert.Equal(t, []string{"lo", "eth0", "eth1"}, names(tbl), "nothing is swept before the marker")

	tbl.Update(&nlevents.SyncEvent{Resync: true}, nil)
	assert.Equal(t, []string{"lo", "eth1"}, names(tbl))
	assert.True(t, tbl.Synced())
}

func TestFailedDumpPreventsSweep(t *testing.T) {
	tbl := table.New()
	tbl.Update(link(2, "eth0", nlevents.Info{}), nil)
	tbl.Update(nil, nlevents.ErrOverrun)
	tbl.Update(nil, &nlevents.DumpError{Request: "RTM_GETLINK AF_UNSPEC", Err: syscall.EBUSY})
	tbl.Update(&nlevents.SyncEvent{Resync: true}, nil)
	assert.Equal(t, []string{"eth0"}, names(tbl), "a failed dump proves no absence")
}

func TestDeletedLinkRemoved(t *testing.T) {
	tbl := table.New()
	tbl.Update(link(2, "eth0", nlevents.Info{}), nil)
	tbl.Update(link(2, "eth0", nlevents.Info{Deleted: true}), nil)
	assert.Empty(t, tbl.Links())
}

func route6(flags netlink.HeaderFlags, deleted bool, hops ...nlevents.NextHop) *nlevents.RouteEvent {
	return &nlevents.RouteEvent{
		Info:     nlevents.Info{Header: netlink.Header{Flags: flags}, Deleted: deleted},
		Family:   afInet6,
		Dst:      netip.MustParsePrefix("2001:db8:9::/64"),
		Table:    nlevents.TableMain,
		Priority: 1024,
		Type:     nlevents.RouteUnicast,
		NextHops: hops,
	}
}

func hop(gateway string, index int) nlevents.NextHop {
	return nlevents.NextHop{Gateway: netip.MustParseAddr(gateway), Index: index, Weight: 1}
}

func TestIPv6MultipathDeltasMerge(t *testing.T) {
	tbl := table.New()
	tbl.Update(route6(flagCreate, false, hop("2001:db8:1::2", 3), hop("2001:db8:2::2", 5)), nil)
	tbl.Update(route6(flagCreate|flagAppend, false, hop("2001:db8:1::3", 3)), nil)
	routes := tbl.Routes()
	require.Len(t, routes, 1)
	assert.ElementsMatch(t, []nlevents.NextHop{hop("2001:db8:1::2", 3), hop("2001:db8:2::2", 5), hop("2001:db8:1::3", 3)}, routes[0].NextHops)

	// Deleting one next hop leaves the others.
	single := route6(0, true)
	single.NextHops = nil
	single.Gateway, single.OutIndex = netip.MustParseAddr("2001:db8:2::2"), 5
	tbl.Update(single, nil)
	routes = tbl.Routes()
	require.Len(t, routes, 1)
	assert.ElementsMatch(t, []nlevents.NextHop{hop("2001:db8:1::2", 3), hop("2001:db8:1::3", 3)}, routes[0].NextHops)

	// Deleting the route with its remaining next hops removes it.
	tbl.Update(route6(0, true, hop("2001:db8:1::2", 3), hop("2001:db8:1::3", 3)), nil)
	assert.Empty(t, tbl.Routes())
}

func TestReplaceOverwritesNextHops(t *testing.T) {
	tbl := table.New()
	tbl.Update(route6(flagCreate, false, hop("2001:db8:1::2", 3), hop("2001:db8:2::2", 5)), nil)
	tbl.Update(route6(flagReplace, false, hop("2001:db8:1::9", 3)), nil)
	routes := tbl.Routes()
	require.Len(t, routes, 1)
	assert.Equal(t, []nlevents.NextHop{hop("2001:db8:1::9", 3)}, routes[0].NextHops)
}

func TestRouteString(t *testing.T) {
	tbl := table.New()
	tbl.Update(route6(flagCreate, false, hop("2001:db8:1::2", 3), hop("2001:db8:2::2", 5)), nil)
	assert.Equal(t, "2001:db8:9::/64 nexthop via 2001:db8:1::2 dev 3 weight 1 nexthop via 2001:db8:2::2 dev 5 weight 1 table 254 metric 1024",
		tbl.Routes()[0].String())

	local := route4(flagCreate, false, 3, "")
	local.Type, local.Table, local.Dst = nlevents.RouteLocal, nlevents.TableLocal, netip.MustParsePrefix("192.0.2.1/32")
	tbl.Update(local, nil)
	assert.Contains(t, routeStrings(tbl), "local 192.0.2.1/32 dev 3 table 255")
}

func route4(flags netlink.HeaderFlags, deleted bool, dev int, gateway string) *nlevents.RouteEvent {
	ev := &nlevents.RouteEvent{
		Info:     nlevents.Info{Header: netlink.Header{Flags: flags}, Deleted: deleted},
		Family:   afInet,
		Dst:      netip.MustParsePrefix("198.51.100.0/24"),
		Table:    nlevents.TableMain,
		Type:     nlevents.RouteUnicast,
		OutIndex: dev,
	}
	if gateway != "" {
		ev.Gateway = netip.MustParseAddr(gateway)
	}
	return ev
}

func routeStrings(tbl *table.Table) []string {
	var out []string
	for _, r := range tbl.Routes() {
		out = append(out, r.String())
	}
	return out
}

func TestIPv4RoutesApartByNextHop(t *testing.T) {
	tbl := table.New()
	tbl.Update(route4(flagCreate|flagAppend, false, 2, ""), nil)
	tbl.Update(route4(flagCreate|flagAppend, false, 3, ""), nil)
	assert.Equal(t, []string{"198.51.100.0/24 dev 2 table 254", "198.51.100.0/24 dev 3 table 254"}, routeStrings(tbl))

	tbl.Update(route4(0, true, 3, ""), nil)
	assert.Equal(t, []string{"198.51.100.0/24 dev 2 table 254"}, routeStrings(tbl), "deleting one must keep the other")
}

func TestIPv4ReplaceTakesFirstRoute(t *testing.T) {
	tbl := table.New()
	tbl.Update(route4(flagCreate, false, 2, "192.0.2.254"), nil)
	tbl.Update(route4(flagCreate|flagAppend, false, 3, "203.0.113.254"), nil)

	// The kernel replaces the first route with the same destination, TOS
	// and metric, here the one through link 2.
	tbl.Update(route4(flagReplace, false, 2, "192.0.2.253"), nil)
	assert.Equal(t, []string{"198.51.100.0/24 via 192.0.2.253 dev 2 table 254", "198.51.100.0/24 via 203.0.113.254 dev 3 table 254"}, routeStrings(tbl))
}
