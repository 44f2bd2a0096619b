package apply

import (
	"errors"
	"fmt"

	"github.com/nlevents/nlevents"
)

// An Option configures Plan, Apply and Enforce. Options come from the With*
// functions; no other package can implement Option.
type Option interface {
	apply(*config)
}

type optionFunc func(*config)

func (f optionFunc) apply(c *config) { f(c) }

// config is the result of applying the options.
type config struct {
	netnsFD        int  // -1 for none
	netnsFDGiven   bool // WithNetNS was passed, so a negative netnsFD is invalid
	netnsPath      string
	netnsPathGiven bool // WithNetNSPath was passed, so an empty netnsPath is invalid

	// receiveBuffer is the subscription's socket receive buffer for
	// Enforce, in bytes; 0 keeps nlevents' default.
	receiveBuffer int
	// checkHook, when set by a test, receives the outcome of each of
	// Enforce's checks.
	checkHook func(checkResult)
}

func newConfig(opts []Option) (*config, error) {
	cfg := &config{netnsFD: -1}
	for _, opt := range opts {
		if opt == nil {
			return nil, errors.New("apply: nil Option")
		}
		opt.apply(cfg)
	}

	// NB: a namespace option with an unusable value must fail, not fall
	// back to the caller's namespace, where Apply would change the host.
	if cfg.netnsFDGiven && cfg.netnsFD < 0 {
		return nil, fmt.Errorf("apply: invalid network namespace fd %d: pass an open fd of /run/netns/NAME or /proc/PID/ns/net", cfg.netnsFD)
	}
	if cfg.netnsPathGiven && cfg.netnsPath == "" {
		return nil, errors.New("apply: empty network namespace path: pass /run/netns/NAME or /proc/PID/ns/net")
	}
	if cfg.netnsFD >= 0 && cfg.netnsPath != "" {
		return nil, errors.New("apply: WithNetNS and WithNetNSPath both given: pick one namespace")
	}
	if cfg.netnsFD == 0 {
		return nil, fmt.Errorf("apply: WithNetNS(0): file descriptor 0 is standard input, not a network namespace")
	}
	return cfg, nil
}

// subscribeOptions returns the nlevents options that subscribe in the same
// namespace.
func (c *config) subscribeOptions() []nlevents.Option {
	var opts []nlevents.Option
	if c.netnsPath != "" {
		opts = append(opts, nlevents.WithNetNSPath(c.netnsPath))
	}
	if c.netnsFD >= 0 {
		opts = append(opts, nlevents.WithNetNS(c.netnsFD))
	}
	if c.receiveBuffer > 0 {
		opts = append(opts, nlevents.WithReceiveBuffer(c.receiveBuffer))
	}
	return opts
}

// WithNetNSPath works in the network namespace at path, for example
// "/run/netns/blue" (made by ip netns add) or "/proc/1234/ns/net", instead
// of the caller's. Entering a namespace needs CAP_SYS_ADMIN. No thread of
// the calling program is left in the other namespace.
func WithNetNSPath(path string) Option {
	return optionFunc(func(c *config) { c.netnsPath, c.netnsPathGiven = path, true })
}

// WithNetNS works in the network namespace that fd refers to (an open
// /proc/PID/ns/net or /run/netns/NAME). The caller keeps ownership of fd.
// Plan, Apply and Enforce use it only before they return, because their
// sockets enter the namespace when they are opened. See WithNetNSPath.
func WithNetNS(fd int) Option {
	return optionFunc(func(c *config) { c.netnsFD, c.netnsFDGiven = fd, true })
}

// withReceiveBuffer sets Enforce's subscription receive buffer, so that a
// test can make the kernel drop notifications.
func withReceiveBuffer(bytes int) Option {
	return optionFunc(func(c *config) { c.receiveBuffer = bytes })
}

// withCheckHook makes Enforce call fn after each check, from its goroutine.
func withCheckHook(fn func(checkResult)) Option {
	return optionFunc(func(c *config) { c.checkHook = fn })
}
