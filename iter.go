package nlevents

import (
	"context"
	"iter"
)

// Stream subscribes like Subscribe and returns events and errors as one
// sequence, in the order the kernel produced them: each step yields either an
// event with a nil error, or a nil event with an error. A set-up failure is
// the only step. Breaking out of the loop ends the subscription, and the loop
// returns only after the subscription's goroutine has finished.
func Stream(ctx context.Context, groups Groups, opts ...Option) iter.Seq2[Event, error] {
	return func(yield func(Event, error) bool) {
		ctx, cancel := context.WithCancel(ctx)
		defer cancel()

		events, errs, err := Subscribe(ctx, groups, opts...)
		if err != nil {
			yield(nil, err)
			return
		}
		defer drain(cancel, events, errs)

		for events != nil || errs != nil {
			select {
			case ev, ok := <-events:
				if !ok {
					events = nil
				} else if !yield(ev, nil) {
					return
				}
			case err, ok := <-errs:
				if !ok {
					errs = nil
				} else if !yield(nil, err) {
					return
				}
			}
		}
	}
}

// drain cancels a subscription and waits until both of its channels close.
func drain(cancel context.CancelFunc, events <-chan Event, errs <-chan error) {
	cancel()
	for range events {
	}
	for range errs {
	}
}
