package nlevents

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
)

var (
	errAttrShort   = errors.New("attribute header shorter than 4 bytes")
	errAttrOverrun = errors.New("attribute length runs past the message")
)

// attrReader walks netlink attributes without allocating. The zero value
// reads nothing.
type attrReader struct {
	b   []byte
	off int // offset of b in its message, for error messages
	err error
}

func newAttrReader(b []byte, off int) attrReader {
	return attrReader{b: b, off: off}
}

// next returns the next attribute's type, with the nested and byte-order
// flags removed, and its payload. It returns false at the end or on a
// malformed attribute, which Err then reports.
func (r *attrReader) next() (typ uint16, data []byte, ok bool) {
	if len(r.b) == 0 || r.err != nil {
		return 0, nil, false
	}
	if len(r.b) < 4 {
		r.err = fmt.Errorf("at offset %d: %w", r.off, errAttrShort)
		return 0, nil, false
	}

	length := int(binary.NativeEndian.Uint16(r.b[0:2]))
	typ = binary.NativeEndian.Uint16(r.b[2:4]) & nlaTypeMask
	if length < 4 {
		r.err = fmt.Errorf("at offset %d: length %d: %w", r.off, length, errAttrShort)
		return 0, nil, false
	}
	if length > len(r.b) {
		r.err = fmt.Errorf("at offset %d: length %d, %d bytes left: %w", r.off, length, len(r.b), errAttrOverrun)
		return 0, nil, false
	}

	data = r.b[4:length]
	step := min(align4(length), len(r.b))
	r.b = r.b[step:]
	r.off += step
	return typ, data, true
}

// Err returns the first malformed attribute met, or nil.
func (r *attrReader) Err() error { return r.err }

func align4(n int) int { return (n + 3) &^ 3 }

func u32(b []byte) (uint32, bool) {
	if len(b) < 4 {
		return 0, false
	}
	return binary.NativeEndian.Uint32(b), true
}

// ipAddr converts a 4- or 16-byte attribute to an address; other lengths give
// the zero Addr.
func ipAddr(b []byte) netip.Addr {
	switch len(b) {
	case 4:
		return netip.AddrFrom4([4]byte(b))
	case 16:
		return netip.AddrFrom16([16]byte(b))
	}
	return netip.Addr{}
}

// prefixOf builds a prefix from an address and a length, keeping the host
// bits. It returns the zero Prefix when either is invalid.
func prefixOf(addr netip.Addr, bits uint8) netip.Prefix {
	p := netip.PrefixFrom(addr, int(bits))
	if !p.IsValid() {
		return netip.Prefix{}
	}
	return p
}

// zeroAddr returns the unspecified address of an address family, so that a
// route without RTA_DST reads as 0.0.0.0/0 or ::/0.
func zeroAddr(family uint8) netip.Addr {
	switch family {
	case afInet:
		return netip.IPv4Unspecified()
	case afInet6:
		return netip.IPv6Unspecified()
	}
	return netip.Addr{}
}

// cString returns b up to its first NUL byte.
func cString(b []byte) []byte {
	for i, c := range b {
		if c == 0 {
			return b[:i]
		}
	}
	return b
}
