// Package testutil helps test code that uses nlevents against the real
// kernel: network namespaces made and removed per test, veth pairs in them,
// and reading events until a condition holds or a timeout passes.
package testutil

import (
	"strings"
	"testing"
	"time"

	"github.com/nlevents/nlevents"
)

// Item is one value read from a subscription: an event or an error.
type Item struct {
	Event nlevents.Event // the event, or nil for an error
	Err   error          // the error, or nil for an event
}

// String prints the event or the error.
func (it Item) String() string {
	if it.Err != nil {
		return "error: " + it.Err.Error()
	}
	if it.Event == nil {
		return "<nil>"
	}
	return it.Event.String()
}

// Collect reads events and errors in the order they come until until
// returns true for one of them, and returns everything read, that one
// included. It fails the test, listing what it read, when timeout passes
// first or the channels close.
func Collect(t testing.TB, events <-chan nlevents.Event, errs <-chan error, timeout time.Duration, until func(Item) bool) []Item {
	t.Helper()
	timer := time.NewTimer(timeout)
	defer timer.Stop()

	var items []Item
	for {
		var it Item
		select {
		case ev, ok := <-events:
			if !ok {
				t.Fatalf("testutil: event channel closed before the condition held; read:\n%s", list(items))
			}
			it.Event = ev
		case err, ok := <-errs:
			if !ok {
				t.Fatalf("testutil: error channel closed before the condition held; read:\n%s", list(items))
			}
			it.Err = err
		case <-timer.C:
			t.Fatalf("testutil: condition did not hold within %v; read:\n%s", timeout, list(items))
		}

		items = append(items, it)
		if until(it) {
			return items
		}
	}
}

// WaitFor reads until an event of type T for which match returns true
// arrives, and returns it. Other events are skipped; an error fails the
// test, as does the timeout.
func WaitFor[T nlevents.Event](t testing.TB, events <-chan nlevents.Event, errs <-chan error, timeout time.Duration, match func(T) bool) T {
	t.Helper()
	var found T
	items := Collect(t, events, errs, timeout, func(it Item) bool {
		if it.Err != nil {
			return true
		}
		ev, ok := it.Event.(T)
		if ok && match(ev) {
			found = ev
			return true
		}
		return false
	})

	if last := items[len(items)-1]; last.Err != nil {
		t.Fatalf("testutil: error while waiting: %v; read:\n%s", last.Err, list(items))
	}
	return found
}

func list(items []Item) string {
	if len(items) == 0 {
		return "  (nothing)"
	}
	var b strings.Builder
	for _, it := range items {
		b.WriteString("  ")
		b.WriteString(it.String())
		b.WriteString("\n")
	}
	return b.String()
}
