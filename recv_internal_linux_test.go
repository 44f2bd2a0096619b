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
// size, and the next read offers enough room for such datagrams.
func TestBatchReaderGrowsAfterTruncation(t *testing.T) {
	ns, fd := linkSocketInNewNS(t, "va")
	const smallRoom = 256
	rx := newBatchReader(fd, smallRoom)

	runIP(t, "-n", ns, "link", "set", "va", "mtu", "1400")
	batch, err := rx.read(nil)
	require.NoError(t, err)
	require.NotEmpty(t, batch)
	for _, d := range batch {
		assert.Greater(t, d.truncated, smallRoom, "a link message fits in %d bytes", smallRoom)
		assert.Nil(t, d.data, "bytes of a truncated datagram")
	}

	runIP(t, "-n", ns, "link", "set", "va", "mtu", "1300")
	batch, err = rx.read(nil)
	require.NoError(t, err)
	require.NotEmpty(t, batch)
	assert.Greater(t, rx.room, smallRoom, "room after a truncated datagram")

	var mtus []uint32
	for _, d := range batch {
		require.Zero(t, d.truncated, "datagram truncated after the reader grew")
		err := splitMessages(d.data, func(h netlink.Header, msg []byte, off int) bool {
			ev, err := decodeMessage(h, msg, off)
			require.NoError(t, err)
			if link, ok := ev.(*LinkEvent); ok && link.Name == "va" {
				mtus = append(mtus, link.MTU)
			}
			return true
		})
		require.NoError(t, err)
	}
	assert.Contains(t, mtus, uint32(1300), "MTUs of va's link events")
}

// TestBatchReaderReadsManyPerCall checks that one read returns every
// datagram that fits its slots, in the kernel's order.
func TestBatchReaderReadsManyPerCall(t *testing.T) {
	ns, fd := linkSocketInNewNS(t, "va")
	rx := newBatchReader(fd, receiveBufferSize)

	for mtu := 1400; mtu > 1400-maxSlots; mtu-- {
		runIP(t, "-n", ns, "link", "set", "va", "mtu", fmt.Sprint(mtu))
	}
	batch, err := rx.read(nil)
	require.NoError(t, err)
	require.Len(t, batch, maxSlots, "datagrams in one read")

	for i, d := range batch {
		err := splitMessages(d.data, func(h netlink.Header, msg []byte, off int) bool {
			ev, err := decodeMessage(h, msg, off)
			require.NoError(t, err)
			assert.Equal(t, uint32(1400-i), ev.(*LinkEvent).MTU, "MTU in datagram %d", i)
			return true
		})
		require.NoError(t, err)
	}

	_, err = rx.read(nil)
	assert.True(t, errors.Is(err, unix.EAGAIN), "read of an empty socket returned %v, want EAGAIN", err)
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
