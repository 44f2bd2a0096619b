package main

import (
	"encoding/binary"
	"fmt"
	"net"
	"net/netip"

	"github.com/jsimonetti/rtnetlink/v2"
	"github.com/mdlayher/netlink"
	"golang.org/x/sys/unix"
)

// benchLink is the veth end that the workloads change. It stays down, so
// that no IPv6 autoconfiguration or carrier change adds notifications.
const (
	benchLink = "nlbench0"
	benchPeer = "nlbench1"
)

// A workload is a fixed series of changes, numbered 0 to changes-1, each
// of which makes the kernel notify one multicast group. Every receiver maps
// the events it gets back to change numbers (rawKey, nleventsKey, ...), so
// that a change's latency is the time from its request's return to the event.
type workload struct {
	name  string
	group uint32 // RTNLGRP_* the receivers join
	about string

	// request builds the request for change i.
	request func(w *workloadState, i int) netlink.Message
}

// workloadState contains the namespace's facts that the requests need.
type workloadState struct {
	linkIndex uint32
}

var workloads = []workload{
	{
		name:  "addr",
		group: unix.RTNLGRP_IPV4_IFADDR,
		about: "IPv4 /32 address added, then deleted, on a down veth (RTM_NEWADDR, RTM_DELADDR: small messages)",
		request: func(w *workloadState, i int) netlink.Message {
			return addrRequest(w.linkIndex, i)
		},
	},
	{
		name:  "link",
		group: unix.RTNLGRP_LINK,
		about: "MTU of a down veth set to a new value (RTM_NEWLINK: large messages)",
		request: func(w *workloadState, i int) netlink.Message {
			return linkRequest(w.linkIndex, i)
		},
	},
	{
		name:  "route",
		group: unix.RTNLGRP_IPV4_ROUTE,
		about: "IPv4 blackhole /32 route added, then deleted, in the main table (RTM_NEWROUTE, RTM_DELROUTE)",
		request: func(_ *workloadState, i int) netlink.Message {
			return routeRequest(i)
		},
	},
}

func findWorkload(name string) (workload, error) {
	for _, w := range workloads {
		if w.name == name {
			return w, nil
		}
	}
	return workload{}, fmt.Errorf("unknown workload %q: use addr, link or route", name)
}

// Addresses and route destinations encode the change number: change i
// touches the address base+i/2, and odd changes are deletions.
var (
	addrBase  = netip.MustParseAddr("10.64.0.1")
	routeBase = netip.MustParseAddr("10.128.0.1")
)

// mtuBase is the MTU that change 0 of the link workload sets, and change i
// sets mtuBase+i. It differs from the veth's initial 1500, so change 0 is a
// real change. A veth accepts MTUs up to 65535, so this covers more
// than 60,000 changes.
const mtuBase = 2000

func nthAddr(base netip.Addr, n int) netip.Addr {
	b := base.As4()
	v := binary.BigEndian.Uint32(b[:]) + uint32(n)
	binary.BigEndian.PutUint32(b[:], v)
	return netip.AddrFrom4(b)
}

// pairKey returns the change number of an add (deleted false) or delete of
// the address that is n steps after base, or -1 when addr is not one of the
// workload's.
func pairKey(base, addr netip.Addr, deleted bool) int {
	if !addr.Is4() {
		return -1
	}
	a, b := addr.As4(), base.As4()
	n := int(binary.BigEndian.Uint32(a[:])) - int(binary.BigEndian.Uint32(b[:]))
	if n < 0 || n >= 1<<20 {
		return -1
	}
	key := 2 * n
	if deleted {
		key++
	}
	return key
}

func mtuKey(mtu uint32) int {
	if mtu < mtuBase || mtu >= mtuBase+1<<20 {
		return -1
	}
	return int(mtu - mtuBase)
}

func addrRequest(index uint32, i int) netlink.Message {
	addr := nthAddr(addrBase, i/2)
	msg := &rtnetlink.AddressMessage{
		Family:       unix.AF_INET,
		PrefixLength: 32,
		Scope:        unix.RT_SCOPE_UNIVERSE,
		Index:        index,
		Attributes: &rtnetlink.AddressAttributes{
			Address: net.IP(addr.AsSlice()),
			Local:   net.IP(addr.AsSlice()),
		},
	}
	typ, flags := netlink.HeaderType(unix.RTM_NEWADDR), netlink.Request|netlink.Acknowledge|netlink.Create|netlink.Excl
	if i%2 == 1 {
		typ, flags = unix.RTM_DELADDR, netlink.Request|netlink.Acknowledge
	}
	return marshal(typ, flags, msg)
}

func linkRequest(index uint32, i int) netlink.Message {
	msg := &rtnetlink.LinkMessage{
		Family: unix.AF_UNSPEC,
		Index:  index,
		Attributes: &rtnetlink.LinkAttributes{
			MTU: uint32(mtuBase + i),
		},
	}
	return marshal(unix.RTM_NEWLINK, netlink.Request|netlink.Acknowledge, msg)
}

func routeRequest(i int) netlink.Message {
	dst := nthAddr(routeBase, i/2)
	msg := &rtnetlink.RouteMessage{
		Family:    unix.AF_INET,
		DstLength: 32,
		Table:     unix.RT_TABLE_MAIN,
		Protocol:  unix.RTPROT_STATIC,
		Scope:     unix.RT_SCOPE_UNIVERSE,
		Type:      unix.RTN_BLACKHOLE,
		Attributes: rtnetlink.RouteAttributes{
			Dst: net.IP(dst.AsSlice()),
		},
	}
	typ, flags := netlink.HeaderType(unix.RTM_NEWROUTE), netlink.Request|netlink.Acknowledge|netlink.Create|netlink.Excl
	if i%2 == 1 {
		typ, flags = unix.RTM_DELROUTE, netlink.Request|netlink.Acknowledge
	}
	return marshal(typ, flags, msg)
}

func marshal(typ netlink.HeaderType, flags netlink.HeaderFlags, msg interface{ MarshalBinary() ([]byte, error) }) netlink.Message {
	data, err := msg.MarshalBinary()
	if err != nil {
		panic(fmt.Sprintf("marshal %T: %v", msg, err)) // the messages above are well-formed
	}
	return netlink.Message{Header: netlink.Header{Type: typ, Flags: flags}, Data: data}
}
