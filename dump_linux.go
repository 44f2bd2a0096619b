package nlevents

import (
	"github.com/mdlayher/netlink"
)

// startInitialDumps starts the dump of WithInitialDump, or, with
// WithInferredDeletes alone, a silent route dump that fills the tracker.
func (l *loop) startInitialDumps() bool {
	switch {
	case l.cfg.dump:
		return l.startDump(false)
	case l.routes != nil:
		return l.startRouteCheck()
	}
	return true
}

// startDump queues a full pass over every dump kind and starts it unless a
// job is running.
func (l *loop) startDump(resync bool) bool {
	l.dump.passPending = true
	l.dump.resyncPending = l.dump.resyncPending || resync
	return l.runPending()
}

// startRouteCheck queues a dump of the IPv4 routes, to find those that
// vanished without RTM_DELROUTE.
func (l *loop) startRouteCheck() bool {
	l.dump.checkPending = true
	return l.runPending()
}

// runPending starts the next waiting job when none is running.
func (l *loop) runPending() bool {
	d := &l.dump
	if d.active {
		return true
	}
	job, ok := d.nextJob()
	if !ok {
		return true
	}

	d.active, d.job, d.next = true, job, 0
	if len(job.kinds) == 0 {
		return l.finishJob()
	}
	return l.requestDump()
}

// requestDump sends the request for the current kind with a new sequence
// number, so that replies to an abandoned request are not mistaken for it.
func (l *loop) requestDump() bool {
	d := &l.dump
	d.seq++
	d.interrupted = false
	if l.routes != nil && d.current().msgType == rtmGetRoute && d.current().family != afInet6 {
		l.routes.startDump()
	}

	if err := l.send(d.current().request(d.seq)); err != nil {
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
		if l.routes != nil {
			l.routes.abortDump()
		}
		if !l.sendError(&DumpError{Request: d.current().String(), Err: err}) {
			return false
		}
		d.interrupted = false
		return l.finishKind()
	}

	ev, err := decodeMessage(h, msg, off)
	if ev == nil {
		return err == nil || l.sendError(err)
	}
	ev.(infoSetter).infoPtr().Dumped = true
	if d.job.routeCheck {
		// A route check is internal: its routes only confirm the tracker.
		if route, ok := ev.(*RouteEvent); ok {
			l.routes.observe(route)
		}
		return err == nil || l.sendError(err)
	}
	return l.handleDecoded(ev, err)
}

// finishKind moves to the next kind, or repeats an interrupted one: the
// kernel flags a dump NLM_F_DUMP_INTR when the table changed under it, so
// the dump may have skipped objects.
func (l *loop) finishKind() bool {
	d := &l.dump
	if d.interrupted {
		return l.requestDump()
	}

	if l.routes != nil && d.current().msgType == rtmGetRoute && d.current().family != afInet6 {
		vanished := l.routes.finishDump()
		if d.job.routeCheck && !l.sendInferred(vanished) {
			return false
		}
	}

	d.next++
	if d.next < len(d.job.kinds) {
		return l.requestDump()
	}
	return l.finishJob()
}

// finishJob sends the job's marker, if it has one, and starts the next job.
func (l *loop) finishJob() bool {
	d := &l.dump
	d.active = false
	if d.job.marker && !d.passPending {
		if !l.sendEvent(&SyncEvent{Resync: d.job.resync}) {
			return false
		}
	}
	return l.runPending()
}

// sendInferred delivers deletions for routes that vanished without a
// notification.
func (l *loop) sendInferred(vanished []*RouteEvent) bool {
	for _, route := range vanished {
		ev := *route
		ev.Info = Info{Deleted: true, Inferred: true}
		if !l.sendEvent(&ev) {
			return false
		}
	}
	return true
}
