package nlevents

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"reflect"
	"testing"

	"github.com/mdlayher/netlink"
)

// This file holds hand-made netlink datagrams, malformed ones among them,
// the helpers that build them, and a table test that pins the exact events
// and errors each one gives. The fuzz targets use the same datagrams as
// seeds.

// nlMessage builds one netlink message: a header whose length covers the
// payload exactly (no trailing padding), then the payload parts.
func nlMessage(typ, flags uint16, seq uint32, payload ...[]byte) []byte {
	body := bytes.Join(payload, nil)
	b := make([]byte, nlmsgHeaderLen, nlmsgHeaderLen+len(body))
	binary.NativeEndian.PutUint32(b[0:4], uint32(nlmsgHeaderLen+len(body)))
	binary.NativeEndian.PutUint16(b[4:6], typ)
	binary.NativeEndian.PutUint16(b[6:8], flags)
	binary.NativeEndian.PutUint32(b[8:12], seq)
	return append(b, body...)
}

// withLength overwrites the length field of a message's header.
func withLength(msg []byte, length uint32) []byte {
	b := bytes.Clone(msg)
	binary.NativeEndian.PutUint32(b[0:4], length)
	return b
}

// datagram joins messages as the kernel does, each padded to 4 bytes.
func datagram(msgs ...[]byte) []byte {
	var b []byte
	for _, m := range msgs {
		b = append(b, m...)
		b = append(b, make([]byte, align4(len(m))-len(m))...)
	}
	return b
}

// nlAttr builds one attribute padded to 4 bytes, with nla_len covering the
// header and data.
func nlAttr(typ uint16, data ...[]byte) []byte {
	body := bytes.Join(data, nil)
	b := make([]byte, 4, align4(4+len(body)))
	binary.NativeEndian.PutUint16(b[0:2], uint16(4+len(body)))
	binary.NativeEndian.PutUint16(b[2:4], typ)
	b = append(b, body...)
	return append(b, make([]byte, align4(len(b))-len(b))...)
}

// rawAttr builds an attribute header with any nla_len, followed by data,
// without padding: for attributes that lie about their length.
func rawAttr(length, typ uint16, data ...byte) []byte {
	b := make([]byte, 4, 4+len(data))
	binary.NativeEndian.PutUint16(b[0:2], length)
	binary.NativeEndian.PutUint16(b[2:4], typ)
	return append(b, data...)
}

func le32(v uint32) []byte { return binary.NativeEndian.AppendUint32(nil, v) }

// cstr returns s with its terminating NUL, as the kernel sends names.
func cstr(s string) []byte { return append([]byte(s), 0) }

// ifinfomsg builds struct ifinfomsg.
func ifinfomsg(family uint8, index int32, flags uint32) []byte {
	b := make([]byte, ifinfomsgLen)
	b[0] = family
	binary.NativeEndian.PutUint16(b[2:4], 1) // ARPHRD_ETHER
	binary.NativeEndian.PutUint32(b[4:8], uint32(index))
	binary.NativeEndian.PutUint32(b[8:12], flags)
	return b
}

// linkMsg builds a well-formed RTM_NEWLINK for a link named name.
func linkMsg(index int32, name string) []byte {
	return nlMessage(rtmNewLink, 0, 0, ifinfomsg(afUnspec, index, uint32(FlagUp)),
		nlAttr(iflaIfname, cstr(name)), nlAttr(iflaMTU, le32(1500)))
}

// ifaddrmsg builds struct ifaddrmsg.
func ifaddrmsg(family, prefixLen uint8, index uint32) []byte {
	b := []byte{family, prefixLen, 0, 0, 0, 0, 0, 0}
	binary.NativeEndian.PutUint32(b[4:8], index)
	return b
}

// rtmsg builds struct rtmsg for a unicast route in the main table.
func rtmsg(family, dstLen uint8) []byte {
	return []byte{family, dstLen, 0, 0, byte(TableMain), byte(ProtoStatic), byte(ScopeUniverse), byte(RouteUnicast), 0, 0, 0, 0}
}

// rtnexthop builds struct rtnexthop with rtnh_len set to length.
func rtnexthop(length uint16, index int32, attrs ...[]byte) []byte {
	b := make([]byte, rtnexthopLen)
	binary.NativeEndian.PutUint16(b[0:2], length)
	binary.NativeEndian.PutUint32(b[4:8], uint32(index))
	return append(b, bytes.Join(attrs, nil)...)
}

// nlmsgerr builds the payload of an NLMSG_ERROR: the negative errno and the
// header of the failed request.
func nlmsgerr(errno int32) []byte {
	b := le32(uint32(-errno))
	return append(b, nlMessage(rtmGetLink, nlmFRequest, 7)...)
}

// outcome is one value the subscription would send: an event or an error.
type outcome struct {
	event Event
	err   error
}

// decodeDatagram decodes a datagram the way the subscription loop delivers a
// notification: each message's event, then its error, then the framing
// error that ended the walk, if any.
func decodeDatagram(b []byte) []outcome {
	var out []outcome
	err := splitMessages(b, func(h netlink.Header, msg []byte, off int) bool {
		ev, err := decodeMessage(h, msg, off)
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
	return out
}

// want describes one expected outcome. For an event, event is its String.
// For an error, errIs is the cause that errors.Is must find, and errType and
// errOffset are the *DecodeError's Type and Offset.
type want struct {
	event     string
	errIs     error
	errType   netlink.HeaderType
	errOffset int
}

func wantEvent(s string) want { return want{event: s} }

func wantErr(is error, typ netlink.HeaderType, off int) want {
	return want{errIs: is, errType: typ, errOffset: off}
}

// malformedCase is a hand-made datagram and what decoding it must give.
type malformedCase struct {
	name string
	data []byte
	want []want
}

// errAnyCause in a want accepts any cause, for errors that the decoder
// builds with fmt.Errorf and no package-level error.
var errAnyCause = errors.New("any cause")

// malformedCases returns the hand-made datagrams. Offsets in the
// expectations are byte positions of messages in their datagram.
func malformedCases() []malformedCase {
	link1 := linkMsg(1, "lo")
	link2 := linkMsg(2, "eth0")
	many := make([][]byte, 200)
	manyWant := make([]want, 200)
	for i := range many {
		many[i] = linkMsg(int32(i+1), fmt.Sprintf("veth%d", i))
		manyWant[i] = wantEvent(fmt.Sprintf("new link %d veth%d <NO-CARRIER|UP> mtu 1500 state UNKNOWN", i+1, i))
	}
	oddLen := nlMessage(rtmNewLink, 0, 0, ifinfomsg(afUnspec, 5, 0), rawAttr(6, iflaIfname, 'x', 0)) // 38 bytes

	return []malformedCase{
		{name: "empty datagram", data: nil},
		{
			name: "short header",
			data: link1[:10],
			want: []want{wantErr(errHeaderShort, 0, 0)},
		},
		{
			name: "length larger than datagram",
			data: withLength(link1, 200),
			want: []want{wantErr(errLengthLong, rtmNewLink, 0)},
		},
		{
			name: "length near 4 GiB",
			data: withLength(link1, 0xffff_fff0),
			want: []want{wantErr(errLengthLong, rtmNewLink, 0)},
		},
		{
			name: "length smaller than header",
			data: withLength(link1, 8),
			want: []want{wantErr(errLengthShort, rtmNewLink, 0)},
		},
		{
			name: "length zero",
			data: withLength(link1, 0),
			want: []want{wantErr(errLengthShort, rtmNewLink, 0)},
		},
		{
			name: "bad header after a good message",
			data: datagram(link1, withLength(link2, 4)),
			want: []want{
				wantEvent("new link 1 lo <NO-CARRIER|UP> mtu 1500 state UNKNOWN"),
				wantErr(errLengthShort, rtmNewLink, align4(len(link1))),
			},
		},
		{
			name: "trailing bytes shorter than a header",
			data: append(datagram(link1), 1, 2, 3, 4, 5, 6),
			want: []want{
				wantEvent("new link 1 lo <NO-CARRIER|UP> mtu 1500 state UNKNOWN"),
				wantErr(errHeaderShort, 0, align4(len(link1))),
			},
		},
		{
			name: "unpadded message length then another message",
			data: datagram(oddLen, link2),
			want: []want{
				wantEvent("new link 5 x <> mtu 0 state UNKNOWN"),
				wantEvent("new link 2 eth0 <NO-CARRIER|UP> mtu 1500 state UNKNOWN"),
			},
		},
		{
			name: "last message without its padding",
			data: oddLen,
			want: []want{wantEvent("new link 5 x <> mtu 0 state UNKNOWN")},
		},
		{
			name: "struct shorter than ifinfomsg",
			data: nlMessage(rtmDelLink, 0, 0, []byte{0, 0, 1, 0, 9, 0}),
			want: []want{wantEvent("del link 9 <> mtu 0 state UNKNOWN")},
		},
		{
			// An attribute of length 5 followed at once, without padding, by
			// the next one: the reader looks 3 bytes further, where the
			// next header does not start.
			name: "misaligned attributes",
			data: nlMessage(rtmNewLink, 0, 0, ifinfomsg(afUnspec, 3, 0),
				rawAttr(5, iflaOperstate, byte(OperUp)), rawAttr(8, iflaIfname, 'e', 't', 'h', '0')),
			want: []want{
				wantEvent("new link 3 <> mtu 0 state UP"),
				wantErr(errAttrOverrun, rtmNewLink, 0),
			},
		},
		{
			name: "attribute header cut short",
			data: nlMessage(rtmNewLink, 0, 0, ifinfomsg(afUnspec, 3, 0), nlAttr(iflaIfname, cstr("eth0")), []byte{8, 0}),
			want: []want{
				wantEvent("new link 3 eth0 <> mtu 0 state UNKNOWN"),
				wantErr(errAttrShort, rtmNewLink, 0),
			},
		},
		{
			// nla_len 0 is invalid (the kernel's nla_ok needs at least the
			// 4-byte header); the fields before it are kept.
			name: "zero-length attribute",
			data: nlMessage(rtmNewLink, 0, 0, ifinfomsg(afUnspec, 3, 0),
				nlAttr(iflaIfname, cstr("eth0")), rawAttr(0, iflaMTU), nlAttr(iflaMTU, le32(9000))),
			want: []want{
				wantEvent("new link 3 eth0 <> mtu 0 state UNKNOWN"),
				wantErr(errAttrShort, rtmNewLink, 0),
			},
		},
		{
			// nla_len 4 is an attribute with an empty payload, which the
			// kernel sends, for example an empty IFLA_AF_SPEC.
			name: "empty attributes",
			data: nlMessage(rtmDelLink, 0, 0, ifinfomsg(afUnspec, 3, 0),
				nlAttr(iflaIfname), nlAttr(26|nlaFNested), nlAttr(iflaAddress), nlAttr(iflaMTU, le32(1280))),
			want: []want{wantEvent("del link 3 <> mtu 1280 state UNKNOWN")},
		},
		{
			name: "attribute overruns the message",
			data: nlMessage(rtmNewAddr, 0, 0, ifaddrmsg(afInet, 24, 2),
				nlAttr(ifaLocal, []byte{192, 0, 2, 1}), rawAttr(200, ifaLabel, 'e', 't', 'h', '0')),
			want: []want{
				wantEvent("new addr 192.0.2.1/24 dev 2 scope global"),
				wantErr(errAttrOverrun, rtmNewAddr, 0),
			},
		},
		{
			name: "nested attribute overruns its parent",
			data: nlMessage(rtmNewLink, 0, 0, ifinfomsg(afUnspec, 4, 0), nlAttr(iflaIfname, cstr("br0")),
				nlAttr(iflaLinkinfo|nlaFNested, rawAttr(40, iflaInfoKind, 'b', 'r', 'i', 'd', 'g', 'e', 0, 0))),
			want: []want{
				wantEvent("new link 4 br0 <> mtu 0 state UNKNOWN"),
				wantErr(errAttrOverrun, rtmNewLink, 0),
			},
		},
		{
			name: "multipath next hop overruns RTA_MULTIPATH",
			data: nlMessage(rtmNewRoute, 0, 0, rtmsg(afInet, 24),
				nlAttr(rtaDst, []byte{198, 51, 100, 0}),
				nlAttr(rtaMultipath, rtnexthop(8, 2), rtnexthop(64, 3))),
			want: []want{
				wantEvent("new route 198.51.100.0/24 nexthop via invalid IP dev 2 weight 1 table main proto static"),
				wantErr(errAnyCause, rtmNewRoute, 0),
			},
		},
		{
			name: "multipath next hop attributes overrun the hop",
			data: nlMessage(rtmNewRoute, 0, 0, rtmsg(afInet, 24),
				nlAttr(rtaDst, []byte{198, 51, 100, 0}),
				nlAttr(rtaMultipath, rtnexthop(16, 2, rawAttr(12, rtaGateway, 192, 0, 2, 1)))),
			want: []want{
				wantEvent("new route 198.51.100.0/24 nexthop via invalid IP dev 2 weight 1 table main proto static"),
				wantErr(errAttrOverrun, rtmNewRoute, 0),
			},
		},
		{
			name: "unknown message type",
			data: nlMessage(200, 0, 0, []byte{1, 2, 3, 4}),
			want: []want{wantEvent("raw type(200) 20 bytes")},
		},
		{
			name: "reserved control message type",
			data: nlMessage(nlmsgOverrun, 0, 0),
			want: []want{wantEvent("raw NLMSG_OVERRUN 16 bytes")},
		},
		{
			name: "NLMSG_ERROR with payload",
			data: nlMessage(nlmsgError, 0, 7, nlmsgerr(22)),
			want: []want{wantErr(errUnexpected, nlmsgError, 0)},
		},
		{
			name: "NLMSG_ERROR acknowledgement",
			data: nlMessage(nlmsgError, 0, 7, nlmsgerr(0)),
			want: []want{wantErr(errUnexpected, nlmsgError, 0)},
		},
		{
			name: "NLMSG_ERROR without payload",
			data: nlMessage(nlmsgError, 0, 7),
			want: []want{wantErr(errErrorPayload, nlmsgError, 0)},
		},
		{
			name: "NLMSG_ERROR with a short payload",
			data: nlMessage(nlmsgError, 0, 7, []byte{0xea, 0xff}),
			want: []want{wantErr(errErrorPayload, nlmsgError, 0)},
		},
		{
			// NLMSG_DONE and NLMSG_NOOP give neither an event nor an error,
			// and the walk goes on after them.
			name: "NLMSG_DONE in a notification",
			data: datagram(link1, nlMessage(nlmsgDone, nlmFMulti, 0, le32(0)), link2),
			want: []want{
				wantEvent("new link 1 lo <NO-CARRIER|UP> mtu 1500 state UNKNOWN"),
				wantEvent("new link 2 eth0 <NO-CARRIER|UP> mtu 1500 state UNKNOWN"),
			},
		},
		{
			name: "NLMSG_NOOP",
			data: datagram(nlMessage(nlmsgNoop, 0, 0), link2),
			want: []want{wantEvent("new link 2 eth0 <NO-CARRIER|UP> mtu 1500 state UNKNOWN")},
		},
		{
			name: "bad message between good ones",
			data: datagram(link1,
				nlMessage(rtmNewRoute, 0, 0, rtmsg(afInet6, 64), rawAttr(20, rtaDst, 0x20, 1, 0xd, 0xb8)),
				nlMessage(rtmDelAddr, 0, 0, ifaddrmsg(afInet6, 64, 2), nlAttr(ifaAddress, bytes.Repeat([]byte{0x20}, 16)))),
			want: []want{
				wantEvent("new link 1 lo <NO-CARRIER|UP> mtu 1500 state UNKNOWN"),
				wantEvent("new route ::/64 table main proto static"),
				wantErr(errAttrOverrun, rtmNewRoute, align4(len(link1))),
				wantEvent("del addr 2020:2020:2020:2020:2020:2020:2020:2020/64 dev 2 scope global"),
			},
		},
		{
			name: "bridge port deleted",
			data: nlMessage(rtmDelLink, 0, 0, ifinfomsg(afBridge, 6, 0), nlAttr(iflaIfname, cstr("vb")), nlAttr(iflaMaster, le32(4))),
			want: []want{wantEvent("del bridge-port 6 vb master 4 state UNKNOWN")},
		},
		{
			name: "many messages in one datagram",
			data: datagram(many...),
			want: manyWant,
		},
	}
}

func TestMalformedDatagrams(t *testing.T) {
	for _, tc := range malformedCases() {
		t.Run(tc.name, func(t *testing.T) {
			got := decodeDatagram(tc.data)
			if len(got) != len(tc.want) {
				t.Fatalf("got %d outcomes, want %d:\n%s", len(got), len(tc.want), describeOutcomes(got))
			}
			for i, w := range tc.want {
				checkOutcome(t, i, got[i], w)
			}
		})
	}
}

func checkOutcome(t *testing.T, i int, got outcome, w want) {
	t.Helper()
	if w.event != "" {
		if got.event == nil {
			t.Errorf("outcome %d: got error %v, want event %q", i, got.err, w.event)
			return
		}
		if s := got.event.String(); s != w.event {
			t.Errorf("outcome %d: got event %q, want %q", i, s, w.event)
		}
		return
	}

	var de *DecodeError
	if !errors.As(got.err, &de) {
		t.Errorf("outcome %d: got %s, want a *DecodeError", i, describeOutcomes([]outcome{got}))
		return
	}
	if w.errIs != errAnyCause && !errors.Is(de, w.errIs) {
		t.Errorf("outcome %d: error %v does not wrap %q", i, de, w.errIs)
	}
	if de.Type != w.errType {
		t.Errorf("outcome %d: error type %v, want %v", i, de.Type, w.errType)
	}
	if de.Offset != w.errOffset {
		t.Errorf("outcome %d: error offset %d, want %d", i, de.Offset, w.errOffset)
	}
}

func describeOutcomes(out []outcome) string {
	var b bytes.Buffer
	for _, o := range out {
		if o.err != nil {
			fmt.Fprintf(&b, "  error %v\n", o.err)
		} else {
			fmt.Fprintf(&b, "  event %T %q\n", o.event, o.event.String())
		}
	}
	return b.String()
}

// TestMalformedEventsOwnTheirBytes checks that events built from the
// hand-made datagrams do not change when the receive buffer is reused.
func TestMalformedEventsOwnTheirBytes(t *testing.T) {
	for _, tc := range malformedCases() {
		buf := bytes.Clone(tc.data)
		got := decodeDatagram(buf)
		for i := range buf {
			buf[i] ^= 0xff
		}
		if again := decodeDatagram(tc.data); !reflect.DeepEqual(got, again) {
			t.Errorf("%s: events changed when the input buffer was overwritten", tc.name)
		}
	}
}
