package nlevents_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
	"golang.org/x/sys/unix"

	"github.com/nlevents/nlevents"
	"github.com/nlevents/nlevents/testutil"
)

// loopFunction is the function that every subscription's goroutine runs.
const loopFunction = "nlevents.(*loop).run"

// waitForStackGone waits until no goroutine's stack has a call to the
// function fn, and fails the test after waitTimeout.
func waitForStackGone(t *testing.T, fn string) {
	t.Helper()
	deadline := time.Now().Add(waitTimeout)
	buf := make([]byte, 1<<20)
	for {
		n := runtime.Stack(buf, true)
		if !stackHasCall(buf[:n], fn) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("a goroutine still runs %s after %v; stacks:\n%s", fn, waitTimeout, buf[:n])
		}
		time.Sleep(time.Millisecond) // polls a condition; not a settling delay
	}
}

// requireClosed fails the test unless both channels are closed and empty.
// Callers first wait for the loop to end, so a closed channel is ready at
// once. The timeout turns a channel left open into a failure, not a hang.
func requireClosed(t *testing.T, events <-chan nlevents.Event, errs <-chan error) {
	t.Helper()
	select {
	case ev, ok := <-events:
		require.False(t, ok, "event channel still open, got %v", ev)
	case <-time.After(waitTimeout):
		t.Fatal("event channel not closed")
	}
	select {
	case err, ok := <-errs:
		require.False(t, ok, "error channel still open, got %v", err)
	case <-time.After(waitTimeout):
		t.Fatal("error channel not closed")
	}
}

// prepareLeakCheck warms up what the runtime and the test helpers open once
// per process (the netpoller, exec's pipes), then checks at cleanup that no
// fd and no goroutine remains.
func prepareLeakCheck(t *testing.T, ns *testutil.NetNS) {
	t.Helper()
	ns.IP(t, "link", "show")
	openFDs(t)
	checkNoFDLeak(t)

	// Goroutines that run already belong to earlier tests, which
	// TestMain's check covers.
	existing := goleak.IgnoreCurrent()
	t.Cleanup(func() { goleak.VerifyNone(t, existing) })
}

func TestIntegrationCancelIdle(t *testing.T) {
	ns := testutil.NewNetNS(t)
	prepareLeakCheck(t, ns)

	ctx, cancel := context.WithCancel(context.Background())
	events, errs, err := nlevents.Subscribe(ctx, nlevents.Link|nlevents.Addr, nlevents.WithNetNSPath(ns.Path))
	require.NoError(t, err)
	waitForStack(t, "(*loop).wait")

	cancel()
	waitForStackGone(t, loopFunction)
	requireClosed(t, events, errs)
}

func TestIntegrationCancelWhileSending(t *testing.T) {
	ns := testutil.NewNetNS(t)
	prepareLeakCheck(t, ns)

	ctx, cancel := context.WithCancel(context.Background())
	events, errs, err := nlevents.Subscribe(ctx, nlevents.Link|nlevents.Addr, nlevents.WithNetNSPath(ns.Path))
	require.NoError(t, err)

	// The test does not read, so the loop blocks sending the first event
	// while the others wait in the socket.
	ns.AddVeth(t, "va", "vb")
	ns.IP(t, "addr", "add", "192.0.2.1/24", "dev", "va")
	waitForStack(t, "(*loop).sendEvent")

	cancel()
	waitForStackGone(t, loopFunction)
	requireClosed(t, events, errs)
}

func TestIntegrationCancelWhileSendingError(t *testing.T) {
	ns := testutil.NewNetNS(t)
	prepareLeakCheck(t, ns)

	ctx, cancel := context.WithCancel(context.Background())
	events, errs, err := nlevents.Subscribe(ctx, nlevents.Addr, nlevents.WithNetNSPath(ns.Path), nlevents.WithReceiveBuffer(4096))
	require.NoError(t, err)

	// Reading one event and then stopping leaves the loop blocked sending
	// ErrOverrun for the burst that overflowed the small buffer.
	ns.AddVeth(t, "va", "vb")
	ns.IP(t, "addr", "add", "10.0.0.1/32", "dev", "va")
	waitForStack(t, "(*loop).sendEvent")
	var script strings.Builder
	for i := 2; i < 300; i++ {
		fmt.Fprintf(&script, "addr add 10.0.%d.%d/32 dev va\n", i/250, i%250+1)
	}
	ipBatch(t, ns, script.String())
	testutil.WaitFor(t, events, errs, waitTimeout, func(*nlevents.AddrEvent) bool { return true })
	waitForStack(t, "(*loop).sendError")

	cancel()
	waitForStackGone(t, loopFunction)
	requireClosed(t, events, errs)
}

func TestIntegrationCancelConcurrently(t *testing.T) {
	ns := testutil.NewNetNS(t)
	prepareLeakCheck(t, ns)

	const subscriptions, cancellers = 20, 50
	parent, cancelParent := context.WithCancel(context.Background())
	defer cancelParent()
	var cancels []context.CancelFunc
	var channels []struct {
		events <-chan nlevents.Event
		errs   <-chan error
	}
	for range subscriptions {
		ctx, cancel := context.WithCancel(parent)
		events, errs, err := nlevents.Subscribe(ctx, nlevents.Link|nlevents.Addr, nlevents.WithNetNSPath(ns.Path))
		if err != nil {
			cancel()
			cancelParent()
			t.Fatalf("Subscribe: %v", err)
		}
		cancels = append(cancels, cancel)
		channels = append(channels, struct {
			events <-chan nlevents.Event
			errs   <-chan error
		}{events, errs})
	}

	// Half of the consumers read, half do not, while events flow.
	var readers sync.WaitGroup
	for i, c := range channels {
		if i%2 == 1 {
			continue
		}
		readers.Add(1)
		go func() {
			defer readers.Done()
			if err := waitClosed(c.events, c.errs, 2*waitTimeout); err != nil {
				t.Errorf("subscription %d: %v", i, err)
			}
		}()
	}
	ns.AddVeth(t, "va", "vb")

	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range cancellers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			if i%10 == 0 {
				cancelParent()
			}
			for _, cancel := range cancels {
				cancel()
			}
		}()
	}
	close(start)
	wg.Wait()
	readers.Wait()

	waitForStackGone(t, loopFunction)
	for i, c := range channels {
		if i%2 == 1 {
			requireClosed(t, c.events, c.errs)
		}
	}
}

func TestIntegrationSubscribeCancelCycles(t *testing.T) {
	ns := testutil.NewNetNS(t)
	prepareLeakCheck(t, ns)

	const cycles = 1000
	for i := range cycles {
		ctx, cancel := context.WithCancel(context.Background())
		events, errs, err := nlevents.Subscribe(ctx, nlevents.Link|nlevents.Addr|nlevents.Route, nlevents.WithNetNSPath(ns.Path))
		if err != nil {
			cancel()
			t.Fatalf("cycle %d: Subscribe: %v", i, err)
		}
		cancel()
		if err := waitClosed(events, errs, waitTimeout); err != nil {
			t.Fatalf("cycle %d: %v", i, err)
		}
	}
	testutil.CheckThreadNamespaces(t)
}

// rtmNewLink is RTM_NEWLINK from linux/rtnetlink.h.
func TestIntegrationUnicastFromProcessDropped(t *testing.T) {
	ns := testutil.NewNetNS(t)
	var portID uint32
	nlevents.HookSocket(t, func(_ int, port uint32) { portID = port })
	events, errs := subscribeNS(t, ns, nlevents.Link)
	require.NotZero(t, portID, "the socket hook did not run")

	// The forger's socket lives in the same namespace, because netlink port
	// ids are per namespace.
	err := ns.Do(func() error {
		fd, err := unix.Socket(unix.AF_NETLINK, unix.SOCK_RAW|unix.SOCK_CLOEXEC, unix.NETLINK_ROUTE)
		if err != nil {
			return fmt.Errorf("socket: %w", err)
		}
		defer unix.Close(fd)
		return unix.Sendto(fd, forgedLink("forged0"), 0, &unix.SockaddrNetlink{Family: unix.AF_NETLINK, Pid: portID})
	})
	require.NoError(t, err, "send the forged message")

	items := addMarker(t, ns, events, errs)
	for _, it := range items {
		require.NoError(t, it.Err)
		if l, ok := it.Event.(*nlevents.LinkEvent); ok {
			assert.NotEqual(t, "forged0", l.Name, "forged message delivered: %v", l)
		}
	}
}

func TestIntegrationFDAbove1024(t *testing.T) {
	ns := testutil.NewNetNS(t)
	prepareLeakCheck(t, ns)

	var limit unix.Rlimit
	require.NoError(t, unix.Getrlimit(unix.RLIMIT_NOFILE, &limit))
	if limit.Cur < 1200 {
		t.Skipf("the open file limit is %d; the test needs 1200 (ulimit -n 1200)", limit.Cur)
	}

	// Fill every fd number up to 1100, so that the socket and the pipe
	// get numbers that select(2) could not watch.
	devNull, err := unix.Open("/dev/null", unix.O_RDONLY|unix.O_CLOEXEC, 0)
	require.NoError(t, err)
	fillers := []int{devNull}
	t.Cleanup(func() {
		for _, fd := range fillers {
			unix.Close(fd)
		}
	})
	for {
		fd, err := unix.Dup(devNull)
		require.NoError(t, err, "dup")
		fillers = append(fillers, fd)
		if fd >= 1100 {
			break
		}
	}

	var socketFD int
	nlevents.HookSocket(t, func(fd int, _ uint32) { socketFD = fd })
	ctx, cancel := context.WithCancel(context.Background())
	events, errs, err := nlevents.Subscribe(ctx, nlevents.Link, nlevents.WithNetNSPath(ns.Path))
	require.NoError(t, err)
	defer cancel()
	assert.Greater(t, socketFD, 1024, "socket fd")

	ns.IP(t, "link", "add", "br0", "type", "bridge")
	ev := testutil.WaitFor(t, events, errs, waitTimeout, func(e *nlevents.LinkEvent) bool { return e.Name == "br0" })
	assert.Equal(t, "bridge", ev.Kind)

	cancel()
	require.NoError(t, waitClosed(events, errs, waitTimeout))
	waitForStackGone(t, loopFunction)
}

func TestIntegrationSocketFailureTerminal(t *testing.T) {
	ns := testutil.NewNetNS(t)
	prepareLeakCheck(t, ns)

	var socketFD int
	nlevents.HookSocket(t, func(fd int, _ uint32) { socketFD = fd })
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	events, errs, err := nlevents.Subscribe(ctx, nlevents.Link, nlevents.WithNetNSPath(ns.Path))
	require.NoError(t, err)

	// Replacing the socket's fd number with /dev/null makes the next
	// recvfrom fail with ENOTSOCK, as a broken socket would. The loop then
	// closes the /dev/null fd, so nothing leaks. The change wakes the loop,
	// which still waits on the original socket.
	devNull, err := unix.Open("/dev/null", unix.O_RDONLY|unix.O_CLOEXEC, 0)
	require.NoError(t, err)
	require.NoError(t, unix.Dup3(devNull, socketFD, unix.O_CLOEXEC))
	require.NoError(t, unix.Close(devNull))
	ns.IP(t, "link", "add", "br0", "type", "bridge")

	items := testutil.Collect(t, events, errs, waitTimeout, func(it testutil.Item) bool { return it.Err != nil })
	last := items[len(items)-1].Err
	assert.ErrorIs(t, last, unix.ENOTSOCK)
	assert.NotErrorIs(t, last, nlevents.ErrOverrun)
	var decodeErr *nlevents.DecodeError
	assert.False(t, errors.As(last, &decodeErr), "terminal error is a *DecodeError: %v", last)

	// A terminal error is the last value: both channels close without
	// cancellation.
	waitForStackGone(t, loopFunction)
	requireClosed(t, events, errs)
}

// signalAllThreads sends sig to every thread of the process. The Go runtime
// uses SIGURG for preemption and ignores it otherwise, so it is safe to send,
// and it interrupts a poll(2) that any thread is blocked in with EINTR.
func signalAllThreads(t *testing.T, sig unix.Signal) {
	t.Helper()
	tasks, err := os.ReadDir("/proc/self/task")
	require.NoError(t, err)
	for _, task := range tasks {
		tid, err := strconv.Atoi(task.Name())
		require.NoError(t, err)
		// A thread may exit between the listing and the signal.
		if err := unix.Tgkill(os.Getpid(), tid, sig); err != nil && !errors.Is(err, unix.ESRCH) {
			t.Fatalf("tgkill %d: %v", tid, err)
		}
	}
}

func TestIntegrationSignalsDuringPoll(t *testing.T) {
	ns := testutil.NewNetNS(t)
	events, errs := subscribeNS(t, ns, nlevents.Link)

	for range 50 {
		waitForStack(t, "(*loop).wait")
		signalAllThreads(t, unix.SIGURG)
	}

	ns.IP(t, "link", "add", "br0", "type", "bridge")
	items := testutil.Collect(t, events, errs, waitTimeout, func(it testutil.Item) bool {
		l, ok := it.Event.(*nlevents.LinkEvent)
		return it.Err != nil || ok && l.Name == "br0"
	})
	for _, it := range items {
		assert.NoError(t, it.Err, "error after signals")
	}
}
