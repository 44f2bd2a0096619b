package nlevents

import (
	"context"
	"fmt"
	"iter"
)

// Stream subscribes like Subscribe and returns events and errors as one
// sequence, in the order the kernel produced them: each step yields either an
// event with a nil error, or a nil event with an error. A set-up failure,
// including a ctx that is already done, is the only step.
//
// The subscription runs on the goroutine that ranges over the sequence:
// events reach the loop's body without passing through a channel or
// another goroutine, which makes a notification cost less CPU than through
// Subscribe (BENCHMARKS.md has the figures). While the body runs,
// notifications queue in the socket receive buffer, as they do while a
// Subscribe consumer does not read.
//
// The sequence ends when the loop breaks, when ctx is done, or after a
// terminal error; ErrOverrun, *DecodeError and *DumpError are not
// terminal. A body that runs when ctx is done finishes first, and no value
// follows it. Every time the sequence ends, the socket is closed before
// the range statement returns. A sequence can be ranged over more than
// once; each range is a subscription of its own.
func Stream(ctx context.Context, groups Groups, opts ...Option) iter.Seq2[Event, error] {
	return func(yield func(Event, error) bool) {
		cfg, err := newConfig(groups, opts)
		if err == nil && ctx.Err() != nil {
			err = fmt.Errorf("nlevents: subscribe: %w", ctx.Err())
		}
		if err != nil {
			yield(nil, err)
			return
		}
		stream(ctx, groups, cfg, yield)
	}
}
