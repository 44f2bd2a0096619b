package nlevents

import (
	"encoding/binary"
	"fmt"
	"net/netip"

	"github.com/mdlayher/netlink"
)

// fixedHeader returns the first size bytes of a message's payload, padded
// with zeros when the payload is shorter, and the attributes after it. A
// struct shorter than this package expects is accepted with its missing
// fields zero; a longer one cannot be distinguished from attributes, so it is
// read as the kernel's headers define it.
func fixedHeader(r raw, size int) (hdr []byte, attrs attrReader) {
	payload := r.payload()
	if len(payload) >= size {
		start := min(align4(size), len(payload))
		return payload[:size], newAttrReader(payload[start:], nlmsgHeaderLen+start)
	}

	padded := make([]byte, size)
	copy(padded, payload)
	return padded, attrReader{}
}

// decodeLink decodes RTM_NEWLINK and RTM_DELLINK. msg may be the receive
// buffer: the event gets its own copy, in the same allocation as the event.
func decodeLink(h netlink.Header, msg []byte) (Event, error) {
	if payloadFamily(msg) == afBridge {
		ev, r := newEvent[BridgePortEvent](msg)
		hdr, attrs := fixedHeader(r, ifinfomsgLen)
		return decodeBridgePort(h, ev, r, hdr, attrs)
	}

	ev, r := newEvent[LinkEvent](msg)
	hdr, attrs := fixedHeader(r, ifinfomsgLen)
	*ev = LinkEvent{
		Info:   infoOf(h),
		Family: hdr[0],
		Type:   binary.NativeEndian.Uint16(hdr[2:4]),
		Index:  int(int32(binary.NativeEndian.Uint32(hdr[4:8]))),
		Flags:  LinkFlags(binary.NativeEndian.Uint32(hdr[8:12])),
		Change: LinkFlags(binary.NativeEndian.Uint32(hdr[12:16])),
		raw:    r,
	}

	var nestedErr error
	for typ, data, ok := attrs.next(); ok; typ, data, ok = attrs.next() {
		switch typ {
		case iflaIfname:
			ev.Name = bytesString(cString(data))
		case iflaMTU:
			ev.MTU, _ = u32(data)
		case iflaAddress:
			ev.HardwareAddr = hardwareAddr(data)
		case iflaOperstate:
			if len(data) > 0 {
				ev.OperState = OperState(data[0])
			}
		case iflaMaster:
			master, _ := u32(data)
			ev.MasterIndex = int(master)
		case iflaLinkinfo:
			ev.Kind, nestedErr = linkKind(data)
		case iflaLink:
			parent, _ := u32(data)
			ev.ParentIndex = int(parent)
		case iflaLinkNetnsid:
			ev.ParentInOtherNetNS = true
		}
	}
	return ev, firstErr(attrs.Err(), nestedErr, "IFLA_LINKINFO")
}

// linkKind reads IFLA_INFO_KIND from the nested IFLA_LINKINFO attribute.
func linkKind(b []byte) (string, error) {
	nested := newAttrReader(b, 0)
	for typ, data, ok := nested.next(); ok; typ, data, ok = nested.next() {
		if typ == iflaInfoKind {
			return bytesString(cString(data)), nil
		}
	}
	return "", nested.Err()
}

func decodeBridgePort(h netlink.Header, ev *BridgePortEvent, r raw, hdr []byte, attrs attrReader) (Event, error) {
	*ev = BridgePortEvent{
		Info:  infoOf(h),
		Index: int(int32(binary.NativeEndian.Uint32(hdr[4:8]))),
		Flags: LinkFlags(binary.NativeEndian.Uint32(hdr[8:12])),
		raw:   r,
	}

	for typ, data, ok := attrs.next(); ok; typ, data, ok = attrs.next() {
		switch typ {
		case iflaIfname:
			ev.Name = bytesString(cString(data))
		case iflaMTU:
			ev.MTU, _ = u32(data)
		case iflaOperstate:
			if len(data) > 0 {
				ev.OperState = OperState(data[0])
			}
		case iflaMaster:
			master, _ := u32(data)
			ev.MasterIndex = int(master)
		}
	}
	return ev, attrs.Err()
}

func decodeAddr(h netlink.Header, msg []byte) (Event, error) {
	ev, r := newEvent[AddrEvent](msg)
	hdr, attrs := fixedHeader(r, ifaddrmsgLen)
	*ev = AddrEvent{
		Info:   infoOf(h),
		Family: hdr[0],
		Flags:  uint32(hdr[2]),
		Scope:  RouteScope(hdr[3]),
		Index:  int(binary.NativeEndian.Uint32(hdr[4:8])),
		raw:    r,
	}
	prefixLen := hdr[1]

	var address, local []byte
	for typ, data, ok := attrs.next(); ok; typ, data, ok = attrs.next() {
		switch typ {
		case ifaAddress:
			address = data
		case ifaLocal:
			local = data
		case ifaLabel:
			ev.Label = bytesString(cString(data))
		case ifaFlags:
			if flags, ok := u32(data); ok {
				ev.Flags = flags
			}
		}
	}

	// IFA_LOCAL is the interface's own address; IFA_ADDRESS is the peer on
	// point-to-point links and equals IFA_LOCAL elsewhere. IPv6 usually
	// sends IFA_ADDRESS alone.
	switch {
	case local != nil:
		// Compare with the address itself: the prefix is invalid when the
		// prefix length is out of range.
		localAddr := ipAddr(local)
		ev.Prefix = prefixOf(localAddr, prefixLen)
		if peer := ipAddr(address); peer.IsValid() && peer != localAddr {
			ev.Peer = peer
		}
	case address != nil:
		ev.Prefix = prefixOf(ipAddr(address), prefixLen)
	}
	return ev, attrs.Err()
}

func decodeRoute(h netlink.Header, msg []byte) (Event, error) {
	ev, r := newEvent[RouteEvent](msg)
	hdr, attrs := fixedHeader(r, rtmsgLen)
	*ev = RouteEvent{
		Info:     infoOf(h),
		Family:   hdr[0],
		TOS:      hdr[3],
		Table:    uint32(hdr[4]),
		Protocol: RouteProtocol(hdr[5]),
		Scope:    RouteScope(hdr[6]),
		Type:     RouteType(hdr[7]),
		Flags:    binary.NativeEndian.Uint32(hdr[8:12]),
		raw:      r,
	}
	dstLen, srcLen := hdr[1], hdr[2]
	ev.Dst = prefixOf(zeroAddr(ev.Family), dstLen)

	var nestedErr error
	for typ, data, ok := attrs.next(); ok; typ, data, ok = attrs.next() {
		switch typ {
		case rtaDst:
			ev.Dst = prefixOf(ipAddr(data), dstLen)
		case rtaSrc:
			ev.Src = prefixOf(ipAddr(data), srcLen)
		case rtaPrefsrc:
			ev.PrefSrc = ipAddr(data)
		case rtaGateway:
			ev.Gateway = ipAddr(data)
		case rtaVia:
			ev.Gateway = viaAddr(data)
		case rtaOif:
			oif, _ := u32(data)
			ev.OutIndex = int(oif)
		case rtaPriority:
			ev.Priority, _ = u32(data)
		case rtaTable:
			ev.Table, _ = u32(data)
		case rtaNhID:
			ev.NexthopID, _ = u32(data)
		case rtaMultipath:
			ev.NextHops, nestedErr = nextHops(data)
		}
	}
	return ev, firstErr(attrs.Err(), nestedErr, "RTA_MULTIPATH")
}

// viaAddr reads RTA_VIA: a 2-byte address family, then the address.
func viaAddr(b []byte) netip.Addr {
	if len(b) < 2 {
		return netip.Addr{}
	}
	return ipAddr(b[2:])
}

// nextHops reads the rtnexthop entries of RTA_MULTIPATH, each followed by
// its own attributes.
func nextHops(b []byte) ([]NextHop, error) {
	hops := make([]NextHop, 0, countNextHops(b))
	for len(b) > 0 {
		if len(b) < rtnexthopLen {
			return hops, fmt.Errorf("next hop %d: %d bytes left, need %d", len(hops), len(b), rtnexthopLen)
		}
		length := int(binary.NativeEndian.Uint16(b[0:2]))
		if length < rtnexthopLen || length > len(b) {
			return hops, fmt.Errorf("next hop %d: length %d with %d bytes left", len(hops), length, len(b))
		}

		hop := NextHop{
			Flags:  b[2],
			Weight: int(b[3]) + 1,
			Index:  int(int32(binary.NativeEndian.Uint32(b[4:8]))),
		}
		attrs := newAttrReader(b[rtnexthopLen:length], 0)
		for typ, data, ok := attrs.next(); ok; typ, data, ok = attrs.next() {
			switch typ {
			case rtaGateway:
				hop.Gateway = ipAddr(data)
			case rtaVia:
				hop.Gateway = viaAddr(data)
			}
		}
		hops = append(hops, hop)
		if err := attrs.Err(); err != nil {
			return hops, fmt.Errorf("next hop %d: %w", len(hops)-1, err)
		}
		b = b[min(align4(length), len(b)):]
	}
	return hops, nil
}

// countNextHops returns how many rtnexthop entries b frames, stopping at the
// first malformed one, so that nextHops allocates its slice once.
func countNextHops(b []byte) int {
	count := 0
	for len(b) >= rtnexthopLen {
		length := int(binary.NativeEndian.Uint16(b[0:2]))
		if length < rtnexthopLen || length > len(b) {
			break
		}
		count++
		b = b[min(align4(length), len(b)):]
	}
	return count
}

func decodeNeigh(h netlink.Header, msg []byte) (Event, error) {
	ev, r := newEvent[NeighEvent](msg)
	hdr, attrs := fixedHeader(r, ndmsgLen)
	*ev = NeighEvent{
		Info:   infoOf(h),
		Family: hdr[0],
		Index:  int(int32(binary.NativeEndian.Uint32(hdr[4:8]))),
		State:  NeighState(binary.NativeEndian.Uint16(hdr[8:10])),
		Flags:  hdr[10],
		Type:   hdr[11],
		raw:    r,
	}

	for typ, data, ok := attrs.next(); ok; typ, data, ok = attrs.next() {
		switch typ {
		case ndaDst:
			ev.IP = ipAddr(data)
		case ndaLladdr:
			ev.HardwareAddr = hardwareAddr(data)
		}
	}
	return ev, attrs.Err()
}

func decodeRule(h netlink.Header, msg []byte) (Event, error) {
	ev, r := newEvent[RuleEvent](msg)
	hdr, attrs := fixedHeader(r, fibRuleHdrLen)
	*ev = RuleEvent{
		Info:   infoOf(h),
		Family: hdr[0],
		Table:  uint32(hdr[4]),
		Action: hdr[7],
		Flags:  binary.NativeEndian.Uint32(hdr[8:12]),
		raw:    r,
	}
	dstLen, srcLen := hdr[1], hdr[2]

	for typ, data, ok := attrs.next(); ok; typ, data, ok = attrs.next() {
		switch typ {
		case fraDst:
			ev.Dst = prefixOf(ipAddr(data), dstLen)
		case fraSrc:
			ev.Src = prefixOf(ipAddr(data), srcLen)
		case fraPriority:
			ev.Priority, _ = u32(data)
		case fraTable:
			ev.Table, _ = u32(data)
		case fraFwmark:
			ev.Mark, _ = u32(data)
		case fraIifname:
			ev.IIFName = bytesString(cString(data))
		case fraOifname:
			ev.OIFName = bytesString(cString(data))
		}
	}
	return ev, attrs.Err()
}

func decodeNexthop(h netlink.Header, msg []byte) (Event, error) {
	ev, r := newEvent[NexthopEvent](msg)
	hdr, attrs := fixedHeader(r, nhmsgLen)
	*ev = NexthopEvent{Info: infoOf(h), Family: hdr[0], Flags: binary.NativeEndian.Uint32(hdr[4:8]), raw: r}

	// NHA_OP_FLAGS comes after NHA_GROUP and marks how to read it.
	var group []byte
	var opFlags uint32
	for typ, data, ok := attrs.next(); ok; typ, data, ok = attrs.next() {
		switch typ {
		case nhaID:
			ev.ID, _ = u32(data)
		case nhaGroup:
			group = data
		case nhaGroupType:
			ev.Resilient = len(data) >= 2 && binary.NativeEndian.Uint16(data) == nexthopGrpTypeResilient
		case nhaOpFlags:
			opFlags, _ = u32(data)
		case nhaBlackhole:
			ev.Blackhole = true
		case nhaOif:
			oif, _ := u32(data)
			ev.OutIndex = int(oif)
		case nhaGateway:
			ev.Gateway = ipAddr(data)
		case nhaFDB:
			ev.FDB = true
		}
	}

	var groupErr error
	if group != nil {
		ev.Group, groupErr = nexthopGroup(group, opFlags&nhaOpFlagGroupHighByte != 0)
	}
	return ev, firstErr(attrs.Err(), groupErr, "NHA_GROUP")
}

// nexthopGroup reads NHA_GROUP, an array of struct nexthop_grp. The kernel
// stores each weight minus one in a low byte, and in a high byte when
// highByte is set (Linux 6.12 and later). Older kernels may leave garbage
// in that byte.
func nexthopGroup(b []byte, highByte bool) ([]NexthopMember, error) {
	if len(b)%nexthopGrpLen != 0 {
		return nil, fmt.Errorf("%d bytes, not a whole number of %d-byte members", len(b), nexthopGrpLen)
	}
	members := make([]NexthopMember, len(b)/nexthopGrpLen)
	for i := range members {
		m := b[i*nexthopGrpLen:]
		weight := int(m[4])
		if highByte {
			weight |= int(m[5]) << 8
		}
		members[i] = NexthopMember{ID: binary.NativeEndian.Uint32(m), Weight: weight + 1}
	}
	return members, nil
}

// firstErr returns the attribute walk's error, or else the error of the
// nested attribute named by name.
func firstErr(walk, nested error, name string) error {
	if walk != nil {
		return walk
	}
	if nested != nil {
		return fmt.Errorf("%s: %w", name, nested)
	}
	return nil
}
