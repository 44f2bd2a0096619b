// Package nlevents turns Linux rtnetlink notifications (links, addresses,
// routes, neighbours, rules, nexthops, ...) into typed Go events on
// channels.
//
// Subscribe joins multicast groups and returns an event channel and an
// error channel:
//
//	events, errs, err := nlevents.Subscribe(ctx, nlevents.Link|nlevents.Addr)
//
// Each event is one of the concrete types listed at Event, with the common
// fields as Go values (netip.Prefix, netip.Addr, net.HardwareAddr, names,
// flags, indexes) and a Message method that decodes the whole message with
// github.com/jsimonetti/rtnetlink/v2 on demand. Stream offers the same
// events and errors as one ordered sequence for range loops. It runs the
// subscription on the ranging goroutine, without channels, which costs less
// CPU per notification.
//
// # Channels and cancellation
//
// One goroutine per subscription owns the netlink socket and both channels.
// It waits in poll(2) on the socket and on a pipe that a context.AfterFunc
// writes to, so cancelling ctx wakes it at once. It then closes the socket,
// the pipe and both channels, each exactly once. The channels are unbuffered
// and the goroutine sends one value at a time, so events and errors arrive
// in the order the kernel produced them. A consumer that stops reading never
// delays cancellation. Read both channels until they are closed to know the
// goroutine has ended.
//
// # Errors
//
// ErrOverrun, *DecodeError and *DumpError are not terminal: the stream goes
// on after them. Every other error on the error channel is terminal and is
// followed by the closing of both channels. Set-up failures are returned by
// Subscribe itself.
//
// # Overruns and resynchronisation
//
// Netlink multicast is unreliable by design: when the socket receive buffer
// is full, the kernel drops notifications and reports ENOBUFS, which reaches
// the consumer as ErrOverrun, in order. WithReceiveBuffer makes that rarer.
// WithInitialDump delivers the existing objects first, marked Dumped, and
// then a *SyncEvent. WithResync runs the dump again after an overrun and
// sends another *SyncEvent with Resync set. Overruns during a dump share
// the next dump, and its single marker. A consumer that keeps a table
// rebuilds it by mark and sweep: on ErrOverrun it marks every entry stale,
// each event after that refreshes or removes its entry, and at the
// *SyncEvent it drops the entries still stale. The table sub-package does
// exactly that.
//
// The kernel also removes IPv4 routes without notifying, when their link
// goes down, an address they need is removed or their nexthop object is
// deleted. WithInferredDeletes finds those routes and delivers their
// deletions with Inferred set.
//
// # Network namespaces
//
// WithNetNS and WithNetNSPath subscribe in another network namespace. The
// socket is created on a dedicated, locked OS thread that enters the
// namespace and returns before it is unlocked, so no thread of the program
// is left in the wrong namespace. That needs CAP_SYS_ADMIN; reading
// notifications in the caller's own namespace needs no privilege.
//
// # Other operating systems
//
// The package builds everywhere, so that portable programs can import it.
// On systems other than Linux, Subscribe returns ErrNotSupported.
package nlevents
