package nlevents

import (
	"errors"
	"fmt"

	"github.com/mdlayher/netlink"
)

var (
	// ErrNotSupported is returned by Subscribe on operating systems other
	// than Linux, which have no rtnetlink.
	ErrNotSupported = errors.New("nlevents: rtnetlink is only available on Linux")

	// ErrOverrun is sent on the error channel when the kernel dropped
	// notifications because the socket receive buffer was full (ENOBUFS).
	// The stream goes on, but the consumer's picture may now be stale: see
	// WithResync. Test for it with errors.Is.
	ErrOverrun = errors.New("nlevents: kernel dropped notifications: socket receive buffer overrun (ENOBUFS)")

	// ErrTruncated is the cause in a *DecodeError for a datagram larger than
	// the receive buffer. Its messages were lost; the buffer grows so that the
	// next datagram of that size fits.
	ErrTruncated = errors.New("nlevents: datagram truncated: larger than the receive buffer")
)

// A DecodeError reports one netlink message that could not be decoded in
// full. It is not terminal: the stream goes on with the next message. When
// the message's header was readable, the event built from the fields that
// could be read was sent just before this error.
type DecodeError struct {
	// Type is the netlink message type, or 0 when the header itself was
	// unreadable.
	Type netlink.HeaderType
	// Sequence is the header's sequence number, or 0 when unreadable.
	Sequence uint32
	// Offset is the position of the message in its datagram, in bytes.
	Offset int
	// Err is the cause.
	Err error
}

// Error describes the message and the cause.
func (e *DecodeError) Error() string {
	return fmt.Sprintf("nlevents: decode %s message (sequence %d, offset %d): %v",
		messageTypeName(e.Type), e.Sequence, e.Offset, e.Err)
}

// Unwrap returns the cause.
func (e *DecodeError) Unwrap() error { return e.Err }
