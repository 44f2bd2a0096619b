package nlevents

import (
	"fmt"
	"os"
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
// readBudget bytes in all. It then reads a burst 16 datagrams per system
// call. The slots never shrink, because a reader that shrank after each
// burst spent more CPU reallocating than the batches saved.
//
// The slots are mapped with mmap(2), not allocated by Go, which would zero
// all 1 MiB when it reuses memory: the kernel gives a page only when a
// datagram first reaches it, so small notifications cost a page per slot.
//
// Slots start slotSkew bytes further apart than their size. Slots a power
// of two apart map to the same CPU cache sets, so 16 of them can evict
// each other. With the skew, their first lines spread over 4 KiB of sets.
const (
	receiveBufferSize = 64 << 10
	readBudget        = 1 << 20
	maxSlots          = 16
	slotSkew          = 256
)

// slotLimit caps a wanted number of slots of room bytes at maxSlots and at
// what readBudget holds, and returns at least one.
func slotLimit(room, slots int) int {
	return max(min(slots, readBudget/room, maxSlots), 1)
}

// slotStride returns the distance from one slot of room bytes to the next.
func slotStride(room int) int { return room + slotSkew }

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

	// room is the size of each slot in buf. wantRoom and wantSlots are
	// what the next read sets up when they differ: after a truncated
	// datagram, or a backlog.
	room      int
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
// passes receiveBufferSize. The caller must call close.
func newBatchReader(fd, room int) (*batchReader, error) {
	r := &batchReader{fd: fd}
	if err := r.allocate(room, 1); err != nil {
		return nil, err
	}
	return r, nil
}

// allocate maps slots of room bytes and unmaps the previous ones, whose
// datagrams must all have been delivered.
func (r *batchReader) allocate(room, slots int) error {
	slots = slotLimit(room, slots)
	stride := slotStride(room)
	buf, err := unix.Mmap(-1, 0, slots*stride, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_PRIVATE|unix.MAP_ANONYMOUS)
	if err != nil {
		return fmt.Errorf("nlevents: map %d bytes for receiving: %w", slots*stride, os.NewSyscallError("mmap", err))
	}
	r.close()

	r.buf = buf
	r.room = room
	r.wantRoom = room
	r.wantSlots = slots
	r.hdrs = make([]mmsghdr, slots)
	r.iovs = make([]unix.Iovec, slots)
	r.names = make([]unix.RawSockaddrNetlink, slots)

	for i := range r.hdrs {
		r.iovs[i].Base = &r.buf[i*stride]
		r.iovs[i].SetLen(room)
		r.hdrs[i].hdr.Name = (*byte)(unsafe.Pointer(&r.names[i]))
		r.hdrs[i].hdr.Iov = &r.iovs[i]
		r.hdrs[i].hdr.SetIovlen(1)
	}
	return nil
}

// close unmaps the slots. The datagrams of the last read are gone with
// them.
func (r *batchReader) close() {
	if r.buf != nil {
		_ = unix.Munmap(r.buf)
		r.buf = nil
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

// reallocate sets up the slots that earlier reads asked for. When more
// slots cannot be mapped, the reader goes on with those it has. Larger
// slots are needed to read a large datagram whole, so failing to map them
// is an error.
func (r *batchReader) reallocate() error {
	if r.wantRoom == r.room && r.wantSlots == len(r.hdrs) {
		return nil
	}
	err := r.allocate(r.wantRoom, r.wantSlots)
	if err != nil && r.wantRoom == r.room {
		r.wantSlots = len(r.hdrs)
		return nil
	}
	return err
}

// read reads the datagrams waiting on the socket without blocking, up to
// one per slot, and appends those from the kernel to out in their order.
// It drops the rest, because any local process can send unicast netlink to
// our port. The bytes stay valid until the next read or close. The error
// is the system call's, EAGAIN when no datagram waits, or one from mapping
// larger slots.
func (r *batchReader) read(out []received) ([]received, error) {
	if err := r.reallocate(); err != nil {
		return out, err
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
		start := i * slotStride(r.room)
		out = append(out, received{data: r.buf[start : start+size]})
	}
	return out, nil
}
