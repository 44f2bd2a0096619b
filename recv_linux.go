package nlevents

import (
	"unsafe"

	"golang.org/x/sys/unix"
)

// Sizes of the receive slots. recvmmsg(2) reads each datagram into a slot
// of its own, and cuts a datagram larger than its slot, so a slot must hold
// the largest one. Notifications are one message each, and the kernel
// sizes dump replies to about 32 KiB at most, so 64 KiB holds a large link
// message or a dump reply whole.
//
// A reader starts with one slot, as much memory as a recvfrom loop needs.
// When a read filled every slot and the next read still finds datagrams,
// a burst is queued, so the reader doubles its slots, up to maxSlots or
// readBudget bytes in all. It then reads a burst 8 datagrams per system
// call, from 512 KiB. The slots never shrink, because a reader that shrank
// after each burst spent more CPU reallocating than the batches saved.
//
// Slots start slotSkew bytes further apart than their size. Slots a power
// of two apart map to the same CPU cache sets, so 8 of them can evict each
// other. With the skew, their first lines spread over 2 KiB of sets.
const (
	receiveBufferSize = 64 << 10
	readBudget        = 512 << 10
	maxSlots          = 8
	slotSkew          = 256
)

// slotLimit caps a wanted number of slots of room bytes at maxSlots and at
// what readBudget holds, and returns at least one.
func slotLimit(room, slots int) int {
	return max(min(slots, readBudget/room, maxSlots), 1)
}

// mmsghdr is struct mmsghdr of <sys/socket.h>, which x/sys/unix does not
// define: the message header, then the received length, then padding to
// the header's alignment, as C lays it out.
type mmsghdr struct {
	hdr unix.Msghdr
	n   uint32
}

// received is one datagram that a read returned. It has its bytes or, when
// it did not fit its slot, its size in truncated.
type received struct {
	data      []byte
	truncated int
}

// batchReader reads datagrams from a netlink socket, as many per system
// call as it has slots, and keeps those that the kernel sent.
type batchReader struct {
	fd int

	// room is the size of each slot in buf, and stride the distance from
	// one slot to the next. wantRoom and wantSlots are what the next read
	// sets up when they differ: after a truncated datagram, or a backlog.
	room      int
	stride    int
	wantRoom  int
	wantSlots int

	// filled is true when the last read filled every slot.
	filled bool

	buf   []byte
	hdrs  []mmsghdr
	iovs  []unix.Iovec
	names []unix.RawSockaddrNetlink
}

// newBatchReader returns a reader whose slots hold room bytes. The loop
// passes receiveBufferSize.
func newBatchReader(fd, room int) *batchReader {
	r := &batchReader{fd: fd}
	r.allocate(room, 1)
	return r
}

// allocate sets up slots of room bytes.
func (r *batchReader) allocate(room, slots int) {
	slots = slotLimit(room, slots)
	r.room = room
	r.wantRoom = room
	r.wantSlots = slots
	r.stride = room + slotSkew
	r.buf = make([]byte, slots*r.stride)
	r.hdrs = make([]mmsghdr, slots)
	r.iovs = make([]unix.Iovec, slots)
	r.names = make([]unix.RawSockaddrNetlink, slots)

	for i := range r.hdrs {
		r.iovs[i].Base = &r.buf[i*r.stride]
		r.iovs[i].SetLen(room)
		r.hdrs[i].hdr.Name = (*byte)(unsafe.Pointer(&r.names[i]))
		r.hdrs[i].hdr.Iov = &r.iovs[i]
		r.hdrs[i].hdr.SetIovlen(1)
	}
}

// resize doubles the slots that the next read offers when a burst is
// queued: the last read filled every slot, and this one, which returned n
// datagrams (0 when it failed), found more.
func (r *batchReader) resize(n int) {
	if r.filled && n > 0 {
		r.wantSlots = slotLimit(r.wantRoom, 2*len(r.hdrs))
	}
	r.filled = n == len(r.hdrs)
}

// read reads the datagrams waiting on the socket without blocking, up to
// one per slot, and appends those from the kernel to out in their order.
// It drops the rest, because any local process can send unicast netlink to
// our port. The bytes stay valid until the next read. The error is the
// system call's, EAGAIN when no datagram waits.
func (r *batchReader) read(out []received) ([]received, error) {
	if r.wantRoom != r.room || r.wantSlots != len(r.hdrs) {
		r.allocate(r.wantRoom, r.wantSlots)
	}
	for i := range r.hdrs {
		// The kernel writes back each name's length, so the whole
		// sockaddr is offered again.
		r.hdrs[i].hdr.Namelen = uint32(unsafe.Sizeof(r.names[i]))
	}

	n, _, errno := unix.Syscall6(unix.SYS_RECVMMSG, uintptr(r.fd),
		uintptr(unsafe.Pointer(&r.hdrs[0])), uintptr(len(r.hdrs)),
		uintptr(unix.MSG_DONTWAIT|unix.MSG_TRUNC), 0, 0)
	if errno != 0 {
		r.resize(0)
		return out, errno
	}

	r.resize(int(n))
	for i := range int(n) {
		if r.names[i].Pid != 0 {
			continue
		}
		// With MSG_TRUNC the kernel reports a datagram's real length,
		// even when the slot held only its start.
		size := int(r.hdrs[i].n)
		if size > r.room {
			r.wantRoom = max(r.wantRoom, align4(size)+receiveBufferSize)
			r.wantSlots = slotLimit(r.wantRoom, r.wantSlots)
			out = append(out, received{truncated: size})
			continue
		}
		start := i * r.stride
		out = append(out, received{data: r.buf[start : start+size]})
	}
	return out, nil
}
