package nlevents_test

import (
	"context"
	"fmt"
	"os"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nlevents/nlevents"
	"github.com/nlevents/nlevents/testutil"
)

// waitTimeout bounds every wait for the kernel or the loop. Changes made with
// ip are notified within milliseconds; the margin is for loaded CI machines.
const waitTimeout = 5 * time.Second

// subscribeNS subscribes in ns and, at cleanup, cancels the subscription and
// waits until both channels are closed.
func subscribeNS(t *testing.T, ns *testutil.NetNS, groups nlevents.Groups, opts ...nlevents.Option) (<-chan nlevents.Event, <-chan error) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	opts = append([]nlevents.Option{nlevents.WithNetNSPath(ns.Path)}, opts...)
	events, errs, err := nlevents.Subscribe(ctx, groups, opts...)
	if err != nil {
		cancel()
		t.Fatalf("Subscribe(%v) in %s: %v", groups, ns.Name, err)
	}

	t.Cleanup(func() {
		cancel()
		if err := waitClosed(events, errs, waitTimeout); err != nil {
			t.Errorf("after cancel: %v", err)
		}
	})
	return events, errs
}

// waitClosed reads both channels until they are closed, discarding what
// they carry, and returns an error when that takes longer than timeout.
func waitClosed(events <-chan nlevents.Event, errs <-chan error, timeout time.Duration) error {
	timer := time.NewTimer(timeout)
	defer timer.Stop()

	for events != nil || errs != nil {
		select {
		case _, ok := <-events:
			if !ok {
				events = nil
			}
		case _, ok := <-errs:
			if !ok {
				errs = nil
			}
		case <-timer.C:
			return fmt.Errorf("channels not closed within %v (events closed: %t, errors closed: %t)",
				timeout, events == nil, errs == nil)
		}
	}
	return nil
}

// openFDs returns the number of open file descriptors of the process. The
// directory read opens one fd itself, the same one on every call.
func openFDs(t testing.TB) int {
	t.Helper()
	entries, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Fatalf("list open fds: %v", err)
	}
	return len(entries)
}

// listFDs describes the open file descriptors, for failure messages.
func listFDs() string {
	entries, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		return err.Error()
	}
	var b strings.Builder
	for _, e := range entries {
		target, _ := os.Readlink("/proc/self/fd/" + e.Name())
		fmt.Fprintf(&b, "  %s -> %s\n", e.Name(), target)
	}
	return b.String()
}

// checkNoFDLeak records the open fds now and fails the test at cleanup when
// more are open then.
func checkNoFDLeak(t *testing.T) {
	t.Helper()
	before := openFDs(t)
	beforeList := listFDs()
	t.Cleanup(func() {
		if after := openFDs(t); after > before {
			t.Errorf("%d fds open before the test, %d after; before:\n%safter:\n%s", before, after, beforeList, listFDs())
		}
	})
}

// waitForStack waits until some goroutine's stack has a call to the function
// fn, for example "(*loop).sendEvent", and fails the test after waitTimeout.
// It detects that the loop has reached a blocking point, without sleeping for
// a guessed time.
func waitForStack(t *testing.T, fn string) {
	t.Helper()
	deadline := time.Now().Add(waitTimeout)
	buf := make([]byte, 1<<20)
	for {
		n := runtime.Stack(buf, true)
		if stackHasCall(buf[:n], fn) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("no goroutine reached %s within %v; stacks:\n%s", fn, waitTimeout, buf[:n])
		}
		time.Sleep(time.Millisecond) // polls a condition; not a settling delay
	}
}

var markerCount atomic.Int32

// addMarker creates a bridge with a fresh name in ns and reads until its
// link event arrives, returning everything read before and including it.
// Everything the kernel notified before the marker's creation is in the
// result, so a test can check what did and did not arrive. The subscription
// must include the Link group.
func addMarker(t *testing.T, ns *testutil.NetNS, events <-chan nlevents.Event, errs <-chan error) []testutil.Item {
	t.Helper()
	name := fmt.Sprintf("marker%d", markerCount.Add(1))
	ns.IP(t, "link", "add", name, "type", "bridge")
	return testutil.Collect(t, events, errs, waitTimeout, func(it testutil.Item) bool {
		l, ok := it.Event.(*nlevents.LinkEvent)
		return ok && l.Name == name && !l.Deleted
	})
}

// stacks returns the stacks of all goroutines.
func stacks() string {
	buf := make([]byte, 1<<20)
	return string(buf[:runtime.Stack(buf, true)])
}

// stackHasCall reports whether a stack dump has a frame of the function fn.
// The frame's opening parenthesis is part of the match, so that a function
// whose name starts with fn ("waitRoute" for "wait") does not count.
func stackHasCall(stack []byte, fn string) bool {
	return strings.Contains(string(stack), fn+"(")
}

// fdTargets maps each open fd to what it refers to, such as
// "socket:[1234]", so that a check can name the fds a test opened, and
// ignore one that another part of the process closed meanwhile.
func fdTargets(t testing.TB) map[string]string {
	t.Helper()
	entries, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Fatalf("list open fds: %v", err)
	}
	targets := make(map[string]string, len(entries))
	for _, e := range entries {
		target, _ := os.Readlink("/proc/self/fd/" + e.Name())
		targets[e.Name()] = target
	}
	return targets
}

// newFDs lists the fds open now that were not open, to the same target,
// in before.
func newFDs(t testing.TB, before map[string]string) []string {
	t.Helper()
	var added []string
	for fd, target := range fdTargets(t) {
		if before[fd] != target {
			added = append(added, fd+" -> "+target)
		}
	}
	return added
}
