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
	end int // offset of the end of b in its message, for error messages
}

func newAttrReader(b []byte, off int) attrReader {
	return attrReader{b: b, end: off + len(b)}
}

// next returns the next attribute's type, with the nested and byte-order
// flags removed, and its payload. It returns false at the end, or at a
// malformed attribute, where it stays and which Err then describes. It is
// small enough for the compiler to inline it into the decoders' loops.
func (r *attrReader) next() (typ uint16, data []byte, ok bool) {
	b := r.b
	if len(b) < 4 {
		return 0, nil, false
	}
	length := int(binary.NativeEndian.Uint16(b))
	if length < 4 || length > len(b) {
		return 0, nil, false
	}
	r.b = b[min(align4(length), len(b)):]
	return binary.NativeEndian.Uint16(b[2:]) & nlaTypeMask, b[4:length], true
}

// Err describes the malformed attribute that ended the walk, or returns nil
// when the walk has not ended or reached the end of the attributes.
func (r *attrReader) Err() error {
	off := r.end - len(r.b)
	switch {
	case len(r.b) == 0:
		return nil
	case len(r.b) < 4:
		return fmt.Errorf("at offset %d: %w", off, errAttrShort)
	}

	length := int(binary.NativeEndian.Uint16(r.b))
	switch {
	case length < 4:
		return fmt.Errorf("at offset %d: length %d: %w", off, length, errAttrShort)
	case length > len(r.b):
		return fmt.Errorf("at offset %d: length %d, %d bytes left: %w", off, length, len(r.b), errAttrOverrun)
	}
	return nil
}

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
