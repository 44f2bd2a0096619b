package nlevents

import (
	"encoding/binary"
	"fmt"

	"github.com/mdlayher/netlink"
)

// dumpKind is one dump request: a RTM_GET* type with the family to ask for
// and the size of the zeroed struct that follows the header.
type dumpKind struct {
	msgType    netlink.HeaderType
	family     uint8
	structSize int
}

// dumpKinds returns the dumps that cover the typed objects in groups, in
// the order they run: links first, so that a consumer has a link before
// its addresses and routes.
func dumpKinds(groups Groups) []dumpKind {
	var kinds []dumpKind
	add := func(request netlink.HeaderType, v4, v6 Groups, structSize int) {
		family, ok := dumpFamily(groups, v4, v6)
		if ok {
			kinds = append(kinds, dumpKind{msgType: request, family: family, structSize: structSize})
		}
	}

	add(rtmGetLink, Link, Link, ifinfomsgLen)
	add(rtmGetAddr, IPv4Addr, IPv6Addr, ifaddrmsgLen)
	add(rtmGetNexthop, Nexthop, Nexthop, nhmsgLen)
	add(rtmGetRoute, IPv4Route, IPv6Route, rtmsgLen)
	add(rtmGetNeigh, Neigh, Neigh, ndmsgLen)
	add(rtmGetRule, IPv4Rule, IPv6Rule, fibRuleHdrLen)
	return kinds
}

// dumpFamily picks AF_INET or AF_INET6 when only one of the two groups is
// subscribed, and AF_UNSPEC (both) otherwise.
func dumpFamily(groups, v4, v6 Groups) (uint8, bool) {
	has4, has6 := groups&v4 != 0, groups&v6 != 0
	switch {
	case v4 == v6 && has4:
		return afUnspec, true
	case has4 && has6:
		return afUnspec, true
	case has4:
		return afInet, true
	case has6:
		return afInet6, true
	}
	return 0, false
}

// request builds the dump request message with sequence number seq.
func (k dumpKind) request(seq uint32) []byte {
	b := make([]byte, nlmsgHeaderLen+align4(k.structSize))
	binary.NativeEndian.PutUint32(b[0:4], uint32(len(b)))
	binary.NativeEndian.PutUint16(b[4:6], uint16(k.msgType))
	binary.NativeEndian.PutUint16(b[6:8], nlmFRequest|nlmFDump)
	binary.NativeEndian.PutUint32(b[8:12], seq)
	b[nlmsgHeaderLen] = k.family
	return b
}

// String names the request, for example "RTM_GETROUTE AF_INET".
func (k dumpKind) String() string {
	names := map[netlink.HeaderType]string{
		rtmGetLink: "RTM_GETLINK", rtmGetAddr: "RTM_GETADDR", rtmGetRoute: "RTM_GETROUTE",
		rtmGetNeigh: "RTM_GETNEIGH", rtmGetRule: "RTM_GETRULE", rtmGetNexthop: "RTM_GETNEXTHOP",
		rtmGetQdisc: "RTM_GETQDISC",
	}
	families := map[uint8]string{afUnspec: "AF_UNSPEC", afInet: "AF_INET", afInet6: "AF_INET6"}
	return names[k.msgType] + " " + families[k.family]
}

// A DumpError reports a dump request that the kernel rejected with an error. It is
// not terminal: the dumps of the other object kinds go on, and the
// *SyncEvent still follows. Objects of the failed kind may be missing from
// the consumer's picture.
type DumpError struct {
	// Request is the dump request that failed, such as "RTM_GETNEXTHOP AF_UNSPEC".
	Request string
	// Err is the kernel's error, a syscall.Errno; test it with errors.Is.
	Err error
}

// Error names the request and the kernel's error.
func (e *DumpError) Error() string {
	return fmt.Sprintf("nlevents: dump %s failed: %v", e.Request, e.Err)
}

// Unwrap returns the kernel's error.
func (e *DumpError) Unwrap() error { return e.Err }

// dumpJob is a series of dumps run one after the other, because the
// kernel allows one dump per socket at a time.
type dumpJob struct {
	kinds []dumpKind
	// marker requests a *SyncEvent when the job ends, and resync sets the
	// marker's Resync flag.
	marker bool
	resync bool
	// routeCheck requests inferred deletions of the tracked IPv4 routes
	// that the job's route dump no longer lists.
	routeCheck bool
}

// routeCheckKinds are the dumps of a route check. NB: the kernel can send a
// notification, such as RTM_NEWLINK for a link going down, before it flushes
// the routes that the change affects; it holds the RTNL lock throughout. On
// Linux 6.x IPv4 route dumps do not take that lock, but qdisc dumps do, so a
// qdisc dump first works as a barrier: once it is answered, the flush is
// over, and the route dump that follows sees its result.
var routeCheckKinds = []dumpKind{
	{msgType: rtmGetQdisc, family: afUnspec, structSize: tcmsgLen},
	{msgType: rtmGetRoute, family: afInet, structSize: rtmsgLen},
}

// dumpState tracks the job in progress and the jobs waiting for it.
type dumpState struct {
	kinds []dumpKind // the kinds a full pass covers

	active      bool
	job         dumpJob
	next        int    // index in job.kinds of the dump in progress
	seq         uint32 // sequence number of the dump in progress
	interrupted bool   // the dump in progress was flagged NLM_F_DUMP_INTR

	passPending   bool // a full pass (a resync) waits
	resyncPending bool
	checkPending  bool // a route check waits
}

// owns reports whether a message is a reply to the dump in progress. Dump replies
// carry our port id and sequence number; notifications carry port 0 or the
// port of the process whose request caused them.
func (d *dumpState) owns(h netlink.Header, portID uint32) bool {
	return d.active && h.PID == portID && h.Sequence == d.seq
}

// current returns the dump in progress.
func (d *dumpState) current() dumpKind { return d.job.kinds[d.next] }

// nextJob takes the waiting job to run next: a full pass first, since it
// covers a route check too.
func (d *dumpState) nextJob() (dumpJob, bool) {
	switch {
	case d.passPending:
		job := dumpJob{kinds: d.kinds, marker: true, resync: d.resyncPending}
		d.passPending, d.resyncPending, d.checkPending = false, false, false
		return job, true
	case d.checkPending:
		d.checkPending = false
		return dumpJob{kinds: routeCheckKinds, routeCheck: true}, true
	}
	return dumpJob{}, false
}

// infoSetter is implemented by every event through its embedded Info.
type infoSetter interface {
	infoPtr() *Info
}

func (i *Info) infoPtr() *Info { return i }
