// Package apply puts one network link into a declared state and keeps it
// there.
//
// A Link describes the state: the link's name (and, for veth pairs and
// bridges, how to create it), its administrative state, MTU, hardware
// address, the exact set of its IPv4 and IPv6 addresses, and routes through
// it. Fields left at their zero value are left alone.
//
// # Plan, apply, enforce
//
// Plan reads the kernel's state and returns the changes that would bring the
// link to the description, without making them (a dry run). Apply makes
// them and returns what it changed; a second Apply returns no changes.
// Enforce applies the description, then watches the link's rtnetlink
// notifications through nlevents.Subscribe and corrects every drift, such
// as an address removed, the link set down, the MTU changed or a route
// deleted, reporting each correction on a channel. It reads the kernel's
// state again after each burst of notifications and acts only when that
// state differs from the description, so its own changes do not make it
// act again.
//
// # Validation
//
// Every function validates the description before it touches the kernel.
// An invalid prefix, an MTU out of range, a gateway outside the link's
// prefixes, a duplicate address and similar mistakes are each a *SpecError
// that names the field and the value, and errors.Is(err, ErrInvalidSpec)
// holds for them.
// Decode reads a description from JSON, rejecting unknown fields and values
// of the wrong type with the same kind of error.
//
// # Kernel errors
//
// When the kernel rejects a change, Apply returns an *ApplyError that names
// the change, lists the changes already made, and wraps the kernel's errno,
// so errors.Is(err, unix.EPERM) and similar tests work.
//
// # Network namespaces
//
// WithNetNSPath and WithNetNS make every function work in another network
// namespace, for example one made with ip netns add. Entering a namespace
// needs CAP_SYS_ADMIN; changing links needs CAP_NET_ADMIN in the namespace.
//
// # Other operating systems
//
// The package builds on every operating system, so that portable programs
// can import it, but it needs Linux rtnetlink at run time: elsewhere Plan,
// Apply and Enforce return an error after validating the description.
package apply
