package nlevents

import (
	"bytes"
	"encoding/binary"
	"errors"
	"net"
	"net/netip"
	"reflect"
	"testing"

	"github.com/jsimonetti/rtnetlink/v2"
	"github.com/mdlayher/netlink"
)

// The fuzz targets check properties of the receive path, not only that it
// does not panic. Their seeds are the hand-made datagrams of
// malformed_test.go (added with f.Add) and the messages captured from a
// real kernel in testdata/fuzz/<target>/ (see testdata/fuzz/README.md).
//
// The properties, for any input:
//
//   - splitMessages hands out messages that lie inside the datagram, in
//     order, each starting where the previous one's 4-byte padding ends.
//     The messages and their padding re-join to the datagram, up to the
//     offset of the framing error when there is one.
//   - NLMSG_NOOP and NLMSG_DONE give neither an event nor an error.
//     NLMSG_ERROR gives a *DecodeError and no event. Every other message
//     gives an event, of the concrete type its message type calls for, and
//     sometimes a *DecodeError as well, which names the message's type,
//     sequence number and offset.
//   - An event's Raw bytes equal its message, and the event does not change
//     when the input buffer is overwritten after decoding.
//   - Where rtnetlink/v2's decoder accepts a message and has seen every
//     attribute that the lean decoder reads, the lean fields equal its
//     fields. Where mdlayher/netlink's attribute decoder finds the
//     attributes malformed, decoding gives a *DecodeError.
//   - On Linux, the subscription loop's delivery path sends exactly the
//     events and errors of decodeDatagram, in the same order.

// FuzzSplitMessages checks the framing of datagrams into messages.
func FuzzSplitMessages(f *testing.F) {
	for _, tc := range malformedCases() {
		f.Add(tc.data)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		next := 0 // where the next message must start
		var joined []byte
		err := splitMessages(data, func(h netlink.Header, msg []byte, off int) bool {
			if off != next {
				t.Fatalf("message at offset %d, want %d", off, next)
			}
			if len(msg) < nlmsgHeaderLen || len(msg) != int(h.Length) {
				t.Fatalf("message at offset %d: %d bytes, header length %d", off, len(msg), h.Length)
			}
			if off+len(msg) > len(data) || &msg[0] != &data[off] {
				t.Fatalf("message at offset %d, %d bytes, is not inside the %d-byte datagram", off, len(msg), len(data))
			}
			if want, _ := readHeader(data[off:]); h != want {
				t.Fatalf("message at offset %d: header %+v, want %+v", off, h, want)
			}

			next = min(align4(off+len(msg)), len(data))
			joined = append(joined, msg...)
			joined = append(joined, data[off+len(msg):next]...)
			return true
		})

		end := len(data)
		if err != nil {
			var de *DecodeError
			if !errors.As(err, &de) {
				t.Fatalf("framing error %T %v, want a *DecodeError", err, err)
			}
			if de.Offset != next {
				t.Fatalf("framing error at offset %d, want %d", de.Offset, next)
			}
			if framable(data[next:]) {
				t.Fatalf("framing error %v, but the bytes at offset %d start a valid message", err, next)
			}
			end = next
		}
		if !bytes.Equal(joined, data[:end]) {
			t.Fatalf("messages and padding re-join to %d bytes that differ from the datagram's first %d", len(joined), end)
		}
	})
}

// framable reports whether b starts with a header whose length is at least
// a header and fits in b.
func framable(b []byte) bool {
	h, err := readHeader(b)
	return err == nil && h.Length >= nlmsgHeaderLen && uint64(h.Length) <= uint64(len(b))
}

// FuzzDecodeDatagram checks every message of a datagram through
// decodeMessage, as the subscription loop delivers notifications.
func FuzzDecodeDatagram(f *testing.F) {
	for _, tc := range malformedCases() {
		f.Add(tc.data)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var out []outcome
		err := splitMessages(data, func(h netlink.Header, msg []byte, off int) bool {
			ev, err := checkDecoded(t, h, msg, off)
			if ev != nil {
				out = append(out, outcome{event: ev})
			}
			if err != nil {
				out = append(out, outcome{err: err})
			}
			return true
		})
		if err != nil {
			out = append(out, outcome{err: err})
		}

		if again := decodeDatagram(data); !reflect.DeepEqual(out, again) {
			t.Fatalf("decoding the datagram twice gave different outcomes:\n%s\nthen\n%s", describeOutcomes(out), describeOutcomes(again))
		}
		if checkDelivery != nil {
			checkDelivery(t, data, out)
		}
	})
}

// checkDelivery, where the subscription loop builds (Linux), feeds a
// datagram to the loop's delivery path and fails the test unless the loop
// sends exactly the outcomes in want.
var checkDelivery func(t *testing.T, data []byte, want []outcome)

// checkDecoded decodes one message, checks the properties every message
// has, and returns what decodeMessage returned.
func checkDecoded(t *testing.T, h netlink.Header, msg []byte, off int) (Event, error) {
	t.Helper()
	buf := bytes.Clone(msg)
	ev, err := decodeMessage(h, buf, off)

	switch h.Type {
	case nlmsgNoop, nlmsgDone:
		if ev != nil || err != nil {
			t.Fatalf("%v message gave event %v and error %v, want neither", h.Type, ev, err)
		}
	case nlmsgError:
		if ev != nil || err == nil {
			t.Fatalf("NLMSG_ERROR gave event %v and error %v, want only an error", ev, err)
		}
	default:
		if ev == nil {
			t.Fatalf("message type %d gave no event (error %v)", h.Type, err)
		}
	}
	if err != nil {
		checkDecodeError(t, err, h, off)
	}
	if ev != nil {
		checkEvent(t, ev, h, msg)
	}

	// The loop reuses its receive buffer: the event must own its bytes.
	for i := range buf {
		buf[i] ^= 0xff
	}
	ev2, err2 := decodeMessage(h, bytes.Clone(msg), off)
	if !reflect.DeepEqual(ev, ev2) || !reflect.DeepEqual(err, err2) {
		t.Fatalf("event changed when the input buffer was overwritten:\n%#v\nwant\n%#v", ev, ev2)
	}
	return ev, err
}

func checkDecodeError(t *testing.T, err error, h netlink.Header, off int) {
	t.Helper()
	var de *DecodeError
	if !errors.As(err, &de) {
		t.Fatalf("error %T %v, want a *DecodeError", err, err)
	}
	if de.Type != h.Type || de.Sequence != h.Sequence || de.Offset != off {
		t.Fatalf("error names type %v, sequence %d, offset %d; want %v, %d, %d",
			de.Type, de.Sequence, de.Offset, h.Type, h.Sequence, off)
	}
	if de.Err == nil {
		t.Fatalf("*DecodeError without a cause: %v", de)
	}
	_ = de.Error()
}

// checkEvent checks an event's type, header and bytes against its message.
func checkEvent(t *testing.T, ev Event, h netlink.Header, msg []byte) {
	t.Helper()
	if got, want := reflect.TypeOf(ev), eventTypeFor(h.Type, msg); got != want {
		t.Fatalf("message type %d gave %v, want %v", h.Type, got, want)
	}

	info := ev.EventInfo()
	if info.Header != h {
		t.Fatalf("event header %+v, want %+v", info.Header, h)
	}
	if info.Deleted != isDelete(h.Type) || info.Dumped || info.Inferred {
		t.Fatalf("event info %+v for message type %d", info, h.Type)
	}
	raw, ok := ev.(interface{ Raw() []byte })
	if !ok {
		t.Fatalf("%T has no Raw method", ev)
	}
	if !bytes.Equal(raw.Raw(), msg) {
		t.Fatalf("Raw returns %d bytes that differ from the %d-byte message", len(raw.Raw()), len(msg))
	}
	_ = ev.String()
}

// eventTypeFor returns the concrete event type that a message must give.
func eventTypeFor(typ netlink.HeaderType, msg []byte) reflect.Type {
	switch typ {
	case rtmNewLink, rtmDelLink:
		if len(msg) > nlmsgHeaderLen && msg[nlmsgHeaderLen] == afBridge {
			return reflect.TypeFor[*BridgePortEvent]()
		}
		return reflect.TypeFor[*LinkEvent]()
	case rtmNewAddr, rtmDelAddr:
		return reflect.TypeFor[*AddrEvent]()
	case rtmNewRoute, rtmDelRoute:
		return reflect.TypeFor[*RouteEvent]()
	case rtmNewNeigh, rtmDelNeigh:
		return reflect.TypeFor[*NeighEvent]()
	case rtmNewRule, rtmDelRule:
		return reflect.TypeFor[*RuleEvent]()
	case rtmNewNexthop, rtmDelNexthop:
		return reflect.TypeFor[*NexthopEvent]()
	}
	return reflect.TypeFor[*RawEvent]()
}

// checkFraming walks the attributes after a fixed header of hdrLen bytes
// with mdlayher/netlink's decoder, independent of the lean one, and fails
// the test when that decoder finds them malformed but decoding gave no
// error. The reverse does not hold: mdlayher/netlink skips attributes with
// nla_len 0, which the lean decoder rejects as the kernel's nla_ok does.
func checkFraming(t *testing.T, payload []byte, hdrLen int, err error) {
	t.Helper()
	if len(payload) <= hdrLen || err != nil {
		return
	}
	ad, adErr := netlink.NewAttributeDecoder(payload[hdrLen:])
	if adErr == nil {
		for ad.Next() {
		}
		adErr = ad.Err()
	}
	if adErr != nil {
		t.Fatalf("mdlayher/netlink finds the attributes malformed (%v), decoding gave no error", adErr)
	}
}

// kindMessage builds the message that a per-kind fuzz target decodes: the
// payload under a header of the kind's new or delete type.
func kindMessage(newType, delType uint16, payload []byte, deleted bool) (netlink.Header, []byte) {
	typ := newType
	if deleted {
		typ = delType
	}
	msg := nlMessage(typ, 0, 1, payload)
	h, _ := readHeader(msg)
	return h, msg
}

// addKindSeeds adds the payloads of the hand-made messages of one kind.
func addKindSeeds(f *testing.F, newType, delType netlink.HeaderType) {
	for _, tc := range malformedCases() {
		_ = splitMessages(tc.data, func(h netlink.Header, msg []byte, _ int) bool {
			if h.Type == newType || h.Type == delType {
				f.Add(bytes.Clone(msg[nlmsgHeaderLen:]), h.Type == delType)
			}
			return true
		})
	}
}

// FuzzDecodeLink checks link and bridge port messages against rtnetlink/v2.
func FuzzDecodeLink(f *testing.F) {
	addKindSeeds(f, rtmNewLink, rtmDelLink)
	f.Fuzz(func(t *testing.T, payload []byte, deleted bool) {
		h, msg := kindMessage(rtmNewLink, rtmDelLink, payload, deleted)
		ev, err := checkDecoded(t, h, msg, 0)
		checkFraming(t, payload, ifinfomsgLen, err)

		var m rtnetlink.LinkMessage
		if err != nil || m.UnmarshalBinary(payload) != nil {
			return
		}
		// rtnetlink/v2 stops at the first link attribute of a wrong size,
		// or at a nested one it fails to decode, without an error.
		scan := scanAttrs(payload, ifinfomsgLen, linkAttrSizes, map[uint16]bool{18: true, 43: true},
			iflaIfname, iflaMTU, iflaAddress, iflaOperstate, iflaMaster, iflaLink)
		if !scan.comparable {
			return
		}
		attrs := m.Attributes
		if attrs == nil {
			attrs = new(rtnetlink.LinkAttributes)
		}

		switch e := ev.(type) {
		case *LinkEvent:
			check(t, "family", e.Family, uint8(m.Family))
			check(t, "type", e.Type, m.Type)
			check(t, "index", uint32(e.Index), m.Index)
			check(t, "flags", uint32(e.Flags), m.Flags)
			check(t, "change", uint32(e.Change), m.Change)
			check(t, "hardware address", e.HardwareAddr.String(), net.HardwareAddr(attrs.Address).String())
			check(t, "parent index (rtnetlink/v2 calls IFLA_LINK Type)", uint32(e.ParentIndex), attrs.Type)
			checkLinkAttrs(t, e.Name, e.MTU, e.OperState, e.MasterIndex, attrs, scan)
		case *BridgePortEvent:
			check(t, "index", uint32(e.Index), m.Index)
			check(t, "flags", uint32(e.Flags), m.Flags)
			checkLinkAttrs(t, e.Name, e.MTU, e.OperState, e.MasterIndex, attrs, scan)
		}
	})
}

// linkAttrSizes are the link attributes that rtnetlink/v2 reads as
// fixed-size integers.
var linkAttrSizes = map[uint16]int{
	4: 4, 5: 4, 10: 4, 13: 4, 27: 4, 35: 4, 47: 4, 48: 4, // MTU, LINK, MASTER, TXQLEN, GROUP, CARRIER_*
	16: 1, 17: 1, 33: 1, // OPERSTATE, LINKMODE, CARRIER
}

func checkLinkAttrs(t *testing.T, name string, mtu uint32, oper OperState, master int, attrs *rtnetlink.LinkAttributes, scan attrScan) {
	t.Helper()
	if scan.plainStrings[iflaIfname] {
		check(t, "name", name, attrs.Name)
	}
	check(t, "MTU", mtu, attrs.MTU)
	check(t, "oper state", uint8(oper), uint8(attrs.OperationalState))
	var wantMaster uint32
	if attrs.Master != nil {
		wantMaster = *attrs.Master
	}
	check(t, "master", uint32(master), wantMaster)
}

// FuzzDecodeAddr checks address messages against rtnetlink/v2.
func FuzzDecodeAddr(f *testing.F) {
	addKindSeeds(f, rtmNewAddr, rtmDelAddr)
	f.Fuzz(func(t *testing.T, payload []byte, deleted bool) {
		h, msg := kindMessage(rtmNewAddr, rtmDelAddr, payload, deleted)
		ev, err := checkDecoded(t, h, msg, 0)
		checkFraming(t, payload, ifaddrmsgLen, err)

		var m rtnetlink.AddressMessage
		if err != nil || m.UnmarshalBinary(payload) != nil {
			return
		}
		scan := scanAttrs(payload, ifaddrmsgLen, nil, nil, ifaAddress, ifaLocal, ifaLabel, ifaFlags)
		if !scan.comparable {
			return
		}
		attrs := m.Attributes
		if attrs == nil {
			attrs = new(rtnetlink.AddressAttributes)
		}

		e := ev.(*AddrEvent)
		check(t, "family", e.Family, m.Family)
		check(t, "index", uint32(e.Index), m.Index)
		check(t, "scope", uint8(e.Scope), m.Scope)
		wantFlags := uint32(m.Flags)
		if scan.count[ifaFlags] > 0 {
			wantFlags = attrs.Flags
		}
		check(t, "flags", e.Flags, wantFlags)

		var wantPrefix netip.Prefix
		var wantPeer netip.Addr
		local, address := netipAddr(attrs.Local), netipAddr(attrs.Address)
		switch {
		case attrs.Local != nil:
			wantPrefix = prefixOf(local, m.PrefixLength)
			if attrs.Address != nil && address != local {
				wantPeer = address
			}
		case attrs.Address != nil:
			wantPrefix = prefixOf(address, m.PrefixLength)
		}
		check(t, "prefix", e.Prefix, wantPrefix)
		check(t, "peer", e.Peer, wantPeer)
		if scan.plainStrings[ifaLabel] {
			check(t, "label", e.Label, attrs.Label)
		}
	})
}

// FuzzDecodeRoute checks route messages against rtnetlink/v2.
func FuzzDecodeRoute(f *testing.F) {
	addKindSeeds(f, rtmNewRoute, rtmDelRoute)
	f.Fuzz(func(t *testing.T, payload []byte, deleted bool) {
		h, msg := kindMessage(rtmNewRoute, rtmDelRoute, payload, deleted)
		ev, err := checkDecoded(t, h, msg, 0)
		checkFraming(t, payload, rtmsgLen, err)

		var m rtnetlink.RouteMessage
		if err != nil || m.UnmarshalBinary(payload) != nil {
			return
		}
		scan := scanAttrs(payload, rtmsgLen, nil, nil, rtaDst, rtaGateway, rtaPrefsrc, rtaOif, rtaPriority, rtaTable, rtaMultipath)
		if !scan.comparable {
			return
		}

		e := ev.(*RouteEvent)
		attrs := m.Attributes
		check(t, "family", e.Family, m.Family)
		check(t, "TOS", e.TOS, m.Tos)
		check(t, "protocol", uint8(e.Protocol), m.Protocol)
		check(t, "scope", uint8(e.Scope), m.Scope)
		check(t, "type", uint8(e.Type), m.Type)
		check(t, "flags", e.Flags, m.Flags)
		wantTable := uint32(m.Table)
		if scan.count[rtaTable] > 0 {
			wantTable = attrs.Table
		}
		check(t, "table", e.Table, wantTable)

		wantDst := prefixOf(zeroAddr(m.Family), m.DstLength)
		if attrs.Dst != nil {
			wantDst = prefixOf(netipAddr(attrs.Dst), m.DstLength)
		}
		check(t, "dst", e.Dst, wantDst)
		check(t, "prefsrc", e.PrefSrc, netipAddr(attrs.Src))
		if scan.count[rtaVia] == 0 {
			check(t, "gateway", e.Gateway, netipAddr(attrs.Gateway))
		}
		check(t, "output index", uint32(e.OutIndex), attrs.OutIface)
		check(t, "priority", e.Priority, attrs.Priority)

		if len(e.NextHops) != len(attrs.Multipath) {
			t.Fatalf("%d next hops, rtnetlink/v2 has %d", len(e.NextHops), len(attrs.Multipath))
		}
		for i, hop := range attrs.Multipath {
			check(t, "next hop index", uint32(e.NextHops[i].Index), hop.Hop.IfIndex)
			check(t, "next hop flags", e.NextHops[i].Flags, hop.Hop.Flags)
			check(t, "next hop weight", e.NextHops[i].Weight, int(hop.Hop.Hops)+1)
			if hop.Gateway != nil {
				check(t, "next hop gateway", e.NextHops[i].Gateway, netipAddr(hop.Gateway))
			}
		}
	})
}

// FuzzDecodeNeigh checks neighbour messages against rtnetlink/v2.
func FuzzDecodeNeigh(f *testing.F) {
	addKindSeeds(f, rtmNewNeigh, rtmDelNeigh)
	f.Fuzz(func(t *testing.T, payload []byte, deleted bool) {
		h, msg := kindMessage(rtmNewNeigh, rtmDelNeigh, payload, deleted)
		ev, err := checkDecoded(t, h, msg, 0)
		checkFraming(t, payload, ndmsgLen, err)

		var m rtnetlink.NeighMessage
		if err != nil || m.UnmarshalBinary(payload) != nil {
			return
		}
		// rtnetlink/v2 stops at an NDA_IFINDEX of a wrong size without an
		// error, and keeps the previous NDA_LLADDR when a later one is
		// empty.
		scan := scanAttrs(payload, ndmsgLen, map[uint16]int{8: 4}, nil, ndaDst, ndaLladdr)
		if !scan.comparable || scan.count[ndaLladdr] > 1 {
			return
		}
		attrs := m.Attributes
		if attrs == nil {
			attrs = new(rtnetlink.NeighAttributes)
		}

		e := ev.(*NeighEvent)
		check(t, "family", e.Family, uint8(m.Family))
		check(t, "index", uint32(e.Index), m.Index)
		check(t, "state", uint16(e.State), m.State)
		check(t, "flags", e.Flags, m.Flags)
		check(t, "type", e.Type, m.Type)
		check(t, "IP", e.IP, netipAddr(attrs.Address))
		check(t, "hardware address", e.HardwareAddr.String(), net.HardwareAddr(attrs.LLAddress).String())
	})
}

// FuzzDecodeRule checks rule messages against rtnetlink/v2.
func FuzzDecodeRule(f *testing.F) {
	addKindSeeds(f, rtmNewRule, rtmDelRule)
	f.Fuzz(func(t *testing.T, payload []byte, deleted bool) {
		h, msg := kindMessage(rtmNewRule, rtmDelRule, payload, deleted)
		ev, err := checkDecoded(t, h, msg, 0)
		checkFraming(t, payload, fibRuleHdrLen, err)

		var m rtnetlink.RuleMessage
		if err != nil || m.UnmarshalBinary(payload) != nil {
			return
		}
		scan := scanAttrs(payload, fibRuleHdrLen, nil, nil, fraDst, fraSrc, fraPriority, fraTable, fraFwmark, fraIifname, fraOifname)
		if !scan.comparable {
			return
		}
		attrs := m.Attributes
		if attrs == nil {
			attrs = new(rtnetlink.RuleAttributes)
		}

		e := ev.(*RuleEvent)
		check(t, "family", e.Family, m.Family)
		check(t, "action", e.Action, m.Action)
		check(t, "flags", e.Flags, m.Flags)
		check(t, "table", e.Table, orDefault(attrs.Table, uint32(m.Table)))
		check(t, "priority", e.Priority, orDefault(attrs.Priority, 0))
		check(t, "mark", e.Mark, orDefault(attrs.FwMark, 0))
		check(t, "src", e.Src, rulePrefix(attrs.Src, m.SrcLength))
		check(t, "dst", e.Dst, rulePrefix(attrs.Dst, m.DstLength))
		if scan.plainStrings[fraIifname] {
			check(t, "iif", e.IIFName, orDefault(attrs.IIFName, ""))
		}
		if scan.plainStrings[fraOifname] {
			check(t, "oif", e.OIFName, orDefault(attrs.OIFName, ""))
		}
	})
}

func rulePrefix(ip *net.IP, bits uint8) netip.Prefix {
	if ip == nil {
		return netip.Prefix{}
	}
	return prefixOf(netipAddr(*ip), bits)
}

func orDefault[T any](p *T, def T) T {
	if p == nil {
		return def
	}
	return *p
}

// netipAddr converts a 4- or 16-byte net.IP as the lean decoder converts
// attribute bytes: 16 bytes stay an IPv6 address, even when IPv4-mapped.
func netipAddr(ip net.IP) netip.Addr {
	addr, _ := netip.AddrFromSlice(ip)
	return addr
}

func check[T comparable](t *testing.T, field string, got, want T) {
	t.Helper()
	if got != want {
		t.Fatalf("%s: lean decoder has %v, rtnetlink/v2 has %v", field, got, want)
	}
}

// attrScan is what scanAttrs found in a message's attributes.
type attrScan struct {
	// comparable is false when rtnetlink/v2's decoder may have stopped
	// before one of the attributes compared.
	comparable bool
	// count is how often each attribute type occurs.
	count map[uint16]int
	// plainStrings holds the compared types whose every occurrence is a
	// string with no NUL byte before its trailing NULs. The lean decoder
	// cuts a string at its first NUL, rtnetlink/v2 only drops trailing
	// ones, so only such strings read the same.
	plainStrings map[uint16]bool
}

// scanAttrs walks the attributes after a fixed header of hdrLen bytes with
// mdlayher/netlink's decoder, independent of the lean one. rtnetlink/v2's
// lenient decoders stop without an error at an attribute listed in sizes
// whose payload has another size, and may stop inside an attribute listed
// in nested. A compared attribute after such a point makes the message not
// comparable.
func scanAttrs(payload []byte, hdrLen int, sizes map[uint16]int, nested map[uint16]bool, compared ...uint16) attrScan {
	scan := attrScan{count: map[uint16]int{}, plainStrings: map[uint16]bool{}}
	if len(payload) <= hdrLen {
		scan.comparable = true
		return scan
	}
	ad, err := netlink.NewAttributeDecoder(payload[hdrLen:])
	if err != nil {
		return scan
	}

	isCompared := map[uint16]bool{}
	for _, typ := range compared {
		isCompared[typ] = true
		scan.plainStrings[typ] = true
	}
	stopped := false
	for ad.Next() {
		typ, data := ad.Type(), ad.Bytes()
		scan.count[typ]++
		if size, ok := sizes[typ]; (ok && len(data) != size) || nested[typ] {
			stopped = true
		}
		if isCompared[typ] && stopped {
			return scan
		}
		if trimmed := bytes.TrimRight(data, "\x00"); bytes.IndexByte(trimmed, 0) >= 0 {
			scan.plainStrings[typ] = false
		}
	}
	scan.comparable = ad.Err() == nil
	return scan
}

// FuzzDecodeNexthop checks nexthop object messages. rtnetlink/v2 has no
// decoder to compare with, so mdlayher/netlink's attribute walk reads the
// ID and the group's size independently of the lean decoder.
func FuzzDecodeNexthop(f *testing.F) {
	addKindSeeds(f, rtmNewNexthop, rtmDelNexthop)
	member := func(id uint32, low, high byte) []byte { return append(le32(id), low, high, 0, 0) }
	f.Add(bytes.Join([][]byte{make([]byte, nhmsgLen), nlAttr(nhaID, le32(9)),
		nlAttr(nhaGroup, member(7, 0, 0), member(8, 0x2b, 0x01)), nlAttr(nhaGroupType, []byte{1, 0}),
		nlAttr(nhaOpFlags, le32(nhaOpFlagGroupHighByte))}, nil), false)
	f.Add(bytes.Join([][]byte{{2, 0, 0, 0, 4, 0, 0, 0}, nlAttr(nhaID, le32(7)), nlAttr(nhaGateway, []byte{192, 0, 2, 1}),
		nlAttr(nhaOif, le32(3)), nlAttr(nhaFDB)}, nil), true)

	f.Fuzz(func(t *testing.T, payload []byte, deleted bool) {
		h, msg := kindMessage(rtmNewNexthop, rtmDelNexthop, payload, deleted)
		ev, err := checkDecoded(t, h, msg, 0)
		checkFraming(t, payload, nhmsgLen, err)
		if err != nil {
			return
		}

		e := ev.(*NexthopEvent)
		if len(payload) <= nhmsgLen {
			return
		}
		ad, adErr := netlink.NewAttributeDecoder(payload[nhmsgLen:])
		if adErr != nil {
			return
		}
		// The last NHA_ID counts, and one shorter than 4 bytes reads as 0,
		// as other integer attributes do.
		var id uint32
		members := 0
		for ad.Next() {
			switch data := ad.Bytes(); ad.Type() {
			case nhaID:
				id = 0
				if len(data) >= 4 {
					id = binary.NativeEndian.Uint32(data)
				}
			case nhaGroup:
				members = len(data) / nexthopGrpLen
			}
		}
		if e.ID != id || len(e.Group) != members {
			t.Fatalf("decoded ID %d and %d group members, mdlayher/netlink's walk finds ID %d and %d members", e.ID, len(e.Group), id, members)
		}
	})
}
