package apply

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"syscall"

	"github.com/jsimonetti/rtnetlink/v2"
	"github.com/jsimonetti/rtnetlink/v2/driver"
	"github.com/mdlayher/netlink"
)

// conn is an rtnetlink connection in the configured namespace, with the
// reads and writes that plans need.
type conn struct {
	rt *rtnetlink.Conn
}

// dial opens an rtnetlink socket in the namespace that cfg names.
func dial(cfg *config) (*conn, error) {
	nc := &netlink.Config{}
	namespace := "the caller's network namespace"
	switch {
	case cfg.netnsPath != "":
		f, err := os.Open(cfg.netnsPath)
		if err != nil {
			// The *PathError would repeat the path: keep its errno alone.
			var pathErr *os.PathError
			if errors.As(err, &pathErr) {
				err = pathErr.Err
			}
			return nil, fmt.Errorf("apply: open network namespace %q: %w; pass /run/netns/NAME (see ip netns list) or /proc/PID/ns/net", cfg.netnsPath, err)
		}
		defer f.Close() // Dial enters the namespace before it returns.
		nc.NetNS = int(f.Fd())
		namespace = fmt.Sprintf("network namespace %q", cfg.netnsPath)
	case cfg.netnsFD >= 0:
		nc.NetNS = cfg.netnsFD
		namespace = fmt.Sprintf("network namespace fd %d", cfg.netnsFD)
	}

	rt, err := rtnetlink.Dial(nc)
	if err != nil {
		return nil, dialError(namespace, err)
	}

	// Both options are optional: the kernel's error messages make errors
	// clearer, and strict checking lets the kernel filter dumps by link.
	// Kernels older than 4.20 lack strict checking, so reads filter again.
	_ = rt.SetOption(netlink.ExtendedAcknowledge, true)
	_ = rt.SetOption(netlink.GetStrictCheck, true)
	return &conn{rt: rt}, nil
}

func (c *conn) Close() error { return c.rt.Close() }

// kernelState is what the kernel has for the link.
type kernelState struct {
	exists bool
	index  uint32
	kind   string
	up     bool
	mtu    int
	hwaddr HardwareAddr
	addrs  []kernelAddr
	routes []Route
}

type kernelAddr struct {
	prefix netip.Prefix
	flags  uint32 // IFA_F_*
}

// read returns the kernel's state of the link named name.
func (c *conn) read(name string) (*kernelState, error) {
	link, err := c.linkByName(name)
	if err != nil || link == nil {
		return &kernelState{}, err
	}

	st := &kernelState{exists: true, index: link.Index, up: link.Flags&iffUp != 0}
	if a := link.Attributes; a != nil {
		st.mtu = int(a.MTU)
		st.hwaddr = HardwareAddr(a.Address)
		if a.Info != nil {
			st.kind = a.Info.Kind
		}
	}

	if st.addrs, err = c.addresses(link.Index); err != nil {
		return nil, err
	}
	if st.routes, err = c.routes(link.Index); err != nil {
		return nil, err
	}
	return st, nil
}

// loopbackIndex is the index of the loopback link, lo, in every network
// namespace (LOOPBACK_IFINDEX).
const loopbackIndex = 1

// barrier waits until the kernel has finished the link and address changes
// in progress in the namespace, so that a read that follows does not see
// half of one. For example, ip link set down clears IFF_UP, then removes
// routes and IPv6 addresses, and the notifications come along the way.
// Reads do not take the kernel's rtnetlink lock (RTNL), but changing a link
// does, so barrier requests a change of lo that changes nothing and sends no
// notification. Errors are ignored because without the barrier a read can
// only come too early, which the next notification makes good.
func (c *conn) barrier() {
	_ = c.rt.Link.Set(&rtnetlink.LinkMessage{Index: loopbackIndex})
}

// linkByName returns the link named name, or nil when there is none.
func (c *conn) linkByName(name string) (*rtnetlink.LinkMessage, error) {
	req := &rtnetlink.LinkMessage{Attributes: &rtnetlink.LinkAttributes{Name: name}}
	msgs, err := c.rt.Execute(req, rtmGetLink, netlink.Request)
	if errors.Is(err, errnoENODEV) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("apply: read link %s: %w", name, err)
	}

	for _, m := range msgs {
		if link, ok := m.(*rtnetlink.LinkMessage); ok {
			return link, nil
		}
	}
	return nil, fmt.Errorf("apply: read link %s: the kernel sent no link message", name)
}

// addresses returns the IPv4 and IPv6 addresses on the link.
func (c *conn) addresses(index uint32) ([]kernelAddr, error) {
	var addrs []kernelAddr
	for _, family := range []uint8{afInet, afInet6} {
		req := &rtnetlink.AddressMessage{Family: family, Index: index}
		msgs, err := c.rt.Execute(req, rtmGetAddr, netlink.Request|netlink.Dump)
		if err != nil {
			return nil, fmt.Errorf("apply: read addresses: %w", err)
		}

		for _, m := range msgs {
			a, ok := m.(*rtnetlink.AddressMessage)
			if !ok || a.Index != index || a.Attributes == nil {
				continue
			}
			ip := a.Attributes.Local
			if ip == nil {
				ip = a.Attributes.Address
			}
			addr, ok := netip.AddrFromSlice(ip)
			if !ok {
				continue
			}

			flags := a.Attributes.Flags
			if flags == 0 {
				flags = uint32(a.Flags) // no IFA_FLAGS attribute
			}
			prefix := netip.PrefixFrom(addr.Unmap(), int(a.PrefixLength))
			addrs = append(addrs, kernelAddr{prefix: prefix, flags: flags})
		}
	}
	return addrs, nil
}

// routes returns the unicast routes whose single next hop is the link, from
// every table.
func (c *conn) routes(index uint32) ([]Route, error) {
	var routes []Route
	for _, family := range []uint8{afInet, afInet6} {
		req := &rtnetlink.RouteMessage{Family: family, Attributes: rtnetlink.RouteAttributes{OutIface: index}}
		msgs, err := c.rt.Execute(req, rtmGetRoute, netlink.Request|netlink.Dump)
		if err != nil {
			return nil, fmt.Errorf("apply: read routes: %w", err)
		}

		for _, m := range msgs {
			r, ok := m.(*rtnetlink.RouteMessage)
			// A source-specific route (ip route add ... from PREFIX) is
			// in another place than the routes a description lists.
			if !ok || r.Attributes.OutIface != index || r.Type != rtnUnicast || r.SrcLength != 0 {
				continue
			}
			if route, ok := kernelRouteFrom(r); ok {
				routes = append(routes, route)
			}
		}
	}
	return routes, nil
}

func kernelRouteFrom(m *rtnetlink.RouteMessage) (Route, bool) {
	var dst netip.Addr
	switch {
	case m.Attributes.Dst != nil:
		a, ok := netip.AddrFromSlice(m.Attributes.Dst)
		if !ok {
			return Route{}, false
		}
		dst = a.Unmap()
	case m.Family == afInet:
		dst = netip.IPv4Unspecified()
	default:
		dst = netip.IPv6Unspecified()
	}

	r := Route{
		Destination: netip.PrefixFrom(dst, int(m.DstLength)),
		Table:       m.Attributes.Table,
		Metric:      m.Attributes.Priority,
	}
	if r.Table == 0 {
		r.Table = uint32(m.Table)
	}
	if gw, ok := netip.AddrFromSlice(m.Attributes.Gateway); ok {
		r.Gateway = gw.Unmap()
	}
	return r, true
}

// createLink creates the link that spec describes, down.
func (c *conn) createLink(spec Link) error {
	info := &rtnetlink.LinkInfo{Kind: spec.Kind}
	if spec.Kind == KindVeth {
		peer := &rtnetlink.LinkMessage{Attributes: &rtnetlink.LinkAttributes{Name: spec.Peer}}
		info.Data = &driver.Veth{PeerInfo: peer}
	}
	err := c.rt.Link.New(&rtnetlink.LinkMessage{
		Attributes: &rtnetlink.LinkAttributes{Name: spec.Name, Info: info},
	})
	if errors.Is(err, syscall.EEXIST) && spec.Peer != "" {
		// The plan saw no link named spec.Name, so the name in use is
		// most likely the peer's.
		if peer, _ := c.linkByName(spec.Peer); peer != nil {
			return withHint(err, "a link named %s, the peer's name, exists; delete or rename it, or choose another peer", spec.Peer)
		}
	}
	return err
}

func (c *conn) setUp(index uint32, up bool) error {
	var flags uint32
	if up {
		flags = iffUp
	}
	return c.rt.Link.Set(&rtnetlink.LinkMessage{Index: index, Flags: flags, Change: iffUp})
}

func (c *conn) setMTU(index uint32, mtu int) error {
	return c.rt.Link.Set(&rtnetlink.LinkMessage{
		Index:      index,
		Attributes: &rtnetlink.LinkAttributes{MTU: uint32(mtu)},
	})
}

func (c *conn) setHardwareAddr(index uint32, a HardwareAddr) error {
	return c.rt.Link.Set(&rtnetlink.LinkMessage{
		Index:      index,
		Attributes: &rtnetlink.LinkAttributes{Address: net.HardwareAddr(a)},
	})
}

// addressMessage builds the message that adds or removes p. IFA_LOCAL is
// set too, because for IPv4 the kernel matches a deletion without it by
// subnet and could remove another address of the same prefix.
func addressMessage(index uint32, p netip.Prefix) *rtnetlink.AddressMessage {
	family := uint8(afInet)
	if p.Addr().Is6() {
		family = afInet6
	}
	ip := net.IP(p.Addr().AsSlice())
	return &rtnetlink.AddressMessage{
		Family:       family,
		PrefixLength: uint8(p.Bits()),
		Index:        index,
		Attributes:   &rtnetlink.AddressAttributes{Address: ip, Local: ip},
	}
}

func (c *conn) addAddress(index uint32, p netip.Prefix) error {
	return c.rt.Address.New(addressMessage(index, p))
}

func (c *conn) removeAddress(index uint32, p netip.Prefix) error {
	return c.rt.Address.Delete(addressMessage(index, p))
}

// addRoute adds r through the link. NB: it never uses NLM_F_REPLACE,
// because the IPv4 FIB replaces the first route with the same destination,
// TOS and metric whatever its link, so a replace could change another link's
// route. Routes are added with NLM_F_APPEND, as ip route append does, so
// that they coexist with other links' routes in their place. The one case
// where they would not, an IPv6 route through a gateway next to another
// through a gateway, is left out of plans (see ErrRouteConflict).
func (c *conn) addRoute(index uint32, r Route) error {
	flags := netlink.Request | netlink.Create | netlink.Append | netlink.Acknowledge
	_, err := c.rt.Execute(routeMessage(index, r), rtmNewRoute, flags)
	if errors.Is(err, syscall.EEXIST) {
		return withHint(err, "a route with this destination, gateway, table and metric exists through the link, which the plan did not see")
	}
	return err
}

// replaceRoute changes the gateway of the link's route from the gateway old:
// it adds the new route, then deletes the old one, which the link index and
// the old gateway select among the routes in its place. In that order a
// failed addition changes nothing, and the kernel sends no notification
// that would start another check at once. An IPv6 route through a gateway
// joins the old one as a multipath next hop for that moment, and the
// deletion removes the old next hop alone.
func (c *conn) replaceRoute(index uint32, r Route, old netip.Addr) error {
	if err := c.addRoute(index, r); err != nil {
		return err
	}

	previous := r
	previous.Gateway = old
	msg := routeMessage(index, previous)
	// Any protocol, scope and type match, as with ip route del: the route
	// may have been made by another program.
	msg.Protocol, msg.Scope, msg.Type = 0, rtScopeNowhere, 0
	if err := c.rt.Route.Delete(msg); err != nil {
		return withHint(err, "the route through gateway %s was added, and deleting the one through gateway %s failed", orNone(addrString(r.Gateway)), orNone(addrString(old)))
	}
	return nil
}

// routeMessage builds the rtnetlink message for r through the link.
func routeMessage(index uint32, r Route) *rtnetlink.RouteMessage {
	family, scope := uint8(afInet), uint8(rtScopeLink)
	if r.Destination.Addr().Is6() {
		family = afInet6
	}
	attrs := rtnetlink.RouteAttributes{OutIface: index, Priority: r.metric(), Table: r.table()}
	if r.Destination.Bits() > 0 {
		attrs.Dst = net.IP(r.Destination.Addr().AsSlice())
	}
	if r.Gateway.IsValid() {
		attrs.Gateway = net.IP(r.Gateway.AsSlice())
		scope = rtScopeUniverse
	}

	return &rtnetlink.RouteMessage{
		Family:     family,
		DstLength:  uint8(r.Destination.Bits()),
		Table:      headerTable(r.table()),
		Protocol:   rtprotStatic,
		Scope:      scope,
		Type:       rtnUnicast,
		Attributes: attrs,
	}
}

// headerTable returns the value for rtm_table, which has 8 bits; RTA_TABLE
// carries the full table number.
func headerTable(table uint32) uint8 {
	if table > 255 {
		return rtTableCompat
	}
	return uint8(table)
}

func sameHardwareAddr(a, b HardwareAddr) bool { return bytes.Equal(a, b) }

// dialError explains the usual reasons why opening a socket in a namespace
// fails.
func dialError(namespace string, err error) error {
	switch {
	case errors.Is(err, syscall.EINVAL):
		return fmt.Errorf("apply: open rtnetlink socket in %s: %w: it is not a network namespace; pass /run/netns/NAME or /proc/PID/ns/net", namespace, err)
	case errors.Is(err, syscall.EPERM):
		return fmt.Errorf("apply: open rtnetlink socket in %s: %w: entering a namespace needs CAP_SYS_ADMIN", namespace, err)
	}
	return fmt.Errorf("apply: open rtnetlink socket in %s: %w", namespace, err)
}
