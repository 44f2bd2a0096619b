package nlevents

import (
	"encoding/binary"
	"errors"
	"fmt"
	"unsafe"

	"github.com/mdlayher/netlink"
)

var (
	errHeaderShort  = errors.New("message shorter than the 16-byte netlink header")
	errLengthShort  = errors.New("header length smaller than the header itself")
	errLengthLong   = errors.New("header length runs past the datagram")
	errUnexpected   = errors.New("unexpected NLMSG_ERROR: this subscription has no request outstanding")
	errErrorPayload = errors.New("NLMSG_ERROR without its 4-byte error code")
)

// readHeader reads a netlink header from the start of b.
func readHeader(b []byte) (netlink.Header, error) {
	if len(b) < nlmsgHeaderLen {
		return netlink.Header{}, errHeaderShort
	}
	return netlink.Header{
		Length:   binary.NativeEndian.Uint32(b[0:4]),
		Type:     netlink.HeaderType(binary.NativeEndian.Uint16(b[4:6])),
		Flags:    netlink.HeaderFlags(binary.NativeEndian.Uint16(b[6:8])),
		Sequence: binary.NativeEndian.Uint32(b[8:12]),
		PID:      binary.NativeEndian.Uint32(b[12:16]),
	}, nil
}

// splitMessages calls fn for each message in a datagram, with its header,
// its bytes (header included, without padding) and its offset. It stops
// early when fn returns false. A malformed header ends the walk: the rest of
// the datagram cannot be framed, so it is returned as a *DecodeError.
func splitMessages(b []byte, fn func(h netlink.Header, msg []byte, off int) bool) error {
	for off := 0; off < len(b); {
		h, err := readHeader(b[off:])
		switch {
		case err != nil:
			return &DecodeError{Offset: off, Err: err}
		case h.Length < nlmsgHeaderLen:
			return &DecodeError{Type: h.Type, Sequence: h.Sequence, Offset: off,
				Err: fmt.Errorf("length %d: %w", h.Length, errLengthShort)}
		case uint64(h.Length) > uint64(len(b)-off):
			// NB: compared as uint64, because int(h.Length) is negative on
			// 32-bit platforms for lengths of 2 GiB and more.
			return &DecodeError{Type: h.Type, Sequence: h.Sequence, Offset: off,
				Err: fmt.Errorf("length %d, %d bytes left: %w", h.Length, len(b)-off, errLengthLong)}
		}

		end := off + int(h.Length)
		if !fn(h, b[off:end], off) {
			return nil
		}
		off = min(align4(end), len(b))
	}
	return nil
}

// errorCode reads the errno of an NLMSG_ERROR message; 0 is an
// acknowledgement.
func errorCode(msg []byte) (errno, error) {
	payload := msg[nlmsgHeaderLen:]
	if len(payload) < nlmsgerrMinLen {
		return 0, errErrorPayload
	}
	code := int32(binary.NativeEndian.Uint32(payload))
	return errno(-code), nil
}

// decodeMessage turns one rtnetlink message into an event. msg is the
// message with its header, in a buffer that will be reused: the event gets
// its own copy. A non-nil error is a *DecodeError; when the event is non-nil
// too, the event holds the fields that could be read and the error names what
// could not. Control messages (NLMSG_NOOP, NLMSG_DONE) give neither.
func decodeMessage(h netlink.Header, msg []byte, off int) (Event, error) {
	var (
		ev  Event
		err error
	)
	switch h.Type {
	case nlmsgNoop, nlmsgDone:
		return nil, nil
	case nlmsgError:
		return nil, decodeErrorMessage(h, msg, off)
	case rtmNewLink, rtmDelLink:
		ev, err = decodeLink(h, msg)
	case rtmNewAddr, rtmDelAddr:
		ev, err = decodeAddr(h, msg)
	case rtmNewRoute, rtmDelRoute:
		ev, err = decodeRoute(h, msg)
	case rtmNewNeigh, rtmDelNeigh:
		ev, err = decodeNeigh(h, msg)
	case rtmNewRule, rtmDelRule:
		ev, err = decodeRule(h, msg)
	case rtmNewNexthop, rtmDelNexthop:
		ev, err = decodeNexthop(h, msg)
	default:
		raw, r := newEvent[RawEvent](msg)
		*raw = RawEvent{Info: infoOf(h), raw: r}
		ev = raw
	}

	if err != nil {
		err = &DecodeError{Type: h.Type, Sequence: h.Sequence, Offset: off, Err: err}
	}
	return ev, err
}

// decodeErrorMessage reports an NLMSG_ERROR that reached the notification
// path: the kernel sends those only in reply to a request, and this
// subscription has none outstanding.
func decodeErrorMessage(h netlink.Header, msg []byte, off int) error {
	code, err := errorCode(msg)
	if err == nil {
		err = fmt.Errorf("%w: errno %d (%v)", errUnexpected, int(code), code)
	}
	return &DecodeError{Type: h.Type, Sequence: h.Sequence, Offset: off, Err: err}
}

func infoOf(h netlink.Header) Info {
	return Info{Header: h, Deleted: isDelete(h.Type)}
}

// isDelete reports whether t is an RTM_DEL* type. rtnetlink numbers its
// types in fours from RTM_BASE (16): NEW, DEL, GET, SET, so this covers the
// types without a typed event too, such as RTM_DELQDISC or RTM_DELMULTICAST.
func isDelete(t netlink.HeaderType) bool {
	return t >= rtmNewLink && (t-rtmNewLink)%4 == 1
}

// newEvent allocates a zero E and a copy of msg, a message in the receive
// buffer, as one heap object: the copy sits in a byte array after the event.
// That halves the allocations per event, and the bytes that the event's
// fields alias live exactly as long as the event. A message longer than the
// largest array gets a separate copy.
func newEvent[E any](msg []byte) (*E, raw) {
	switch n := len(msg); {
	case n <= 64:
		return withCopy[E, [64]byte](msg)
	case n <= 96:
		return withCopy[E, [96]byte](msg)
	case n <= 128:
		return withCopy[E, [128]byte](msg)
	case n <= 192:
		return withCopy[E, [192]byte](msg)
	case n <= 256:
		return withCopy[E, [256]byte](msg)
	case n <= 384:
		return withCopy[E, [384]byte](msg)
	case n <= 512:
		return withCopy[E, [512]byte](msg)
	case n <= 768:
		return withCopy[E, [768]byte](msg)
	case n <= 1024:
		return withCopy[E, [1024]byte](msg)
	case n <= 1536:
		return withCopy[E, [1536]byte](msg)
	case n <= 2048:
		return withCopy[E, [2048]byte](msg)
	case n <= 3072:
		return withCopy[E, [3072]byte](msg)
	case n <= 4096:
		return withCopy[E, [4096]byte](msg)
	}
	return new(E), append(raw(nil), msg...)
}

// eventWithBytes is the heap object that newEvent allocates. B is a byte
// array type.
type eventWithBytes[E, B any] struct {
	event E
	bytes B
}

func withCopy[E, B any](msg []byte) (*E, raw) {
	p := new(eventWithBytes[E, B])
	// NB: the slice points into p, so it keeps p alive like &p.event does.
	buf := unsafe.Slice((*byte)(unsafe.Pointer(&p.bytes)), unsafe.Sizeof(p.bytes))
	n := copy(buf, msg)
	return &p.event, raw(buf[:n:n])
}

// payloadFamily returns the first byte of a message's payload, the address
// family in every rtnetlink struct, or 0 when the payload is empty.
func payloadFamily(msg []byte) uint8 {
	if len(msg) <= nlmsgHeaderLen {
		return 0
	}
	return msg[nlmsgHeaderLen]
}

// bytesString returns b as a string without copying. NB: b must be part of
// an event's raw copy, which nothing writes after decoding; events document
// that their Raw bytes must not be modified.
func bytesString(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	return unsafe.String(&b[0], len(b))
}

// hardwareAddr returns an attribute as a hardware address of any length,
// aliasing the event's copy, or nil when empty.
func hardwareAddr(b []byte) []byte {
	if len(b) == 0 {
		return nil
	}
	return b[:len(b):len(b)]
}

// strictCheck decodes an event's message with rtnetlink/v2 and returns the
// decoder's error, for WithStrictDecode.
func strictCheck(ev Event) error {
	var err error
	switch e := ev.(type) {
	case *LinkEvent:
		_, err = e.Message()
	case *BridgePortEvent:
		_, err = e.Message()
	case *AddrEvent:
		_, err = e.Message()
	case *RouteEvent:
		_, err = e.Message()
	case *NeighEvent:
		_, err = e.Message()
	case *RuleEvent:
		_, err = e.Message()
	}
	return err
}
