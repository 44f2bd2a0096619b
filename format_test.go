package nlevents_test

import (
	"fmt"
	"net/netip"
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/nlevents/nlevents"
)

func TestFormatNamesLinks(t *testing.T) {
	names := map[int]string{2: "va", 3: "br0"}
	linkName := func(index int) string { return names[index] }
	gw := netip.MustParseAddr("192.0.2.1")

	tests := []struct {
		ev   nlevents.Event
		want string
	}{
		{&nlevents.AddrEvent{Prefix: netip.MustParsePrefix("192.0.2.10/24"), Index: 2},
			"new addr 192.0.2.10/24 dev va scope global"},
		{&nlevents.AddrEvent{Prefix: netip.MustParsePrefix("192.0.2.10/24"), Index: 9},
			"new addr 192.0.2.10/24 dev 9 scope global"},
		{&nlevents.RouteEvent{Dst: netip.MustParsePrefix("198.51.100.0/24"), Gateway: gw, OutIndex: 2, Table: 254, Type: nlevents.RouteUnicast},
			"new route 198.51.100.0/24 via 192.0.2.1 dev va table main proto unspec"},
		{&nlevents.RouteEvent{Dst: netip.MustParsePrefix("198.51.100.0/24"), Table: 254, Type: nlevents.RouteUnicast,
			NextHops: []nlevents.NextHop{{Gateway: gw, Index: 2, Weight: 1}, {Gateway: gw, Index: 9, Weight: 1}}},
			"new route 198.51.100.0/24 nexthop via 192.0.2.1 dev va weight 1 nexthop via 192.0.2.1 dev 9 weight 1 table main proto unspec"},
		{&nlevents.AddrEvent{Family: 2, Prefix: netip.MustParsePrefix("192.0.2.11/24"), Index: 2, Flags: 0x01 | 0x80},
			"new addr 192.0.2.11/24 dev va scope global secondary"},
		{&nlevents.AddrEvent{Family: 10, Prefix: netip.MustParsePrefix("2001:db8::1/64"), Index: 2, Flags: 0x01 | 0x02 | 0x40},
			"new addr 2001:db8::1/64 dev va scope global temporary nodad tentative"},
		{&nlevents.RouteEvent{Dst: netip.MustParsePrefix("192.0.2.0/24"), OutIndex: 2, Table: 254, Type: nlevents.RouteUnicast, Flags: 0x10},
			"new route 192.0.2.0/24 dev va table main proto unspec linkdown"},
		{&nlevents.NeighEvent{IP: gw, Index: 2},
			"new neigh 192.0.2.1 dev va NONE"},
		{&nlevents.LinkEvent{Index: 2, Name: "va", MTU: 1500, Flags: nlevents.FlagUp},
			"new link 2 va <NO-CARRIER|UP> mtu 1500 state UNKNOWN"},
		{&nlevents.LinkEvent{Index: 2, Name: "va", MTU: 1500, MasterIndex: 3},
			"new link 2 va <> mtu 1500 state UNKNOWN master br0"},
		{&nlevents.LinkEvent{Index: 2, Name: "va", MTU: 1500, ParentIndex: 3, Kind: "veth"},
			"new link 2 va@br0 <> mtu 1500 state UNKNOWN kind veth"},
		{&nlevents.LinkEvent{Index: 2, Name: "va", MTU: 1500, ParentIndex: 9},
			"new link 2 va@if9 <> mtu 1500 state UNKNOWN"},
		{&nlevents.LinkEvent{Index: 2, Name: "va", MTU: 1500, ParentIndex: 3, ParentInOtherNetNS: true},
			"new link 2 va@if3 <> mtu 1500 state UNKNOWN"},
		{&nlevents.BridgePortEvent{Index: 2, Name: "va", MasterIndex: 3},
			"new bridge-port 2 va master br0 state UNKNOWN"},
		{&nlevents.NexthopEvent{ID: 7, Family: 2, Gateway: gw, OutIndex: 2, Flags: 0x04},
			"new nexthop id 7 via 192.0.2.1 dev va onlink"},
		{&nlevents.NexthopEvent{ID: 9, Group: []nlevents.NexthopMember{{ID: 7, Weight: 1}, {ID: 8, Weight: 300}}},
			"new nexthop id 9 group 7/8,300"},
		{&nlevents.NexthopEvent{ID: 5, Blackhole: true},
			"new nexthop id 5 blackhole"},
		{&nlevents.NexthopEvent{ID: 11, Resilient: true, Group: []nlevents.NexthopMember{{ID: 7, Weight: 200}, {ID: 8, Weight: 256}}},
			"new nexthop id 11 group 7,200/8,256 type resilient"},
		{&nlevents.RuleEvent{Family: 2, Priority: 100, Table: 10},
			"new rule inet 100: from all lookup 10"},
		{&nlevents.RuleEvent{Family: 10, Priority: 100, Table: 10},
			"new rule inet6 100: from all lookup 10"},
		{&nlevents.RuleEvent{Family: 128, Priority: 32766, Table: 253},
			"new rule ipmr 32766: from all lookup default"},
		{&nlevents.RuleEvent{Family: 42, Src: netip.MustParsePrefix("2001:db8::/32"), Table: 254},
			"new rule family 42 0: from 2001:db8::/32 lookup main"},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%T", tt.ev), func(t *testing.T) {
			assert.Equal(t, tt.want, nlevents.Format(tt.ev, linkName), "Format with names")
			assert.Equal(t, tt.ev.String(), nlevents.Format(tt.ev, nil), "Format without names")
		})
	}
}

func TestFlagNames(t *testing.T) {
	v4 := &nlevents.AddrEvent{Family: 2, Flags: 0x01 | 0x80}
	assert.Equal(t, []string{"secondary"}, v4.FlagNames(), "IFA_F_PERMANENT is left out")
	v6 := &nlevents.AddrEvent{Family: 10, Flags: 0x01 | 0x02 | 0x800}
	assert.Equal(t, []string{"temporary", "nodad", "stable-privacy"}, v6.FlagNames())
	assert.Empty(t, (&nlevents.AddrEvent{Family: 2, Flags: 0x80}).FlagNames())

	route := &nlevents.RouteEvent{Flags: 0x04 | 0x10 | 0x200}
	assert.Equal(t, []string{"onlink", "linkdown"}, route.FlagNames(), "RTM_F_CLONED (0x200) has no word")

	hop := nlevents.NextHop{Flags: 0x10 | 0x80}
	assert.Equal(t, []string{"linkdown", "0x80"}, hop.FlagNames(), "a bit without a name is kept in hexadecimal")
}
