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
// the order they run: links first, so that a consumer knows a link before
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
	}
	families := map[uint8]string{afUnspec: "AF_UNSPEC", afInet: "AF_INET", afInet6: "AF_INET6"}
	return names[k.msgType] + " " + families[k.family]
}

// A DumpError reports a dump that the kernel answered with an error. It is
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

// dumpState tracks the dump in progress. Dumps run one kind at a time,
// because the kernel allows one dump per socket at a time.
type dumpState struct {
	kinds []dumpKind

	active      bool
	next        int    // index in kinds of the dump in progress
	seq         uint32 // sequence number of the dump in progress
	interrupted bool   // the dump in progress was flagged NLM_F_DUMP_INTR
	again       bool   // an overrun happened during this pass: run another
	resync      bool   // this pass follows an overrun
}

// owns reports whether a message answers the dump in progress. Dump replies
// carry our port id and sequence number; notifications carry port 0 or the
// port of the process whose request caused them.
func (d *dumpState) owns(h netlink.Header, portID uint32) bool {
	return d.active && h.PID == portID && h.Sequence == d.seq
}

// infoSetter is implemented by every event through its embedded Info.
type infoSetter interface {
	infoPtr() *Info
}

func (i *Info) infoPtr() *Info { return i }
