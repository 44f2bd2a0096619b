package apply

import (
	"encoding/binary"
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestHopIndexesStopsAtBadLength(t *testing.T) {
	hop := func(length uint16, index uint32) []byte {
		b := make([]byte, length)
		binary.NativeEndian.PutUint16(b, length)
		binary.NativeEndian.PutUint32(b[4:], index)
		return b
	}
	two := append(hop(8, 3), hop(24, 4)...)
	assert.Equal(t, []uint32{3, 4}, hopIndexes(two))

	bad := append(hop(8, 3), 0xff, 0xff, 0, 0, 9, 0, 0, 0) // a length past the end
	assert.Equal(t, []uint32{3}, hopIndexes(bad))
	assert.Empty(t, hopIndexes([]byte{4, 0, 0, 0}), "shorter than a struct rtnexthop")
}
