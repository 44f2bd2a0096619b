package nlevents

import (
	"github.com/mdlayher/netlink"
)

// startDump starts a pass over every dump kind, or, when a pass is already
// running, asks for another one after it.
func (l *loop) startDump(resync bool) bool {
	d := &l.dump
	if d.active {
		d.again = true
		return true
	}

	*d = dumpState{kinds: d.kinds, seq: d.seq, active: true, resync: resync}
	if len(d.kinds) == 0 {
		return l.finishPass()
	}
	return l.requestDump()
}

// requestDump sends the request for the current kind with a new sequence
// number, so that replies to an abandoned request are not mistaken for it.
func (l *loop) requestDump() bool {
	d := &l.dump
	d.seq++
	d.interrupted = false
	if err := l.send(d.kinds[d.next].request(d.seq)); err != nil {
		l.sendError(err)
		return false
	}
	return true
}

// dumpReply handles one message of the dump in progress.
func (l *loop) dumpReply(h netlink.Header, msg []byte, off int) bool {
	d := &l.dump
	if h.Flags&nlmFDumpIntr != 0 {
		d.interrupted = true
	}

	switch h.Type {
	case nlmsgDone:
		return l.finishKind()
	case nlmsgError:
		code, err := errorCode(msg)
		if err == nil && code == 0 {
			return true
		}
		if err == nil {
			err = code
		}
		if !l.sendError(&DumpError{Request: d.kinds[d.next].String(), Err: err}) {
			return false
		}
		return l.finishKind()
	}

	ev, err := decodeMessage(h, msg, off)
	if ev != nil {
		ev.(infoSetter).infoPtr().Dumped = true
	}
	return l.sendDecoded(ev, err)
}

// finishKind moves to the next kind, or repeats an interrupted one: the
// kernel flags a dump NLM_F_DUMP_INTR when the table changed under it, so
// the dump may have skipped objects.
func (l *loop) finishKind() bool {
	d := &l.dump
	if d.interrupted {
		return l.requestDump()
	}

	d.next++
	if d.next < len(d.kinds) {
		return l.requestDump()
	}
	return l.finishPass()
}

// finishPass sends the marker, unless an overrun during the pass calls for
// another one first.
func (l *loop) finishPass() bool {
	d := &l.dump
	d.active = false
	if d.again {
		return l.startDump(true)
	}
	return l.sendEvent(&SyncEvent{Info: Info{Dumped: true}, Resync: d.resync})
}
