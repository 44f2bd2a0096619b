package nlevents

import (
	"fmt"
	"strings"

	"github.com/mdlayher/netlink"
)

// LinkFlags are a link's device flags (IFF_* in netdevice(7)).
type LinkFlags uint32

// Device flags, as in linux/if.h.
const (
	FlagUp           LinkFlags = 1 << 0
	FlagBroadcast    LinkFlags = 1 << 1
	FlagDebug        LinkFlags = 1 << 2
	FlagLoopback     LinkFlags = 1 << 3
	FlagPointToPoint LinkFlags = 1 << 4
	FlagNoTrailers   LinkFlags = 1 << 5
	FlagRunning      LinkFlags = 1 << 6
	FlagNoARP        LinkFlags = 1 << 7
	FlagPromisc      LinkFlags = 1 << 8
	FlagAllMulti     LinkFlags = 1 << 9
	FlagMaster       LinkFlags = 1 << 10
	FlagSlave        LinkFlags = 1 << 11
	FlagMulticast    LinkFlags = 1 << 12
	FlagPortSel      LinkFlags = 1 << 13
	FlagAutoMedia    LinkFlags = 1 << 14
	FlagDynamic      LinkFlags = 1 << 15
	FlagLowerUp      LinkFlags = 1 << 16
	FlagDormant      LinkFlags = 1 << 17
	FlagEcho         LinkFlags = 1 << 18
)

var linkFlagNames = [...]string{
	"UP", "BROADCAST", "DEBUG", "LOOPBACK", "POINTOPOINT", "NOTRAILERS",
	"RUNNING", "NOARP", "PROMISC", "ALLMULTI", "MASTER", "SLAVE", "MULTICAST",
	"PORTSEL", "AUTOMEDIA", "DYNAMIC", "LOWER_UP", "DORMANT", "ECHO",
}

// String joins the flag names with "|", as ip link prints them between
// angle brackets; unknown bits print in hex.
func (f LinkFlags) String() string {
	return flagString(uint64(f), linkFlagNames[:])
}

// OperState is a link's operational state (IFLA_OPERSTATE, RFC 2863).
type OperState uint8

// Operational states, as in linux/if.h.
const (
	OperUnknown OperState = iota
	OperNotPresent
	OperDown
	OperLowerLayerDown
	OperTesting
	OperDormant
	OperUp
)

var operStateNames = [...]string{"UNKNOWN", "NOTPRESENT", "DOWN", "LOWERLAYERDOWN", "TESTING", "DORMANT", "UP"}

// String returns the state as ip link prints it, or "unknown(N)".
func (s OperState) String() string {
	return enumString(int(s), operStateNames[:])
}

// NeighState is a neighbour entry's state (NUD_* in linux/neighbour.h), a
// bit set.
type NeighState uint16

// Neighbour states.
const (
	NeighIncomplete NeighState = 0x01
	NeighReachable  NeighState = 0x02
	NeighStale      NeighState = 0x04
	NeighDelay      NeighState = 0x08
	NeighProbe      NeighState = 0x10
	NeighFailed     NeighState = 0x20
	NeighNoARP      NeighState = 0x40
	NeighPermanent  NeighState = 0x80
)

var neighStateNames = [...]string{"INCOMPLETE", "REACHABLE", "STALE", "DELAY", "PROBE", "FAILED", "NOARP", "PERMANENT"}

// String joins the state names with "|"; the empty state prints as "NONE".
func (s NeighState) String() string {
	if s == 0 {
		return "NONE"
	}
	return flagString(uint64(s), neighStateNames[:])
}

// RouteProtocol is the origin of a route (RTPROT_* in linux/rtnetlink.h).
type RouteProtocol uint8

// Common route protocols.
const (
	ProtoUnspec   RouteProtocol = 0
	ProtoRedirect RouteProtocol = 1
	ProtoKernel   RouteProtocol = 2
	ProtoBoot     RouteProtocol = 3
	ProtoStatic   RouteProtocol = 4
	ProtoRA       RouteProtocol = 9
	ProtoDHCP     RouteProtocol = 16
)

var routeProtocolNames = map[RouteProtocol]string{
	0: "unspec", 1: "redirect", 2: "kernel", 3: "boot", 4: "static", 8: "gated",
	9: "ra", 10: "mrt", 11: "zebra", 12: "bird", 13: "dnrouted", 14: "xorp",
	15: "ntk", 16: "dhcp", 17: "mrouted", 18: "keepalived", 42: "babel",
	99: "openr", 186: "bgp", 187: "isis", 188: "ospf", 189: "rip", 192: "eigrp",
}

// String returns the name ip route uses, or the number.
func (p RouteProtocol) String() string {
	if name, ok := routeProtocolNames[p]; ok {
		return name
	}
	return fmt.Sprint(uint8(p))
}

// RouteScope is the scope of a route or address (RT_SCOPE_*).
type RouteScope uint8

// Route and address scopes.
const (
	ScopeUniverse RouteScope = 0
	ScopeSite     RouteScope = 200
	ScopeLink     RouteScope = 253
	ScopeHost     RouteScope = 254
	ScopeNowhere  RouteScope = 255
)

// String returns the name ip uses, or the number.
func (s RouteScope) String() string {
	switch s {
	case ScopeUniverse:
		return "global"
	case ScopeSite:
		return "site"
	case ScopeLink:
		return "link"
	case ScopeHost:
		return "host"
	case ScopeNowhere:
		return "nowhere"
	}
	return fmt.Sprint(uint8(s))
}

// RouteType is the kind of a route (RTN_*).
type RouteType uint8

// Route types.
const (
	RouteUnspec RouteType = iota
	RouteUnicast
	RouteLocal
	RouteBroadcast
	RouteAnycast
	RouteMulticast
	RouteBlackhole
	RouteUnreachable
	RouteProhibit
	RouteThrow
	RouteNAT
	RouteXResolve
)

var routeTypeNames = [...]string{"unspec", "unicast", "local", "broadcast", "anycast", "multicast",
	"blackhole", "unreachable", "prohibit", "throw", "nat", "xresolve"}

// String returns the name ip route uses, or "unknown(N)".
func (t RouteType) String() string {
	return enumString(int(t), routeTypeNames[:])
}

// Routing table numbers with names (RT_TABLE_*).
const (
	TableDefault uint32 = 253
	TableMain    uint32 = 254
	TableLocal   uint32 = 255
)

func tableName(t uint32) string {
	switch t {
	case TableDefault:
		return "default"
	case TableMain:
		return "main"
	case TableLocal:
		return "local"
	}
	return fmt.Sprint(t)
}

func flagString(bits uint64, names []string) string {
	var parts []string
	for i, name := range names {
		if bits&(1<<i) != 0 {
			parts = append(parts, name)
			bits &^= 1 << i
		}
	}
	if bits != 0 {
		parts = append(parts, fmt.Sprintf("%#x", bits))
	}
	return strings.Join(parts, "|")
}

func enumString(v int, names []string) string {
	if v >= 0 && v < len(names) {
		return names[v]
	}
	return fmt.Sprintf("unknown(%d)", v)
}

// messageTypeName names rtnetlink message types for errors and raw events.
func messageTypeName(t netlink.HeaderType) string {
	if name, ok := messageTypeNames[t]; ok {
		return name
	}
	return fmt.Sprintf("type(%d)", uint16(t))
}

var messageTypeNames = map[netlink.HeaderType]string{
	nlmsgNoop: "NLMSG_NOOP", nlmsgError: "NLMSG_ERROR", nlmsgDone: "NLMSG_DONE", nlmsgOverrun: "NLMSG_OVERRUN",
	rtmNewLink: "RTM_NEWLINK", rtmDelLink: "RTM_DELLINK", rtmNewAddr: "RTM_NEWADDR", rtmDelAddr: "RTM_DELADDR",
	rtmNewRoute: "RTM_NEWROUTE", rtmDelRoute: "RTM_DELROUTE", rtmNewNeigh: "RTM_NEWNEIGH", rtmDelNeigh: "RTM_DELNEIGH",
	rtmNewRule: "RTM_NEWRULE", rtmDelRule: "RTM_DELRULE", 36: "RTM_NEWQDISC", 37: "RTM_DELQDISC",
	40: "RTM_NEWTCLASS", 41: "RTM_DELTCLASS", 44: "RTM_NEWTFILTER", 45: "RTM_DELTFILTER",
	52: "RTM_NEWPREFIX", 64: "RTM_NEWNEIGHTBL", 68: "RTM_NEWNDUSEROPT", 80: "RTM_NEWNETCONF", 81: "RTM_DELNETCONF",
	84: "RTM_NEWMDB", 85: "RTM_DELMDB", 88: "RTM_NEWNSID", 89: "RTM_DELNSID", 92: "RTM_NEWSTATS",
	rtmNewNexthop: "RTM_NEWNEXTHOP", rtmDelNexthop: "RTM_DELNEXTHOP", 112: "RTM_NEWVLAN", 113: "RTM_DELVLAN",
	116: "RTM_NEWNEXTHOPBUCKET", 117: "RTM_DELNEXTHOPBUCKET", 120: "RTM_NEWTUNNEL", 121: "RTM_DELTUNNEL",
	48: "RTM_NEWACTION", 49: "RTM_DELACTION", 56: "RTM_NEWMULTICAST", 57: "RTM_DELMULTICAST",
	60: "RTM_NEWANYCAST", 61: "RTM_DELANYCAST", 72: "RTM_NEWADDRLABEL", 73: "RTM_DELADDRLABEL",
	100: "RTM_NEWCHAIN", 101: "RTM_DELCHAIN", 108: "RTM_NEWLINKPROP", 109: "RTM_DELLINKPROP",
}
