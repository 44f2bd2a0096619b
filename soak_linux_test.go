package nlevents_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jsimonetti/rtnetlink/v2"
	"github.com/mdlayher/netlink"
	"go.uber.org/goleak"
	"golang.org/x/sys/unix"

	"github.com/nlevents/nlevents"
	"github.com/nlevents/nlevents/testutil"
)

// soakCycles is the number of subscribe/cancel cycles of the soak test.
const soakCycles = 10_000

// dialNS opens an rtnetlink/v2 connection inside ns, closed at cleanup, for
// tests that change the namespace faster than forking ip allows.
func dialNS(t *testing.T, ns *testutil.NetNS) *rtnetlink.Conn {
	t.Helper()
	nsFile, err := os.Open(ns.Path)
	if err != nil {
		t.Fatalf("open %s: %v", ns.Path, err)
	}
	defer nsFile.Close()

	conn, err := rtnetlink.Dial(&netlink.Config{NetNS: int(nsFile.Fd())})
	if err != nil {
		t.Fatalf("dial rtnetlink in %s: %v", ns.Name, err)
	}
	t.Cleanup(func() { conn.Close() })
	return conn
}

// churn adds and deletes IPv4 addresses on the link with index until stop
// is closed, so that the kernel notifies an address and a local route on
// each change. It counts the changes in changes, reports a failure with
// t.Errorf, and closes done when it returns.
func churn(t *testing.T, conn *rtnetlink.Conn, index uint32, stop <-chan struct{}, changes *atomic.Int64, done chan<- struct{}) {
	defer close(done)
	for i := 0; ; i++ {
		select {
		case <-stop:
			return
		default:
		}

		ip := net.IPv4(198, 18, byte(i>>8), byte(i)).To4()
		msg := &rtnetlink.AddressMessage{
			Family:       unix.AF_INET,
			PrefixLength: 32,
			Index:        index,
			Attributes:   &rtnetlink.AddressAttributes{Address: ip, Local: ip},
		}
		if err := conn.Address.New(msg); err != nil {
			t.Errorf("add address %v: %v", ip, err)
			return
		}
		if err := conn.Address.Delete(msg); err != nil {
			t.Errorf("delete address %v: %v", ip, err)
			return
		}
		changes.Add(2)
	}
}

// TestIntegrationSoakSubscribeCancel subscribes and cancels soakCycles
// times while another goroutine keeps changing the namespace, with the
// cancellation at different points of the event flow, and then checks that
// no goroutine and no fd is left.
func TestIntegrationSoakSubscribeCancel(t *testing.T) {
	if testing.Short() {
		t.Skip("soak test: runs for tens of seconds; skipped with -short")
	}
	ns := testutil.NewNetNS(t)
	ns.AddVeth(t, "va", "vb")
	index := uint32(ns.LinkIndex(t, "va"))
	conn := dialNS(t, ns)

	// One cycle first, so that what the runtime opens once per process
	// (the netpoller) is open before the counts are taken.
	soakCycle(t, 0, ns, nil)
	fdsBefore, fdListBefore := fdTargets(t), listFDs()
	goroutinesBefore := goleak.IgnoreCurrent()

	stop := make(chan struct{})
	churnDone := make(chan struct{})
	var changes atomic.Int64
	go churn(t, conn, index, stop, &changes, churnDone)

	rng := rand.New(rand.NewPCG(1, 2))
	var stats soakStats
	start := time.Now()
	for i := 1; i <= soakCycles && !t.Failed(); i++ {
		soakCycle(t, i, ns, rng).add(&stats)
	}
	elapsed := time.Since(start)
	close(stop)
	<-churnDone

	t.Logf("%d cycles in %v (%v per cycle); %d changes made; %d events and %d overruns read before cancel",
		soakCycles, elapsed.Round(time.Millisecond), (elapsed / soakCycles).Round(time.Microsecond),
		changes.Load(), stats.events, stats.overruns)
	t.Logf("%d values read after cancel, at most %d in one cycle that cancelled before draining",
		stats.afterCancel, stats.maxAfterCancel)
	if stats.events == 0 {
		t.Errorf("no event read in %d cycles: the namespace changes did not reach the subscriptions", soakCycles)
	}

	goleak.VerifyNone(t, goroutinesBefore)
	// NB: new fds are compared, not counts, because an fd that another part
	// of the process opened before the cycles may be closed during them.
	if added := newFDs(t, fdsBefore); len(added) > 0 {
		t.Errorf("%d fds opened by the cycles are still open: %v; before:\n%s", len(added), added, fdListBefore)
	}
}

// soakStats counts what soak cycles read.
type soakStats struct {
	events      int
	overruns    int
	afterCancel int // events and errors read between cancel and the close of both channels
	// maxAfterCancel is the largest afterCancel of a cycle that called
	// cancel itself before draining, not from another goroutine.
	maxAfterCancel int
}

func (s soakStats) add(total *soakStats) {
	total.events += s.events
	total.overruns += s.overruns
	total.afterCancel += s.afterCancel
	total.maxAfterCancel = max(total.maxAfterCancel, s.maxAfterCancel)
}

// soakCycle subscribes in ns, with or without an initial dump, reads
// according to a pattern chosen by rng, cancels, and reads until both
// channels close. With a nil rng it cancels at once.
func soakCycle(t *testing.T, cycle int, ns *testutil.NetNS, rng *rand.Rand) soakStats {
	t.Helper()
	opts := []nlevents.Option{nlevents.WithNetNSPath(ns.Path)}
	pattern := 0
	if rng != nil {
		pattern = rng.IntN(4)
		// Half of the cycles start with a dump, a burst that the
		// cancellation can interrupt.
		if rng.IntN(2) == 0 {
			opts = append(opts, nlevents.WithInitialDump())
		}
	}

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	events, errs, err := nlevents.Subscribe(ctx, nlevents.Link|nlevents.IPv4Addr|nlevents.IPv4Route, opts...)
	if err != nil {
		t.Fatalf("cycle %d: Subscribe: %v", cycle, err)
	}

	var stats soakStats
	switch pattern {
	case 0:
		// Cancel before reading anything.
		cancel()
	case 1:
		// Read a few values, then cancel while more are queued.
		for range 1 + rng.IntN(3) {
			if !readOne(t, cycle, events, errs, &stats) {
				return stats
			}
		}
		cancel()
	case 2:
		// Cancel from another goroutine while this one keeps reading: the
		// cancellation races with the loop's sends.
		if !readOne(t, cycle, events, errs, &stats) {
			return stats
		}
		go cancel()
	case 3:
		// Stop reading until the loop is blocked on a send, then cancel.
		if !readOne(t, cycle, events, errs, &stats) {
			return stats
		}
		waitForStack(t, "(*loop).sendEvent")
		cancel()
	}

	stats.afterCancel = drainCounting(t, cycle, events, errs)
	if pattern != 2 {
		stats.maxAfterCancel = stats.afterCancel
	}
	return stats
}

// readOne reads one event or error, failing the test on anything but an
// event or ErrOverrun, or when nothing comes within waitTimeout. It returns
// false when the test failed.
func readOne(t *testing.T, cycle int, events <-chan nlevents.Event, errs <-chan error, stats *soakStats) bool {
	t.Helper()
	timer := time.NewTimer(waitTimeout)
	defer timer.Stop()

	select {
	case ev, ok := <-events:
		if !ok {
			t.Errorf("cycle %d: event channel closed before cancel", cycle)
			return false
		}
		if ev == nil {
			t.Errorf("cycle %d: nil event", cycle)
			return false
		}
		stats.events++
	case err, ok := <-errs:
		if !ok || !errors.Is(err, nlevents.ErrOverrun) {
			t.Errorf("cycle %d: error channel gave %v (open: %t), want events", cycle, err, ok)
			return false
		}
		stats.overruns++
	case <-timer.C:
		t.Errorf("cycle %d: nothing to read within %v while the namespace was changing", cycle, waitTimeout)
		return false
	}
	return true
}

// drainCounting reads both channels until they close and returns how many
// values it read; it fails the test when they stay open for waitTimeout.
func drainCounting(t *testing.T, cycle int, events <-chan nlevents.Event, errs <-chan error) int {
	t.Helper()
	timer := time.NewTimer(waitTimeout)
	defer timer.Stop()

	read := 0
	for events != nil || errs != nil {
		select {
		case _, ok := <-events:
			if !ok {
				events = nil
				continue
			}
			read++
		case _, ok := <-errs:
			if !ok {
				errs = nil
				continue
			}
			read++
		case <-timer.C:
			t.Fatalf("cycle %d: channels not closed within %v of cancel; %s", cycle, waitTimeout,
				fmt.Sprintf("event channel closed: %t, error channel closed: %t", events == nil, errs == nil))
		}
	}
	return read
}
