package apply

import (
	"errors"
	"fmt"
	"net/netip"
	"strings"

	"github.com/mdlayher/netlink"
)

// Action is the kind of step that a Change makes.
type Action int

// The actions, in the order in which Apply makes them.
const (
	CreateLink      Action = iota + 1 // create a veth pair or a bridge
	SetHardwareAddr                   // change the link-layer address
	SetMTU                            // change the MTU
	SetState                          // set the link up or down
	RemoveAddress                     // remove an address that the description does not list
	AddAddress                        // add a missing address
	ReplaceRoute                      // change the gateway of a route
	AddRoute                          // add a missing route
)

var actionNames = map[Action]string{
	CreateLink:      "create link",
	SetHardwareAddr: "set hwaddr",
	SetMTU:          "set mtu",
	SetState:        "set state",
	RemoveAddress:   "remove address",
	AddAddress:      "add address",
	ReplaceRoute:    "replace route",
	AddRoute:        "add route",
}

// String names the action, for example "set mtu".
func (a Action) String() string {
	if name, ok := actionNames[a]; ok {
		return name
	}
	return fmt.Sprintf("action(%d)", int(a))
}

// Change is one step that brings the link closer to its description.
type Change struct {
	// Action is the kind of step.
	Action Action

	// Link is the link's name.
	Link string

	// From and To are the old and new values of a CreateLink, Set* or
	// ReplaceRoute change, as String prints them: "1500" and "9000" for
	// SetMTU, "down" and "up" for SetState, gateways for ReplaceRoute (empty
	// for none). From is empty when the old value is not known yet, which
	// is the case for every change after a CreateLink in a Plan. To is the
	// kind ("veth" or "bridge") for CreateLink.
	From, To string

	// Address is the address that an AddAddress or RemoveAddress change
	// adds or removes.
	Address netip.Prefix

	// Route is the route that an AddRoute or ReplaceRoute change adds or
	// changes, with the table and metric that the kernel stores.
	Route Route

	// Peer is the veth peer's name for a CreateLink change.
	Peer string

	// fromGateway is the gateway of the route that a ReplaceRoute change
	// deletes; invalid for a route without a gateway.
	fromGateway netip.Addr

	// mtu, up and hwaddr are the values that a Set* change writes.
	mtu    int
	up     bool
	hwaddr HardwareAddr
}

// String describes the change on one line, for example "set mtu 1400 ->
// 9000", "add address 192.0.2.10/24" or "add route 198.51.100.0/24 via
// 192.0.2.1 metric 10".
func (c Change) String() string {
	switch c.Action {
	case CreateLink:
		if c.Peer != "" {
			return fmt.Sprintf("create link %s type %s peer %s", c.Link, c.To, c.Peer)
		}
		return fmt.Sprintf("create link %s type %s", c.Link, c.To)
	case SetHardwareAddr, SetMTU, SetState:
		if c.From == "" {
			return fmt.Sprintf("%s %s", c.Action, c.To)
		}
		return fmt.Sprintf("%s %s -> %s", c.Action, c.From, c.To)
	case RemoveAddress, AddAddress:
		return fmt.Sprintf("%s %s", c.Action, c.Address)
	case ReplaceRoute:
		return fmt.Sprintf("%s %s (gateway %s -> %s)", c.Action, c.Route, orNone(c.From), orNone(c.To))
	case AddRoute:
		return fmt.Sprintf("%s %s", c.Action, c.Route)
	}
	return c.Action.String()
}

func orNone(s string) string {
	if s == "" {
		return "none"
	}
	return s
}

// Changes is a list of changes, in the order in which they are made.
type Changes []Change

// String prints one change per line, or "no changes" when there are none.
func (cs Changes) String() string {
	if len(cs) == 0 {
		return "no changes"
	}
	lines := make([]string, len(cs))
	for i, c := range cs {
		lines[i] = c.String()
	}
	return strings.Join(lines, "\n")
}

// An ApplyError reports a change that the kernel rejected. Changes made
// before it stay made; Done lists them.
type ApplyError struct {
	// Change is the change that failed.
	Change Change
	// Done are the changes made before it, in order.
	Done Changes
	// Err is the cause, usually a *netlink.OpError that wraps the kernel's
	// errno: test it with errors.Is(err, unix.EPERM) and similar.
	Err error
}

// Error names the failed change, the kernel's errno and message, and the
// number of changes made before it.
func (e *ApplyError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "apply: link %s: %s failed: %s", e.Change.Link, e.Change, describeErr(e.Err))
	switch len(e.Done) {
	case 0:
		b.WriteString(" (no changes made before it)")
	case 1:
		fmt.Fprintf(&b, " (1 change made before it: %s)", e.Done[0])
	default:
		fmt.Fprintf(&b, " (%d changes made before it: %s)", len(e.Done), strings.ReplaceAll(e.Done.String(), "\n", "; "))
	}
	return b.String()
}

// Unwrap returns the cause.
func (e *ApplyError) Unwrap() error { return e.Err }

// describeErr prints a kernel error as "EPERM: operation not permitted",
// followed by the kernel's extended acknowledgement message when there is
// one, and other errors as they print themselves.
func describeErr(err error) string {
	var code errno
	if !errors.As(err, &code) {
		return err.Error()
	}

	text := code.Error()
	if name := errnoName(code); name != "" {
		text = name + ": " + text
	}
	var opErr *netlink.OpError
	if errors.As(err, &opErr) && opErr.Message != "" {
		text += fmt.Sprintf(" (kernel: %q)", opErr.Message)
	}
	// Hints come outermost first; the innermost is the closest to the
	// errno, so it is printed first.
	var hints []string
	for e := err; e != nil; e = errors.Unwrap(e) {
		if hinted, ok := e.(*hintError); ok {
			hints = append([]string{hinted.hint}, hints...)
		}
	}
	for _, hint := range hints {
		text += ": " + hint
	}
	return text
}

// hintError adds what the kernel's errno means for the change that failed,
// and what to do, to the errno's error.
type hintError struct {
	err  error
	hint string
}

func withHint(err error, format string, args ...any) error {
	return &hintError{err: err, hint: fmt.Sprintf(format, args...)}
}

func (e *hintError) Error() string { return e.err.Error() + ": " + e.hint }

func (e *hintError) Unwrap() error { return e.err }
