package apply

import (
	"context"
	"fmt"
	"net/netip"
	"slices"
)

// maxRounds is how many times Apply reads the kernel's state and makes the
// changes it finds. Each round makes the changes of one phase (see phase),
// so a plan that touches the link, its addresses and its routes takes three
// rounds, four with a CreateLink, and one more to find nothing left. A
// round more is needed when the kernel undoes a change itself, for example
// when the removal of a primary IPv4 address takes the secondaries with it.
const maxRounds = 8

// Plan validates spec, reads the link's state from the kernel and returns
// the changes that Apply would make now, without making them: a dry run.
// An empty result means that the link matches spec.
//
// NOTE: the kernel makes some changes itself as a result of others, so
// Apply can make fewer changes than Plan lists, or more. For example,
// setting lo up adds its addresses. Removing a primary IPv4 address removes
// the secondaries of its subnet, which Apply then adds again.
//
// When the link does not exist and spec allows creating it, the plan starts
// with a CreateLink change, and the changes after it have no From value.
//
// Errors: a *SpecError (errors.Is(err, ErrInvalidSpec)) for an invalid
// description, ErrLinkNotFound, ErrRouteConflict when an IPv6 route to add
// would merge with another route, or an error from opening the namespace
// or reading the kernel's state.
func Plan(ctx context.Context, spec Link, opts ...Option) (Changes, error) {
	c, err := open(ctx, spec, opts)
	if err != nil {
		return nil, err
	}
	defer c.Close()

	st, err := c.read(spec.Name)
	if err != nil {
		return nil, err
	}
	changes, conflict, err := c.plan(spec, st)
	if err == nil {
		err = conflict
	}
	if err != nil {
		return nil, err
	}
	return changes, nil
}

// Apply validates spec and changes the link until it matches spec. It
// returns the changes it made, in order; none when the link already
// matched, so a second Apply returns an empty list.
//
// When the kernel rejects a change, Apply stops and returns the changes made
// before it together with an *ApplyError, which names the failed change and
// wraps the kernel's errno. When ctx ends between two changes, Apply returns
// the changes made and ctx's error. Validation errors and ErrLinkNotFound
// come before any change, as with Plan, and so does ErrRouteConflict
// unless a change made the conflict appear (a created link, or another
// program's route in the meantime).
func Apply(ctx context.Context, spec Link, opts ...Option) (Changes, error) {
	c, err := open(ctx, spec, opts)
	if err != nil {
		return nil, err
	}
	defer c.Close()

	done, _, err := c.apply(ctx, spec, nil, false)
	return done, err
}

// open validates spec and the options, and dials rtnetlink.
func open(ctx context.Context, spec Link, opts []Option) (*conn, error) {
	if err := spec.Validate(); err != nil {
		return nil, err
	}
	cfg, err := newConfig(opts)
	if err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	return dial(cfg)
}

// apply makes changes until the link matches spec, in rounds of reading
// the state, planning and changing, and returns the changes made and the
// last state it read. st, when not nil, is a fresh state to plan the first
// round from. A route conflict (see ErrRouteConflict) ends apply before
// the round's changes, unless partial: then the other changes are made and
// the conflict is returned after them.
func (c *conn) apply(ctx context.Context, spec Link, st *kernelState, partial bool) (Changes, *kernelState, error) {
	var done Changes
	for round := 0; ; round++ {
		if st == nil {
			var err error
			if st, err = c.read(spec.Name); err != nil {
				return done, nil, err
			}
		}

		changes, conflict, err := c.plan(spec, st)
		if err == nil && conflict != nil && (!partial || len(changes) == 0) {
			err = conflict
		}
		if err != nil || len(changes) == 0 {
			return done, st, err
		}
		if round == maxRounds {
			return done, st, fmt.Errorf("apply: link %s still differs from its description after %d rounds of changes; is another program changing it? Remaining changes: %s",
				spec.Name, maxRounds, changes)
		}

		for i, ch := range changes {
			if err := ctx.Err(); err != nil {
				return done, st, err
			}
			if err := c.make(spec, st.index, ch); err != nil {
				return done, st, &ApplyError{Change: ch, Done: done, Err: err}
			}
			done = append(done, ch)
			if i+1 < len(changes) && phase(changes[i+1].Action) != phase(ch.Action) {
				break
			}
		}
		st = nil
	}
}

// phase groups the actions whose changes can make the kernel change more by
// itself, so that Apply plans the next group from a fresh read. A new link
// has an index that the plan does not know yet. Setting a link up adds
// addresses (on lo) and prefix routes, and setting it down removes IPv6
// addresses and routes. Adding an address adds its prefix route, which may
// be a route that the description lists.
func phase(a Action) int {
	switch a {
	case CreateLink:
		return 0
	case SetHardwareAddr, SetMTU, SetState:
		return 1
	case RemoveAddress, AddAddress:
		return 2
	}
	return 3
}

// make makes one change to the link with the given index.
func (c *conn) make(spec Link, index uint32, ch Change) error {
	switch ch.Action {
	case CreateLink:
		return c.createLink(spec)
	case SetHardwareAddr:
		return c.setHardwareAddr(index, ch.hwaddr)
	case SetMTU:
		return c.setMTU(index, ch.mtu)
	case SetState:
		return c.setUp(index, ch.up)
	case RemoveAddress:
		return c.removeAddress(index, ch.Address)
	case AddAddress:
		return c.addAddress(index, ch.Address)
	case ReplaceRoute:
		return c.replaceRoute(index, ch.Route, ch.fromGateway)
	case AddRoute:
		return c.addRoute(index, ch.Route)
	}
	return fmt.Errorf("apply: unknown action %v", ch.Action)
}

// plan plans as the function plan does, then leaves out the route changes
// that conflict with another route, and returns them as conflict, a
// *conflictError, or nil.
func (c *conn) plan(spec Link, st *kernelState) (changes Changes, conflict, err error) {
	changes, err = plan(spec, st)
	if err != nil {
		return nil, nil, err
	}
	return c.splitConflicts(changes, st.index)
}

// plan compares spec with the kernel's state and returns the changes,
// ordered as the Action constants are. It validates what depends on the
// kernel's state: the link's kind, and gateways when spec.Addresses is nil.
func plan(spec Link, st *kernelState) (Changes, error) {
	if !st.exists {
		if spec.Kind == "" {
			return nil, fmt.Errorf("%w: no link named %q in this network namespace; set kind (veth or bridge) to create it", ErrLinkNotFound, spec.Name)
		}
		return planNew(spec)
	}

	if spec.Kind != "" && st.kind != spec.Kind {
		return nil, specError("kind", spec.Kind, "link %s exists with kind %q; delete it or change kind", spec.Name, st.kind)
	}
	if err := checkGateways(spec, st.prefixes()); err != nil {
		return nil, err
	}

	var cs Changes
	cs = append(cs, planLink(spec, st)...)
	cs = append(cs, planAddresses(spec, st)...)
	cs = append(cs, planRoutes(spec, st)...)
	return cs, nil
}

// planNew plans the creation of the link and every change after it. The
// kernel creates links down, so the state changes only when spec says up.
func planNew(spec Link) (Changes, error) {
	if err := checkGateways(spec, nil); err != nil {
		return nil, err
	}

	cs := Changes{{Action: CreateLink, Link: spec.Name, To: spec.Kind, Peer: spec.Peer}}
	cs = append(cs, planLink(spec, &kernelState{})...)
	cs = append(cs, planAddresses(spec, &kernelState{})...)
	cs = append(cs, planRoutes(spec, &kernelState{})...)
	for i := 1; i < len(cs); i++ {
		cs[i].From = ""
	}
	return cs, nil
}

// checkGateways checks the gateways of spec against the link's prefixes in
// the kernel, when spec does not list the addresses (Validate checks them
// otherwise).
func checkGateways(spec Link, prefixes []netip.Prefix) error {
	if spec.Addresses != nil {
		return nil
	}
	for i, r := range spec.Routes {
		if !r.Gateway.IsValid() {
			continue
		}
		if err := checkGateway(fmt.Sprintf("routes[%d].gateway", i), r.Gateway, prefixes); err != nil {
			return err
		}
	}
	return nil
}

func (st *kernelState) prefixes() []netip.Prefix {
	prefixes := make([]netip.Prefix, len(st.addrs))
	for i, a := range st.addrs {
		prefixes[i] = a.prefix
	}
	return prefixes
}

// planLink plans the hardware address, the MTU and the state.
func planLink(spec Link, st *kernelState) Changes {
	var cs Changes
	if spec.HardwareAddr != nil && !sameHardwareAddr(spec.HardwareAddr, st.hwaddr) {
		cs = append(cs, Change{Action: SetHardwareAddr, Link: spec.Name, From: st.hwaddr.String(), To: spec.HardwareAddr.String(), hwaddr: spec.HardwareAddr})
	}
	if spec.MTU != 0 && spec.MTU != st.mtu {
		cs = append(cs, Change{Action: SetMTU, Link: spec.Name, From: fmt.Sprint(st.mtu), To: fmt.Sprint(spec.MTU), mtu: spec.MTU})
	}

	if spec.State != "" {
		want := spec.State == StateUp
		if want != st.up {
			cs = append(cs, Change{Action: SetState, Link: spec.Name, From: string(stateOf(st.up)), To: string(spec.State), up: want})
		}
	}
	return cs
}

func stateOf(up bool) State {
	if up {
		return StateUp
	}
	return StateDown
}

// planAddresses plans the removal of the addresses that spec does not list
// and the addition of those missing, in that order, so that an address can
// change its prefix length.
func planAddresses(spec Link, st *kernelState) Changes {
	if spec.Addresses == nil {
		return nil
	}

	listed := make(map[netip.Prefix]bool, len(spec.Addresses))
	manageLinkLocal := false
	for _, p := range spec.Addresses {
		listed[p] = true
		if p.Addr().Is6() && p.Addr().IsLinkLocalUnicast() {
			manageLinkLocal = true
		}
	}

	// Secondary IPv4 addresses are removed before primaries: unless the
	// link promotes secondaries, removing a primary removes them too, and
	// removing one of them after that would fail with EADDRNOTAVAIL.
	var secondaries, primaries Changes
	present := make(map[netip.Prefix]bool, len(st.addrs))
	for _, a := range st.addrs {
		present[a.prefix] = true
		if listed[a.prefix] || kernelManaged(a, manageLinkLocal) {
			continue
		}
		remove := Change{Action: RemoveAddress, Link: spec.Name, Address: a.prefix}
		if a.prefix.Addr().Is4() && a.flags&ifaFSecondary != 0 {
			secondaries = append(secondaries, remove)
		} else {
			primaries = append(primaries, remove)
		}
	}
	cs := append(secondaries, primaries...)

	for _, p := range spec.Addresses {
		if !present[p] {
			cs = append(cs, Change{Action: AddAddress, Link: spec.Name, Address: p})
		}
	}
	return cs
}

// kernelManaged reports whether a is an IPv6 address that the kernel
// manages itself and that the exact set of addresses leaves alone.
func kernelManaged(a kernelAddr, manageLinkLocal bool) bool {
	ip := a.prefix.Addr()
	if !ip.Is6() {
		return false
	}
	if ip.IsLinkLocalUnicast() {
		return !manageLinkLocal
	}
	return a.flags&ifaFPermanent == 0
}

// planRoutes plans the routes that are missing or have another gateway. A
// link can have several routes in one place (see routeKey). A wanted route
// that is among them needs no change, and the others are left alone.
//
// NOTE: in IPv4 only the first route in a place carries traffic. A wanted
// route behind another route there, the link's or another link's, stays
// unused while that route exists.
func planRoutes(spec Link, st *kernelState) Changes {
	byKey := make(map[routeKey][]Route, len(st.routes))
	for _, r := range st.routes {
		byKey[r.key()] = append(byKey[r.key()], r)
	}

	var replaced, added Changes
	for _, r := range spec.Routes {
		r.Table, r.Metric = r.table(), r.metric()
		have := byKey[r.key()]
		switch {
		case len(have) == 0:
			added = append(added, Change{Action: AddRoute, Link: spec.Name, Route: r})
		case !slices.ContainsFunc(have, func(h Route) bool { return h.Gateway == r.Gateway }):
			replaced = append(replaced, Change{Action: ReplaceRoute, Link: spec.Name, Route: r,
				From: addrString(have[0].Gateway), To: addrString(r.Gateway), fromGateway: have[0].Gateway})
		}
	}
	return append(replaced, added...)
}

func addrString(a netip.Addr) string {
	if !a.IsValid() {
		return ""
	}
	return a.String()
}
