package nlevents_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jsimonetti/rtnetlink/v2"
	"golang.org/x/sys/unix"

	"github.com/nlevents/nlevents"
	"github.com/nlevents/nlevents/testutil"
)

// forgedIndex is the interface index in every forged message; no link in a
// test namespace has it.
const forgedIndex = 999_999

// flooder sends forged RTM_NEWLINK messages, and some malformed ones, from a
// netlink socket of its own in a test namespace, as fast as the kernel
// accepts them: unicast to one port, and multicast to RTNLGRP_LINK. Both
// need CAP_NET_ADMIN.
type flooder struct {
	fd   int // closed at cleanup
	sent atomic.Int64
	stop chan struct{}
	done chan struct{}
	err  error // the send error that ended the flood, read after done
}

// openSocketIn opens a NETLINK_ROUTE socket in ns, closed at cleanup.
// Netlink port ids are per namespace, so a socket that sends to a
// subscription's port must live in the subscription's namespace.
func openSocketIn(t *testing.T, ns *testutil.NetNS) int {
	t.Helper()
	fd := -1
	err := ns.Do(func() error {
		var err error
		fd, err = unix.Socket(unix.AF_NETLINK, unix.SOCK_RAW|unix.SOCK_CLOEXEC, unix.NETLINK_ROUTE)
		return err
	})
	if err != nil {
		t.Fatalf("open a netlink socket in %s: %v", ns.Name, err)
	}
	t.Cleanup(func() { unix.Close(fd) })
	return fd
}

// startFlood starts sending from a socket of its own in ns to port. The
// flood ends at cleanup, or earlier when a send fails.
func startFlood(t *testing.T, ns *testutil.NetNS, port uint32) *flooder {
	t.Helper()
	f := &flooder{fd: openSocketIn(t, ns), stop: make(chan struct{}), done: make(chan struct{})}
	// A send blocks while the receiver's buffer is full; the timeout lets
	// the flooder notice stop.
	if err := unix.SetsockoptTimeval(f.fd, unix.SOL_SOCKET, unix.SO_SNDTIMEO, &unix.Timeval{Usec: 50_000}); err != nil {
		t.Fatalf("set SO_SNDTIMEO: %v", err)
	}

	go f.run(port)
	// Registered after openSocketIn's cleanup, so it runs before the close.
	t.Cleanup(func() {
		close(f.stop)
		<-f.done
	})
	return f
}

func (f *flooder) run(port uint32) {
	defer close(f.done)
	forged := forgedLink("forged0")
	// A header whose length runs past the datagram: decoding it would give
	// a *DecodeError.
	garbage := bytes.Clone(forged)
	binary.NativeEndian.PutUint32(garbage[0:4], 1000)
	unicast := &unix.SockaddrNetlink{Family: unix.AF_NETLINK, Pid: port}
	multicast := &unix.SockaddrNetlink{Family: unix.AF_NETLINK, Groups: 1 << (unix.RTNLGRP_LINK - 1)}
	for i := 0; ; i++ {
		select {
		case <-f.stop:
			return
		default:
		}

		msg, to := forged, unicast
		switch i % 8 {
		case 3:
			msg = garbage
		case 7:
			to = multicast
		}
		err := unix.Sendto(f.fd, msg, 0, to)
		switch {
		case err == nil:
			f.sent.Add(1)
		case errors.Is(err, unix.EAGAIN), errors.Is(err, unix.EINTR):
		default:
			f.err = err
			return
		}
	}
}

// forgedLink encodes an RTM_NEWLINK for a link named name with forgedIndex,
// with a header exactly like a kernel notification's: sequence 0, port 0.
func forgedLink(name string) []byte {
	attr := make([]byte, 4, 4+len(name)+4)
	attr = append(attr, name...)
	attr = append(attr, 0)
	binary.NativeEndian.PutUint16(attr[0:2], uint16(len(attr)))
	binary.NativeEndian.PutUint16(attr[2:4], unix.IFLA_IFNAME)
	for len(attr)%4 != 0 {
		attr = append(attr, 0)
	}

	msg := make([]byte, unix.NLMSG_HDRLEN+unix.SizeofIfInfomsg, unix.NLMSG_HDRLEN+unix.SizeofIfInfomsg+len(attr))
	binary.NativeEndian.PutUint32(msg[unix.NLMSG_HDRLEN+4:], forgedIndex)
	msg = append(msg, attr...)
	binary.NativeEndian.PutUint32(msg[0:4], uint32(len(msg)))
	binary.NativeEndian.PutUint16(msg[4:6], unix.RTM_NEWLINK)
	return msg
}

// awaitSent waits until the flooder has sent at least n messages, so that
// the caller knows the flood is under way. It returns an error when the
// flood ends or stalls first; it does not fail the test itself, so that any
// goroutine may call it.
func (f *flooder) awaitSent(n int64) error {
	deadline := time.Now().Add(waitTimeout)
	for f.sent.Load() < n {
		select {
		case <-f.done:
			return fmt.Errorf("flood ended after %d messages: %v", f.sent.Load(), f.err)
		default:
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("flooder sent %d messages within %v, want %d", f.sent.Load(), waitTimeout, n)
		}
		time.Sleep(time.Millisecond) // polls a counter; not a settling delay
	}
	return nil
}

// TestIntegrationHostileFlood floods the subscription's port with forged
// notifications while the namespace really changes, and checks that no
// forged message is delivered and that the real changes arrive in order,
// the last one included, through notifications or a resync.
func TestIntegrationHostileFlood(t *testing.T) {
	ns := testutil.NewNetNS(t)
	ns.AddVeth(t, "va", "vb")
	index := uint32(ns.LinkIndex(t, "va"))
	conn := dialNS(t, ns)

	var port uint32
	nlevents.HookSocket(t, func(_ int, p uint32) { port = p })
	events, errs := subscribeNS(t, ns, nlevents.Link, nlevents.WithResync())
	if port == 0 {
		t.Fatal("the socket hook did not run")
	}
	flood := startFlood(t, ns, port)

	// Real changes start once the flood is under way and go on while the
	// test reads. Each sets a new MTU, so that each notification can be
	// identified, and at least 100 forged messages precede each.
	const changes = 50
	var sentDuring atomic.Int64
	changesDone := make(chan struct{})
	go func() {
		defer close(changesDone)
		if err := flood.awaitSent(10_000); err != nil {
			t.Error(err)
			return
		}
		sentBefore := flood.sent.Load()
		defer func() { sentDuring.Store(flood.sent.Load() - sentBefore) }()
		for i := range changes {
			// Forged messages come between every two real changes.
			if err := flood.awaitSent(flood.sent.Load() + 100); err != nil {
				t.Error(err)
				return
			}
			mtu := uint32(1300 + i)
			err := conn.Link.Set(&rtnetlink.LinkMessage{
				Family: unix.AF_UNSPEC, Index: index,
				Attributes: &rtnetlink.LinkAttributes{MTU: mtu},
			})
			if err != nil {
				t.Errorf("set MTU %d on va: %v", mtu, err)
				return
			}
		}
	}()
	defer func() { <-changesDone }()

	// A flood at full speed keeps the socket's receive buffer full, so the
	// kernel may drop a real notification (ErrOverrun): the dump that
	// WithResync starts then brings the current MTU.
	const last = 1300 + changes - 1
	var (
		mtu        uint32 // the latest MTU of va read, notified or dumped
		notified   int    // real changes read as notifications
		overruns   int
		resyncing  bool // an ErrOverrun was read and its SyncEvent not yet
		lastResync bool // the latest MTU came from a dump
	)
	deadline := time.NewTimer(20 * time.Second)
	defer deadline.Stop()
	for mtu != last || resyncing {
		select {
		case ev := <-events:
			switch e := ev.(type) {
			case *nlevents.LinkEvent:
				if e.Index == forgedIndex || e.Name == "forged0" {
					t.Fatalf("forged message delivered: %v", e)
				}
				if e.Index != int(index) || e.MTU < 1300 || e.MTU > last {
					continue
				}
				if e.MTU < mtu {
					t.Fatalf("MTU %d read after %d: events out of order", e.MTU, mtu)
				}
				if !e.Dumped && e.MTU > mtu {
					notified++
				}
				mtu, lastResync = e.MTU, e.Dumped
			case *nlevents.SyncEvent:
				if !e.Resync {
					t.Fatalf("sync marker without Resync during the flood: %v", e)
				}
				resyncing = false
			}
		case err := <-errs:
			if !errors.Is(err, nlevents.ErrOverrun) {
				t.Fatalf("error during the flood, at MTU %d: %v", mtu, err)
			}
			overruns++
			resyncing = true
		case <-deadline.C:
			t.Fatalf("MTU %d, not %d, read within 20 s of flood (%d forged messages sent, %d overruns)",
				mtu, last, flood.sent.Load(), overruns)
		}
	}
	select {
	case <-flood.done:
		t.Errorf("the flood ended before the real changes were read: %v", flood.err)
	default:
	}
	<-changesDone
	t.Logf("%d of %d real changes read as notifications, the final MTU from a dump: %t; %d overruns; %d forged messages sent before the changes, %d while they were made",
		notified, changes, lastResync, overruns, flood.sent.Load()-sentDuring.Load(), sentDuring.Load())
}

// TestIntegrationHostileFloodUnread floods a subscription whose consumer
// never reads, and checks that cancelling still closes both channels.
func TestIntegrationHostileFloodUnread(t *testing.T) {
	ns := testutil.NewNetNS(t)
	ns.AddVeth(t, "va", "vb")

	var port uint32
	nlevents.HookSocket(t, func(_ int, p uint32) { port = p })
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	events, errs, err := nlevents.Subscribe(ctx, nlevents.Link|nlevents.Addr, nlevents.WithNetNSPath(ns.Path))
	if err != nil {
		t.Fatalf("Subscribe: %v", err)
	}
	flood := startFlood(t, ns, port)
	if err := flood.awaitSent(10_000); err != nil {
		t.Fatal(err)
	}

	// A real notification, which the loop tries to send and the test does
	// not read.
	ns.IP(t, "link", "set", "va", "mtu", "1400")
	waitForStack(t, "(*loop).sendEvent")

	cancel()
	if err := waitClosed(events, errs, waitTimeout); err != nil {
		t.Fatalf("after cancel, with the consumer not reading during a flood: %v", err)
	}
}

// TestIntegrationHostileNeedsNetAdmin checks the other side of the flood
// tests: for NETLINK_ROUTE, the kernel lets only a sender with CAP_NET_ADMIN
// send to another socket's port or to a multicast group.
func TestIntegrationHostileNeedsNetAdmin(t *testing.T) {
	ns := testutil.NewNetNS(t)
	var port uint32
	nlevents.HookSocket(t, func(_ int, p uint32) { port = p })
	subscribeNS(t, ns, nlevents.Link)
	fd := openSocketIn(t, ns)

	results := make(chan error, 2) // one per send
	go func() {
		// NB: this goroutine ends with its thread still locked, so the
		// runtime ends the thread and no goroutine runs with its reduced
		// capabilities afterwards.
		runtime.LockOSThread()
		hdr := unix.CapUserHeader{Version: unix.LINUX_CAPABILITY_VERSION_3}
		var caps [2]unix.CapUserData
		if err := unix.Capget(&hdr, &caps[0]); err != nil {
			results <- fmt.Errorf("capget: %w", err)
			results <- err
			return
		}
		caps[0].Effective &^= 1 << unix.CAP_NET_ADMIN
		if err := unix.Capset(&hdr, &caps[0]); err != nil {
			results <- fmt.Errorf("drop CAP_NET_ADMIN: %w", err)
			results <- err
			return
		}

		msg := forgedLink("forged0")
		results <- unix.Sendto(fd, msg, 0, &unix.SockaddrNetlink{Family: unix.AF_NETLINK, Pid: port})
		results <- unix.Sendto(fd, msg, 0, &unix.SockaddrNetlink{Family: unix.AF_NETLINK, Groups: 1 << (unix.RTNLGRP_LINK - 1)})
	}()

	for _, to := range []string{"unicast to the subscription's port", "multicast to RTNLGRP_LINK"} {
		if err := <-results; !errors.Is(err, unix.EPERM) {
			t.Errorf("%s without CAP_NET_ADMIN: error %v, want EPERM", to, err)
		}
	}
}

// netnsInode returns the inode of the network namespace that the calling
// thread is in.
func netnsInode(t *testing.T) uint64 {
	t.Helper()
	var st unix.Stat_t
	if err := unix.Stat("/proc/thread-self/ns/net", &st); err != nil {
		t.Fatalf("stat this thread's network namespace: %v", err)
	}
	return st.Ino
}

// threadsOutside lists the threads of this process whose network namespace
// is not the one with inode want.
func threadsOutside(t *testing.T, want uint64) []string {
	t.Helper()
	tasks, err := filepath.Glob("/proc/self/task/*/ns/net")
	if err != nil {
		t.Fatal(err)
	}
	var outside []string
	for _, path := range tasks {
		var st unix.Stat_t
		if err := unix.Stat(path, &st); err != nil {
			continue // the thread exited
		}
		if st.Ino != want {
			outside = append(outside, fmt.Sprintf("%s (inode %d)", path, st.Ino))
		}
	}
	return outside
}

// TestIntegrationNetNSFDRejected passes Subscribe file descriptors that are
// not network namespaces, on a locked thread, and checks that each is
// rejected and that neither the calling thread nor any other thread of the
// process changed namespace.
func TestIntegrationNetNSFDRejected(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("entering a namespace needs root (CAP_SYS_ADMIN); without it every fd gives EPERM")
	}
	regular, err := os.Create(filepath.Join(t.TempDir(), "not-a-namespace"))
	if err != nil {
		t.Fatal(err)
	}
	defer regular.Close()
	uts, err := os.Open("/proc/self/ns/uts")
	if err != nil {
		t.Fatal(err)
	}
	defer uts.Close()
	// NB: a number above any open fd, not a closed one, because Subscribe
	// itself opens fds and could be handed a closed number again.
	const unusedFD = 1 << 30

	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	home := netnsInode(t)

	for _, tc := range []struct {
		name string
		fd   int
		is   error
	}{
		{"regular file", int(regular.Fd()), unix.EINVAL},
		{"UTS namespace", int(uts.Fd()), unix.EINVAL},
		{"fd not open", unusedFD, unix.EBADF},
	} {
		ctx, cancel := context.WithCancel(context.Background())
		events, errs, err := nlevents.Subscribe(ctx, nlevents.Link, nlevents.WithNetNS(tc.fd))
		cancel()
		if err == nil {
			t.Errorf("%s: Subscribe accepted fd %d as a network namespace", tc.name, tc.fd)
			if err := waitClosed(events, errs, waitTimeout); err != nil {
				t.Errorf("%s: %v", tc.name, err)
			}
			continue
		}
		if !errors.Is(err, tc.is) {
			t.Errorf("%s: error %q does not wrap %v", tc.name, err, tc.is)
		}
		if now := netnsInode(t); now != home {
			t.Fatalf("%s: the calling thread moved from namespace inode %d to %d", tc.name, home, now)
		}
		if outside := threadsOutside(t, home); len(outside) > 0 {
			t.Errorf("%s: threads left in another network namespace: %v", tc.name, outside)
		}
	}
}

// TestIntegrationNetNSFDThreads subscribes in another namespace from a
// locked thread and checks that no thread of the process stays there.
func TestIntegrationNetNSFDThreads(t *testing.T) {
	ns := testutil.NewNetNS(t)
	nsFile, err := os.Open(ns.Path)
	if err != nil {
		t.Fatal(err)
	}
	defer nsFile.Close()

	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	home := netnsInode(t)

	ctx, cancel := context.WithCancel(context.Background())
	events, errs, err := nlevents.Subscribe(ctx, nlevents.Link, nlevents.WithNetNS(int(nsFile.Fd())))
	if err != nil {
		cancel()
		t.Fatalf("Subscribe in %s: %v", ns.Name, err)
	}
	if now := netnsInode(t); now != home {
		t.Errorf("the calling thread moved from namespace inode %d to %d", home, now)
	}
	if outside := threadsOutside(t, home); len(outside) > 0 {
		t.Errorf("threads left in another network namespace: %v", outside)
	}

	cancel()
	if err := waitClosed(events, errs, waitTimeout); err != nil {
		t.Fatal(err)
	}
}
