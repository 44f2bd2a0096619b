package nlevents

import (
	"context"
	"fmt"
)

// Subscribe joins the rtnetlink multicast groups in groups and returns two
// channels: events, and errors that the stream met.
//
// Set-up failures (invalid groups or options, socket, bind, membership,
// namespace) are returned as the third result, and the channels are then
// nil. After a nil error both channels are live until ctx is done.
//
// The contract of the channels:
//
//   - One goroutine sends on both, one value at a time, and both are
//     unbuffered. A consumer that selects on both receives events and errors in
//     the order the kernel produced them.
//   - The library never drops a value to avoid blocking. While the consumer
//     does not read, notifications queue in the socket receive buffer; when
//     that is full, the kernel drops them and the consumer gets ErrOverrun.
//   - ErrOverrun, *DecodeError and *DumpError are not terminal: the stream
//     goes on. Any other error is terminal: it is the last value sent, and
//     both channels close after it.
//   - When ctx is done, the goroutine closes the socket and then both
//     channels, each exactly once, even if the consumer has stopped reading.
//     ctx's error is not sent. Draining both channels until they are closed
//     is how to wait for the goroutine to end.
//
// On operating systems other than Linux, Subscribe returns ErrNotSupported.
func Subscribe(ctx context.Context, groups Groups, opts ...Option) (<-chan Event, <-chan error, error) {
	cfg, err := newConfig(groups, opts)
	if err != nil {
		return nil, nil, err
	}

	if err := ctx.Err(); err != nil {
		return nil, nil, fmt.Errorf("nlevents: subscribe: %w", err)
	}
	return subscribe(ctx, groups, cfg)
}
