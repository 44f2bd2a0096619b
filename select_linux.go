package nlevents

import (
	"context"
	"errors"
	"fmt"
	"os"

	"github.com/mdlayher/netlink"
	"golang.org/x/sys/unix"
)

// testHookSocket, when set by a test, receives the socket and its port id.
var testHookSocket func(fd int, portID uint32)

// loop is one subscription. One goroutine runs it and owns the socket, both
// ends of the wake-up pipe, and the way values go out: the two channels for
// Subscribe, or the consumer's yield function for Stream.
type loop struct {
	ctx    context.Context
	cfg    *config
	groups Groups

	fd     int
	portID uint32
	wakeR  int
	wakeW  int

	// stopWake unregisters the AfterFunc that writes to wakeW; wakeDone is
	// closed when that function has returned.
	stopWake func() bool
	wakeDone chan struct{}

	// events and errs are the channels of Subscribe. yield, set instead by
	// Stream, is the body of the consumer's range loop, which runs the
	// loop on its own goroutine.
	events chan Event
	errs   chan error
	yield  func(Event, error) bool

	rx    *batchReader
	batch []received
	dump  dumpState

	// routes tracks IPv4 routes for WithInferredDeletes, and is nil
	// without it. hidden are groups joined only for that, whose events the
	// consumer did not ask for.
	routes *routeTracker
	hidden Groups
}

func subscribe(ctx context.Context, groups Groups, cfg *config) (<-chan Event, <-chan error, error) {
	l, err := newLoop(ctx, groups, cfg)
	if err != nil {
		return nil, nil, err
	}
	l.events = make(chan Event)
	l.errs = make(chan error)
	go l.run()
	return l.events, l.errs, nil
}

// stream runs a subscription on the calling goroutine, handing each value to
// yield, until yield returns false, ctx is done or a terminal error was
// yielded.
func stream(ctx context.Context, groups Groups, cfg *config, yield func(Event, error) bool) {
	l, err := newLoop(ctx, groups, cfg)
	if err != nil {
		yield(nil, err)
		return
	}
	l.yield = yield
	l.run()
}

// newLoop opens the socket and the wake-up pipe, and arranges for ctx's end
// to wake the loop. The caller sets the way out and runs the loop.
func newLoop(ctx context.Context, groups Groups, cfg *config) (*loop, error) {
	joined := groups
	if cfg.inferDeletes {
		joined |= inferGroups
	}
	fd, portID, err := openSocket(cfg, joined)
	if err != nil {
		return nil, err
	}

	var pipe [2]int
	if err := unix.Pipe2(pipe[:], unix.O_NONBLOCK|unix.O_CLOEXEC); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("nlevents: %w", os.NewSyscallError("pipe2", err))
	}
	rx, err := newBatchReader(fd, receiveBufferSize)
	if err != nil {
		unix.Close(fd)
		unix.Close(pipe[0])
		unix.Close(pipe[1])
		return nil, err
	}
	if testHookSocket != nil {
		testHookSocket(fd, portID)
	}

	l := &loop{
		ctx: ctx, cfg: cfg, groups: groups,
		fd: fd, portID: portID, wakeR: pipe[0], wakeW: pipe[1],
		wakeDone: make(chan struct{}),
		rx:       rx,
		batch:    make([]received, 0, maxSlots),
		dump:     dumpState{kinds: dumpKinds(groups)},
		hidden:   joined &^ groups,
	}
	if cfg.inferDeletes {
		l.routes = newRouteTracker()
	}
	l.stopWake = context.AfterFunc(ctx, l.wake)
	return l, nil
}

// wake writes one byte to the pipe so that poll returns. The pipe is
// non-blocking and one byte is enough, so a full pipe is ignored.
func (l *loop) wake() {
	defer close(l.wakeDone)
	_, _ = unix.Write(l.wakeW, []byte{1})
}

func (l *loop) run() {
	defer l.shutdown()

	if !l.startInitialDumps() {
		return
	}
	for {
		readable, err := l.wait()
		if err != nil {
			l.sendError(err)
			return
		}
		if !readable || !l.drain() {
			return
		}
	}
}

// shutdown releases everything in an order that keeps fd numbers safe: the
// AfterFunc's write to the pipe is either prevented or waited for before the
// pipe closes, because a closed fd number can be reused at once.
func (l *loop) shutdown() {
	if !l.stopWake() {
		<-l.wakeDone
	}
	unix.Close(l.fd)
	unix.Close(l.wakeR)
	unix.Close(l.wakeW)
	l.rx.close()
	if l.events != nil {
		close(l.events)
		close(l.errs)
	}
}

// wait blocks in poll(2) until the socket is readable, returning true, or
// the context was cancelled, returning false.
func (l *loop) wait() (bool, error) {
	fds := []unix.PollFd{
		{Fd: int32(l.fd), Events: unix.POLLIN},
		{Fd: int32(l.wakeR), Events: unix.POLLIN},
	}
	for {
		_, err := unix.Poll(fds, -1)
		if errors.Is(err, unix.EINTR) {
			// Signals, frequent since asynchronous preemption, interrupt
			// poll; nothing happened.
			continue
		}
		if err != nil {
			return false, fmt.Errorf("nlevents: %w", os.NewSyscallError("poll", err))
		}

		switch {
		case fds[1].Revents != 0:
			return false, nil
		case fds[0].Revents&unix.POLLNVAL != 0:
			return false, errors.New("nlevents: poll: netlink socket is not open (POLLNVAL)")
		case fds[0].Revents != 0:
			// POLLERR is readable too: recvmmsg returns the socket error.
			return true, nil
		}
	}
}

// drain reads datagrams until the socket has none left, delivering each. It
// returns false when the subscription must end.
func (l *loop) drain() bool {
	for l.ctx.Err() == nil {
		var err error
		l.batch, err = l.rx.read(l.batch[:0])
		if !l.deliverBatch() {
			return false
		}

		// The datagrams read before the error were delivered first, so
		// the consumer receives values in the kernel's order.
		switch {
		case err == nil:
		case errors.Is(err, unix.EAGAIN):
			return true
		case errors.Is(err, unix.EINTR):
		case errors.Is(err, unix.ENOBUFS):
			if !l.overrun() {
				return false
			}
		default:
			var errno unix.Errno
			if errors.As(err, &errno) {
				err = fmt.Errorf("nlevents: %w", os.NewSyscallError("recvmmsg", err))
			}
			l.sendError(err)
			return false
		}
	}
	return false
}

// deliverBatch delivers the datagrams of one read in order, reporting each
// truncated one as ErrTruncated where it came.
func (l *loop) deliverBatch() bool {
	for _, d := range l.batch {
		var ok bool
		if d.truncated > 0 {
			ok = l.sendError(truncatedError(d.truncated))
		} else {
			ok = l.deliver(d.data)
		}
		if !ok {
			return false
		}
	}
	return true
}

// truncatedError reports a datagram of size bytes that did not fit its
// slot; the reader offers that much to the next ones.
func truncatedError(size int) error {
	return &DecodeError{Err: fmt.Errorf("%w: %d bytes", ErrTruncated, size)}
}

// overrun reports ENOBUFS and, with WithResync, starts a dump.
func (l *loop) overrun() bool {
	if !l.sendError(ErrOverrun) {
		return false
	}
	if !l.cfg.resync {
		return true
	}
	return l.startDump(true)
}

// deliver decodes one datagram and sends its events and errors in order.
func (l *loop) deliver(datagram []byte) bool {
	ok := true
	err := splitMessages(datagram, func(h netlink.Header, msg []byte, off int) bool {
		ok = l.deliverMessage(h, msg, off)
		return ok
	})
	if err != nil && ok {
		ok = l.sendError(err)
	}
	return ok
}

func (l *loop) deliverMessage(h netlink.Header, msg []byte, off int) bool {
	if l.dump.owns(h, l.portID) {
		return l.dumpReply(h, msg, off)
	}

	ev, err := decodeMessage(h, msg, off)
	return l.handleDecoded(ev, err)
}

// handleDecoded feeds the route tracker, hides events of groups joined only
// for it, and sends the rest.
func (l *loop) handleDecoded(ev Event, err error) bool {
	if l.routes != nil && ev != nil {
		if route, ok := ev.(*RouteEvent); ok {
			l.routes.observe(route)
		}
		if !ev.EventInfo().Dumped && l.routes.needsCheck(ev) && !l.startRouteCheck() {
			return false
		}
		if groupOf(ev)&l.hidden != 0 {
			// The consumer did not ask for this group; a decode error
			// still reaches it, so that nothing is lost in silence.
			ev = nil
		}
	}
	return l.sendDecoded(ev, err)
}

// sendDecoded sends an event and the error that goes with it, in that
// order; either may be nil.
func (l *loop) sendDecoded(ev Event, err error) bool {
	if ev != nil {
		if !l.sendEvent(ev) {
			return false
		}
		if err == nil && l.cfg.strictDecode {
			err = strictCheck(ev)
		}
	}
	if err != nil {
		return l.sendError(err)
	}
	return true
}

// sendEvent blocks until the consumer takes ev or the context is done. It
// returns false when the loop must end.
func (l *loop) sendEvent(ev Event) bool {
	if l.yield != nil {
		return l.ctx.Err() == nil && l.yield(ev, nil)
	}

	// A consumer that keeps up is already waiting: a plain send to it
	// costs less than a select over two channels.
	select {
	case l.events <- ev:
		return true
	default:
	}

	select {
	case l.events <- ev:
		return true
	case <-l.ctx.Done():
		return false
	}
}

// sendError blocks until the consumer takes err or the context is done. It
// returns false when the loop must end.
func (l *loop) sendError(err error) bool {
	if l.yield != nil {
		return l.ctx.Err() == nil && l.yield(nil, err)
	}

	select {
	case l.errs <- err:
		return true
	case <-l.ctx.Done():
		return false
	}
}

// send writes a request to the kernel.
func (l *loop) send(msg []byte) error {
	for {
		err := unix.Sendto(l.fd, msg, 0, &unix.SockaddrNetlink{Family: unix.AF_NETLINK})
		if errors.Is(err, unix.EINTR) {
			continue
		}
		if err != nil {
			return fmt.Errorf("nlevents: %w", os.NewSyscallError("sendto", err))
		}
		return nil
	}
}
