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

	members, err := nexthopGroup(b, true)
	require.NoError(t, err)
	assert.Equal(t, []NexthopMember{{ID: 7, Weight: 1}, {ID: 8, Weight: 300}}, members)

	// Without the kernel's word that the byte is set, it may be garbage.
	members, err = nexthopGroup(b, false)
	require.NoError(t, err)
	assert.Equal(t, []NexthopMember{{ID: 7, Weight: 1}, {ID: 8, Weight: 44}}, members)
}

func TestNexthopGroupPartialMember(t *testing.T) {
	_, err := nexthopGroup(make([]byte, nexthopGrpLen+3), true)
	assert.ErrorContains(t, err, "11 bytes, not a whole number of 8-byte members")
}

// TestDecodeNexthopHighWeightByteNeedsOpFlag decodes a group message as a
// kernel sends it, with NHA_OP_FLAGS after NHA_GROUP: the members' high
// weight bytes count only when that attribute marks them as set.
func TestDecodeNexthopHighWeightByteNeedsOpFlag(t *testing.T) {
	member := func(id uint32, low, high byte) []byte {
		return append(le32(id), low, high, 0, 0)
	}
	group := nlAttr(nhaGroup, member(7, 0, 0), member(8, 0x2b, 0x01))
	resilient := nlAttr(nhaGroupType, []byte{1, 0})
	nhmsg := make([]byte, nhmsgLen)

	cases := []struct {
		name      string
		attrs     [][]byte
		weight    int
		resilient bool
	}{
		{"with op flag", [][]byte{nlAttr(nhaID, le32(9)), group, nlAttr(nhaOpFlags, le32(nhaOpFlagGroupHighByte))}, 300, false},
		{"without op flag", [][]byte{nlAttr(nhaID, le32(9)), group}, 44, false},
		{"resilient", [][]byte{nlAttr(nhaID, le32(9)), group, resilient, nlAttr(nhaOpFlags, le32(nhaOpFlagGroupHighByte))}, 300, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			msg := nlMessage(rtmNewNexthop, 0, 0, append([][]byte{nhmsg}, tc.attrs...)...)
			out := decodeDatagram(msg)
			require.Len(t, out, 1)
			require.NoError(t, out[0].err)

			ev := out[0].event.(*NexthopEvent)
			assert.Equal(t, []NexthopMember{{ID: 7, Weight: 1}, {ID: 8, Weight: tc.weight}}, ev.Group)
			assert.Equal(t, tc.resilient, ev.Resilient, "Resilient")
		})
	}
}
