package nlevents

import (
	"net"
	"net/netip"

	"github.com/jsimonetti/rtnetlink/v2"
	"github.com/mdlayher/netlink"
)

// Event is one notification, or one object from a dump. Its dynamic type is
// one of *LinkEvent, *BridgePortEvent, *AddrEvent, *RouteEvent, *NeighEvent,
// *RuleEvent, *NexthopEvent, *SyncEvent or *RawEvent; switch on it. No other
// package can implement Event.
type Event interface {
	// EventInfo returns what every event carries: the netlink header and
	// where the event came from.
	EventInfo() Info

	// String describes the event on one line, in the style of ip monitor.
	String() string

	isEvent()
}

// Info is the part common to every event.
type Info struct {
	// Header is the message's netlink header: its type (RTM_NEWLINK, ...),
	// flags (NLM_F_CREATE, NLM_F_REPLACE, NLM_F_APPEND, NLM_F_MULTI, ...),
	// sequence number and port id. It is zero for a SyncEvent and for
	// events with Inferred set.
	Header netlink.Header

	// Deleted is true for RTM_DEL* messages: the object is gone. It is
	// false for new and changed objects. For a *BridgePortEvent it means
	// that bridge port or VLAN information was removed, not that a link was
	// deleted.
	Deleted bool

	// Dumped is true for objects delivered by an initial dump or a resync
	// (see WithInitialDump), false for live notifications.
	Dumped bool

	// Inferred is true for a deletion the library concluded from other
	// events, where the kernel sends no message (see WithInferredDeletes).
	Inferred bool
}

// EventInfo returns i. Every event type embeds Info, so it has this method.
func (i Info) EventInfo() Info { return i }

func (*LinkEvent) isEvent()       {}
func (*BridgePortEvent) isEvent() {}
func (*AddrEvent) isEvent()       {}
func (*RouteEvent) isEvent()      {}
func (*NeighEvent) isEvent()      {}
func (*RuleEvent) isEvent()       {}
func (*NexthopEvent) isEvent()    {}
func (*RawEvent) isEvent()        {}
func (*SyncEvent) isEvent()       {}

// raw is the event's own copy of its message's bytes, header included, from
// which the full rtnetlink message is decoded on demand.
type raw []byte

// payload returns the message without its netlink header.
func (r raw) payload() []byte {
	if len(r) < nlmsgHeaderLen {
		return nil
	}
	return r[nlmsgHeaderLen:]
}

// LinkEvent reports a network interface that appeared, changed or was
// deleted (RTM_NEWLINK or RTM_DELLINK, any family but AF_BRIDGE).
type LinkEvent struct {
	Info

	Family       uint8            // address family, usually AF_UNSPEC (0)
	Type         uint16           // device type, ARPHRD_* (1 is Ethernet)
	Index        int              // interface index
	Flags        LinkFlags        // device flags (ifi_flags)
	Change       LinkFlags        // flags that changed (ifi_change)
	Name         string           // IFLA_IFNAME
	MTU          uint32           // IFLA_MTU, 0 when absent
	HardwareAddr net.HardwareAddr // IFLA_ADDRESS, any length, nil when absent
	OperState    OperState        // IFLA_OPERSTATE
	MasterIndex  int              // IFLA_MASTER: bridge or bond index, 0 for none
	Kind         string           // IFLA_INFO_KIND: "veth", "bridge", ...; empty for physical devices

	// ParentIndex is IFLA_LINK: the index of a veth's peer, or of the link
	// that a VLAN, macvlan or tunnel sits on; 0 for none. When
	// ParentInOtherNetNS is set, the index is in another network
	// namespace (IFLA_LINK_NETNSID is present; Message gives its ID).
	ParentIndex        int
	ParentInOtherNetNS bool

	raw raw
}

// Up reports whether the link is administratively up (IFF_UP).
func (e *LinkEvent) Up() bool { return e.Flags&FlagUp != 0 }

// Message decodes the full message with rtnetlink/v2, from the event's own
// copy of the bytes. It decodes again on each call. A message that the
// decoder rejects gives a *DecodeError.
func (e *LinkEvent) Message() (*rtnetlink.LinkMessage, error) {
	m := new(rtnetlink.LinkMessage)
	return m, decodeFull(m, e.raw)
}

// Raw returns the message's bytes, netlink header included. The slice
// belongs to the event: do not modify it.
func (e *LinkEvent) Raw() []byte { return e.raw }

// BridgePortEvent reports bridge port or bridge VLAN information
// (RTM_NEWLINK or RTM_DELLINK with family AF_BRIDGE). These messages do not
// mean that a link was created or deleted: when a port leaves a bridge, the
// kernel sends RTM_DELLINK for AF_BRIDGE, and the link itself still exists.
type BridgePortEvent struct {
	Info

	Index       int       // the port's interface index
	Name        string    // the port's name
	Flags       LinkFlags // the port's device flags
	MTU         uint32    // IFLA_MTU, 0 when absent
	OperState   OperState // IFLA_OPERSTATE
	MasterIndex int       // the bridge's interface index, 0 when absent

	raw raw
}

// Message decodes the full message with rtnetlink/v2; see LinkEvent.Message.
func (e *BridgePortEvent) Message() (*rtnetlink.LinkMessage, error) {
	m := new(rtnetlink.LinkMessage)
	return m, decodeFull(m, e.raw)
}

// Raw returns the message's bytes; see LinkEvent.Raw.
func (e *BridgePortEvent) Raw() []byte { return e.raw }

// AddrEvent reports an address added to or removed from a link
// (RTM_NEWADDR, RTM_DELADDR).
type AddrEvent struct {
	Info

	Family uint8        // AF_INET (2) or AF_INET6 (10)
	Index  int          // interface index
	Prefix netip.Prefix // the local address with its prefix length, for example 192.0.2.10/24
	Peer   netip.Addr   // the peer of a point-to-point address; invalid when there is none
	Flags  uint32       // IFA_F_* flags, from IFA_FLAGS when present
	Scope  RouteScope   // address scope
	Label  string       // IFA_LABEL (IPv4 only), empty when absent

	raw raw
}

// Message decodes the full message with rtnetlink/v2; see LinkEvent.Message.
func (e *AddrEvent) Message() (*rtnetlink.AddressMessage, error) {
	m := new(rtnetlink.AddressMessage)
	return m, decodeFull(m, e.raw)
}

// Raw returns the message's bytes; see LinkEvent.Raw.
func (e *AddrEvent) Raw() []byte { return e.raw }

// RouteEvent reports a route added, replaced or removed (RTM_NEWROUTE,
// RTM_DELROUTE). IPv6 multipath routes change one next hop at a time: a
// notification with NLM_F_APPEND in Header.Flags adds next hops to an
// existing route, and a deletion may list only the next hop removed while
// the rest of the route stays. The table package merges these deltas.
type RouteEvent struct {
	Info

	Family    uint8         // AF_INET, AF_INET6, AF_MPLS, ...
	Dst       netip.Prefix  // destination; 0.0.0.0/0 or ::/0 for a default route
	Src       netip.Prefix  // source prefix (IPv6 source routing), invalid when absent
	PrefSrc   netip.Addr    // RTA_PREFSRC, invalid when absent
	Gateway   netip.Addr    // RTA_GATEWAY or an RTA_VIA address, invalid when absent
	OutIndex  int           // RTA_OIF, 0 when absent
	Priority  uint32        // RTA_PRIORITY, the metric
	Table     uint32        // RTA_TABLE, or rtm_table when absent
	Protocol  RouteProtocol // who installed it
	Scope     RouteScope    // route scope
	Type      RouteType     // unicast, local, blackhole, ...
	TOS       uint8         // type of service
	Flags     uint32        // RTM_F_* flags
	NextHops  []NextHop     // RTA_MULTIPATH next hops; nil for a single-path route
	NexthopID uint32        // RTA_NH_ID: the nexthop object used, 0 for none

	raw raw
}

// NextHop is one path of a multipath route.
type NextHop struct {
	Gateway netip.Addr // invalid when the hop has none
	Index   int        // output interface index
	Flags   uint8      // RTNH_F_* flags (dead, pervasive, onlink, linkdown, ...)
	Weight  int        // relative weight, 1 to 256 (rtnh_hops + 1)
}

// Message decodes the full message with rtnetlink/v2; see LinkEvent.Message.
func (e *RouteEvent) Message() (*rtnetlink.RouteMessage, error) {
	m := new(rtnetlink.RouteMessage)
	return m, decodeFull(m, e.raw)
}

// Raw returns the message's bytes; see LinkEvent.Raw.
func (e *RouteEvent) Raw() []byte { return e.raw }

// NeighEvent reports a neighbour entry (ARP, NDP or bridge FDB) added,
// changed or removed (RTM_NEWNEIGH, RTM_DELNEIGH).
type NeighEvent struct {
	Info

	Family       uint8            // AF_INET, AF_INET6 or AF_BRIDGE (FDB)
	Index        int              // interface index
	IP           netip.Addr       // NDA_DST, invalid when absent (FDB entries)
	HardwareAddr net.HardwareAddr // NDA_LLADDR, any length, nil when absent
	State        NeighState       // NUD_* state
	Flags        uint8            // NTF_* flags
	Type         uint8            // ndm_type

	raw raw
}

// Message decodes the full message with rtnetlink/v2; see LinkEvent.Message.
func (e *NeighEvent) Message() (*rtnetlink.NeighMessage, error) {
	m := new(rtnetlink.NeighMessage)
	return m, decodeFull(m, e.raw)
}

// Raw returns the message's bytes; see LinkEvent.Raw.
func (e *NeighEvent) Raw() []byte { return e.raw }

// RuleEvent reports a policy routing rule added or removed (RTM_NEWRULE,
// RTM_DELRULE).
type RuleEvent struct {
	Info

	Family   uint8        // AF_INET or AF_INET6
	Priority uint32       // FRA_PRIORITY
	Table    uint32       // FRA_TABLE, or the header's table when absent
	Action   uint8        // FR_ACT_*: 1 is "to table"
	Src      netip.Prefix // FRA_SRC with its length, invalid when absent
	Dst      netip.Prefix // FRA_DST with its length, invalid when absent
	Mark     uint32       // FRA_FWMARK
	IIFName  string       // FRA_IIFNAME
	OIFName  string       // FRA_OIFNAME
	Flags    uint32       // FIB_RULE_* flags

	raw raw
}

// Message decodes the full message with rtnetlink/v2; see LinkEvent.Message.
func (e *RuleEvent) Message() (*rtnetlink.RuleMessage, error) {
	m := new(rtnetlink.RuleMessage)
	return m, decodeFull(m, e.raw)
}

// Raw returns the message's bytes; see LinkEvent.Raw.
func (e *RuleEvent) Raw() []byte { return e.raw }

// NexthopEvent reports a nexthop object added or removed (RTM_NEWNEXTHOP,
// RTM_DELNEXTHOP), from the Nexthop group: a single next hop (a gateway, a
// link or both), a blackhole, or a group of other nexthop objects.
// rtnetlink/v2 has no decoder for these messages; Raw has the bytes, with
// what is not decoded here (a resilient group's buckets, encapsulation).
//
// The kernel removes the nexthop objects of a link that goes down, and the
// groups left empty, without a notification; a dump shows what remains.
type NexthopEvent struct {
	Info

	Family    uint8      // address family of the next hop; AF_UNSPEC for a group
	ID        uint32     // NHA_ID
	Gateway   netip.Addr // NHA_GATEWAY, invalid when absent
	OutIndex  int        // NHA_OIF: the link, 0 for none
	Blackhole bool       // NHA_BLACKHOLE: packets are dropped
	FDB       bool       // NHA_FDB: for bridge forwarding entries, not routes
	Flags     uint32     // nh_flags, RTNH_F_* such as onlink and linkdown

	// Group lists the members of a group (NHA_GROUP), nil for a single
	// next hop. Resilient is set for a resilient group (NHA_GROUP_TYPE),
	// whose buckets keep flows on their member when members change.
	Group     []NexthopMember
	Resilient bool

	raw raw
}

// NexthopMember is one nexthop object of a group, with its weight.
type NexthopMember struct {
	ID     uint32
	Weight int // 1 to 65535 (255 before Linux 6.12)
}

// Raw returns the message's bytes; see LinkEvent.Raw.
func (e *NexthopEvent) Raw() []byte { return e.raw }

// RawEvent carries a message of a type that has no typed event (traffic
// control, netconf, nsid, ...), so that nothing the kernel sends is dropped
// in silence.
type RawEvent struct {
	Info

	raw raw
}

// Type returns the netlink message type.
func (e *RawEvent) Type() netlink.HeaderType { return e.Header.Type }

// Data returns the message's payload, without the netlink header. The slice
// belongs to the event: do not modify it.
func (e *RawEvent) Data() []byte { return e.raw.payload() }

// Raw returns the message's bytes; see LinkEvent.Raw.
func (e *RawEvent) Raw() []byte { return e.raw }

// SyncEvent marks the end of a dump: every object that existed when the dump
// ran has now been delivered. A consumer that keeps a table can drop the
// entries it did not see since the previous dump started (mark and sweep).
// The marker is not an object, so its Info is zero: Dumped is false.
type SyncEvent struct {
	Info

	// Resync is true when the dump followed an overrun (see WithResync), and
	// false for the initial dump.
	Resync bool
}

// decodeFull runs rtnetlink/v2's decoder on a message's payload.
func decodeFull(m interface{ UnmarshalBinary([]byte) error }, r raw) error {
	if err := m.UnmarshalBinary(r.payload()); err != nil {
		h, _ := readHeader(r)
		return &DecodeError{Type: h.Type, Sequence: h.Sequence, Err: err}
	}
	return nil
}

// MessageType names the netlink message type, for example "RTM_NEWLINK",
// or returns "type(N)" for a type this package does not name. It returns ""
// for events that no message carried: a *SyncEvent and inferred deletions.
func (i Info) MessageType() string {
	if i.Header.Type == 0 {
		return ""
	}
	return messageTypeName(i.Header.Type)
}
