package nlevents_test

import (
	"context"
	"errors"
	"runtime"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/nlevents/nlevents"
	"github.com/nlevents/nlevents/testutil"
)

func TestIntegrationStreamBreak(t *testing.T) {
	ns := testutil.NewNetNS(t)
	prepareLeakCheck(t, ns)

	existing := goleak.IgnoreCurrent()
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()

	// The change is made from inside the loop, after the dump's SyncEvent,
	// when the subscription is known to listen.
	started := false
	var got []string
	for ev, err := range nlevents.Stream(ctx, nlevents.Link, nlevents.WithNetNSPath(ns.Path), nlevents.WithInitialDump()) {
		require.NoError(t, err)
		if _, ok := ev.(*nlevents.SyncEvent); ok && !started {
			started = true
			ns.IP(t, "link", "add", "br0", "type", "bridge")
			continue
		}
		if l, ok := ev.(*nlevents.LinkEvent); ok && l.Name == "br0" {
			got = append(got, l.Name)
			break
		}
	}
	require.NoError(t, ctx.Err(), "the event did not arrive before the timeout")
	assert.Equal(t, []string{"br0"}, got)

	// Stream returns once both channels are closed. The goroutine returns
	// just after closing them, and goleak's retries cover that last step.
	goleak.VerifyNone(t, existing)
	assert.False(t, stackHasCall([]byte(stacks()), loopFunction), "loop goroutine after break")
}

func TestIntegrationStreamCancel(t *testing.T) {
	ns := testutil.NewNetNS(t)
	prepareLeakCheck(t, ns)

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan int)
	go func() {
		steps := 0
		for range nlevents.Stream(ctx, nlevents.Link, nlevents.WithNetNSPath(ns.Path)) {
			steps++
		}
		done <- steps
	}()

	waitForStack(t, "(*loop).wait")
	cancel()
	select {
	case steps := <-done:
		assert.Zero(t, steps, "steps before cancellation")
	case <-time.After(waitTimeout):
		t.Fatal("range over Stream did not end after cancellation")
	}
}

func TestStreamSetupError(t *testing.T) {
	var steps int
	for ev, err := range nlevents.Stream(context.Background(), 0) {
		steps++
		assert.Nil(t, ev, "event")
		assert.ErrorIs(t, err, nlevents.ErrNoGroups)
	}
	assert.Equal(t, 1, steps, "steps")
}

// TestIntegrationStreamOnCallerGoroutine checks that the loop's body runs
// on the goroutine of the subscription's loop: no goroutine and no channel
// stand between the socket and the consumer.
func TestIntegrationStreamOnCallerGoroutine(t *testing.T) {
	ns := testutil.NewNetNS(t)
	prepareLeakCheck(t, ns)
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()

	buf := make([]byte, 64<<10)
	var stack string
	for ev, err := range nlevents.Stream(ctx, nlevents.Link, nlevents.WithNetNSPath(ns.Path), nlevents.WithInitialDump()) {
		require.NoError(t, err)
		if _, ok := ev.(*nlevents.SyncEvent); ok {
			stack = string(buf[:runtime.Stack(buf, false)])
			break
		}
	}
	require.NoError(t, ctx.Err(), "no SyncEvent before the timeout")
	assert.True(t, stackHasCall([]byte(stack), loopFunction), "the body's goroutine does not run the loop; its stack:\n%s", stack)
}

// TestIntegrationStreamCancelInBody cancels the context from the loop's
// body while more dumped links are already read: none of them is yielded.
func TestIntegrationStreamCancelInBody(t *testing.T) {
	ns := testutil.NewNetNS(t)
	prepareLeakCheck(t, ns)
	ns.AddVeth(t, "va", "vb")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()

	steps := 0
	for _, err := range nlevents.Stream(ctx, nlevents.Link, nlevents.WithNetNSPath(ns.Path), nlevents.WithInitialDump()) {
		require.NoError(t, err)
		steps++
		cancel()
	}
	assert.Equal(t, 1, steps, "steps; the dump has 3 links and a SyncEvent")
}

// TestIntegrationStreamPanicInBody checks that a panic in the loop's body
// reaches the caller, and that the socket and pipe are closed on the way.
func TestIntegrationStreamPanicInBody(t *testing.T) {
	ns := testutil.NewNetNS(t)
	prepareLeakCheck(t, ns)
	errBody := errors.New("panic in the loop's body")

	recovered := func() (r any) {
		defer func() { r = recover() }()
		for range nlevents.Stream(context.Background(), nlevents.Link, nlevents.WithNetNSPath(ns.Path), nlevents.WithInitialDump()) {
			panic(errBody)
		}
		return nil
	}()
	assert.Equal(t, errBody, recovered, "value recovered from the range")
}
