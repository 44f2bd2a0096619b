package apply

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/nlevents/nlevents"
)

// Timing of Enforce.
const (
	// settleDelay is how long Enforce collects notifications after the
	// first one before it reads the kernel's state, so that a burst (a
	// link set down removes its routes and IPv6 addresses) costs one check.
	settleDelay = 2 * time.Millisecond

	// minRetryDelay and maxRetryDelay bound the wait before Enforce checks
	// again after a failed check. The wait doubles after each failure and
	// starts again from minRetryDelay after a success.
	minRetryDelay = 100 * time.Millisecond
	maxRetryDelay = 30 * time.Second
)

// enforceGroups are the notifications that can mean drift.
const enforceGroups = nlevents.Link | nlevents.Addr | nlevents.Route

// Correction reports the changes Enforce made after it found the link
// different from its description.
type Correction struct {
	// Link is the link's name.
	Link string

	// LinkDeleted is true when the link that Enforce last saw is gone:
	// deleted, renamed, or replaced by another link with the same name.
	LinkDeleted bool

	// Changes are the changes made, in order. It is empty when the link was
	// deleted and the description has no Kind to create it with; Enforce
	// then waits for a link with the name to appear.
	Changes Changes
}

// String prints "link NAME deleted" when the link was deleted, then the
// changes one per line.
func (c Correction) String() string {
	var lines []string
	if c.LinkDeleted {
		lines = append(lines, "link "+c.Link+" deleted")
	}
	if len(c.Changes) > 0 || !c.LinkDeleted {
		lines = append(lines, c.Changes.String())
	}
	return strings.Join(lines, "\n")
}

// Enforce applies spec and keeps the link in that state until ctx ends. It
// watches the link's notifications (nlevents.Link, Addr and Route). After
// each burst it reads the kernel's state and corrects any difference, such
// as an address removed or added, the link set down or up, the MTU or
// hardware address changed, or a route deleted. Each correction is sent on the first
// channel. When the link is deleted, Enforce sends a Correction with
// LinkDeleted set and creates the link again if spec.Kind allows it, or
// else waits for a link named spec.Name to appear.
//
// The first check runs at once, so if the link differs from spec when
// Enforce is called, the first Correction brings it to spec.
//
// Validation errors, invalid options and failures to open the namespace, the
// rtnetlink socket or the subscription are returned at once, and the
// channels are then nil. After a nil error:
//
//   - One goroutine sends on both channels, one value at a time, and both
//     are unbuffered. While a value waits for the consumer, Enforce does
//     not check, and notifications wait in the kernel's socket buffer. If
//     that buffer overflows, Enforce checks once the consumer reads again.
//     Not reading does not prevent the next correction: the check that a
//     notification starts corrects the link, then waits to report it, and
//     no other check runs until the consumer reads.
//   - Enforce acts only when the kernel's state differs from spec, so the
//     notifications of its own changes lead to a check that finds nothing to
//     do. A program that keeps undoing Enforce's changes is corrected each
//     time; each correction is reported.
//   - The error channel carries errors that do not end Enforce: an
//     *ApplyError when the kernel rejects a change (a Correction with the
//     changes made before it comes first), ErrLinkNotFound, and failures
//     to read the kernel's state. After such an error, Enforce checks again
//     at the next notification, or after a delay that grows from 100ms to
//     30s, whichever comes first. After ErrLinkNotFound it waits for the
//     link.
//   - ErrRouteConflict does not stop the other changes: Enforce makes
//     them, sends their Correction, then the error, and checks again when
//     a route in the conflicting place changes, or after the delay.
//   - An error that ends the subscription is the last value sent; both
//     channels close after it.
//   - When ctx ends, Enforce finishes the change it is making, stops, and
//     closes both channels. ctx's error is not sent, and neither is a
//     Correction or error that was still waiting for the consumer: the
//     changes of such a Correction were made.
func Enforce(ctx context.Context, spec Link, opts ...Option) (<-chan Correction, <-chan error, error) {
	if err := spec.Validate(); err != nil {
		return nil, nil, err
	}
	cfg, err := newConfig(opts)
	if err != nil {
		return nil, nil, err
	}

	c, err := dial(cfg)
	if err != nil {
		return nil, nil, err
	}

	// Subscribe before the first check, so no change after it goes unseen.
	events, subErrs, err := nlevents.Subscribe(ctx, enforceGroups, cfg.subscribeOptions()...)
	if err != nil {
		c.Close()
		return nil, nil, fmt.Errorf("apply: subscribe to the link's notifications: %w", err)
	}

	e := &enforcer{
		spec:        spec,
		conn:        c,
		hook:        cfg.checkHook,
		events:      events,
		subErrs:     subErrs,
		corrections: make(chan Correction),
		errs:        make(chan error),
	}
	go e.run(ctx)
	return e.corrections, e.errs, nil
}

// checkResult is the outcome of one check, for tests.
type checkResult struct {
	Correction Correction
	Err        error
	Overrun    bool // the check followed an nlevents.ErrOverrun
}

// enforcer is one Enforce call. Its goroutine owns everything in it.
type enforcer struct {
	spec Link
	conn *conn
	hook func(checkResult)

	events  <-chan nlevents.Event
	subErrs <-chan error

	corrections chan Correction
	errs        chan error

	// index is the link's index at the last check, 0 when it did not exist.
	index uint32
	// overrun is set when the kernel dropped notifications since the last
	// check.
	overrun bool
	// retryDelay is the wait before the next check after a failure.
	retryDelay time.Duration
	// conflicts are the places of the routes that the last check left
	// out (see ErrRouteConflict): a change of a route there is relevant.
	conflicts []routeKey
}

// run checks, then waits for notifications, checking after each burst,
// until ctx ends or the subscription fails.
func (e *enforcer) run(ctx context.Context) {
	defer close(e.errs)
	defer close(e.corrections)
	defer e.conn.Close()
	defer e.drainSubscription()

	settle := newStoppedTimer()
	retry := newStoppedTimer()
	defer settle.Stop()
	defer retry.Stop()
	settling := false

	e.retryDelay = minRetryDelay
	if !e.check(ctx, retry) {
		return
	}
	for {
		select {
		case <-ctx.Done():
			return

		case ev, ok := <-e.events:
			if !ok {
				return
			}
			if !settling && e.relevant(ev) {
				settle.Reset(settleDelay)
				settling = true
			}

		case err, ok := <-e.subErrs:
			if !ok {
				return
			}
			if !e.subscriptionError(ctx, err) {
				return
			}
			if !settling {
				settle.Reset(settleDelay)
				settling = true
			}

		case <-settle.C:
			settling = false
			if !e.check(ctx, retry) {
				return
			}

		case <-retry.C:
			if !e.check(ctx, retry) {
				return
			}
		}
	}
}

// subscriptionError handles an error from the subscription. It returns
// false when the error ended the subscription, after sending it.
func (e *enforcer) subscriptionError(ctx context.Context, err error) bool {
	var decodeErr *nlevents.DecodeError
	var dumpErr *nlevents.DumpError
	switch {
	case errors.Is(err, nlevents.ErrOverrun):
		// Notifications were lost: the check that follows reads the
		// kernel's state, which is all it needs.
		e.overrun = true
		return true
	case errors.As(err, &decodeErr), errors.As(err, &dumpErr):
		return true
	}

	e.send(ctx, fmt.Errorf("apply: enforce link %s: notifications ended: %w", e.spec.Name, err))
	return false
}

// relevant reports whether ev may mean that the link changed.
func (e *enforcer) relevant(ev nlevents.Event) bool {
	switch ev := ev.(type) {
	case *nlevents.LinkEvent:
		return ev.Name == e.spec.Name || (e.index != 0 && ev.Index == int(e.index))
	case *nlevents.AddrEvent:
		return e.index != 0 && ev.Index == int(e.index)
	case *nlevents.RouteEvent:
		if e.inConflict(ev) {
			return true
		}
		if e.index == 0 {
			return false
		}
		if ev.OutIndex == int(e.index) {
			return true
		}
		for _, hop := range ev.NextHops {
			if hop.Index == int(e.index) {
				return true
			}
		}
	}
	return false
}

// check reads the kernel's state, applies spec and reports what it did.
// It arms retry after a failure. It returns false when ctx ended while it
// was sending.
func (e *enforcer) check(ctx context.Context, retry *time.Timer) bool {
	e.conn.barrier()
	st, err := e.conn.read(e.spec.Name)
	result := checkResult{Correction: Correction{Link: e.spec.Name}, Overrun: e.overrun}
	e.overrun = false

	if err == nil {
		result.Correction.LinkDeleted = e.index != 0 && (!st.exists || st.index != e.index)
		result.Correction.Changes, st, err = e.conn.apply(ctx, e.spec, st, true)
	}
	e.conflicts = nil
	var conflict *conflictError
	if errors.As(err, &conflict) {
		e.conflicts = conflict.places()
	}
	if st != nil {
		e.index = st.index
	}
	if errors.Is(err, ErrLinkNotFound) && e.index != 0 {
		// The link vanished between the read and the changes: report the
		// deletion now, before the error, as when the read misses it.
		result.Correction.LinkDeleted = true
		e.index = 0
	}
	result.Err = err
	if e.hook != nil {
		e.hook(result)
	}

	if c := result.Correction; c.LinkDeleted || len(c.Changes) > 0 {
		if !e.send(ctx, c) {
			return false
		}
	}
	if err == nil || ctx.Err() != nil {
		retry.Stop()
		e.retryDelay = minRetryDelay
		return ctx.Err() == nil
	}

	if !errors.Is(err, ErrLinkNotFound) {
		retry.Reset(e.retryDelay)
		e.retryDelay = min(2*e.retryDelay, maxRetryDelay)
	}
	return e.send(ctx, err)
}

// send sends a Correction or an error, giving up when ctx ends.
func (e *enforcer) send(ctx context.Context, v any) bool {
	switch v := v.(type) {
	case Correction:
		select {
		case e.corrections <- v:
			return true
		case <-ctx.Done():
			return false
		}
	case error:
		select {
		case e.errs <- v:
			return true
		case <-ctx.Done():
			return false
		}
	}
	return false
}

// drainSubscription reads the subscription's channels until they close,
// which they do soon after ctx ends or after a terminal error, so that its
// goroutine has ended when Enforce's channels close.
func (e *enforcer) drainSubscription() {
	for e.events != nil || e.subErrs != nil {
		select {
		case _, ok := <-e.events:
			if !ok {
				e.events = nil
			}
		case _, ok := <-e.subErrs:
			if !ok {
				e.subErrs = nil
			}
		}
	}
}

func newStoppedTimer() *time.Timer {
	t := time.NewTimer(time.Hour)
	t.Stop()
	return t
}

// inConflict reports whether ev is a route in the place of a route that
// the last check left out.
func (e *enforcer) inConflict(ev *nlevents.RouteEvent) bool {
	if len(e.conflicts) == 0 || ev.Family != afInet6 {
		return false
	}
	return slices.Contains(e.conflicts, routeKey{dst: ev.Dst, table: ev.Table, metric: ev.Priority})
}
