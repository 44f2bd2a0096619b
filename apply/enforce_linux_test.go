package apply

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/nlevents/nlevents/testutil"
)

// driftSpec is the description that the drift tests enforce on va.
func driftSpec() Link {
	return Link{
		Name:  "va",
		State: StateUp,
		MTU:   9000,
		Addresses: []netip.Prefix{
			netip.MustParsePrefix("192.0.2.10/24"),
			netip.MustParsePrefix("2001:db8::10/64"),
		},
		Routes: []Route{
			{Destination: netip.MustParsePrefix("198.51.100.0/24"), Gateway: netip.MustParseAddr("192.0.2.1"), Table: 100, Metric: 10},
			{Destination: netip.MustParsePrefix("2001:db8:1::/64"), Gateway: netip.MustParseAddr("fe80::1")},
		},
	}
}

// requireMatches checks that the link matches spec, with Plan and with ip.
func requireMatches(t *testing.T, ns *testutil.NetNS, spec Link) {
	t.Helper()
	planned, err := Plan(context.Background(), spec, WithNetNSPath(ns.Path))
	require.NoError(t, err)
	require.Empty(t, planned, "the link still differs from its description")

	l := showLink(t, ns, spec.Name)
	assert.True(t, l.up())
	assert.Equal(t, spec.MTU, l.MTU)
	assert.Equal(t, []string{"192.0.2.10/24", "2001:db8::10/64"}, showAddrs(t, ns, spec.Name))
	assert.Equal(t, []string{
		"198.51.100.0/24 via 192.0.2.1 table 100 metric 10",
		"2001:db8:1::/64 via fe80::1 metric 1024",
	}, showRoutes(t, ns, spec.Name))
}

func TestIntegrationEnforceCorrectsDrift(t *testing.T) {
	ns := newVethNS(t)
	spec := driftSpec()
	_, err := Apply(context.Background(), spec, WithNetNSPath(ns.Path))
	require.NoError(t, err)
	e := startEnforce(t, ns, spec)

	// The first check finds nothing to do.
	e.waitCheck(t, func(checkResult) bool { return true })

	drifts := []struct {
		name  string
		drift []string // the ip command that changes the link
		want  string   // a change that the correction must contain
	}{
		{"address deleted", []string{"addr", "del", "192.0.2.10/24", "dev", "va"}, "add address 192.0.2.10/24"},
		{"ipv6 address deleted", []string{"addr", "del", "2001:db8::10/64", "dev", "va"}, "add address 2001:db8::10/64"},
		{"address added", []string{"addr", "add", "192.0.2.99/24", "dev", "va"}, "remove address 192.0.2.99/24"},
		{"link down", []string{"link", "set", "va", "down"}, "set state down -> up"},
		{"mtu changed", []string{"link", "set", "va", "mtu", "1400"}, "set mtu 1400 -> 9000"},
		{"route deleted", []string{"route", "del", "198.51.100.0/24", "table", "100"}, "add route 198.51.100.0/24 via 192.0.2.1 table 100 metric 10"},
		{"ipv6 route deleted", []string{"-6", "route", "del", "2001:db8:1::/64", "dev", "va"}, "add route 2001:db8:1::/64 via fe80::1 metric 1024"},
	}
	for _, d := range drifts {
		t.Run(d.name, func(t *testing.T) {
			ns.IP(t, d.drift...)
			c, _ := e.next(t, nil)
			assert.False(t, c.LinkDeleted)
			assert.Contains(t, lines(c.Changes), d.want)
			requireMatches(t, ns, spec)
		})
	}

	// Setting the link down also removes its routes and IPv6 addresses,
	// which the same correction restores.
	t.Run("link down restores everything", func(t *testing.T) {
		ns.IP(t, "link", "set", "va", "down")
		c, _ := e.next(t, nil)
		assert.Contains(t, lines(c.Changes), "set state down -> up")
		assert.Contains(t, lines(c.Changes), "add address 2001:db8::10/64")
		assert.Contains(t, lines(c.Changes), "add route 198.51.100.0/24 via 192.0.2.1 table 100 metric 10")
		requireMatches(t, ns, spec)
	})
}

// TestIntegrationEnforceDoesNotTriggerItself checks that the notifications
// of Enforce's own changes lead to one check that changes nothing, and no
// more. The link is down, so IPv6 sends no notifications of its own.
func TestIntegrationEnforceDoesNotTriggerItself(t *testing.T) {
	ns := newVethNS(t)
	ns.IP(t, "link", "set", "vb", "down")
	spec := Link{Name: "va", State: StateDown, MTU: 9000, Addresses: []netip.Prefix{netip.MustParsePrefix("192.0.2.10/24")}}
	_, err := Apply(context.Background(), spec, WithNetNSPath(ns.Path))
	require.NoError(t, err)
	e := startEnforce(t, ns, spec)
	e.waitCheck(t, func(checkResult) bool { return true })
	emptyCheck := func(r checkResult) bool {
		return r.Err == nil && len(r.Correction.Changes) == 0 && !r.Correction.LinkDeleted
	}

	// A correction's own notifications lead to one more check, which
	// changes nothing.
	ns.IP(t, "link", "set", "va", "mtu", "1400")
	c, _ := e.next(t, nil)
	assert.Equal(t, []string{"set mtu 1400 -> 9000"}, lines(c.Changes))
	e.waitCheck(t, emptyCheck)

	// A change that keeps the link as described leads to exactly one
	// check: a check that triggered itself would run again and again.
	// (The kernel sends no notification for a new alias while the link is
	// down, but does for a new transmit queue length.)
	for _, qlen := range []string{"500", "600", "700"} {
		ns.IP(t, "link", "set", "va", "txqueuelen", qlen)
		n := e.waitCheck(t, emptyCheck)
		assert.Equal(t, 1, n, "checks after setting txqueuelen %s", qlen)
	}

	select {
	case c := <-e.corrections:
		t.Fatalf("unexpected correction %q", c)
	case err := <-e.errs:
		t.Fatalf("unexpected error %v", err)
	default:
	}
}

func TestIntegrationEnforceReportsDeletion(t *testing.T) {
	ns := newVethNS(t)
	spec := Link{Name: "va", MTU: 9000}
	_, err := Apply(context.Background(), spec, WithNetNSPath(ns.Path))
	require.NoError(t, err)
	e := startEnforce(t, ns, spec)
	e.waitCheck(t, func(checkResult) bool { return true })

	ns.IP(t, "link", "del", "va")
	c, _ := e.next(t, nil)
	assert.True(t, c.LinkDeleted)
	assert.Empty(t, c.Changes, "a link without kind cannot be created")
	assert.Equal(t, "link va deleted", c.String())
	assert.ErrorIs(t, e.nextError(t), ErrLinkNotFound)

	// When a link with the name comes back, Enforce applies the description.
	ns.IP(t, "link", "add", "va", "type", "veth", "peer", "name", "vb")
	c, _ = e.next(t, nil)
	assert.False(t, c.LinkDeleted)
	assert.Equal(t, []string{"set mtu 1500 -> 9000"}, lines(c.Changes))
	assert.Equal(t, 9000, showLink(t, ns, "va").MTU)
}

func TestIntegrationEnforceRecreatesVeth(t *testing.T) {
	ns := testutil.NewNetNS(t)
	spec := driftSpec()
	spec.Kind, spec.Peer = KindVeth, "vb"
	e := startEnforce(t, ns, spec)

	// The first check creates the pair.
	c, _ := e.next(t, nil)
	assert.False(t, c.LinkDeleted)
	require.NotEmpty(t, c.Changes)
	assert.Equal(t, "create link va type veth peer vb", c.Changes[0].String())
	requireMatches(t, ns, spec)

	// Deleting the peer deletes the pair.
	ns.IP(t, "link", "del", "vb")
	c, _ = e.next(t, nil)
	assert.True(t, c.LinkDeleted)
	require.NotEmpty(t, c.Changes)
	assert.Equal(t, "create link va type veth peer vb", c.Changes[0].String())
	assert.Contains(t, lines(c.Changes), "set mtu 1500 -> 9000")
	assert.True(t, strings.HasPrefix(c.String(), "link va deleted\ncreate link va"), c.String())
	requireMatches(t, ns, spec)
	assert.True(t, linkExists(ns, "vb"))
}

func TestIntegrationEnforceRecreatesBridge(t *testing.T) {
	ns := testutil.NewNetNS(t)
	spec := Link{Name: "br0", Kind: KindBridge, State: StateUp, MTU: 1400}
	e := startEnforce(t, ns, spec)
	c, _ := e.next(t, nil)
	assert.Equal(t, "create link br0 type bridge", c.Changes[0].String())

	ns.IP(t, "link", "del", "br0")
	c, _ = e.next(t, nil)
	assert.True(t, c.LinkDeleted)
	assert.Equal(t, []string{"create link br0 type bridge", "set mtu 1500 -> 1400", "set state down -> up"}, lines(c.Changes))
	l := showLink(t, ns, "br0")
	assert.Equal(t, 1400, l.MTU)
	assert.True(t, l.up())
}

// TestIntegrationEnforceOverrun makes the kernel drop notifications while
// Enforce waits for the consumer, and checks that Enforce still brings the
// link back to its description.
func TestIntegrationEnforceOverrun(t *testing.T) {
	ns := newVethNS(t)
	spec := Link{Name: "va", MTU: 9000, Addresses: []netip.Prefix{netip.MustParsePrefix("192.0.2.10/24")}}
	_, err := Apply(context.Background(), spec, WithNetNSPath(ns.Path))
	require.NoError(t, err)
	e := startEnforce(t, ns, spec, withReceiveBuffer(1))
	e.waitCheck(t, func(checkResult) bool { return true })

	// Enforce corrects the MTU, then blocks sending the correction, which
	// this test does not read yet.
	ns.IP(t, "link", "set", "va", "mtu", "1400")
	e.waitCheck(t, func(r checkResult) bool { return len(r.Correction.Changes) > 0 })

	// Meanwhile, 300 addresses come and the listed one goes: far more
	// notifications than the smallest receive buffer holds.
	var batch strings.Builder
	for i := range 300 {
		fmt.Fprintf(&batch, "addr add 10.0.%d.%d/32 dev va\n", i/250, i%250+1)
	}
	batch.WriteString("addr del 192.0.2.10/24 dev va\n")
	path := filepath.Join(t.TempDir(), "batch")
	require.NoError(t, os.WriteFile(path, []byte(batch.String()), 0o600))
	ns.IP(t, "-batch", path)

	c, _ := e.next(t, nil)
	assert.Equal(t, []string{"set mtu 1400 -> 9000"}, lines(c.Changes))

	// The next corrections remove the 300 addresses and add the listed one.
	for !assert.ObjectsAreEqual([]string{"192.0.2.10/24"}, showAddrs(t, ns, "va")) {
		e.next(t, nil)
	}

	// The kernel reports the overrun after the notifications it kept, so
	// the check that follows it may come after the link was corrected.
	e.waitCheck(t, func(r checkResult) bool { return r.Overrun })
	requireEmptyPlan(t, ns, spec)
}

func requireEmptyPlan(t *testing.T, ns *testutil.NetNS, spec Link) {
	t.Helper()
	planned, err := Plan(context.Background(), spec, WithNetNSPath(ns.Path))
	require.NoError(t, err)
	require.Empty(t, planned)
}

func TestIntegrationEnforceInvalid(t *testing.T) {
	ns := newVethNS(t)
	corrections, errs, err := Enforce(context.Background(), Link{Name: "va", MTU: 10}, WithNetNSPath(ns.Path))
	assert.ErrorIs(t, err, ErrInvalidSpec)
	assert.Nil(t, corrections)
	assert.Nil(t, errs)

	missing := filepath.Join(t.TempDir(), "missing")
	_, _, err = Enforce(context.Background(), Link{Name: "va"}, WithNetNSPath(missing))
	assert.ErrorIs(t, err, os.ErrNotExist)
	assert.EqualError(t, err, fmt.Sprintf("apply: open network namespace %q: no such file or directory; pass /run/netns/NAME (see ip netns list) or /proc/PID/ns/net", missing),
		"the error names the path once, and what to pass")
}

// TestIntegrationEnforceLoopback enforces a state on lo, the link that every
// check's barrier sends its no-op change to: the barrier must not cause
// notifications, or each check would start another.
func TestIntegrationEnforceLoopback(t *testing.T) {
	ns := testutil.NewNetNS(t)
	spec := Link{Name: "lo", State: StateUp, Addresses: []netip.Prefix{netip.MustParsePrefix("127.0.0.1/8"), netip.MustParsePrefix("::1/128")}}
	e := startEnforce(t, ns, spec)

	c, _ := e.next(t, nil)
	assert.Equal(t, "set state down -> up", c.Changes[0].String())
	emptyCheck := func(r checkResult) bool {
		return r.Err == nil && len(r.Correction.Changes) == 0
	}
	e.waitCheck(t, emptyCheck)

	for _, qlen := range []string{"500", "600", "700"} {
		ns.IP(t, "link", "set", "lo", "txqueuelen", qlen)
		n := e.waitCheck(t, emptyCheck)
		assert.Equal(t, 1, n, "checks after setting txqueuelen %s", qlen)
	}
}

// TestIntegrationEnforceCorrectsAroundConflict checks that a route
// conflict does not stop Enforce's other corrections, and that the route
// is added once the route in its place is gone.
func TestIntegrationEnforceCorrectsAroundConflict(t *testing.T) {
	ns := newIPv6NS(t)
	ns.IP(t, "-6", "route", "add", "2001:db8:9::/64", "via", "2001:db8:2::2", "dev", "vb", "metric", "5")
	route := Route{Destination: netip.MustParsePrefix("2001:db8:9::/64"), Gateway: netip.MustParseAddr("2001:db8:1::2"), Metric: 5}
	e := startEnforce(t, ns, Link{Name: "va", MTU: 1400, Routes: []Route{route}})
	isConflict := func(err error) bool { return errors.Is(err, ErrRouteConflict) }

	first, _ := e.next(t, nil)
	assert.Equal(t, []string{"set mtu 1500 -> 1400"}, lines(first.Changes))
	assert.ErrorIs(t, e.nextError(t), ErrRouteConflict, "the conflict follows the other changes")
	assert.Equal(t, 1400, showLink(t, ns, "va").MTU)
	assert.Empty(t, showRoutes(t, ns, "va"))

	ns.IP(t, "-6", "route", "del", "2001:db8:9::/64", "via", "2001:db8:2::2", "dev", "vb", "metric", "5")
	added, _ := e.next(t, isConflict)
	assert.Equal(t, []string{"add route 2001:db8:9::/64 via 2001:db8:1::2 metric 5"}, lines(added.Changes))
	assert.Equal(t, []string{"2001:db8:9::/64 via 2001:db8:1::2 metric 5"}, showRoutes(t, ns, "va"))
}
