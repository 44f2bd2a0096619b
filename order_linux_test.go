package nlevents_test

import (
	"errors"
	"fmt"
	"runtime"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/nlevents/nlevents"
	"github.com/nlevents/nlevents/testutil"
)

// describeScripted names the events that TestIntegrationScriptedOrder's
// script causes, and returns "" for the others (link-local addresses,
// operational state changes, ...).
func describeScripted(ev nlevents.Event) string {
	verb := "add"
	if ev.EventInfo().Deleted {
		verb = "del"
	}
	switch e := ev.(type) {
	case *nlevents.AddrEvent:
		if e.Prefix.Addr().Is4() && e.Prefix.Addr().As4()[0] == 10 {
			return fmt.Sprintf("addr %s %v", verb, e.Prefix)
		}
	case *nlevents.RuleEvent:
		if e.Priority >= 100 && e.Priority < 200 {
			return fmt.Sprintf("rule %s %d", verb, e.Priority)
		}
	case *nlevents.LinkEvent:
		if e.Name == "va" && e.MTU != 1500 {
			return fmt.Sprintf("link va mtu %d", e.MTU)
		}
	}
	return ""
}

func TestIntegrationScriptedOrder(t *testing.T) {
	ns := testutil.NewNetNS(t)
	ns.AddVeth(t, "va", "vb")
	events, errs := subscribeNS(t, ns, nlevents.Link|nlevents.IPv4Addr|nlevents.IPv4Rule, nlevents.WithStrictDecode())

	// The script interleaves three object kinds, so that an event source
	// that reorders kinds (one goroutine or queue per kind) fails.
	var script strings.Builder
	var want []string
	for i := 1; i <= 30; i++ {
		fmt.Fprintf(&script, "addr add 10.0.0.%d/32 dev va\n", i)
		want = append(want, fmt.Sprintf("addr add 10.0.0.%d/32", i))
		if i%3 == 0 {
			fmt.Fprintf(&script, "rule add priority %d table %d\n", 100+i, 100+i)
			want = append(want, fmt.Sprintf("rule add %d", 100+i))
		}
		if i%5 == 0 {
			fmt.Fprintf(&script, "link set va mtu %d\n", 1400+i)
			want = append(want, fmt.Sprintf("link va mtu %d", 1400+i))
		}
		if i%4 == 0 {
			fmt.Fprintf(&script, "addr del 10.0.0.%d/32 dev va\n", i-1)
			want = append(want, fmt.Sprintf("addr del 10.0.0.%d/32", i-1))
		}
		if i%6 == 0 {
			fmt.Fprintf(&script, "rule del priority %d\n", 100+i-3)
			want = append(want, fmt.Sprintf("rule del %d", 100+i-3))
		}
	}
	ipBatch(t, ns, script.String())

	items := addMarker(t, ns, events, errs)

	// The loop reuses its receive buffer, and names alias each event's own
	// copy of the bytes. Reading them after everything arrived, and after a
	// collection, catches an event that aliases the buffer or memory the
	// collector has freed.
	runtime.GC()
	var got []string
	for _, it := range items {
		require.NoError(t, it.Err)
		if d := describeScripted(it.Event); d != "" {
			got = append(got, d)
		}
		if l, ok := it.Event.(*nlevents.LinkEvent); ok {
			msg, err := l.Message()
			require.NoError(t, err)
			assert.Equal(t, msg.Attributes.Name, l.Name, "Name of %v", l)
		}
		if a, ok := it.Event.(*nlevents.AddrEvent); ok && a.Family == 2 {
			msg, err := a.Message()
			require.NoError(t, err)
			assert.Equal(t, msg.Attributes.Label, a.Label, "Label of %v", a)
		}
	}
	assert.Equal(t, want, got)
}

// TestIntegrationOverrunInSequence pauses the consumer while a burst of
// changes overflows a small receive buffer. ErrOverrun must come between the
// events read before the drop and those read after it, and both groups must
// keep the order of the changes.
func TestIntegrationOverrunInSequence(t *testing.T) {
	ns := testutil.NewNetNS(t)
	ns.AddVeth(t, "va", "vb")
	events, errs := subscribeNS(t, ns, nlevents.IPv4Addr, nlevents.WithReceiveBuffer(4096))

	// The first change makes the loop block sending its event, because
	// the test does not read; the rest queue in the socket until it overflows.
	const burst = 400
	ns.IP(t, "addr", "add", "10.1.0.1/32", "dev", "va")
	waitForStack(t, "(*loop).sendEvent")
	var script strings.Builder
	for i := 1; i < burst; i++ {
		fmt.Fprintf(&script, "addr add 10.1.%d.%d/32 dev va\n", i/250, i%250+1)
	}
	ipBatch(t, ns, script.String())

	items := testutil.Collect(t, events, errs, waitTimeout, func(it testutil.Item) bool {
		return errors.Is(it.Err, nlevents.ErrOverrun)
	})

	// The events queued before the drop follow the error. Reading stops at
	// the first of them: while the queue is not empty, the kernel drops new
	// notifications without reporting a new overrun, so no later change
	// could mark the end of the queue.
	items = append(items, testutil.Collect(t, events, errs, waitTimeout, func(it testutil.Item) bool {
		return it.Event != nil
	})...)

	overrun := -1
	previous := -1
	for i, it := range items {
		if it.Err != nil {
			require.ErrorIs(t, it.Err, nlevents.ErrOverrun, "item %d", i)
			if overrun < 0 {
				overrun = i
			}
			continue
		}
		a, ok := it.Event.(*nlevents.AddrEvent)
		require.True(t, ok, "item %d is %T", i, it.Event)
		b := a.Prefix.Addr().As4()
		n := int(b[2])*250 + int(b[3]) - 1
		assert.Greater(t, n, previous, "item %d (%v) came after a later change", i, a.Prefix)
		previous = n
	}
	require.GreaterOrEqual(t, overrun, 1, "no ErrOverrun after an event; read %d items", len(items))
	assert.Less(t, overrun, len(items)-1, "ErrOverrun is not followed by the events queued before the drop")
	t.Logf("read %d items for %d changes; first ErrOverrun at %d", len(items), burst, overrun)
}
