package nlevents_test

import (
	"encoding/binary"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/nlevents/nlevents"
	"github.com/nlevents/nlevents/testutil"
)

// nlmFReplace is NLM_F_REPLACE from linux/netlink.h.
const nlmFReplace = 0x100

func waitLink(t *testing.T, events <-chan nlevents.Event, errs <-chan error, match func(*nlevents.LinkEvent) bool) *nlevents.LinkEvent {
	t.Helper()
	return testutil.WaitFor(t, events, errs, waitTimeout, match)
}

func TestIntegrationLinkEvents(t *testing.T) {
	ns := testutil.NewNetNS(t)
	events, errs := subscribeNS(t, ns, nlevents.Link)

	ns.IP(t, "link", "add", "name", "va", "type", "veth", "peer", "name", "vb")
	index := ns.LinkIndex(t, "va")
	added := waitLink(t, events, errs, func(e *nlevents.LinkEvent) bool { return e.Name == "va" })
	assert.False(t, added.Deleted, "Deleted")
	assert.Equal(t, index, added.Index, "Index")
	assert.Equal(t, "veth", added.Kind, "Kind")
	assert.Equal(t, uint32(1500), added.MTU, "MTU")
	assert.False(t, added.Up(), "Up")
	assert.Len(t, added.HardwareAddr, 6, "HardwareAddr")
	assert.Equal(t, uint16(1), added.Type, "Type (ARPHRD_ETHER)")
	assert.Equal(t, ns.LinkIndex(t, "vb"), added.ParentIndex, "ParentIndex is the peer's index")
	assert.False(t, added.ParentInOtherNetNS, "ParentInOtherNetNS")

	ns.IP(t, "link", "set", "va", "mtu", "1400")
	mtu := waitLink(t, events, errs, func(e *nlevents.LinkEvent) bool { return e.Name == "va" && e.MTU != 1500 })
	assert.Equal(t, uint32(1400), mtu.MTU, "MTU")
	assert.Equal(t, index, mtu.Index, "Index")

	ns.IP(t, "link", "set", "va", "address", "02:00:00:00:00:0a")
	hw := waitLink(t, events, errs, func(e *nlevents.LinkEvent) bool {
		return e.Name == "va" && e.HardwareAddr.String() != added.HardwareAddr.String()
	})
	assert.Equal(t, "02:00:00:00:00:0a", hw.HardwareAddr.String(), "HardwareAddr")

	// With its peer down, va is administratively up but has no carrier.
	ns.IP(t, "link", "set", "va", "up")
	up := waitLink(t, events, errs, func(e *nlevents.LinkEvent) bool { return e.Name == "va" && e.Up() })
	assert.NotZero(t, up.Flags&nlevents.FlagUp, "Flags has FlagUp")
	assert.NotZero(t, up.Change&nlevents.FlagUp, "Change has FlagUp")
	assert.NotEqual(t, nlevents.OperUp, up.OperState, "OperState without carrier")

	ns.IP(t, "link", "set", "vb", "up")
	operUp := waitLink(t, events, errs, func(e *nlevents.LinkEvent) bool { return e.Name == "va" && e.OperState == nlevents.OperUp })
	assert.True(t, operUp.Up(), "Up")
	assert.NotZero(t, operUp.Flags&nlevents.FlagLowerUp, "Flags has FlagLowerUp")

	ns.IP(t, "link", "set", "va", "down")
	down := waitLink(t, events, errs, func(e *nlevents.LinkEvent) bool { return e.Name == "va" && !e.Up() })
	assert.Zero(t, down.Flags&nlevents.FlagUp, "Flags has no FlagUp")
	assert.Equal(t, nlevents.OperDown, down.OperState, "OperState")

	ns.IP(t, "link", "add", "br0", "type", "bridge")
	bridgeIndex := ns.LinkIndex(t, "br0")
	bridge := waitLink(t, events, errs, func(e *nlevents.LinkEvent) bool { return e.Name == "br0" })
	assert.Equal(t, "bridge", bridge.Kind, "Kind")
	assert.Equal(t, bridgeIndex, bridge.Index, "Index")

	ns.IP(t, "link", "set", "vb", "master", "br0")
	port := waitLink(t, events, errs, func(e *nlevents.LinkEvent) bool { return e.Name == "vb" && e.MasterIndex != 0 })
	assert.Equal(t, bridgeIndex, port.MasterIndex, "MasterIndex")
	assert.Equal(t, "veth", port.Kind, "Kind")

	// A rename keeps the index; only a link that is down can be renamed.
	ns.IP(t, "link", "set", "va", "name", "vc")
	renamed := waitLink(t, events, errs, func(e *nlevents.LinkEvent) bool { return e.Index == index && e.Name != "va" })
	assert.Equal(t, "vc", renamed.Name, "Name after rename")
	assert.False(t, renamed.Deleted, "Deleted after rename")

	ns.IP(t, "link", "del", "vc")
	deleted := waitLink(t, events, errs, func(e *nlevents.LinkEvent) bool { return e.Name == "vc" && e.Deleted })
	assert.Equal(t, index, deleted.Index, "Index")
	assert.Equal(t, "RTM_DELLINK", deleted.MessageType(), "MessageType")
}

// TestIntegrationLinkParentInOtherNetNS checks a veth whose peer is in
// another namespace: the index is the peer's there, and is marked so.
func TestIntegrationLinkParentInOtherNetNS(t *testing.T) {
	ns, other := testutil.NewNetNS(t), testutil.NewNetNS(t)
	events, errs := subscribeNS(t, ns, nlevents.Link)

	ns.IP(t, "link", "add", "va", "type", "veth", "peer", "name", "vb", "netns", other.Name)
	added := waitLink(t, events, errs, func(e *nlevents.LinkEvent) bool { return e.Name == "va" })
	assert.Equal(t, other.LinkIndex(t, "vb"), added.ParentIndex, "ParentIndex is the peer's index in its namespace")
	assert.True(t, added.ParentInOtherNetNS, "ParentInOtherNetNS")
	assert.Contains(t, added.String(), fmt.Sprintf("va@if%d ", added.ParentIndex))
}

func TestIntegrationBridgePortLeave(t *testing.T) {
	ns := testutil.NewNetNS(t)
	ns.AddVeth(t, "va", "vb")
	ns.IP(t, "link", "add", "br0", "type", "bridge")
	portIndex := ns.LinkIndex(t, "va")
	bridgeIndex := ns.LinkIndex(t, "br0")
	events, errs := subscribeNS(t, ns, nlevents.Link)

	ns.IP(t, "link", "set", "va", "master", "br0")
	joined := testutil.WaitFor(t, events, errs, waitTimeout, func(e *nlevents.BridgePortEvent) bool {
		return e.Index == portIndex
	})
	assert.False(t, joined.Deleted, "Deleted when joining")
	assert.Equal(t, bridgeIndex, joined.MasterIndex, "MasterIndex when joining")
	assert.Equal(t, "RTM_NEWLINK", joined.MessageType(), "MessageType when joining")

	ns.IP(t, "link", "set", "va", "nomaster")
	items := addMarker(t, ns, events, errs)

	var portDeleted *nlevents.BridgePortEvent
	for _, it := range items {
		require.NoError(t, it.Err)
		switch e := it.Event.(type) {
		case *nlevents.BridgePortEvent:
			if e.Index == portIndex && e.Deleted {
				portDeleted = e
			}
		case *nlevents.LinkEvent:
			assert.False(t, e.Index == portIndex && e.Deleted, "link event deleting va, which still exists: %v", e)
		}
	}
	require.NotNil(t, portDeleted, "no BridgePortEvent with Deleted for va; read:\n%v", items)
	assert.Equal(t, "va", portDeleted.Name, "Name")
	assert.Equal(t, bridgeIndex, portDeleted.MasterIndex, "MasterIndex")

	msg, err := portDeleted.Message()
	require.NoError(t, err)
	assert.Equal(t, uint16(7), msg.Family, "Family (AF_BRIDGE)")
	assert.Equal(t, uint32(portIndex), msg.Index, "Index")
}

func TestIntegrationLinkLargerThanPage(t *testing.T) {
	ns := testutil.NewNetNS(t)
	ns.AddVeth(t, "va", "vb")
	events, errs := subscribeNS(t, ns, nlevents.Link)

	// Each alternative name adds an attribute of up to 128 bytes, so 40 of
	// them make the link message longer than a 4 KiB page.
	var names []string
	for i := range 40 {
		name := fmt.Sprintf("va-alternative-name-%03d-%s", i, strings.Repeat("x", 90))
		names = append(names, name)
	}
	var batch strings.Builder
	for _, name := range names {
		fmt.Fprintf(&batch, "link property add dev va altname %s\n", name)
	}
	ipBatch(t, ns, batch.String())
	ns.IP(t, "link", "set", "va", "mtu", "1280")

	ev := waitLink(t, events, errs, func(e *nlevents.LinkEvent) bool { return e.Name == "va" && e.MTU == 1280 })
	assert.Greater(t, len(ev.Raw()), os.Getpagesize(), "message size")
	for _, name := range names {
		assert.Contains(t, string(ev.Raw()), name, "alternative name in the message")
	}

	msg, err := ev.Message()
	require.NoError(t, err)
	assert.Equal(t, "va", msg.Attributes.Name, "Name")
	assert.Equal(t, uint32(1280), msg.Attributes.MTU, "MTU")
}

func TestIntegrationBridgeMessageWhole(t *testing.T) {
	ns := testutil.NewNetNS(t)
	events, errs := subscribeNS(t, ns, nlevents.Link)

	ns.IP(t, "link", "add", "br0", "type", "bridge")
	ev := waitLink(t, events, errs, func(e *nlevents.LinkEvent) bool { return e.Name == "br0" })
	assert.Equal(t, "bridge", ev.Kind, "Kind")

	msg, err := ev.Message()
	require.NoError(t, err)
	require.NotNil(t, msg.Attributes.Info, "IFLA_LINKINFO")
	assert.Equal(t, "bridge", msg.Attributes.Info.Kind, "Kind")
	assert.Equal(t, uint32(ev.Index), msg.Index, "Index")
	t.Logf("bridge RTM_NEWLINK is %d bytes", len(ev.Raw()))
}

// ipBatch runs ip -batch with the given commands, one a line.
func ipBatch(t *testing.T, ns *testutil.NetNS, commands string) {
	t.Helper()
	f, err := os.CreateTemp(t.TempDir(), "batch")
	require.NoError(t, err)
	_, err = f.WriteString(commands)
	require.NoError(t, err)
	require.NoError(t, f.Close())
	ns.IP(t, "-batch", f.Name())
}

func TestIntegrationAddrEvents(t *testing.T) {
	ns := testutil.NewNetNS(t)
	ns.AddVeth(t, "va", "vb")
	index := ns.LinkIndex(t, "va")
	events, errs := subscribeNS(t, ns, nlevents.Addr)

	waitAddr := func(prefix string, deleted bool) *nlevents.AddrEvent {
		t.Helper()
		want := netip.MustParsePrefix(prefix)
		return testutil.WaitFor(t, events, errs, waitTimeout, func(e *nlevents.AddrEvent) bool {
			return e.Prefix == want && e.Deleted == deleted
		})
	}

	// IFA_F_NODAD and IFA_F_NOPREFIXROUTE from linux/if_addr.h. The second
	// does not fit the ifaddrmsg's 8-bit flags, so only IFA_FLAGS has it.
	const flagNoDAD, flagNoPrefixRoute = 0x02, 0x200

	tests := []struct {
		name   string
		prefix string
		args   []string
		family uint8
		scope  nlevents.RouteScope
		label  string
		flags  uint32 // bits that must be set
		peer   string // expected Peer, or "" for none
	}{
		{"ipv4 labelled", "192.0.2.10/24", []string{"label", "va:one"}, 2, nlevents.ScopeUniverse, "va:one", 0, ""},
		{"ipv4 link scope", "198.51.100.7/25", []string{"scope", "link"}, 2, nlevents.ScopeLink, "va", 0, ""},
		{"ipv4 no prefix route", "192.0.2.50/24", []string{"noprefixroute"}, 2, nlevents.ScopeUniverse, "va", flagNoPrefixRoute, ""},
		{"ipv4 peer", "10.9.0.1/32", []string{"peer", "10.9.0.2/32"}, 2, nlevents.ScopeUniverse, "va", 0, "10.9.0.2"},
		{"ipv6", "2001:db8::10/64", []string{"nodad"}, 10, nlevents.ScopeUniverse, "", flagNoDAD, ""},
		{"ipv6 link-local", "fe80::7/64", []string{"nodad"}, 10, nlevents.ScopeLink, "", flagNoDAD, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			args := append([]string{"addr", "add", tt.prefix, "dev", "va"}, tt.args...)
			ns.IP(t, args...)
			added := waitAddr(tt.prefix, false)
			assert.Equal(t, netip.MustParsePrefix(tt.prefix), added.Prefix, "Prefix keeps the host bits")
			assert.Equal(t, index, added.Index, "Index")
			assert.Equal(t, tt.family, added.Family, "Family")
			assert.Equal(t, tt.scope, added.Scope, "Scope")
			assert.Equal(t, tt.label, added.Label, "Label")
			assert.Equal(t, tt.flags, added.Flags&tt.flags, "Flags %#x", added.Flags)
			if tt.peer == "" {
				assert.False(t, added.Peer.IsValid(), "Peer")
			} else {
				assert.Equal(t, netip.MustParseAddr(tt.peer), added.Peer, "Peer")
			}
			assert.Equal(t, "RTM_NEWADDR", added.MessageType(), "MessageType")
			checkAddrMessage(t, added)

			ns.IP(t, append([]string{"addr", "del", tt.prefix, "dev", "va"}, tt.args...)...)
			removed := waitAddr(tt.prefix, true)
			assert.Equal(t, index, removed.Index, "Index")
			assert.Equal(t, tt.scope, removed.Scope, "Scope")
			assert.Equal(t, "RTM_DELADDR", removed.MessageType(), "MessageType")
			checkAddrMessage(t, removed)
		})
	}
}

// checkAddrMessage decodes ev with rtnetlink/v2 and compares the result
// with the lean fields.
func checkAddrMessage(t *testing.T, ev *nlevents.AddrEvent) {
	t.Helper()
	msg, err := ev.Message()
	require.NoError(t, err)
	assert.Equal(t, ev.Family, msg.Family, "Message Family")
	assert.Equal(t, uint8(ev.Prefix.Bits()), msg.PrefixLength, "Message PrefixLength")
	assert.Equal(t, uint32(ev.Index), msg.Index, "Message Index")
	assert.Equal(t, uint8(ev.Scope), msg.Scope, "Message Scope")
	require.NotNil(t, msg.Attributes)
	assert.Equal(t, ev.Label, msg.Attributes.Label, "Message Label")
	addr := msg.Attributes.Local
	if addr == nil {
		addr = msg.Attributes.Address
	}
	assert.Equal(t, net.IP(ev.Prefix.Addr().AsSlice()).String(), addr.String(), "Message address")
}

func TestIntegrationRouteEvents(t *testing.T) {
	ns := testutil.NewNetNS(t)
	ns.AddVeth(t, "va", "vb")
	ns.IP(t, "addr", "add", "192.0.2.10/24", "dev", "va")
	ns.IP(t, "addr", "add", "2001:db8::10/64", "dev", "va", "nodad")
	index := ns.LinkIndex(t, "va")
	events, errs := subscribeNS(t, ns, nlevents.Route)

	waitRoute := func(dst string, match func(*nlevents.RouteEvent) bool) *nlevents.RouteEvent {
		t.Helper()
		want := netip.MustParsePrefix(dst)
		return testutil.WaitFor(t, events, errs, waitTimeout, func(e *nlevents.RouteEvent) bool {
			return e.Dst == want && match(e)
		})
	}
	isNew := func(e *nlevents.RouteEvent) bool { return !e.Deleted }
	isDeleted := func(e *nlevents.RouteEvent) bool { return e.Deleted }

	t.Run("ipv4 gateway table 1000", func(t *testing.T) {
		ns.IP(t, "route", "add", "198.51.100.0/24", "via", "192.0.2.1", "dev", "va", "metric", "100", "table", "1000", "proto", "static")
		added := waitRoute("198.51.100.0/24", isNew)
		assert.Equal(t, uint8(2), added.Family, "Family")
		assert.Equal(t, netip.MustParseAddr("192.0.2.1"), added.Gateway, "Gateway")
		assert.Equal(t, index, added.OutIndex, "OutIndex")
		assert.Equal(t, uint32(100), added.Priority, "Priority")
		assert.Equal(t, uint32(1000), added.Table, "Table")
		assert.Equal(t, nlevents.ProtoStatic, added.Protocol, "Protocol")
		assert.Equal(t, nlevents.ScopeUniverse, added.Scope, "Scope")
		assert.Equal(t, nlevents.RouteUnicast, added.Type, "Type")
		assert.Zero(t, added.Header.Flags&nlmFReplace, "Header.Flags has no NLM_F_REPLACE")
		// The kernel sends the notification, but its header carries the port
		// of ip, whose request caused it, so the loop must tell kernel
		// messages by the sender address, not by the header.
		assert.NotZero(t, added.Header.PID, "Header.PID")
		assert.Equal(t, fmt.Sprintf("new route 198.51.100.0/24 via 192.0.2.1 dev %d table 1000 proto static metric 100", index), added.String(), "String")
		checkRouteMessage(t, added)

		ns.IP(t, "route", "replace", "198.51.100.0/24", "via", "192.0.2.2", "dev", "va", "metric", "100", "table", "1000", "proto", "static")
		replaced := waitRoute("198.51.100.0/24", isNew)
		assert.Equal(t, netip.MustParseAddr("192.0.2.2"), replaced.Gateway, "Gateway")
		assert.NotZero(t, replaced.Header.Flags&nlmFReplace, "Header.Flags has NLM_F_REPLACE: %v", replaced.Header.Flags)
		assert.Equal(t, uint32(1000), replaced.Table, "Table")
		checkRouteMessage(t, replaced)

		ns.IP(t, "route", "del", "198.51.100.0/24", "table", "1000")
		removed := waitRoute("198.51.100.0/24", isDeleted)
		assert.Equal(t, uint32(1000), removed.Table, "Table")
		assert.Equal(t, netip.MustParseAddr("192.0.2.2"), removed.Gateway, "Gateway")
		checkRouteMessage(t, removed)
	})

	t.Run("ipv4 link scope and blackhole", func(t *testing.T) {
		ns.IP(t, "route", "add", "203.0.113.128/25", "dev", "va", "scope", "link")
		link := waitRoute("203.0.113.128/25", isNew)
		assert.Equal(t, nlevents.ScopeLink, link.Scope, "Scope")
		assert.False(t, link.Gateway.IsValid(), "Gateway")
		assert.Equal(t, uint32(254), link.Table, "Table (main)")
		assert.Equal(t, nlevents.ProtoBoot, link.Protocol, "Protocol (ip route's default)")
		checkRouteMessage(t, link)

		ns.IP(t, "route", "add", "blackhole", "203.0.113.0/25")
		blackhole := waitRoute("203.0.113.0/25", isNew)
		assert.Equal(t, nlevents.RouteBlackhole, blackhole.Type, "Type")
		assert.Zero(t, blackhole.OutIndex, "OutIndex")
		checkRouteMessage(t, blackhole)

		ns.IP(t, "route", "del", "blackhole", "203.0.113.0/25")
		removed := waitRoute("203.0.113.0/25", isDeleted)
		assert.Equal(t, nlevents.RouteBlackhole, removed.Type, "Type")
	})

	t.Run("ipv4 preferred source", func(t *testing.T) {
		ns.IP(t, "route", "add", "198.51.100.64/26", "via", "192.0.2.1", "src", "192.0.2.10")
		added := waitRoute("198.51.100.64/26", isNew)
		assert.Equal(t, netip.MustParseAddr("192.0.2.10"), added.PrefSrc, "PrefSrc")
		assert.False(t, added.Src.IsValid(), "Src")
		checkRouteMessage(t, added)
	})

	t.Run("ipv4 multipath", func(t *testing.T) {
		ns.IP(t, "route", "add", "203.0.113.0/24",
			"nexthop", "via", "192.0.2.1", "dev", "va", "weight", "3",
			"nexthop", "via", "192.0.2.2", "dev", "va", "weight", "256")
		added := waitRoute("203.0.113.0/24", isNew)
		require.Len(t, added.NextHops, 2, "NextHops: %v", added)
		assert.Equal(t, netip.MustParseAddr("192.0.2.1"), added.NextHops[0].Gateway, "first Gateway")
		assert.Equal(t, 3, added.NextHops[0].Weight, "first Weight")
		assert.Equal(t, index, added.NextHops[0].Index, "first Index")
		assert.Equal(t, netip.MustParseAddr("192.0.2.2"), added.NextHops[1].Gateway, "second Gateway")
		assert.Equal(t, 256, added.NextHops[1].Weight, "second Weight")
		assert.False(t, added.Gateway.IsValid(), "Gateway of a multipath route")
		checkRouteMessage(t, added)

		ns.IP(t, "route", "del", "203.0.113.0/24")
		removed := waitRoute("203.0.113.0/24", isDeleted)
		assert.Len(t, removed.NextHops, 2, "NextHops of the deletion")
	})

	t.Run("ipv4 via ipv6 gateway", func(t *testing.T) {
		// The kernel reports an IPv6 next hop of an IPv4 route in RTA_VIA,
		// which rtnetlink/v2 (v2.0.2) does not decode; the lean field has it.
		ns.IP(t, "route", "add", "198.51.100.192/26", "via", "inet6", "fe80::1", "dev", "va")
		added := waitRoute("198.51.100.192/26", isNew)
		assert.Equal(t, netip.MustParseAddr("fe80::1"), added.Gateway, "Gateway")
		assert.Equal(t, index, added.OutIndex, "OutIndex")
		_, err := added.Message()
		assert.NoError(t, err, "Message")
	})

	t.Run("ipv4 nexthop object", func(t *testing.T) {
		ns.IP(t, "nexthop", "add", "id", "17", "via", "192.0.2.1", "dev", "va")
		ns.IP(t, "route", "add", "198.51.100.128/26", "nhid", "17")
		added := waitRoute("198.51.100.128/26", isNew)
		assert.Equal(t, uint32(17), added.NexthopID, "NexthopID")
	})

	t.Run("ipv6 gateway", func(t *testing.T) {
		ns.IP(t, "-6", "route", "add", "2001:db8:1::/48", "via", "2001:db8::1", "dev", "va", "metric", "300", "table", "300")
		added := waitRoute("2001:db8:1::/48", isNew)
		assert.Equal(t, uint8(10), added.Family, "Family")
		assert.Equal(t, netip.MustParseAddr("2001:db8::1"), added.Gateway, "Gateway")
		assert.Equal(t, index, added.OutIndex, "OutIndex")
		assert.Equal(t, uint32(300), added.Priority, "Priority")
		assert.Equal(t, uint32(300), added.Table, "Table")
		assert.Equal(t, nlevents.ProtoBoot, added.Protocol, "Protocol")
		assert.Equal(t, nlevents.RouteUnicast, added.Type, "Type")
		checkRouteMessage(t, added)

		ns.IP(t, "-6", "route", "replace", "2001:db8:1::/48", "via", "2001:db8::2", "dev", "va", "metric", "300", "table", "300")
		replaced := waitRoute("2001:db8:1::/48", func(e *nlevents.RouteEvent) bool { return !e.Deleted && e.Gateway != added.Gateway })
		assert.Equal(t, netip.MustParseAddr("2001:db8::2"), replaced.Gateway, "Gateway")
		assert.NotZero(t, replaced.Header.Flags&nlmFReplace, "Header.Flags has NLM_F_REPLACE: %v", replaced.Header.Flags)

		ns.IP(t, "-6", "route", "del", "2001:db8:1::/48", "table", "300")
		removed := waitRoute("2001:db8:1::/48", isDeleted)
		assert.Equal(t, uint32(300), removed.Table, "Table")
		checkRouteMessage(t, removed)
	})

	t.Run("ipv6 multipath", func(t *testing.T) {
		ns.IP(t, "-6", "route", "add", "2001:db8:2::/48",
			"nexthop", "via", "2001:db8::1", "dev", "va", "weight", "1",
			"nexthop", "via", "2001:db8::2", "dev", "va", "weight", "5")
		added := waitRoute("2001:db8:2::/48", isNew)
		require.Len(t, added.NextHops, 2, "NextHops: %v", added)
		byGateway := map[netip.Addr]nlevents.NextHop{}
		for _, hop := range added.NextHops {
			byGateway[hop.Gateway] = hop
		}
		first := byGateway[netip.MustParseAddr("2001:db8::1")]
		second := byGateway[netip.MustParseAddr("2001:db8::2")]
		assert.Equal(t, 1, first.Weight, "weight via 2001:db8::1")
		assert.Equal(t, index, first.Index, "index via 2001:db8::1")
		assert.Equal(t, 5, second.Weight, "weight via 2001:db8::2")
		assert.Equal(t, index, second.Index, "index via 2001:db8::2")
		checkRouteMessage(t, added)

		ns.IP(t, "-6", "route", "del", "2001:db8:2::/48")
		waitRoute("2001:db8:2::/48", isDeleted)
	})
}

// checkRouteMessage decodes ev with rtnetlink/v2 and compares the result
// with the lean fields.
func checkRouteMessage(t *testing.T, ev *nlevents.RouteEvent) {
	t.Helper()
	msg, err := ev.Message()
	require.NoError(t, err)
	assert.Equal(t, ev.Family, msg.Family, "Message Family")
	assert.Equal(t, uint8(ev.Dst.Bits()), msg.DstLength, "Message DstLength")
	assert.Equal(t, uint8(ev.Protocol), msg.Protocol, "Message Protocol")
	assert.Equal(t, uint8(ev.Scope), msg.Scope, "Message Scope")
	assert.Equal(t, uint8(ev.Type), msg.Type, "Message Type")
	assert.Equal(t, ev.Table, msg.Attributes.Table, "Message Table")
	assert.Equal(t, ev.Priority, msg.Attributes.Priority, "Message Priority")
	assert.Equal(t, uint32(ev.OutIndex), msg.Attributes.OutIface, "Message OutIface")
	if ev.Dst.Bits() > 0 {
		assert.Equal(t, net.IP(ev.Dst.Addr().AsSlice()).String(), msg.Attributes.Dst.String(), "Message Dst")
	}
	if ev.Gateway.IsValid() {
		assert.Equal(t, net.IP(ev.Gateway.AsSlice()).String(), msg.Attributes.Gateway.String(), "Message Gateway")
	}
	if ev.PrefSrc.IsValid() {
		// rtnetlink/v2 decodes RTA_PREFSRC into Attributes.Src.
		assert.Equal(t, net.IP(ev.PrefSrc.AsSlice()).String(), msg.Attributes.Src.String(), "Message PrefSrc")
	}
	require.Len(t, msg.Attributes.Multipath, len(ev.NextHops), "Message Multipath")
	for i, hop := range ev.NextHops {
		assert.Equal(t, uint32(hop.Index), msg.Attributes.Multipath[i].Hop.IfIndex, "Message next hop %d index", i)
		assert.Equal(t, hop.Weight, int(msg.Attributes.Multipath[i].Hop.Hops)+1, "Message next hop %d weight", i)
		assert.Equal(t, net.IP(hop.Gateway.AsSlice()).String(), msg.Attributes.Multipath[i].Gateway.String(), "Message next hop %d gateway", i)
	}
}

func TestIntegrationNeighEvents(t *testing.T) {
	ns := testutil.NewNetNS(t)
	ns.AddVeth(t, "va", "vb")
	ns.IP(t, "addr", "add", "192.0.2.10/24", "dev", "va")
	index := ns.LinkIndex(t, "va")
	events, errs := subscribeNS(t, ns, nlevents.Neigh)

	tests := []struct {
		name   string
		ip     string
		lladdr string
		family uint8
	}{
		{"ipv4", "192.0.2.2", "02:00:00:00:00:02", 2},
		{"ipv6", "2001:db8::2", "02:00:00:00:00:03", 10},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ip := netip.MustParseAddr(tt.ip)
			ns.IP(t, "neigh", "add", tt.ip, "lladdr", tt.lladdr, "dev", "va", "nud", "permanent")
			added := testutil.WaitFor(t, events, errs, waitTimeout, func(e *nlevents.NeighEvent) bool {
				return e.IP == ip && !e.Deleted
			})
			assert.Equal(t, tt.family, added.Family, "Family")
			assert.Equal(t, index, added.Index, "Index")
			assert.Equal(t, tt.lladdr, added.HardwareAddr.String(), "HardwareAddr")
			assert.Equal(t, nlevents.NeighPermanent, added.State, "State")
			checkNeighMessage(t, added)

			ns.IP(t, "neigh", "del", tt.ip, "dev", "va")
			removed := testutil.WaitFor(t, events, errs, waitTimeout, func(e *nlevents.NeighEvent) bool {
				return e.IP == ip && e.Deleted
			})
			assert.Equal(t, index, removed.Index, "Index")
			// The kernel marks the entry NUD_FAILED before it notifies the
			// deletion, and sends NDA_LLADDR only for valid states.
			assert.Equal(t, nlevents.NeighFailed, removed.State, "State")
			checkNeighMessage(t, removed)
		})
	}
}

func checkNeighMessage(t *testing.T, ev *nlevents.NeighEvent) {
	t.Helper()
	msg, err := ev.Message()
	require.NoError(t, err)
	assert.Equal(t, uint16(ev.Family), msg.Family, "Message Family")
	assert.Equal(t, uint32(ev.Index), msg.Index, "Message Index")
	assert.Equal(t, uint16(ev.State), msg.State, "Message State")
	require.NotNil(t, msg.Attributes)
	assert.Equal(t, net.IP(ev.IP.AsSlice()).String(), msg.Attributes.Address.String(), "Message Address")
	assert.Equal(t, ev.HardwareAddr.String(), msg.Attributes.LLAddress.String(), "Message LLAddress")
}

func TestIntegrationRuleEvents(t *testing.T) {
	ns := testutil.NewNetNS(t)
	ns.AddVeth(t, "va", "vb")
	events, errs := subscribeNS(t, ns, nlevents.Rule)

	tests := []struct {
		name     string
		args     []string
		priority uint32
		table    uint32
		family   uint8
		src      string // "" for none
		dst      string // "" for none
		iif      string
		oif      string
		mark     uint32
	}{
		{"ipv4", []string{"rule", "add", "priority", "1000", "from", "192.0.2.0/24", "iif", "va", "table", "1000"}, 1000, 1000, 2, "192.0.2.0/24", "", "va", "", 0},
		{"ipv6", []string{"-6", "rule", "add", "priority", "1001", "from", "2001:db8::/64", "table", "100"}, 1001, 100, 10, "2001:db8::/64", "", "", "", 0},
		{"ipv4 to fwmark oif", []string{"rule", "add", "priority", "1002", "to", "198.51.100.0/24", "fwmark", "0x10", "oif", "va", "table", "5"}, 1002, 5, 2, "", "198.51.100.0/24", "", "va", 0x10},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ns.IP(t, tt.args...)
			added := testutil.WaitFor(t, events, errs, waitTimeout, func(e *nlevents.RuleEvent) bool {
				return e.Priority == tt.priority && !e.Deleted
			})
			assert.Equal(t, tt.family, added.Family, "Family")
			assert.Equal(t, tt.table, added.Table, "Table")
			assert.Equal(t, optionalPrefix(tt.src), added.Src, "Src")
			assert.Equal(t, optionalPrefix(tt.dst), added.Dst, "Dst")
			assert.Equal(t, tt.iif, added.IIFName, "IIFName")
			assert.Equal(t, tt.oif, added.OIFName, "OIFName")
			assert.Equal(t, tt.mark, added.Mark, "Mark")
			assert.Equal(t, uint8(1), added.Action, "Action (FR_ACT_TO_TBL)")
			checkRuleMessage(t, added)

			del := append([]string(nil), tt.args...)
			for i, arg := range del {
				if arg == "add" {
					del[i] = "del"
				}
			}
			ns.IP(t, del...)
			removed := testutil.WaitFor(t, events, errs, waitTimeout, func(e *nlevents.RuleEvent) bool {
				return e.Priority == tt.priority && e.Deleted
			})
			assert.Equal(t, tt.table, removed.Table, "Table")
			assert.Equal(t, optionalPrefix(tt.src), removed.Src, "Src")
			checkRuleMessage(t, removed)
		})
	}
}

func checkRuleMessage(t *testing.T, ev *nlevents.RuleEvent) {
	t.Helper()
	msg, err := ev.Message()
	require.NoError(t, err)
	assert.Equal(t, ev.Family, msg.Family, "Message Family")
	assert.Equal(t, prefixBits(ev.Src), msg.SrcLength, "Message SrcLength")
	require.NotNil(t, msg.Attributes)
	require.NotNil(t, msg.Attributes.Priority, "Message Priority")
	assert.Equal(t, ev.Priority, *msg.Attributes.Priority, "Message Priority")
	require.NotNil(t, msg.Attributes.Table, "Message Table")
	assert.Equal(t, ev.Table, *msg.Attributes.Table, "Message Table")
	assert.Equal(t, prefixBits(ev.Dst), msg.DstLength, "Message DstLength")

	if ev.Src.IsValid() {
		require.NotNil(t, msg.Attributes.Src, "Message Src")
		assert.Equal(t, net.IP(ev.Src.Addr().AsSlice()).String(), msg.Attributes.Src.String(), "Message Src")
	}
	if ev.Dst.IsValid() {
		require.NotNil(t, msg.Attributes.Dst, "Message Dst")
		assert.Equal(t, net.IP(ev.Dst.Addr().AsSlice()).String(), msg.Attributes.Dst.String(), "Message Dst")
	}
	if ev.Mark != 0 {
		require.NotNil(t, msg.Attributes.FwMark, "Message FwMark")
		assert.Equal(t, ev.Mark, *msg.Attributes.FwMark, "Message FwMark")
	}
	if ev.OIFName != "" {
		require.NotNil(t, msg.Attributes.OIFName, "Message OIFName")
		assert.Equal(t, ev.OIFName, *msg.Attributes.OIFName, "Message OIFName")
	}
	if ev.IIFName != "" {
		require.NotNil(t, msg.Attributes.IIFName, "Message IIFName")
		assert.Equal(t, ev.IIFName, *msg.Attributes.IIFName, "Message IIFName")
	}
}

func TestIntegrationLinkMessageAgrees(t *testing.T) {
	ns := testutil.NewNetNS(t)
	events, errs := subscribeNS(t, ns, nlevents.Link)

	ns.AddVeth(t, "va", "vb")
	ev := waitLink(t, events, errs, func(e *nlevents.LinkEvent) bool { return e.Name == "va" && e.Up() })
	msg, err := ev.Message()
	require.NoError(t, err)
	assert.Equal(t, uint32(ev.Index), msg.Index, "Index")
	assert.Equal(t, uint32(ev.Flags), msg.Flags, "Flags")
	assert.Equal(t, ev.Type, msg.Type, "Type")
	require.NotNil(t, msg.Attributes)
	assert.Equal(t, ev.Name, msg.Attributes.Name, "Name")
	assert.Equal(t, ev.MTU, msg.Attributes.MTU, "MTU")
	assert.Equal(t, ev.HardwareAddr.String(), msg.Attributes.Address.String(), "Address")
	assert.Equal(t, uint8(ev.OperState), uint8(msg.Attributes.OperationalState), "OperationalState")
	require.NotNil(t, msg.Attributes.Info, "Info")
	assert.Equal(t, ev.Kind, msg.Attributes.Info.Kind, "Kind")
}

func TestIntegrationStrictDecodeLinkKinds(t *testing.T) {
	ns := testutil.NewNetNS(t)
	events, errs := subscribeNS(t, ns, nlevents.Link, nlevents.WithStrictDecode())

	// A tun device has no hardware address (ARPHRD_NONE), a deleted link's
	// message carries empty nested attributes, and bridge port messages
	// have the AF_BRIDGE family: rtnetlink/v2 must accept them all, or
	// strict decoding reports a *DecodeError.
	ns.IP(t, "tuntap", "add", "dev", "tun0", "mode", "tun")
	ns.IP(t, "link", "add", "vx0", "type", "vxlan", "id", "42", "dstport", "4789", "local", "192.0.2.1")
	ns.IP(t, "link", "add", "ifb0", "type", "ifb")
	ns.AddVeth(t, "va", "vb")
	ns.IP(t, "link", "add", "br0", "type", "bridge")
	ns.IP(t, "link", "set", "vb", "master", "br0")
	ns.IP(t, "link", "set", "vb", "nomaster")
	ns.IP(t, "link", "del", "va")
	ns.IP(t, "link", "del", "tun0")
	items := addMarker(t, ns, events, errs)

	kinds := map[string]string{}
	var tunAdded, tunDeleted *nlevents.LinkEvent
	for _, it := range items {
		require.NoError(t, it.Err)
		l, ok := it.Event.(*nlevents.LinkEvent)
		if !ok {
			continue
		}
		kinds[l.Name] = l.Kind
		if l.Name == "tun0" && l.Deleted {
			tunDeleted = l
		} else if l.Name == "tun0" && tunAdded == nil {
			tunAdded = l
		}
	}
	assert.Equal(t, "tun", kinds["tun0"], "tun0 Kind")
	assert.Equal(t, "vxlan", kinds["vx0"], "vx0 Kind")
	assert.Equal(t, "ifb", kinds["ifb0"], "ifb0 Kind")
	assert.Equal(t, "bridge", kinds["br0"], "br0 Kind")

	require.NotNil(t, tunAdded, "no event for tun0")
	assert.Nil(t, tunAdded.HardwareAddr, "tun0 HardwareAddr")
	assert.Equal(t, uint16(65534), tunAdded.Type, "tun0 Type (ARPHRD_NONE)")
	require.NotNil(t, tunDeleted, "no deletion event for tun0")
	msg, err := tunDeleted.Message()
	require.NoError(t, err)
	assert.Equal(t, "tun0", msg.Attributes.Name, "deleted tun0 Message Name")
}

func TestIntegrationLinkNear64KiB(t *testing.T) {
	ns := testutil.NewNetNS(t)
	ns.AddVeth(t, "va", "vb")

	// The kernel caps the alternative name list at what one attribute can
	// hold (64 KiB); 490 names of 123 bytes come close to that cap. They
	// are added before subscribing, because each addition notifies the
	// whole growing list.
	var batch strings.Builder
	for i := range 490 {
		fmt.Fprintf(&batch, "link property add dev va altname %03d%s\n", i, strings.Repeat("y", 120))
	}
	ipBatch(t, ns, batch.String())
	events, errs := subscribeNS(t, ns, nlevents.Link)

	ns.IP(t, "link", "set", "va", "mtu", "1280")
	ev := waitLink(t, events, errs, func(e *nlevents.LinkEvent) bool { return e.Name == "va" && e.MTU == 1280 })
	assert.Greater(t, len(ev.Raw()), 60000, "message size")
	msg, err := ev.Message()
	require.NoError(t, err)
	assert.Equal(t, "va", msg.Attributes.Name, "Name")
	assert.Equal(t, uint32(1280), msg.Attributes.MTU, "MTU")
}

// TestIntegrationNexthopEvents covers a group numbered above 31, which only
// NETLINK_ADD_MEMBERSHIP can join.
func TestIntegrationNexthopEvents(t *testing.T) {
	ns := testutil.NewNetNS(t)
	ns.AddVeth(t, "va", "vb")
	ns.IP(t, "addr", "add", "192.0.2.10/24", "dev", "va")
	events, errs := subscribeNS(t, ns, nlevents.Nexthop)

	ns.IP(t, "nexthop", "add", "id", "7", "via", "192.0.2.1", "dev", "va")
	added := testutil.WaitFor(t, events, errs, waitTimeout, func(e *nlevents.NexthopEvent) bool { return e.ID == 7 })
	assert.False(t, added.Deleted, "Deleted")
	assert.Equal(t, uint8(2), added.Family, "Family")
	assert.Equal(t, "RTM_NEWNEXTHOP", added.MessageType(), "MessageType")
	assert.Equal(t, netip.MustParseAddr("192.0.2.1"), added.Gateway, "Gateway")
	assert.Equal(t, ns.LinkIndex(t, "va"), added.OutIndex, "OutIndex")
	assert.Nil(t, added.Group, "Group")

	ns.IP(t, "nexthop", "add", "id", "8", "via", "192.0.2.2", "dev", "va")
	ns.IP(t, "nexthop", "add", "id", "9", "group", "7/8,3")
	group := testutil.WaitFor(t, events, errs, waitTimeout, func(e *nlevents.NexthopEvent) bool { return e.ID == 9 })
	assert.Equal(t, []nlevents.NexthopMember{{ID: 7, Weight: 1}, {ID: 8, Weight: 3}}, group.Group, "Group")
	assert.False(t, group.Gateway.IsValid(), "a group has no gateway of its own")
	assert.Zero(t, group.Family, "a group's family is AF_UNSPEC")
	assert.Equal(t, "new nexthop id 9 group 7/8,3", group.String())

	ns.IP(t, "link", "set", "lo", "up") // a blackhole uses lo
	ns.IP(t, "nexthop", "add", "id", "5", "blackhole")
	blackhole := testutil.WaitFor(t, events, errs, waitTimeout, func(e *nlevents.NexthopEvent) bool { return e.ID == 5 })
	assert.True(t, blackhole.Blackhole, "Blackhole")
	assert.Zero(t, blackhole.OutIndex, "OutIndex")
	ns.IP(t, "nexthop", "del", "id", "9")

	ns.IP(t, "nexthop", "del", "id", "7")
	removed := testutil.WaitFor(t, events, errs, waitTimeout, func(e *nlevents.NexthopEvent) bool { return e.ID == 7 })
	assert.True(t, removed.Deleted, "Deleted")
}

// TestIntegrationRawEvent checks that a message type without a typed event
// (a traffic control qdisc) still reaches the consumer.
func TestIntegrationRawEvent(t *testing.T) {
	ns := testutil.NewNetNS(t)
	ns.AddVeth(t, "va", "vb")
	index := ns.LinkIndex(t, "va")
	events, errs := subscribeNS(t, ns, nlevents.TC)

	tc, err := exec.LookPath("tc")
	if err != nil {
		t.Skipf("tc (iproute2) not found: %v", err)
	}
	out, err := exec.Command(tc, "-n", ns.Name, "qdisc", "add", "dev", "va", "root", "handle", "1:", "htb").CombinedOutput()
	require.NoError(t, err, "tc qdisc add: %s", out)

	ev := testutil.WaitFor(t, events, errs, waitTimeout, func(e *nlevents.RawEvent) bool {
		return e.MessageType() == "RTM_NEWQDISC"
	})
	require.GreaterOrEqual(t, len(ev.Data()), 8, "tcmsg size")
	assert.Equal(t, uint32(index), binary.NativeEndian.Uint32(ev.Data()[4:8]), "tcm_ifindex")
	assert.Equal(t, len(ev.Raw())-16, len(ev.Data()), "Data is Raw without the header")
}

// optionalPrefix parses s, or returns the zero Prefix for "".
func optionalPrefix(s string) netip.Prefix {
	if s == "" {
		return netip.Prefix{}
	}
	return netip.MustParsePrefix(s)
}

// prefixBits returns the length of p as the kernel sends it, 0 when absent.
func prefixBits(p netip.Prefix) uint8 {
	if !p.IsValid() {
		return 0
	}
	return uint8(p.Bits())
}

func TestIntegrationBridgeFDBEvents(t *testing.T) {
	ns := testutil.NewNetNS(t)
	ns.AddVeth(t, "va", "vb")
	ns.IP(t, "link", "add", "br0", "type", "bridge")
	ns.IP(t, "link", "set", "va", "master", "br0")
	index := ns.LinkIndex(t, "va")
	bridgeCommand, err := exec.LookPath("bridge")
	if err != nil {
		t.Skipf("bridge (iproute2) not found: %v", err)
	}
	events, errs := subscribeNS(t, ns, nlevents.Neigh)

	const lladdr = "02:00:00:00:00:aa"
	fdb := func(verb string) {
		t.Helper()
		out, err := exec.Command(bridgeCommand, "-n", ns.Name, "fdb", verb, lladdr, "dev", "va", "master", "permanent").CombinedOutput()
		require.NoError(t, err, "bridge fdb %s: %s", verb, out)
	}

	fdb("add")
	added := testutil.WaitFor(t, events, errs, waitTimeout, func(e *nlevents.NeighEvent) bool {
		return e.HardwareAddr.String() == lladdr && !e.Deleted
	})
	assert.Equal(t, uint8(7), added.Family, "Family (AF_BRIDGE)")
	assert.Equal(t, index, added.Index, "Index")
	assert.False(t, added.IP.IsValid(), "IP of an FDB entry")
	assert.Equal(t, nlevents.NeighPermanent, added.State, "State")
	checkNeighMessage(t, added)

	fdb("del")
	removed := testutil.WaitFor(t, events, errs, waitTimeout, func(e *nlevents.NeighEvent) bool {
		return e.HardwareAddr.String() == lladdr && e.Deleted
	})
	assert.Equal(t, index, removed.Index, "Index")
}
