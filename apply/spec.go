package apply

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strings"
	"unicode"
)

// State is the administrative state of a link (the IFF_UP flag).
type State string

// The administrative states. The empty State leaves the state alone.
const (
	StateUp   State = "up"
	StateDown State = "down"
)

// Link kinds that Apply can create.
const (
	KindVeth   = "veth"
	KindBridge = "bridge"
)

// MTU limits that Validate enforces, in bytes.
const (
	MinMTU     = 68    // the minimum MTU for IPv4 (RFC 791)
	MinMTUIPv6 = 1280  // the minimum MTU for IPv6 (RFC 8200); below it the kernel removes IPv6 from the link
	MaxMTU     = 65535 // the largest MTU that an IP packet can use
)

// Size limits of one description. Linux itself allows more addresses and
// routes on a link, but a declarative description of one link with more is
// far more likely a generated mistake than an intent, and every check and
// correction reads and compares all of them.
const (
	MaxAddresses = 256
	MaxRoutes    = 256
)

// maxNameLen is the longest link name the kernel accepts, in bytes
// (IFNAMSIZ minus the terminating NUL).
const maxNameLen = 15

// defaultIPv6Metric is the metric the kernel gives an IPv6 route that is
// added with metric 0 (IP6_RT_PRIO_USER).
const defaultIPv6Metric = 1024

// Link describes the state of one network link. The zero value of each
// field except Name leaves that part of the link alone.
//
// Link has JSON tags; Decode and Link.UnmarshalJSON read it strictly (see
// Decode).
type Link struct {
	// Name is the link's name, as ip link shows it: 1 to 15 bytes, without
	// '/', ':' or white space. It is required.
	Name string `json:"name"`

	// Kind allows Apply to create the link when no link named Name exists:
	// KindVeth or KindBridge. When Kind is empty, the link must exist.
	// When the link exists and Kind is set, the link must be of that kind.
	Kind string `json:"kind,omitempty"`

	// Peer is the name of the other end of a veth pair. It is required when
	// Kind is KindVeth and must be empty otherwise. It is used only when
	// Apply creates the pair: the peer is created down and is not managed
	// afterwards.
	Peer string `json:"peer,omitempty"`

	// State is the administrative state. Routes need the link up, so State
	// must not be StateDown when Routes is not empty.
	State State `json:"state,omitempty"`

	// MTU is the maximum transmission unit in bytes, from MinMTU to MaxMTU,
	// and at least MinMTUIPv6 when Addresses or Routes contain IPv6. The
	// driver may allow less than MaxMTU; the kernel then rejects the change.
	MTU int `json:"mtu,omitempty"`

	// HardwareAddr is the link-layer address. An Ethernet address must be
	// unicast and not all zeros.
	HardwareAddr HardwareAddr `json:"hwaddr,omitempty"`

	// Addresses is the exact set of IPv4 and IPv6 addresses on the link,
	// each with its prefix length, such as 192.0.2.10/24 or
	// 2001:db8::10/64. Apply adds the missing ones and removes the others.
	// It leaves alone two kinds of IPv6 addresses that the kernel manages
	// itself, when Addresses does not list them. These are link-local
	// addresses (fe80::/10), unless Addresses contains at least one, and
	// addresses without IFA_F_PERMANENT, which come from stateless
	// autoconfiguration.
	//
	// A nil slice leaves the addresses alone; an empty one removes them all.
	//
	// NB: removing an IPv4 primary address makes the kernel remove the
	// secondary addresses of the same subnet too, unless the sysctl
	// net.ipv4.conf.LINK.promote_secondaries is 1. Apply then adds the
	// listed ones again, and reports both changes.
	Addresses []netip.Prefix `json:"addresses"`

	// Routes are routes through the link that must exist. Apply adds the
	// missing ones and replaces a route through the link with the same
	// destination, table and metric but another gateway. Routes through the
	// link that Routes does not list, such as the kernel's prefix routes,
	// are left alone.
	Routes []Route `json:"routes"`
}

// Route is a unicast route through the link.
type Route struct {
	// Destination is the destination prefix, with the host bits zero:
	// 198.51.100.0/24, or 0.0.0.0/0 and ::/0 for a default route. It is
	// required.
	Destination netip.Prefix `json:"destination"`

	// Gateway is the next hop, of the same family as Destination. It must
	// lie in one of the link's prefixes (those in Addresses, or on the link
	// when Addresses is nil), unless it is an IPv6 link-local address. The
	// zero Addr makes a directly connected route (scope link).
	Gateway netip.Addr `json:"gateway"`

	// Table is the routing table; 0 means the main table (254).
	Table uint32 `json:"table,omitempty"`

	// Metric is the route's priority (RTA_PRIORITY); lower wins. For IPv6, 0
	// means 1024, the metric the kernel gives when none is set.
	Metric uint32 `json:"metric,omitempty"`
}

// String prints the route as ip route does, for example
// "198.51.100.0/24 via 192.0.2.1 table 100 metric 10".
func (r Route) String() string {
	var b strings.Builder
	b.WriteString(r.Destination.String())
	if r.Gateway.IsValid() {
		b.WriteString(" via ")
		b.WriteString(r.Gateway.String())
	}
	if table := r.table(); table != rtTableMain {
		fmt.Fprintf(&b, " table %d", table)
	}
	if metric := r.metric(); metric != 0 {
		fmt.Fprintf(&b, " metric %d", metric)
	}
	return b.String()
}

// table returns the routing table with 0 replaced by the main table.
func (r Route) table() uint32 {
	if r.Table == 0 {
		return rtTableMain
	}
	return r.Table
}

// metric returns the metric the kernel stores for the route.
func (r Route) metric() uint32 {
	if r.Metric == 0 && r.Destination.Addr().Is6() {
		return defaultIPv6Metric
	}
	return r.Metric
}

// routeKey is a route's place in the kernel: its destination, table and
// metric. A place can hold several routes, of one link or of several,
// when they differ in gateway or protocol.
type routeKey struct {
	dst    netip.Prefix
	table  uint32
	metric uint32
}

func (r Route) key() routeKey {
	return routeKey{dst: r.Destination, table: r.table(), metric: r.metric()}
}

// HardwareAddr is a link-layer address, such as an Ethernet MAC address.
// It reads and writes itself as text in the form net.ParseMAC accepts, so it
// appears in JSON as "02:00:5e:10:00:01".
type HardwareAddr net.HardwareAddr

// String prints the address with colons, as net.HardwareAddr does.
func (a HardwareAddr) String() string { return net.HardwareAddr(a).String() }

// MarshalText returns the address as String prints it.
func (a HardwareAddr) MarshalText() ([]byte, error) { return []byte(a.String()), nil }

// UnmarshalText parses an address in a form net.ParseMAC accepts.
func (a *HardwareAddr) UnmarshalText(text []byte) error {
	mac, err := net.ParseMAC(string(text))
	if err != nil {
		return err
	}
	*a = HardwareAddr(mac)
	return nil
}

// ErrInvalidSpec matches every error that reports an invalid description,
// from Validate, Decode, Plan, Apply and Enforce. Test for it with
// errors.Is; errors.As with a *SpecError gives the field.
var ErrInvalidSpec = errors.New("apply: invalid link description")

// ErrLinkNotFound is returned when no link has the description's name and
// its Kind is empty, so Apply may not create one. Test for it with
// errors.Is.
var ErrLinkNotFound = errors.New("apply: link not found")

// A SpecError reports one invalid field of a description. It matches
// ErrInvalidSpec.
type SpecError struct {
	// Field is the field's path in JSON terms, such as "mtu",
	// "addresses[2]" or "routes[0].gateway"; empty when the whole JSON
	// document is wrong.
	Field string
	// Value is the field's value, as given or as printed; empty when it is
	// missing or has the wrong JSON type.
	Value string
	// Reason describes the problem and, where useful, the fix.
	Reason string
}

// Error names the field, its value and the reason.
func (e *SpecError) Error() string {
	switch {
	case e.Field == "":
		return "apply: invalid link description: " + e.Reason
	case e.Value == "":
		return fmt.Sprintf("apply: invalid %s: %s", e.Field, e.Reason)
	}
	return fmt.Sprintf("apply: invalid %s %q: %s", e.Field, e.Value, e.Reason)
}

// Is reports whether target is ErrInvalidSpec.
func (e *SpecError) Is(target error) bool { return target == ErrInvalidSpec }

func specError(field, value, format string, args ...any) *SpecError {
	return &SpecError{Field: field, Value: value, Reason: fmt.Sprintf(format, args...)}
}

// Validate checks the description without touching the kernel. It returns
// nil or all the problems it finds, each a *SpecError, joined with
// errors.Join. Plan, Apply and Enforce call it first.
//
// A gateway is checked against Addresses here; when Addresses is nil, Plan
// checks it against the link's addresses in the kernel instead.
func (l Link) Validate() error {
	var errs []error
	errs = append(errs, validateName("name", l.Name)...)
	errs = append(errs, l.validateKind()...)
	errs = append(errs, l.validateState()...)
	errs = append(errs, l.validateMTU()...)
	errs = append(errs, l.validateHardwareAddr()...)
	errs = append(errs, l.validateAddresses()...)
	errs = append(errs, l.validateRoutes()...)
	return errors.Join(errs...)
}

// validateName applies the kernel's rules for link names (dev_valid_name).
func validateName(field, name string) []error {
	switch {
	case name == "":
		return []error{specError(field, name, "must not be empty")}
	case len(name) > maxNameLen:
		return []error{specError(field, name, "is %d bytes long; the kernel allows at most %d", len(name), maxNameLen)}
	case name == "." || name == "..":
		return []error{specError(field, name, "is not a valid link name")}
	case strings.ContainsAny(name, "/: \t\n\v\f\r"):
		return []error{specError(field, name, "must not contain '/', ':' or white space")}
	case strings.ContainsFunc(name, unicode.IsControl):
		// The kernel would stop reading the name at a NUL byte and act on
		// another link.
		return []error{specError(field, name, "must not contain control characters such as NUL")}
	}
	return nil
}

func (l Link) validateKind() []error {
	switch l.Kind {
	case "", KindBridge:
		if l.Peer != "" {
			return []error{specError("peer", l.Peer, "is only for kind %q", KindVeth)}
		}
		return nil
	case KindVeth:
		if l.Peer == "" {
			return []error{specError("peer", l.Peer, "is required for kind %q", KindVeth)}
		}
		if l.Peer == l.Name {
			return []error{specError("peer", l.Peer, "must differ from name")}
		}
		return validateName("peer", l.Peer)
	}
	return []error{specError("kind", l.Kind, "unknown kind: use %q, %q, or leave it empty for a link that exists", KindVeth, KindBridge)}
}

func (l Link) validateState() []error {
	switch l.State {
	case "", StateUp:
		return nil
	case StateDown:
		if len(l.Routes) > 0 {
			return []error{specError("state", string(l.State), "routes need the link up: remove the routes or the state")}
		}
		return nil
	}
	return []error{specError("state", string(l.State), "must be %q or %q", StateUp, StateDown)}
}

func (l Link) validateMTU() []error {
	if l.MTU == 0 {
		return nil
	}

	value := fmt.Sprint(l.MTU)
	if l.MTU < MinMTU || l.MTU > MaxMTU {
		return []error{specError("mtu", value, "out of range %d to %d", MinMTU, MaxMTU)}
	}
	if l.MTU < MinMTUIPv6 && l.usesIPv6() {
		return []error{specError("mtu", value, "below %d, the minimum for IPv6, but the link has IPv6 addresses or routes", MinMTUIPv6)}
	}
	return nil
}

func (l Link) usesIPv6() bool {
	for _, p := range l.Addresses {
		if p.Addr().Is6() {
			return true
		}
	}
	for _, r := range l.Routes {
		if r.Destination.Addr().Is6() {
			return true
		}
	}
	return false
}

func (l Link) validateHardwareAddr() []error {
	a := l.HardwareAddr
	switch {
	case a == nil:
		return nil
	case len(a) == 0:
		return []error{specError("hwaddr", "", "must not be empty: leave the field out to keep the address")}
	case len(a) == 6 && a[0]&1 != 0:
		return []error{specError("hwaddr", a.String(), "is a multicast address; a link needs a unicast one")}
	case len(a) == 6 && isZero(a):
		return []error{specError("hwaddr", a.String(), "must not be all zeros")}
	}
	return nil
}

func isZero(b []byte) bool {
	for _, x := range b {
		if x != 0 {
			return false
		}
	}
	return true
}

func (l Link) validateAddresses() []error {
	if len(l.Addresses) > MaxAddresses {
		return []error{specError("addresses", fmt.Sprintf("%d addresses", len(l.Addresses)), "more than %d: split the description or manage bulk addresses another way", MaxAddresses)}
	}

	var errs []error
	seen := make(map[netip.Addr]int)
	for i, p := range l.Addresses {
		field := fmt.Sprintf("addresses[%d]", i)
		if err := validateAddress(field, p); err != nil {
			errs = append(errs, err)
			continue
		}

		if j, dup := seen[p.Addr()]; dup {
			errs = append(errs, specError(field, p.String(), "duplicate address: addresses[%d] has %s too", j, p.Addr()))
			continue
		}
		seen[p.Addr()] = i
	}
	return errs
}

// invalidPrefix describes an invalid prefix: a missing one (the zero
// Prefix, which prints as "invalid Prefix") or one whose length does not
// fit its address. example shows a valid value.
func invalidPrefix(field string, p netip.Prefix, example string) error {
	if !p.Addr().IsValid() {
		return specError(field, "", "missing: give a prefix such as %s", example)
	}
	return specError(field, p.Addr().String(), "has no valid prefix length for its family: give a prefix such as %s", example)
}

func validateAddress(field string, p netip.Prefix) error {
	a := p.Addr()
	switch {
	case !p.IsValid():
		return invalidPrefix(field, p, "192.0.2.10/24")
	case a.Is4In6():
		return specError(field, p.String(), "IPv4-mapped IPv6 address: write the IPv4 address")
	case a.IsUnspecified():
		return specError(field, p.String(), "the unspecified address cannot be assigned")
	case a.IsMulticast():
		return specError(field, p.String(), "a multicast address cannot be assigned")
	}
	return nil
}

func (l Link) validateRoutes() []error {
	if len(l.Routes) > MaxRoutes {
		return []error{specError("routes", fmt.Sprintf("%d routes", len(l.Routes)), "more than %d: split the description or manage bulk routes another way", MaxRoutes)}
	}

	var errs []error
	seen := make(map[routeKey]int)
	for i, r := range l.Routes {
		field := fmt.Sprintf("routes[%d]", i)
		if err := l.validateRoute(field, r); err != nil {
			errs = append(errs, err)
			continue
		}

		if j, dup := seen[r.key()]; dup {
			errs = append(errs, specError(field, r.String(), "duplicate route: routes[%d] has the same destination, table and metric", j))
			continue
		}
		seen[r.key()] = i
	}
	return errs
}

func (l Link) validateRoute(field string, r Route) error {
	dst, gw := r.Destination, r.Gateway
	switch {
	case !dst.IsValid():
		return invalidPrefix(field+".destination", dst, "198.51.100.0/24 or 0.0.0.0/0")
	case dst.Addr().Is4In6():
		return specError(field+".destination", dst.String(), "IPv4-mapped IPv6 prefix: write the IPv4 prefix")
	case dst != dst.Masked():
		return specError(field+".destination", dst.String(), "host bits are set: use %s", dst.Masked())
	case !gw.IsValid():
		return nil
	case gw.Zone() != "":
		return specError(field+".gateway", gw.String(), "must not have a zone: the route's link is the zone")
	case gw.Is4() != dst.Addr().Is4() || gw.Is4In6():
		return specError(field+".gateway", gw.String(), "not of the same address family as the destination %s", dst)
	case gw.IsUnspecified() || gw.IsMulticast():
		return specError(field+".gateway", gw.String(), "not a unicast address")
	}

	if l.Addresses == nil {
		return nil // Plan checks the gateway against the kernel's addresses.
	}
	return checkGateway(field+".gateway", gw, l.Addresses)
}

// checkGateway checks that gw is on the link: inside one of prefixes and
// not one of its addresses, or an IPv6 link-local address.
func checkGateway(field string, gw netip.Addr, prefixes []netip.Prefix) error {
	for _, p := range prefixes {
		if p.Addr() == gw {
			return specError(field, gw.String(), "is the link's own address %s", p)
		}
	}
	if gw.Is6() && gw.IsLinkLocalUnicast() {
		return nil
	}

	for _, p := range prefixes {
		if !p.Contains(gw) {
			continue
		}
		// The kernel rejects a subnet's broadcast address as a gateway
		// ("Nexthop has invalid gateway"); /31 and /32 have none.
		if gw.Is4() && p.Bits() <= 30 && gw == broadcast(p) {
			return specError(field, gw.String(), "is the broadcast address of the link's prefix %s, not a host", p)
		}
		return nil
	}
	return specError(field, gw.String(), "not reachable through the link: no address of the link has a prefix that contains it (%s)", listPrefixes(prefixes))
}

// broadcast returns the last address of the IPv4 prefix p.
func broadcast(p netip.Prefix) netip.Addr {
	a := p.Masked().Addr().As4()
	host := ^uint32(0) >> p.Bits()
	for i := range 4 {
		a[i] |= byte(host >> (24 - 8*i))
	}
	return netip.AddrFrom4(a)
}

func listPrefixes(prefixes []netip.Prefix) string {
	if len(prefixes) == 0 {
		return "the link has no addresses"
	}
	names := make([]string, len(prefixes))
	for i, p := range prefixes {
		names[i] = p.String()
	}
	return "addresses: " + strings.Join(names, ", ")
}
