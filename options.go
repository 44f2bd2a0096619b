package nlevents

import (
	"errors"
	"fmt"
	"math"
)

// An Option configures Subscribe. Options come from the With* functions;
// no other package can implement Option.
type Option interface {
	apply(*config)
}

type optionFunc func(*config)

func (f optionFunc) apply(c *config) { f(c) }

// DefaultReceiveBuffer is the socket receive buffer that Subscribe requests
// when WithReceiveBuffer is not given, in bytes. The kernel doubles the value
// for its bookkeeping. Without CAP_NET_ADMIN the kernel caps the request at
// net.core.rmem_max.
//
// The kernel charges the buffer only for notifications waiting to be read,
// so a consumer that keeps up costs no more with a larger one. Measured on
// Linux 6.18 (x86_64) with bench/cmd/nlbench, 32 MiB holds about 29,000
// link notifications of a veth, about 1.5 KB each, that arrive while the
// consumer is not reading; 4 MiB held about 3,600.
const DefaultReceiveBuffer = 32 << 20

// config is the result of applying the options.
type config struct {
	netnsFD        int  // -1 for none
	netnsFDGiven   bool // WithNetNS was passed, so a negative netnsFD is invalid
	netnsPath      string
	netnsPathGiven bool // WithNetNSPath was passed, so an empty netnsPath is invalid
	receiveBuffer  int
	dump           bool
	resync         bool
	strictDecode   bool
	inferDeletes   bool
}

func newConfig(groups Groups, opts []Option) (*config, error) {
	cfg := &config{netnsFD: -1, receiveBuffer: DefaultReceiveBuffer}
	for _, opt := range opts {
		if opt == nil {
			return nil, errors.New("nlevents: nil Option passed to Subscribe")
		}
		opt.apply(cfg)
	}

	if err := validateGroups(groups); err != nil {
		return nil, err
	}
	return cfg, cfg.validate(groups)
}

func validateGroups(groups Groups) error {
	if groups == 0 {
		return ErrNoGroups
	}
	if unknown := groups.Unknown(); unknown != 0 {
		return fmt.Errorf("nlevents: unknown multicast group bits %#x (%v): use the Groups constants", uint64(unknown), unknown)
	}
	return nil
}

func (c *config) validate(groups Groups) error {
	if c.netnsFDGiven && c.netnsFD < 0 {
		return fmt.Errorf("nlevents: invalid network namespace fd %d: pass an open fd of /run/netns/NAME or /proc/PID/ns/net", c.netnsFD)
	}
	if c.netnsPathGiven && c.netnsPath == "" {
		return errors.New("nlevents: empty network namespace path: pass /run/netns/NAME or /proc/PID/ns/net")
	}
	if c.netnsFD >= 0 && c.netnsPath != "" {
		return errors.New("nlevents: WithNetNS and WithNetNSPath both given: pick one namespace")
	}
	if c.inferDeletes && groups&IPv4Route == 0 {
		return fmt.Errorf("nlevents: WithInferredDeletes needs IPv4Route in the groups, got %v", groups)
	}
	// setsockopt takes a C int, so a larger value would be truncated.
	if c.receiveBuffer <= 0 || c.receiveBuffer > math.MaxInt32 {
		return fmt.Errorf("nlevents: invalid receive buffer size %d: must be 1 to %d bytes", c.receiveBuffer, math.MaxInt32)
	}
	return nil
}

// ErrNoGroups is returned by Subscribe when the group set is empty.
var ErrNoGroups = errors.New("nlevents: no multicast groups to subscribe to: pass groups such as nlevents.Link|nlevents.Addr")

// WithNetNS subscribes in the network namespace that fd refers to (an open
// /proc/PID/ns/net or /run/netns/NAME), instead of the caller's. The caller
// keeps ownership of fd; Subscribe uses it only before it returns. Entering
// a namespace needs CAP_SYS_ADMIN. No thread of the calling program is left
// in the other namespace. A negative fd is a set-up error.
func WithNetNS(fd int) Option {
	return optionFunc(func(c *config) { c.netnsFD, c.netnsFDGiven = fd, true })
}

// WithNetNSPath subscribes in the network namespace at path, for example
// "/run/netns/blue" (created by ip netns add) or "/proc/1234/ns/net". See
// WithNetNS. An empty path is a set-up error.
func WithNetNSPath(path string) Option {
	return optionFunc(func(c *config) { c.netnsPath, c.netnsPathGiven = path, true })
}

// WithReceiveBuffer sets the socket receive buffer, in bytes: the queue in
// which the kernel holds notifications until the loop reads them. When it is
// full, the kernel drops notifications and the consumer gets ErrOverrun.
// Subscribe requests it with SO_RCVBUFFORCE, which needs CAP_NET_ADMIN and ignores
// net.core.rmem_max, and falls back to SO_RCVBUF, which the kernel caps at
// net.core.rmem_max. The default is DefaultReceiveBuffer. A size outside 1
// to math.MaxInt32 is a set-up error.
func WithReceiveBuffer(bytes int) Option {
	return optionFunc(func(c *config) { c.receiveBuffer = bytes })
}

// WithInitialDump delivers the objects that exist when Subscribe is called,
// before live notifications: links, addresses, routes, neighbours and rules,
// for the subscribed groups. Dumped objects have Info.Dumped set; a
// *SyncEvent follows the last of them. Notifications that arrive during the
// dump are delivered in the order the kernel queued them, among the dumped
// objects, so applying events in order gives the right picture.
func WithInitialDump() Option {
	return optionFunc(func(c *config) { c.dump = true })
}

// WithResync makes the subscription dump again after every overrun: the
// consumer gets ErrOverrun, then the dumped objects, then a *SyncEvent with
// Resync set. Objects not delivered between the ErrOverrun and that marker
// no longer exist. Overruns during a dump share one new dump, which starts
// when the current one ends: the current dump then sends no marker, and the
// consumer gets one *SyncEvent after the last ErrOverrun.
func WithResync() Option {
	return optionFunc(func(c *config) { c.resync = true })
}

// WithStrictDecode decodes every link, address, route, neighbour and rule
// message with rtnetlink/v2 as it arrives, and sends a *DecodeError after
// the event when that decoder rejects the message. Without it, decoding with
// rtnetlink/v2 happens only when the consumer calls an event's Message
// method, which is much cheaper for consumers that read the common fields.
func WithStrictDecode() Option {
	return optionFunc(func(c *config) { c.strictDecode = true })
}

// WithInferredDeletes delivers deletions for IPv4 routes that the kernel
// removes without sending RTM_DELROUTE: when their link goes down or is
// deleted, when an address they depend on is removed, and when a nexthop
// object they use is deleted. After such an event the subscription dumps the
// IPv4 routes again and sends a *RouteEvent with Deleted and Inferred set,
// and the fields last seen, for each route the dump no longer lists.
//
// It needs IPv4Route in the groups. It joins Link, IPv4Addr and Nexthop as
// well, to see those causes, but delivers their events only when the
// consumer asked for those groups. Routes are tracked from the initial dump
// with WithInitialDump, or else from a dump that the subscription runs at
// the start without delivering it.
func WithInferredDeletes() Option {
	return optionFunc(func(c *config) { c.inferDeletes = true })
}
