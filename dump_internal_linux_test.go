package nlevents

import (
	"context"
	"encoding/binary"
	"errors"
	"net/netip"
	"testing"

	"github.com/mdlayher/netlink"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"
)

// dumpLoop is a loop with a real, bound netlink socket, so that its dump
// requests reach the kernel, and buffered channels, so that a test can feed
// it replies and read what it sent without a consumer goroutine. The
// kernel's own replies stay unread in the socket.
func dumpLoop(t *testing.T, groups Groups) *loop {
	t.Helper()
	fd, err := unix.Socket(unix.AF_NETLINK, unix.SOCK_RAW|unix.SOCK_CLOEXEC, unix.NETLINK_ROUTE)
	require.NoError(t, err)
	t.Cleanup(func() { unix.Close(fd) })
	require.NoError(t, unix.Bind(fd, &unix.SockaddrNetlink{Family: unix.AF_NETLINK}))
	sa, err := unix.Getsockname(fd)
	require.NoError(t, err)

	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	return &loop{
		ctx: ctx, cfg: &config{netnsFD: -1, dump: true}, fd: fd,
		portID: sa.(*unix.SockaddrNetlink).Pid,
		events: make(chan Event, 16), errs: make(chan error, 16),
		dump: dumpState{kinds: dumpKinds(groups)},
	}
}

// reply makes msg look like a dump reply to l's request in progress.
func reply(l *loop, msg []byte, flags uint16) []byte {
	binary.NativeEndian.PutUint16(msg[6:8], flags|nlmFMulti)
	binary.NativeEndian.PutUint32(msg[8:12], l.dump.seq)
	binary.NativeEndian.PutUint32(msg[12:16], l.portID)
	return msg
}

func doneMessage(l *loop, flags uint16) []byte {
	return reply(l, encodeTestMessage(nlmsgDone, 0, []byte{0, 0, 0, 0}), flags)
}

func errorMessage(l *loop, errno unix.Errno) []byte {
	code := make([]byte, 4)
	binary.NativeEndian.PutUint32(code, uint32(-int32(errno)))
	return reply(l, encodeTestMessage(nlmsgError, 0, code), 0)
}

// drainSent returns what the loop sent so far, in order within each
// channel.
func drainSent(l *loop) (events []Event, errs []error) {
	for {
		select {
		case ev := <-l.events:
			events = append(events, ev)
		case err := <-l.errs:
			errs = append(errs, err)
		default:
			return events, errs
		}
	}
}

func TestDumpInterruptedIsRepeated(t *testing.T) {
	l := dumpLoop(t, Addr)
	require.True(t, l.startDump(false))
	firstSeq := l.dump.seq

	addr := testAddrMessage(0, 2, netip.MustParsePrefix("192.0.2.1/24"))
	require.True(t, l.deliver(reply(l, addr, nlmFDumpIntr)))
	require.True(t, l.deliver(doneMessage(l, nlmFDumpIntr)))

	events, errs := drainSent(l)
	assert.Empty(t, errs)
	require.Len(t, events, 1, "the address of the interrupted dump")
	assert.True(t, events[0].EventInfo().Dumped)
	assert.True(t, l.dump.active, "an interrupted dump must be requested again, not finished")
	assert.Greater(t, l.dump.seq, firstSeq, "the repeated request needs a new sequence number")

	// A late reply to the abandoned request is not part of the new dump.
	stale := testAddrMessage(firstSeq, 2, netip.MustParsePrefix("192.0.2.9/24"))
	binary.NativeEndian.PutUint32(stale[12:16], l.portID)
	assert.False(t, l.dump.owns(mustHeader(t, stale), l.portID))

	require.True(t, l.deliver(reply(l, addr, 0)))
	require.True(t, l.deliver(doneMessage(l, 0)))
	events, errs = drainSent(l)
	assert.Empty(t, errs)
	require.Len(t, events, 2)
	assert.IsType(t, &AddrEvent{}, events[0])
	sync, ok := events[1].(*SyncEvent)
	require.True(t, ok, "a clean dump ends with the marker, got %v", events[1])
	assert.False(t, sync.Resync)
	assert.False(t, l.dump.active)
}

func TestDumpErrorReportedAndNextKindRuns(t *testing.T) {
	l := dumpLoop(t, Link|Addr)
	require.True(t, l.startDump(false))
	require.Equal(t, rtmGetLink, int(l.dump.current().msgType))

	require.True(t, l.deliver(errorMessage(l, unix.EPERM)))
	events, errs := drainSent(l)
	assert.Empty(t, events)
	require.Len(t, errs, 1)
	var dumpErr *DumpError
	require.True(t, errors.As(errs[0], &dumpErr), "got %T: %v", errs[0], errs[0])
	assert.Equal(t, "RTM_GETLINK AF_UNSPEC", dumpErr.Request)
	assert.ErrorIs(t, errs[0], unix.EPERM)
	assert.Equal(t, rtmGetAddr, int(l.dump.current().msgType), "the address dump runs after the failed link dump")

	require.True(t, l.deliver(doneMessage(l, 0)))
	events, _ = drainSent(l)
	require.Len(t, events, 1)
	assert.IsType(t, &SyncEvent{}, events[0])
}

func TestOverrunDuringDumpRunsAnotherPass(t *testing.T) {
	l := dumpLoop(t, Link)
	l.cfg.resync = true
	require.True(t, l.startDump(false))

	require.True(t, l.overrun())
	require.True(t, l.deliver(doneMessage(l, 0)))
	events, errs := drainSent(l)
	require.Len(t, errs, 1)
	assert.ErrorIs(t, errs[0], ErrOverrun)
	assert.Empty(t, events, "no marker may follow a pass that an overrun made stale")
	assert.True(t, l.dump.active, "a second pass must start")

	require.True(t, l.deliver(doneMessage(l, 0)))
	events, _ = drainSent(l)
	require.Len(t, events, 1)
	sync, ok := events[0].(*SyncEvent)
	require.True(t, ok)
	assert.True(t, sync.Resync)
}

func mustHeader(t *testing.T, msg []byte) netlink.Header {
	t.Helper()
	h, err := readHeader(msg)
	require.NoError(t, err)
	return h
}
