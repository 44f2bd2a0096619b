package main

import (
	"bufio"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"runtime"
	"runtime/pprof"
	"strings"
	"sync/atomic"
	"time"
	_ "unsafe" // for go:linkname

	"github.com/jsimonetti/rtnetlink/v2"
	"github.com/mdlayher/netlink"
	"github.com/nlevents/nlevents"
	vnl "github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// nanotime reads CLOCK_MONOTONIC through the vDSO, as the runtime does.
// That clock is shared by all processes, so the generator's stamps and the
// receiver's compare directly, and reading it needs no system call.
//
//go:linkname nanotime runtime.nanotime
func nanotime() int64

// receiverNames lists the receivers in the order each round runs them.
var receiverNames = []string{"raw", "nlevents", "nlevents-stream", "vishvananda", "mdlayher"}

// result is what a receiver process reports, as JSON on its stdout.
type result struct {
	Received   int64   `json:"received"`    // messages of the workload's group delivered
	Overruns   int64   `json:"overruns"`    // ENOBUFS reported to the consumer
	Errors     int64   `json:"errors"`      // other errors reported
	FirstError string  `json:"first_error"` // the first of those, for the log
	CPUNanos   int64   `json:"cpu_ns"`      // user+sys of this process while receiving
	Switches   int64   `json:"switches"`    // voluntary context switches while receiving
	Mallocs    uint64  `json:"mallocs"`     // heap allocations while receiving
	AllocBytes uint64  `json:"alloc_bytes"` // heap bytes allocated while receiving
	ReceivedAt []int64 `json:"received_at"` // CLOCK_MONOTONIC ns per change number, 0 when not seen
}

// recorder counts events and stamps the first arrival of each change.
// Only the consumer goroutine writes; the watcher reads after the count
// has stopped moving.
type recorder struct {
	received   atomic.Int64
	overruns   atomic.Int64
	errors     atomic.Int64
	firstError atomic.Pointer[string]
	receivedAt []int64
}

func (r *recorder) event(key int) {
	if key >= 0 && key < len(r.receivedAt) && r.receivedAt[key] == 0 {
		r.receivedAt[key] = nanotime()
	}
	r.received.Add(1)
}

func (r *recorder) fail(err error) {
	// vishvananda/netlink v1.3.1 formats the receive error with %v, so
	// ENOBUFS is recognised by its text there.
	if errors.Is(err, unix.ENOBUFS) || errors.Is(err, nlevents.ErrOverrun) ||
		strings.Contains(err.Error(), unix.ENOBUFS.Error()) {
		r.overruns.Add(1)
		return
	}
	r.errors.Add(1)
	msg := err.Error()
	r.firstError.CompareAndSwap(nil, &msg)
}

// runReceiver is the child process: it subscribes with one library, writes
// "ready" to the coordinator, receives until the coordinator has finished
// the workload and no event came for idleTime, then prints its result.
// With queued, it starts consuming only when the workload is over, so that
// every notification is already queued in the socket.
func runReceiver(name string, w workload, changes, rcvbuf int, queued bool) error {
	rec := &recorder{receivedAt: make([]int64, changes)}
	start, err := startReceiver(name, w, rcvbuf, rec)
	if err != nil {
		return err
	}

	if queued {
		fmt.Println("ready")
		if err := waitForDone(); err != nil {
			return err
		}
	}
	runtime.GC()
	var before runtime.MemStats
	runtime.ReadMemStats(&before)
	cpuBefore, switchesBefore, err := cpuTime()
	if err != nil {
		return err
	}
	stopProfile, err := startProfile()
	if err != nil {
		return err
	}
	start()

	if !queued {
		fmt.Println("ready")
		if err := waitForDone(); err != nil {
			return err
		}
	}
	waitIdle(rec)
	stopProfile()

	cpuAfter, switchesAfter, err := cpuTime()
	if err != nil {
		return err
	}
	var after runtime.MemStats
	runtime.ReadMemStats(&after)

	res := result{
		Received:   rec.received.Load(),
		Overruns:   rec.overruns.Load(),
		Errors:     rec.errors.Load(),
		CPUNanos:   cpuAfter - cpuBefore,
		Switches:   switchesAfter - switchesBefore,
		Mallocs:    after.Mallocs - before.Mallocs,
		AllocBytes: after.TotalAlloc - before.TotalAlloc,
		ReceivedAt: rec.receivedAt,
	}
	if msg := rec.firstError.Load(); msg != nil {
		res.FirstError = *msg
	}
	return json.NewEncoder(os.Stdout).Encode(res)
}

// waitForDone blocks until the coordinator writes "done" to stdin.
func waitForDone() error {
	line, err := bufio.NewReader(os.Stdin).ReadString('\n')
	if err != nil {
		return fmt.Errorf("read the coordinator's done line: %w", err)
	}
	if line != "done\n" {
		return fmt.Errorf("unexpected line from the coordinator: %q", line)
	}
	return nil
}

// idleTime is how long the count must stand still after the workload ends
// before the receiver reports; maxDrainTime bounds the wait.
const (
	idleTime     = 250 * time.Millisecond
	maxDrainTime = 60 * time.Second
)

func waitIdle(rec *recorder) {
	deadline := time.Now().Add(maxDrainTime)
	last := rec.received.Load()
	for time.Now().Before(deadline) {
		time.Sleep(idleTime)
		now := rec.received.Load()
		if now == last {
			return
		}
		last = now
	}
}

// cpuTime returns this process's user+sys time in nanoseconds and its
// voluntary context switches: each is a thread that blocked and was woken.
func cpuTime() (nanos, switches int64, err error) {
	var ru unix.Rusage
	if err := unix.Getrusage(unix.RUSAGE_SELF, &ru); err != nil {
		return 0, 0, fmt.Errorf("getrusage: %w", err)
	}
	return ru.Utime.Nano() + ru.Stime.Nano(), ru.Nvcsw, nil
}

// startReceiver subscribes and returns a function that starts consuming.
// Setting up is not measured; consuming is.
func startReceiver(name string, w workload, rcvbuf int, rec *recorder) (func(), error) {
	switch name {
	case "raw":
		return startRaw(w, rcvbuf, rec)
	case "nlevents":
		return startNLEvents(w, rcvbuf, rec)
	case "nlevents-stream":
		return startNLEventsStream(w, rcvbuf, rec)
	case "vishvananda":
		return startVishvananda(w, rcvbuf, rec)
	case "mdlayher":
		return startMdlayher(w, rcvbuf, rec)
	}
	return nil, fmt.Errorf("unknown receiver %q: use %v", name, receiverNames)
}

// startRaw is the floor: a blocking read(2) loop into one buffer that
// frames the messages and reads only the attribute that identifies the
// change, for the latency.
func startRaw(w workload, rcvbuf int, rec *recorder) (func(), error) {
	fd, err := unix.Socket(unix.AF_NETLINK, unix.SOCK_RAW|unix.SOCK_CLOEXEC, unix.NETLINK_ROUTE)
	if err != nil {
		return nil, fmt.Errorf("socket: %w", err)
	}
	if rcvbuf > 0 {
		if err := unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUFFORCE, rcvbuf); err != nil {
			return nil, fmt.Errorf("setsockopt SO_RCVBUFFORCE: %w", err)
		}
	}
	if err := unix.Bind(fd, &unix.SockaddrNetlink{Family: unix.AF_NETLINK, Groups: 1 << (w.group - 1)}); err != nil {
		return nil, fmt.Errorf("bind: %w", err)
	}

	buf := make([]byte, 64<<10)
	consume := func() {
		for {
			n, err := unix.Read(fd, buf)
			switch {
			case err == nil:
			case errors.Is(err, unix.EINTR):
				continue
			default:
				rec.fail(err)
				if errors.Is(err, unix.ENOBUFS) {
					continue
				}
				return
			}
			for b := buf[:n]; len(b) >= 16; {
				length := int(binary.NativeEndian.Uint32(b[0:4]))
				if length < 16 || length > len(b) {
					break
				}
				rec.event(rawKey(w.name, b[:length]))
				b = b[min((length+3)&^3, len(b)):]
			}
		}
	}
	return func() { go consume() }, nil
}

// rawKey reads the change number from a message with the least work: one
// walk over the attributes for the one that encodes it.
func rawKey(workload string, msg []byte) int {
	typ := binary.NativeEndian.Uint16(msg[4:6])
	switch workload {
	case "addr":
		data := rawAttr(msg[16:], 8, unix.IFA_LOCAL)
		if len(data) != 4 {
			return -1
		}
		return pairKey(addrBase, netip.AddrFrom4([4]byte(data)), typ == unix.RTM_DELADDR)
	case "route":
		data := rawAttr(msg[16:], 12, unix.RTA_DST)
		if len(data) != 4 {
			return -1
		}
		return pairKey(routeBase, netip.AddrFrom4([4]byte(data)), typ == unix.RTM_DELROUTE)
	case "link":
		data := rawAttr(msg[16:], 16, unix.IFLA_MTU)
		if len(data) != 4 {
			return -1
		}
		return mtuKey(binary.NativeEndian.Uint32(data))
	}
	return -1
}

func rawAttr(payload []byte, structSize int, want uint16) []byte {
	if len(payload) < structSize {
		return nil
	}
	for b := payload[structSize:]; len(b) >= 4; {
		length := int(binary.NativeEndian.Uint16(b[0:2]))
		if length < 4 || length > len(b) {
			return nil
		}
		if binary.NativeEndian.Uint16(b[2:4])&0x3fff == want {
			return b[4:length]
		}
		b = b[min((length+3)&^3, len(b)):]
	}
	return nil
}

var nleventsGroups = map[uint32]nlevents.Groups{
	unix.RTNLGRP_LINK:        nlevents.Link,
	unix.RTNLGRP_IPV4_IFADDR: nlevents.IPv4Addr,
	unix.RTNLGRP_IPV4_ROUTE:  nlevents.IPv4Route,
}

// startNLEvents consumes with Subscribe and its default options, but for
// the receive buffer when rcvbuf is set.
func startNLEvents(w workload, rcvbuf int, rec *recorder) (func(), error) {
	var opts []nlevents.Option
	if rcvbuf > 0 {
		opts = append(opts, nlevents.WithReceiveBuffer(rcvbuf))
	}
	events, errs, err := nlevents.Subscribe(context.Background(), nleventsGroups[w.group], opts...)
	if err != nil {
		return nil, err
	}

	consume := func() {
		for {
			select {
			case ev := <-events:
				rec.event(nleventsKey(ev))
			case err := <-errs:
				rec.fail(err)
			}
		}
	}
	return func() { go consume() }, nil
}

// startNLEventsStream ranges over nlevents.Stream, which runs the
// subscription on the ranging goroutine. Stream opens its socket when the
// range starts, so the range starts at once, with an initial dump whose
// SyncEvent shows that the socket has joined the group. The loop's body
// then waits for the start of consuming, while notifications queue.
func startNLEventsStream(w workload, rcvbuf int, rec *recorder) (func(), error) {
	opts := []nlevents.Option{nlevents.WithInitialDump()}
	if rcvbuf > 0 {
		opts = append(opts, nlevents.WithReceiveBuffer(rcvbuf))
	}
	ready := make(chan error, 1)
	consume := make(chan struct{})

	go func() {
		synced := false
		for ev, err := range nlevents.Stream(context.Background(), nleventsGroups[w.group], opts...) {
			if !synced {
				if err != nil {
					ready <- err
					return
				}
				if _, ok := ev.(*nlevents.SyncEvent); ok {
					synced = true
					ready <- nil
					<-consume
				}
				continue
			}

			if err != nil {
				rec.fail(err)
				continue
			}
			rec.event(nleventsKey(ev))
		}
		if !synced {
			ready <- errors.New("nlevents.Stream ended before its SyncEvent")
		}
	}()

	if err := <-ready; err != nil {
		return nil, err
	}
	return func() { close(consume) }, nil
}

func nleventsKey(ev nlevents.Event) int {
	switch e := ev.(type) {
	case *nlevents.AddrEvent:
		return pairKey(addrBase, e.Prefix.Addr(), e.Deleted)
	case *nlevents.RouteEvent:
		return pairKey(routeBase, e.Dst.Addr(), e.Deleted)
	case *nlevents.LinkEvent:
		return mtuKey(e.MTU)
	}
	return -1
}

// startVishvananda consumes with the *SubscribeWithOptions function of the
// workload's object kind, on an unbuffered channel as nlevents uses. Its
// goroutine stops at the first receive error, ENOBUFS included.
func startVishvananda(w workload, rcvbuf int, rec *recorder) (func(), error) {
	done := make(chan struct{})
	switch w.group {
	case unix.RTNLGRP_LINK:
		ch := make(chan vnl.LinkUpdate)
		opts := vnl.LinkSubscribeOptions{ErrorCallback: rec.fail, ReceiveBufferSize: rcvbuf, ReceiveBufferForceSize: rcvbuf > 0}
		if err := vnl.LinkSubscribeWithOptions(ch, done, opts); err != nil {
			return nil, err
		}
		return func() {
			go func() {
				for u := range ch {
					rec.event(mtuKey(uint32(u.Link.Attrs().MTU)))
				}
			}()
		}, nil
	case unix.RTNLGRP_IPV4_IFADDR:
		ch := make(chan vnl.AddrUpdate)
		opts := vnl.AddrSubscribeOptions{ErrorCallback: rec.fail, ReceiveBufferSize: rcvbuf, ReceiveBufferForceSize: rcvbuf > 0}
		if err := vnl.AddrSubscribeWithOptions(ch, done, opts); err != nil {
			return nil, err
		}
		return func() {
			go func() {
				for u := range ch {
					rec.event(pairKey(addrBase, ipv4(u.LinkAddress.IP), !u.NewAddr))
				}
			}()
		}, nil
	case unix.RTNLGRP_IPV4_ROUTE:
		ch := make(chan vnl.RouteUpdate)
		opts := vnl.RouteSubscribeOptions{ErrorCallback: rec.fail, ReceiveBufferSize: rcvbuf, ReceiveBufferForceSize: rcvbuf > 0}
		if err := vnl.RouteSubscribeWithOptions(ch, done, opts); err != nil {
			return nil, err
		}
		return func() {
			go func() {
				for u := range ch {
					var dst net.IP
					if u.Dst != nil {
						dst = u.Dst.IP
					}
					rec.event(pairKey(routeBase, ipv4(dst), u.Type == unix.RTM_DELROUTE))
				}
			}()
		}, nil
	}
	return nil, fmt.Errorf("no vishvananda subscription for group %d", w.group)
}

func ipv4(ip net.IP) netip.Addr {
	addr, _ := netip.AddrFromSlice(ip.To4())
	return addr
}

// startMdlayher consumes with netlink.Conn.Receive and decodes each
// message with rtnetlink/v2's UnmarshalBinary, as a program built on those
// two packages does.
func startMdlayher(w workload, rcvbuf int, rec *recorder) (func(), error) {
	conn, err := netlink.Dial(unix.NETLINK_ROUTE, &netlink.Config{Groups: 1 << (w.group - 1)})
	if err != nil {
		return nil, err
	}
	if rcvbuf > 0 {
		if err := forceReadBuffer(conn, rcvbuf); err != nil {
			return nil, err
		}
	}

	consume := func() {
		for {
			msgs, err := conn.Receive()
			if err != nil {
				rec.fail(err)
				if errors.Is(err, unix.ENOBUFS) {
					continue
				}
				return
			}
			for _, m := range msgs {
				rec.event(mdlayherKey(m))
			}
		}
	}
	return func() { go consume() }, nil
}

func forceReadBuffer(conn *netlink.Conn, bytes int) error {
	raw, err := conn.SyscallConn()
	if err != nil {
		return err
	}
	var sockErr error
	err = raw.Control(func(fd uintptr) {
		sockErr = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_RCVBUFFORCE, bytes)
	})
	return errors.Join(err, sockErr)
}

func mdlayherKey(m netlink.Message) int {
	switch m.Header.Type {
	case unix.RTM_NEWADDR, unix.RTM_DELADDR:
		var am rtnetlink.AddressMessage
		if am.UnmarshalBinary(m.Data) != nil || am.Attributes == nil {
			return -1
		}
		return pairKey(addrBase, ipv4(am.Attributes.Local), m.Header.Type == unix.RTM_DELADDR)
	case unix.RTM_NEWROUTE, unix.RTM_DELROUTE:
		var rm rtnetlink.RouteMessage
		if rm.UnmarshalBinary(m.Data) != nil {
			return -1
		}
		return pairKey(routeBase, ipv4(rm.Attributes.Dst), m.Header.Type == unix.RTM_DELROUTE)
	case unix.RTM_NEWLINK, unix.RTM_DELLINK:
		var lm rtnetlink.LinkMessage
		if lm.UnmarshalBinary(m.Data) != nil || lm.Attributes == nil {
			return -1
		}
		return mtuKey(lm.Attributes.MTU)
	}
	return -1
}

// startProfile writes a CPU profile of the receiving to the file that
// NLBENCH_CPUPROFILE names, when it is set. The profile's own cost is then
// part of the figures.
func startProfile() (stop func(), err error) {
	path := os.Getenv("NLBENCH_CPUPROFILE")
	if path == "" {
		return func() {}, nil
	}
	f, err := os.Create(path)
	if err != nil {
		return nil, err
	}
	// NB: the default 100 Hz gives too few samples for a run of a second;
	// the runtime warns that the rate was set before starting.
	runtime.SetCPUProfileRate(2000)
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, err
	}
	return func() {
		pprof.StopCPUProfile()
		f.Close()
	}, nil
}
