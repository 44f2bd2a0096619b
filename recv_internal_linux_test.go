package nlevents

import (
	"errors"
	"fmt"
	"os"
	"testing"

	"github.com/mdlayher/netlink"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"
)

// TestBatchReaderGrowsAfterTruncation gives the reader slots too small for
// a link message. Each datagram comes back as truncated, with its real
// size, and later reads offer enough room for such datagrams.
func TestBatchReaderGrowsAfterTruncation(t *testing.T) {
	ns, fd := linkSocketInNewNS(t, "va")
	const smallRoom = 256
	rx := newBatchReader(fd, smallRoom)

	runIP(t, "-n", ns, "link", "set", "va", "mtu", "1400")
	first := readAll(t, rx)
	require.NotEmpty(t, first.truncated, "truncated datagrams")
	assert.Empty(t, first.mtus, "link events read whole from %d-byte slots", smallRoom)
	for _, size := range first.truncated {
		assert.Greater(t, size, smallRoom, "size of a truncated datagram")
	}

	runIP(t, "-n", ns, "link", "set", "va", "mtu", "1300")
	second := readAll(t, rx)
	assert.Greater(t, rx.room, smallRoom, "room after a truncated datagram")
	assert.Empty(t, second.truncated, "truncated datagrams after the reader grew")
	assert.Contains(t, second.mtus, uint32(1300), "MTUs of the link events read whole")
}

// TestBatchReaderDoublesSlots checks that a read that fills every slot,
// followed by one that finds more datagrams, doubles the slots, up to
// maxSlots, and that the datagrams come in the kernel's order.
func TestBatchReaderDoublesSlots(t *testing.T) {
	ns, fd := linkSocketInNewNS(t, "va")
	rx := newBatchReader(fd, receiveBufferSize)

	const changes = 1 + 1 + 2 + 4 + maxSlots + maxSlots
	var want []uint32
	for i := range changes {
		want = append(want, uint32(1400-i))
		runIP(t, "-n", ns, "link", "set", "va", "mtu", fmt.Sprint(1400-i))
	}

	got := readAll(t, rx)
	assert.Equal(t, []int{1, 1, 2, 4, maxSlots, maxSlots}, got.perRead, "datagrams per read")
	assert.Equal(t, want, got.mtus, "MTUs in the order read")
}

// readResult is what readAll found: the datagrams each read returned, the
// MTUs of the link messages read whole, and the sizes of truncated
// datagrams.
type readResult struct {
	perRead   []int
	mtus      []uint32
	truncated []int
}

// readAll reads until the socket has no datagram left, decoding each batch
// before the next read reuses the slots.
func readAll(t *testing.T, rx *batchReader) readResult {
	t.Helper()
	var res readResult
	for {
		batch, err := rx.read(nil)
		if errors.Is(err, unix.EAGAIN) {
			return res
		}
		require.NoError(t, err)

		res.perRead = append(res.perRead, len(batch))
		for _, d := range batch {
			if d.truncated > 0 {
				res.truncated = append(res.truncated, d.truncated)
				continue
			}
			res.mtus = append(res.mtus, linkMTUs(t, d.data)...)
		}
	}
}

// linkMTUs decodes the link messages of one datagram and returns their MTUs.
func linkMTUs(t *testing.T, datagram []byte) []uint32 {
	t.Helper()
	var mtus []uint32
	err := splitMessages(datagram, func(h netlink.Header, msg []byte, off int) bool {
		ev, err := decodeMessage(h, msg, off)
		require.NoError(t, err)
		mtus = append(mtus, ev.(*LinkEvent).MTU)
		return true
	})
	require.NoError(t, err)
	return mtus
}

// linkSocketInNewNS creates a namespace with a veth pair named link and
// its peer, and returns the namespace's name and a socket there that joined
// the Link group after the pair was created.
func linkSocketInNewNS(t *testing.T, link string) (string, int) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root: creates a network namespace")
	}
	name := fmt.Sprintf("nlevents-recv-%d-%s", os.Getpid(), t.Name())
	runIP(t, "netns", "add", name)
	t.Cleanup(func() { runIP(t, "netns", "del", name) })
	runIP(t, "-n", name, "link", "add", link, "type", "veth", "peer", "name", link+"-peer")

	cfg := &config{netnsFD: -1, netnsPath: "/run/netns/" + name, receiveBuffer: 1 << 20}
	fd, _, err := openSocket(cfg, Link)
	require.NoError(t, err)
	t.Cleanup(func() { unix.Close(fd) })
	return name, fd
}
