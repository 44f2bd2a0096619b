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
	require.NotEmpty(t, first)
	for _, d := range first {
		assert.Greater(t, d.truncated, smallRoom, "a link message fits in %d bytes", smallRoom)
		assert.Nil(t, d.data, "bytes of a truncated datagram")
	}

	runIP(t, "-n", ns, "link", "set", "va", "mtu", "1300")
	second := readAll(t, rx)
	assert.Greater(t, rx.room, smallRoom, "room after a truncated datagram")
	assert.Contains(t, linkMTUs(t, second), uint32(1300), "MTUs of the link events read whole")
}

// TestBatchReaderDoublesSlots checks that each read that fills every slot
// doubles them for the next, up to maxSlots, and that the datagrams come in
// the kernel's order.
func TestBatchReaderDoublesSlots(t *testing.T) {
	ns, fd := linkSocketInNewNS(t, "va")
	rx := newBatchReader(fd, receiveBufferSize)

	const changes = 1 + 2 + 4 + 8 + maxSlots
	var want []uint32
	for i := range changes {
		want = append(want, uint32(1400-i))
		runIP(t, "-n", ns, "link", "set", "va", "mtu", fmt.Sprint(1400-i))
	}

	var sizes []int
	var all []received
	for {
		batch, err := rx.read(nil)
		if errors.Is(err, unix.EAGAIN) {
			break
		}
		require.NoError(t, err)
		sizes = append(sizes, len(batch))
		all = append(all, batch...)
	}
	assert.Equal(t, []int{1, 2, 4, 8, maxSlots}, sizes, "datagrams per read")
	assert.Equal(t, want, linkMTUs(t, all), "MTUs in the order read")
}

// readAll reads until the socket has no datagram left.
func readAll(t *testing.T, rx *batchReader) []received {
	t.Helper()
	var all []received
	for {
		batch, err := rx.read(nil)
		if errors.Is(err, unix.EAGAIN) {
			return all
		}
		require.NoError(t, err)
		all = append(all, batch...)
	}
}

// linkMTUs decodes datagrams of link messages and returns their MTUs. The
// datagrams must have been read whole.
func linkMTUs(t *testing.T, datagrams []received) []uint32 {
	t.Helper()
	var mtus []uint32
	for _, d := range datagrams {
		require.Zero(t, d.truncated, "datagram truncated")
		err := splitMessages(d.data, func(h netlink.Header, msg []byte, off int) bool {
			ev, err := decodeMessage(h, msg, off)
			require.NoError(t, err)
			mtus = append(mtus, ev.(*LinkEvent).MTU)
			return true
		})
		require.NoError(t, err)
	}
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
