package nlevents

import (
	"fmt"
	"maps"
	"math/bits"
	"slices"
	"strings"
)

// Groups is a set of rtnetlink multicast groups (the kernel's RTNLGRP_*
// values). Bit n-1 stands for group number n, so the groups that fit in the
// legacy 32-bit bind mask keep their RTMGRP_* values. Combine groups with |.
type Groups uint64

// The rtnetlink multicast groups, named after RTNLGRP_* without the prefix.
// Numbers 14 and 17 are unused placeholders in the kernel and have no
// constant. Groups from Nexthop (32) on are joined with
// NETLINK_ADD_MEMBERSHIP; kernels older than a group reject joining it.
const (
	Link        Groups = 1 << iota // RTNLGRP_LINK (1): links.
	Notify                         // RTNLGRP_NOTIFY (2).
	Neigh                          // RTNLGRP_NEIGH (3): neighbours (ARP, NDP, FDB).
	TC                             // RTNLGRP_TC (4): traffic control.
	IPv4Addr                       // RTNLGRP_IPV4_IFADDR (5): IPv4 addresses.
	IPv4MRoute                     // RTNLGRP_IPV4_MROUTE (6): IPv4 multicast routes.
	IPv4Route                      // RTNLGRP_IPV4_ROUTE (7): IPv4 routes.
	IPv4Rule                       // RTNLGRP_IPV4_RULE (8): IPv4 policy rules.
	IPv6Addr                       // RTNLGRP_IPV6_IFADDR (9): IPv6 addresses.
	IPv6MRoute                     // RTNLGRP_IPV6_MROUTE (10): IPv6 multicast routes.
	IPv6Route                      // RTNLGRP_IPV6_ROUTE (11): IPv6 routes.
	IPv6IfInfo                     // RTNLGRP_IPV6_IFINFO (12): IPv6 per-link state.
	DECnetAddr                     // RTNLGRP_DECnet_IFADDR (13).
	_                              // RTNLGRP_NOP2 (14), unused.
	DECnetRoute                    // RTNLGRP_DECnet_ROUTE (15).
	DECnetRule                     // RTNLGRP_DECnet_RULE (16).
	_                              // RTNLGRP_NOP4 (17), unused.
	IPv6Prefix                     // RTNLGRP_IPV6_PREFIX (18): IPv6 prefixes learned from router advertisements.
	IPv6Rule                       // RTNLGRP_IPV6_RULE (19): IPv6 policy rules.
	NDUserOpt                      // RTNLGRP_ND_USEROPT (20): router advertisement options for user space.
	PhonetAddr                     // RTNLGRP_PHONET_IFADDR (21).
	PhonetRoute                    // RTNLGRP_PHONET_ROUTE (22).
	DCB                            // RTNLGRP_DCB (23): data center bridging.
	IPv4NetConf                    // RTNLGRP_IPV4_NETCONF (24): IPv4 per-link settings.
	IPv6NetConf                    // RTNLGRP_IPV6_NETCONF (25): IPv6 per-link settings.
	MDB                            // RTNLGRP_MDB (26): bridge multicast database.
	MPLSRoute                      // RTNLGRP_MPLS_ROUTE (27).
	NSID                           // RTNLGRP_NSID (28): network namespace ids.
	MPLSNetConf                    // RTNLGRP_MPLS_NETCONF (29).
	IPv4MRouteR                    // RTNLGRP_IPV4_MROUTE_R (30).
	IPv6MRouteR                    // RTNLGRP_IPV6_MROUTE_R (31).
	Nexthop                        // RTNLGRP_NEXTHOP (32): nexthop objects.
	BRVLAN                         // RTNLGRP_BRVLAN (33): bridge VLANs.
	MCTPAddr                       // RTNLGRP_MCTP_IFADDR (34).
	Tunnel                         // RTNLGRP_TUNNEL (35).
	Stats                          // RTNLGRP_STATS (36).
	IPv4MCAddr                     // RTNLGRP_IPV4_MCADDR (37): IPv4 multicast addresses joined.
	IPv6MCAddr                     // RTNLGRP_IPV6_MCADDR (38): IPv6 multicast addresses joined.
	IPv6ACAddr                     // RTNLGRP_IPV6_ACADDR (39): IPv6 anycast addresses.
)

// Convenience sets for the object kinds that have typed events.
const (
	// Addr is IPv4Addr | IPv6Addr.
	Addr = IPv4Addr | IPv6Addr
	// Route is IPv4Route | IPv6Route.
	Route = IPv4Route | IPv6Route
	// Rule is IPv4Rule | IPv6Rule.
	Rule = IPv4Rule | IPv6Rule
	// AllGroups is every group this package defines.
	AllGroups = (IPv6ACAddr<<1 - 1) &^ (1<<13 | 1<<16)
)

// groupNames maps group numbers to the names used by String and ParseGroups.
var groupNames = [...]string{
	1: "link", 2: "notify", 3: "neigh", 4: "tc", 5: "ipv4-addr",
	6: "ipv4-mroute", 7: "ipv4-route", 8: "ipv4-rule", 9: "ipv6-addr",
	10: "ipv6-mroute", 11: "ipv6-route", 12: "ipv6-ifinfo", 13: "decnet-addr",
	15: "decnet-route", 16: "decnet-rule", 18: "ipv6-prefix", 19: "ipv6-rule",
	20: "nd-useropt", 21: "phonet-addr", 22: "phonet-route", 23: "dcb",
	24: "ipv4-netconf", 25: "ipv6-netconf", 26: "mdb", 27: "mpls-route",
	28: "nsid", 29: "mpls-netconf", 30: "ipv4-mroute-r", 31: "ipv6-mroute-r",
	32: "nexthop", 33: "brvlan", 34: "mctp-addr", 35: "tunnel", 36: "stats",
	37: "ipv4-mcaddr", 38: "ipv6-mcaddr", 39: "ipv6-acaddr",
}

// groupAliases are the short names that ParseGroups accepts besides the
// names of single groups.
var groupAliases = map[string]Groups{
	"addr":  Addr,
	"route": Route,
	"rule":  Rule,
	"all":   AllGroups,
}

// Numbers returns the kernel group numbers (RTNLGRP_*) in g, in ascending
// order.
func (g Groups) Numbers() []uint32 {
	numbers := make([]uint32, 0, bits.OnesCount64(uint64(g)))
	for rest := uint64(g); rest != 0; rest &= rest - 1 {
		numbers = append(numbers, uint32(bits.TrailingZeros64(rest))+1)
	}
	return numbers
}

// Unknown returns the bits of g that name no group this package defines.
func (g Groups) Unknown() Groups {
	return g &^ AllGroups
}

// String joins the names of the groups in g with "|", and prints bits that
// name no known group as group numbers, for example "link|ipv4-addr|group(50)".
func (g Groups) String() string {
	if g == 0 {
		return "none"
	}

	names := make([]string, 0, bits.OnesCount64(uint64(g)))
	for _, n := range g.Numbers() {
		if int(n) < len(groupNames) && groupNames[n] != "" {
			names = append(names, groupNames[n])
		} else {
			names = append(names, fmt.Sprintf("group(%d)", n))
		}
	}
	return strings.Join(names, "|")
}

// ParseGroups parses a list of group names separated by commas or by "|",
// so that it reads what String prints for known groups ("link|ipv4-addr")
// as well as "link,ipv4-addr". It also accepts the aliases "addr", "route",
// "rule" (IPv4 and IPv6 together) and "all". Names are case-insensitive,
// and empty names between separators are skipped. String's "none" and
// "group(N)" are rejected, because Subscribe rejects those groups too.
func ParseGroups(list string) (Groups, error) {
	var g Groups
	fields := strings.FieldsFunc(list, func(r rune) bool { return r == ',' || r == '|' })
	for _, field := range fields {
		name := strings.ToLower(strings.TrimSpace(field))
		if name == "" {
			continue
		}

		bit, ok := lookupGroup(name)
		if !ok {
			return 0, fmt.Errorf("nlevents: unknown group %q: use one of %s", field, knownGroups())
		}
		g |= bit
	}

	if g == 0 {
		return 0, fmt.Errorf("nlevents: group list %q names no group: use names such as link, addr, route, neigh, rule, nexthop or all, separated by commas", list)
	}
	return g, nil
}

// knownGroups lists the aliases, sorted, then the group names in the
// kernel's order.
func knownGroups() string {
	names := slices.Sorted(maps.Keys(groupAliases))
	for _, name := range groupNames {
		if name != "" {
			names = append(names, name)
		}
	}
	return strings.Join(names, ", ")
}

func lookupGroup(name string) (Groups, bool) {
	if g, ok := groupAliases[name]; ok {
		return g, true
	}
	for n, known := range groupNames {
		if known != "" && known == name {
			return 1 << (n - 1), true
		}
	}
	return 0, false
}
