package apply

import (
	"encoding/binary"
	"net/netip"
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestMultipathHops(t *testing.T) {
	hop := func(index uint32, attrs ...byte) []byte {
		b := make([]byte, rtnexthopLen, rtnexthopLen+len(attrs))
		binary.NativeEndian.PutUint16(b, uint16(rtnexthopLen+len(attrs)))
		binary.NativeEndian.PutUint32(b[4:], index)
		return append(b, attrs...)
	}
	gateway := []byte{20, 0, rtaGateway, 0, 0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2}

	two := append(hop(3), hop(4, gateway...)...)
	assert.Equal(t, []placeHop{{index: 3}, {index: 4, gateway: netip.MustParseAddr("2001:db8::2")}}, multipathHops(two))

	bad := append(hop(3), 0xff, 0xff, 0, 0, 9, 0, 0, 0) // a length past the end
	assert.Equal(t, []placeHop{{index: 3}}, multipathHops(bad))
	assert.Empty(t, multipathHops([]byte{4, 0, 0, 0}), "shorter than a struct rtnexthop")
}
