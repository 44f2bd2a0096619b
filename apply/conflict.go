package apply

import (
	"errors"
	"fmt"

	"github.com/jsimonetti/rtnetlink/v2"
	"github.com/mdlayher/netlink"

	"github.com/nlevents/nlevents"
)

// ErrRouteConflict is returned when a route of the description cannot be
// added because the kernel already has a route in its place that is not
// the link's: IPv6 keeps one route per destination, table and metric.
// Plan, Apply and Enforce report it before making any change of the plan.
// Test for it with errors.Is.
var ErrRouteConflict = errors.New("apply: route conflict")

// checkRouteConflicts returns an ErrRouteConflict error for the first IPv6
// route that changes would add in the place of another route. index is the
// link's, 0 when the plan creates it.
//
// IPv4 needs no check: addRoute appends, and IPv4 routes with the same
// destination, TOS and metric coexist. An IPv6 addition in an occupied
// place fails with EEXIST, after the plan's earlier changes were made, so
// this check lets a dry run predict the failure and Apply fail before it
// changes anything.
func (c *conn) checkRouteConflicts(changes Changes, index uint32) error {
	for _, ch := range changes {
		if ch.Action != AddRoute || !ch.Route.Destination.Addr().Is6() {
			continue
		}

		holder, err := c.routeHolder(ch.Route, index)
		if err != nil {
			return err
		}
		if holder != "" {
			r := ch.Route
			return fmt.Errorf("%w: an IPv6 route to %v with table %d and metric %d exists through %s, and IPv6 keeps one route per destination, table and metric; delete that route or give this one another metric",
				ErrRouteConflict, r.Destination, r.table(), r.metric(), holder)
		}
	}
	return nil
}

// routeHolder describes the route, other than the link's own, that has r's
// destination, table and metric, or returns "" when there is none. The
// dump requests r's table alone.
func (c *conn) routeHolder(r Route, index uint32) (string, error) {
	req := &rtnetlink.RouteMessage{Family: afInet6, Attributes: rtnetlink.RouteAttributes{Table: r.table()}}
	msgs, err := c.rt.Execute(req, rtmGetRoute, netlink.Request|netlink.Dump)
	if errors.Is(err, errnoENOENT) {
		return "", nil // no such table, so no route in it
	}
	if err != nil {
		return "", fmt.Errorf("apply: read IPv6 routes of table %d: %w", r.table(), err)
	}

	for _, m := range msgs {
		route, ok := m.(*rtnetlink.RouteMessage)
		if !ok || !samePlace(route, r) {
			continue
		}

		own := route.Attributes.OutIface == index && route.Type == rtnUnicast && len(route.Attributes.Multipath) == 0
		switch {
		case own:
			// The link's route is in place: planRoutes replaces it.
		case len(route.Attributes.Multipath) > 0:
			return "a multipath route", nil
		case route.Type != rtnUnicast:
			return fmt.Sprintf("a %v route", nlevents.RouteType(route.Type)), nil
		default:
			return "link " + c.linkName(route.Attributes.OutIface), nil
		}
	}
	return "", nil
}

// samePlace reports whether the kernel's route m has r's destination,
// table and metric. Kernels without strict checking ignore the dump's
// table, so the table is compared here too.
func samePlace(m *rtnetlink.RouteMessage, r Route) bool {
	kernel, ok := kernelRouteFrom(m)
	return ok && m.Family == afInet6 && kernel.key() == r.key()
}

// linkName returns the name of the link with the given index, or the index
// in words when the name cannot be read.
func (c *conn) linkName(index uint32) string {
	req := &rtnetlink.LinkMessage{Index: index}
	msgs, err := c.rt.Execute(req, rtmGetLink, netlink.Request)
	if err == nil && len(msgs) == 1 {
		if link, ok := msgs[0].(*rtnetlink.LinkMessage); ok && link.Attributes != nil && link.Attributes.Name != "" {
			return link.Attributes.Name
		}
	}
	return fmt.Sprintf("index %d", index)
}
