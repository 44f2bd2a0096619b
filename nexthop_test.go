package nlevents

import (
	"encoding/binary"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestNexthopGroupWeights(t *testing.T) {
	b := make([]byte, 2*nexthopGrpLen)
	binary.NativeEndian.PutUint32(b[0:], 7)
	binary.NativeEndian.PutUint32(b[8:], 8)
	b[8+4], b[8+5] = 0x2b, 0x01 // weight 300: 299 in the low and high bytes

	members, err := nexthopGroup(b)
	require.NoError(t, err)
	assert.Equal(t, []NexthopMember{{ID: 7, Weight: 1}, {ID: 8, Weight: 300}}, members)
}

func TestNexthopGroupPartialMember(t *testing.T) {
	_, err := nexthopGroup(make([]byte, nexthopGrpLen+3))
	assert.ErrorContains(t, err, "11 bytes, not a whole number of 8-byte members")
}
