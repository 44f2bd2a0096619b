package nlevents

import (
	"fmt"
	"strconv"
	"strings"
)

// Format describes ev on one line, as its String method does, with each
// link index that linkName names replaced by the name, as ip monitor
// prints them: "dev veth0" rather than "dev 3". An index for which
// linkName returns "" stays a number, and a nil linkName gives String's
// text. Indexes are per network namespace, so linkName must know the
// links of the namespace that ev came from.
func Format(ev Event, linkName func(index int) string) string {
	switch e := ev.(type) {
	case *LinkEvent:
		return e.format(linkName)
	case *BridgePortEvent:
		return e.format(linkName)
	case *AddrEvent:
		return e.format(linkName)
	case *RouteEvent:
		return e.format(linkName)
	case *NeighEvent:
		return e.format(linkName)
	case *NexthopEvent:
		return e.format(linkName)
	}
	return ev.String()
}

// flagWord names one flag bit as ip prints it.
type flagWord struct {
	bit  uint32
	word string
}

// Address flags (IFA_F_* in linux/if_addr.h). Bit 0x01 is "secondary" for
// IPv4 and "temporary" for IPv6, and IFA_F_PERMANENT (0x80), which most
// addresses have, is left out.
var addrFlagWords = []flagWord{
	{0x02, "nodad"}, {0x04, "optimistic"}, {0x08, "dadfailed"},
	{0x10, "home"}, {0x20, "deprecated"}, {0x40, "tentative"},
	{0x100, "mngtmpaddr"}, {0x200, "noprefixroute"}, {0x400, "autojoin"},
	{0x800, "stable-privacy"},
}

// Next hop flags (RTNH_F_* in linux/rtnetlink.h), which routes carry in
// rtm_flags too.
var nextHopFlagWords = []flagWord{
	{0x01, "dead"}, {0x02, "pervasive"}, {0x04, "onlink"}, {0x08, "offload"},
	{0x10, "linkdown"}, {0x20, "unresolved"}, {0x40, "trap"},
}

// namedNextHopFlags has the bits that nextHopFlagWords names.
var namedNextHopFlags = uint8(namedBits(nextHopFlagWords))

// namedBits returns the bits that words name.
func namedBits(words []flagWord) uint32 {
	var bits uint32
	for _, w := range words {
		bits |= w.bit
	}
	return bits
}

// writeWords writes " word" for each of words, such as an event's
// FlagNames.
func writeWords(b *strings.Builder, words []string) {
	for _, word := range words {
		b.WriteString(" " + word)
	}
}

// flagNames returns the word for each flag in words that flags has.
func flagNames(flags uint32, words []flagWord) []string {
	var names []string
	for _, w := range words {
		if flags&w.bit != 0 {
			names = append(names, w.word)
		}
	}
	return names
}

// FlagNames names the address's flags as ip prints them, for example
// [secondary nodad]. Bit 0x01 is "secondary" for IPv4 and "temporary" for
// IPv6, and IFA_F_PERMANENT, which most addresses have, is left out.
func (e *AddrEvent) FlagNames() []string {
	var names []string
	switch {
	case e.Flags&0x01 == 0:
	case e.Family == afInet6:
		names = append(names, "temporary")
	default:
		names = append(names, "secondary")
	}
	return append(names, flagNames(e.Flags, addrFlagWords)...)
}

// FlagNames names the route's next hop flags as ip prints them, for
// example [onlink linkdown].
func (e *RouteEvent) FlagNames() []string { return flagNames(e.Flags, nextHopFlagWords) }

// dev returns the name that linkName gives index, or else the index.
func dev(index int, linkName func(int) string) string {
	if linkName != nil {
		if name := linkName(index); name != "" {
			return name
		}
	}
	return strconv.Itoa(index)
}

// verb returns the word that starts an event's String: "new", "del", and
// "dump" for objects from a dump.
func (i Info) verb() string {
	switch {
	case i.Inferred:
		return "del(inferred)"
	case i.Deleted:
		return "del"
	case i.Dumped:
		return "dump"
	}
	return "new"
}

// String describes the link, for example
// "new link 3 veth0@if4 <UP|BROADCAST> mtu 1500 state UP kind veth".
func (e *LinkEvent) String() string { return e.format(nil) }

func (e *LinkEvent) format(linkName func(int) string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s link %d", e.verb(), e.Index)
	if e.Name != "" {
		fmt.Fprintf(&b, " %s", e.Name)
	}
	if e.ParentIndex != 0 {
		b.WriteString("@" + e.parentName(linkName))
	}
	// ip marks a link that is up without a carrier, as a veth whose peer
	// is down.
	noCarrier := ""
	if e.Flags&FlagUp != 0 && e.Flags&FlagRunning == 0 {
		noCarrier = "NO-CARRIER|"
	}
	fmt.Fprintf(&b, " <%s%v> mtu %d state %v", noCarrier, e.Flags, e.MTU, e.OperState)
	if len(e.HardwareAddr) > 0 {
		fmt.Fprintf(&b, " lladdr %v", e.HardwareAddr)
	}
	if e.MasterIndex != 0 {
		fmt.Fprintf(&b, " master %s", dev(e.MasterIndex, linkName))
	}
	if e.Kind != "" {
		fmt.Fprintf(&b, " kind %s", e.Kind)
	}
	return b.String()
}

// parentName names the parent link as ip does: by name when linkName
// returns one, else "if" and the index. An index in another namespace is
// never passed to linkName, which maps this namespace's links.
func (e *LinkEvent) parentName(linkName func(int) string) string {
	if linkName != nil && !e.ParentInOtherNetNS {
		if name := linkName(e.ParentIndex); name != "" {
			return name
		}
	}
	return "if" + strconv.Itoa(e.ParentIndex)
}

// String describes the bridge port, for example
// "new bridge-port 4 veth0 master 3 state UP".
func (e *BridgePortEvent) String() string { return e.format(nil) }

func (e *BridgePortEvent) format(linkName func(int) string) string {
	return fmt.Sprintf("%s bridge-port %d %s master %s state %v", e.verb(), e.Index, e.Name, dev(e.MasterIndex, linkName), e.OperState)
}

// String describes the address, for example
// "new addr 192.0.2.10/24 dev 3 scope global".
func (e *AddrEvent) String() string { return e.format(nil) }

func (e *AddrEvent) format(linkName func(int) string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s addr %v", e.verb(), e.Prefix)
	if e.Peer.IsValid() {
		fmt.Fprintf(&b, " peer %v", e.Peer)
	}
	fmt.Fprintf(&b, " dev %s scope %v", dev(e.Index, linkName), e.Scope)
	writeWords(&b, e.FlagNames())
	if e.Label != "" {
		fmt.Fprintf(&b, " label %s", e.Label)
	}
	return b.String()
}

// String describes the route, for example
// "new route 198.51.100.0/24 via 192.0.2.1 dev 3 table main proto static metric 100".
func (e *RouteEvent) String() string { return e.format(nil) }

func (e *RouteEvent) format(linkName func(int) string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s route", e.verb())
	if e.Type != RouteUnicast {
		fmt.Fprintf(&b, " %v", e.Type)
	}
	fmt.Fprintf(&b, " %v", e.Dst)
	if e.Gateway.IsValid() {
		fmt.Fprintf(&b, " via %v", e.Gateway)
	}
	if e.OutIndex != 0 {
		fmt.Fprintf(&b, " dev %s", dev(e.OutIndex, linkName))
	}
	for _, hop := range e.NextHops {
		fmt.Fprintf(&b, " nexthop via %v dev %s weight %d", hop.Gateway, dev(hop.Index, linkName), hop.Weight)
		writeWords(&b, hop.FlagNames())
	}
	if e.NexthopID != 0 {
		fmt.Fprintf(&b, " nhid %d", e.NexthopID)
	}
	fmt.Fprintf(&b, " table %s proto %v", tableName(e.Table), e.Protocol)
	if e.Scope != ScopeUniverse {
		// ip leaves out the scope of most routes, the global ones.
		fmt.Fprintf(&b, " scope %v", e.Scope)
	}
	if e.PrefSrc.IsValid() {
		fmt.Fprintf(&b, " src %v", e.PrefSrc)
	}
	if e.Priority != 0 {
		fmt.Fprintf(&b, " metric %d", e.Priority)
	}
	writeWords(&b, e.FlagNames())
	return b.String()
}

// String describes the neighbour, for example
// "new neigh 192.0.2.2 dev 3 lladdr 02:00:00:00:00:01 REACHABLE".
func (e *NeighEvent) String() string { return e.format(nil) }

func (e *NeighEvent) format(linkName func(int) string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s neigh", e.verb())
	if e.IP.IsValid() {
		fmt.Fprintf(&b, " %v", e.IP)
	}
	fmt.Fprintf(&b, " dev %s", dev(e.Index, linkName))
	if len(e.HardwareAddr) > 0 {
		fmt.Fprintf(&b, " lladdr %v", e.HardwareAddr)
	}
	fmt.Fprintf(&b, " %v", e.State)
	return b.String()
}

// String describes the rule, for example
// "new rule inet 100: from 192.0.2.0/24 lookup 10". The family comes
// first because "from all" rules are otherwise alike in IPv4 and IPv6.
func (e *RuleEvent) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s rule %s %d:", e.verb(), ruleFamily(e.Family), e.Priority)
	if e.Src.IsValid() {
		fmt.Fprintf(&b, " from %v", e.Src)
	} else {
		b.WriteString(" from all")
	}
	if e.Dst.IsValid() {
		fmt.Fprintf(&b, " to %v", e.Dst)
	}
	if e.Mark != 0 {
		fmt.Fprintf(&b, " fwmark %#x", e.Mark)
	}
	if e.IIFName != "" {
		fmt.Fprintf(&b, " iif %s", e.IIFName)
	}
	if e.OIFName != "" {
		fmt.Fprintf(&b, " oif %s", e.OIFName)
	}
	fmt.Fprintf(&b, " lookup %s", tableName(e.Table))
	return b.String()
}

// ruleFamily names the family of a routing rule, with ip's words for
// IPv4 and IPv6.
func ruleFamily(family uint8) string {
	switch family {
	case afInet:
		return "inet"
	case afInet6:
		return "inet6"
	case rtnlFamilyIPMR:
		return "ipmr"
	case rtnlFamilyIP6MR:
		return "ip6mr"
	}
	return "family " + strconv.Itoa(int(family))
}

// String describes the nexthop object, for example
// "new nexthop id 7 via 192.0.2.1 dev 3" or "new nexthop id 9 group 7/8,2".
func (e *NexthopEvent) String() string { return e.format(nil) }

func (e *NexthopEvent) format(linkName func(int) string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s nexthop id %d", e.verb(), e.ID)
	if len(e.Group) > 0 {
		b.WriteString(" group ")
		for i, m := range e.Group {
			if i > 0 {
				b.WriteByte('/')
			}
			fmt.Fprintf(&b, "%d", m.ID)
			if m.Weight != 1 {
				fmt.Fprintf(&b, ",%d", m.Weight)
			}
		}
	}
	if e.Resilient {
		b.WriteString(" type resilient")
	}
	if e.Gateway.IsValid() {
		fmt.Fprintf(&b, " via %v", e.Gateway)
	}
	if e.OutIndex != 0 {
		fmt.Fprintf(&b, " dev %s", dev(e.OutIndex, linkName))
	}
	if e.Blackhole {
		b.WriteString(" blackhole")
	}
	if e.FDB {
		b.WriteString(" fdb")
	}
	writeWords(&b, e.FlagNames())
	return b.String()
}

// FlagNames names the nexthop object's flags as ip prints them, for
// example [onlink].
func (e *NexthopEvent) FlagNames() []string { return flagNames(e.Flags, nextHopFlagWords) }

// FlagNames names the next hop's flags as ip prints them, for example
// [linkdown]. A bit without a name appears in hexadecimal, such as "0x80".
func (h NextHop) FlagNames() []string {
	names := flagNames(uint32(h.Flags), nextHopFlagWords)
	if rest := h.Flags &^ namedNextHopFlags; rest != 0 {
		names = append(names, fmt.Sprintf("%#x", rest))
	}
	return names
}

// String names the message type and its size, for example
// "raw RTM_NEWQDISC 52 bytes".
func (e *RawEvent) String() string {
	return fmt.Sprintf("raw %s %d bytes", messageTypeName(e.Header.Type), len(e.raw))
}

// String returns "sync" or "sync (resync)".
func (e *SyncEvent) String() string {
	if e.Resync {
		return "sync (resync)"
	}
	return "sync"
}
