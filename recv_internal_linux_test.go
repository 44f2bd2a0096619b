package nlevents

import (
	"errors"
	"fmt"
	"os"
	"testing"
	"unsafe"

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
	rx := newTestReader(t, fd, smallRoom)

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
	rx := newTestReader(t, fd, receiveBufferSize)

	const changes = 1 + 1 + 2 + 4 + 8 + maxSlots
	var want []uint32
	for i := range changes {
		want = append(want, uint32(1400-i))
		runIP(t, "-n", ns, "link", "set", "va", "mtu", fmt.Sprint(1400-i))
	}

	got := readAll(t, rx)
	assert.Equal(t, []int{1, 1, 2, 4, 8, maxSlots}, got.perRead, "datagrams per read")
	assert.Equal(t, want, got.mtus, "MTUs in the order read")
}

// TestBatchReaderTouchesFewPages reads a burst of link notifications into
// all 16 slots and checks with mincore(2) that only the pages the
// datagrams reached are resident, not the whole mapping.
func TestBatchReaderTouchesFewPages(t *testing.T) {
	ns, fd := linkSocketInNewNS(t, "va")
	rx := newTestReader(t, fd, receiveBufferSize)

	for i := range 2 * maxSlots {
		runIP(t, "-n", ns, "link", "set", "va", "mtu", fmt.Sprint(1400-i))
	}
	readAll(t, rx)
	require.Len(t, rx.hdrs, maxSlots, "slots after a burst")

	pageSize := os.Getpagesize()
	resident := make([]byte, (len(rx.buf)+pageSize-1)/pageSize)
	_, _, errno := unix.Syscall(unix.SYS_MINCORE, uintptr(unsafe.Pointer(&rx.buf[0])), uintptr(len(rx.buf)), uintptr(unsafe.Pointer(&resident[0])))
	require.Zero(t, errno, "mincore: %v", errno)
	touched := 0
	for _, page := range resident {
		touched += int(page & 1)
	}
	t.Logf("%d of %d pages resident", touched, len(resident))
	// A link message of about 1,500 bytes reaches one or two pages of
	// its slot.
	assert.LessOrEqual(t, touched, 2*maxSlots, "resident pages of %d", len(resident))
	assert.Positive(t, touched, "resident pages")
}

// newTestReader returns a batch reader that is closed at cleanup.
func newTestReader(t *testing.T, fd, room int) *batchReader {
	t.Helper()
	rx, err := newBatchReader(fd, room)
	require.NoError(t, err)
	t.Cleanup(rx.close)
	return rx
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
