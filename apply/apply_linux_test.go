package apply

import (
	"context"
	"errors"
	"net/netip"
	"os"
	"strings"
	"syscall"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"

	"github.com/nlevents/nlevents/testutil"
)

func mustMAC(t *testing.T, s string) HardwareAddr {
	t.Helper()
	var a HardwareAddr
	require.NoError(t, a.UnmarshalText([]byte(s)))
	return a
}

// TestIntegrationApplyFields plans, applies and applies again a description
// that sets one field of the veth link va, and checks the result with ip.
func TestIntegrationApplyFields(t *testing.T) {
	prefixes := func(s ...string) []netip.Prefix {
		out := make([]netip.Prefix, len(s))
		for i, p := range s {
			out[i] = netip.MustParsePrefix(p)
		}
		return out
	}

	cases := []struct {
		name  string
		setup func(t *testing.T, ns *testutil.NetNS)
		spec  Link
		plan  func(before snapshot) []string
		// done are the changes Apply makes, when they differ from plan.
		done  []string
		check func(t *testing.T, ns *testutil.NetNS)
	}{
		{
			name: "mtu",
			spec: Link{Name: "va", MTU: 9000},
			plan: func(snapshot) []string { return []string{"set mtu 1500 -> 9000"} },
			check: func(t *testing.T, ns *testutil.NetNS) {
				assert.Equal(t, 9000, showLink(t, ns, "va").MTU)
			},
		},
		{
			name: "state down",
			spec: Link{Name: "va", State: StateDown},
			plan: func(snapshot) []string { return []string{"set state up -> down"} },
			check: func(t *testing.T, ns *testutil.NetNS) {
				assert.False(t, showLink(t, ns, "va").up())
			},
		},
		{
			name:  "state up",
			setup: func(t *testing.T, ns *testutil.NetNS) { ns.IP(t, "link", "set", "va", "down") },
			spec:  Link{Name: "va", State: StateUp},
			plan:  func(snapshot) []string { return []string{"set state down -> up"} },
			check: func(t *testing.T, ns *testutil.NetNS) {
				assert.True(t, showLink(t, ns, "va").up())
			},
		},
		{
			name: "hwaddr",
			spec: Link{Name: "va", HardwareAddr: mustMAC(t, "02:00:5e:10:00:01")},
			plan: func(before snapshot) []string {
				return []string{"set hwaddr " + before.Address + " -> 02:00:5e:10:00:01"}
			},
			check: func(t *testing.T, ns *testutil.NetNS) {
				assert.Equal(t, "02:00:5e:10:00:01", showLink(t, ns, "va").Address)
			},
		},
		{
			name: "ipv4 addresses",
			setup: func(t *testing.T, ns *testutil.NetNS) {
				ns.IP(t, "addr", "add", "192.0.2.99/24", "dev", "va")
				ns.IP(t, "addr", "add", "192.0.2.11/24", "dev", "va")
				ns.IP(t, "addr", "add", "192.0.2.10/25", "dev", "va")
			},
			spec: Link{Name: "va", Addresses: prefixes("192.0.2.10/24", "192.0.2.11/24")},
			plan: func(snapshot) []string {
				return []string{
					"remove address 192.0.2.99/24",
					"remove address 192.0.2.10/25",
					"add address 192.0.2.10/24",
				}
			},
			// Removing the primary address 192.0.2.99/24 makes the kernel
			// remove 192.0.2.11/24, a secondary of the same subnet, so the
			// second round adds it again.
			done: []string{
				"remove address 192.0.2.99/24",
				"remove address 192.0.2.10/25",
				"add address 192.0.2.10/24",
				"add address 192.0.2.11/24",
			},
			check: func(t *testing.T, ns *testutil.NetNS) {
				assert.Equal(t, []string{"192.0.2.10/24", "192.0.2.11/24"}, showAddrs(t, ns, "va"))
			},
		},
		{
			name: "primary and secondary removed",
			setup: func(t *testing.T, ns *testutil.NetNS) {
				ns.IP(t, "addr", "add", "192.0.2.10/24", "dev", "va")
				ns.IP(t, "addr", "add", "192.0.2.99/24", "dev", "va") // a secondary
			},
			spec: Link{Name: "va", Addresses: []netip.Prefix{}},
			// The secondary goes first: removing the primary first would
			// take the secondary with it, and its own removal would fail.
			plan: func(snapshot) []string {
				return []string{"remove address 192.0.2.99/24", "remove address 192.0.2.10/24"}
			},
			done: []string{"remove address 192.0.2.99/24", "remove address 192.0.2.10/24"},
			check: func(t *testing.T, ns *testutil.NetNS) {
				assert.Empty(t, showAddrs(t, ns, "va"))
			},
		},
		{
			name: "ipv6 addresses",
			setup: func(t *testing.T, ns *testutil.NetNS) {
				ns.IP(t, "addr", "add", "2001:db8::99/64", "dev", "va")
			},
			spec: Link{Name: "va", Addresses: prefixes("2001:db8::10/64", "192.0.2.10/24")},
			plan: func(snapshot) []string {
				return []string{
					"remove address 2001:db8::99/64",
					"add address 2001:db8::10/64",
					"add address 192.0.2.10/24",
				}
			},
			check: func(t *testing.T, ns *testutil.NetNS) {
				assert.Equal(t, []string{"192.0.2.10/24", "2001:db8::10/64"}, showAddrs(t, ns, "va"))
				assert.True(t, hasLinkLocal(t, ns, "va"), "the kernel's link-local address must stay")
			},
		},
		{
			name: "no addresses",
			setup: func(t *testing.T, ns *testutil.NetNS) {
				ns.IP(t, "addr", "add", "192.0.2.99/24", "dev", "va")
				ns.IP(t, "addr", "add", "2001:db8::99/64", "dev", "va")
			},
			spec: Link{Name: "va", Addresses: []netip.Prefix{}},
			plan: func(snapshot) []string {
				return []string{"remove address 192.0.2.99/24", "remove address 2001:db8::99/64"}
			},
			check: func(t *testing.T, ns *testutil.NetNS) {
				assert.Empty(t, showAddrs(t, ns, "va"))
				assert.True(t, hasLinkLocal(t, ns, "va"), "the kernel's link-local address must stay")
			},
		},
		{
			name: "routes",
			setup: func(t *testing.T, ns *testutil.NetNS) {
				ns.IP(t, "addr", "add", "192.0.2.10/24", "dev", "va")
				ns.IP(t, "addr", "add", "2001:db8::10/64", "dev", "va")
			},
			spec: Link{Name: "va", Routes: []Route{
				{Destination: netip.MustParsePrefix("198.51.100.0/24"), Gateway: netip.MustParseAddr("192.0.2.1"), Table: 100, Metric: 10},
				{Destination: netip.MustParsePrefix("0.0.0.0/0"), Gateway: netip.MustParseAddr("192.0.2.1")},
				{Destination: netip.MustParsePrefix("203.0.113.0/24"), Table: 1000},
				{Destination: netip.MustParsePrefix("2001:db8:1::/64"), Gateway: netip.MustParseAddr("fe80::1"), Metric: 5},
				{Destination: netip.MustParsePrefix("2001:db8:2::/64"), Gateway: netip.MustParseAddr("2001:db8::1"), Table: 100},
			}},
			plan: func(snapshot) []string {
				return []string{
					"add route 198.51.100.0/24 via 192.0.2.1 table 100 metric 10",
					"add route 0.0.0.0/0 via 192.0.2.1",
					"add route 203.0.113.0/24 table 1000",
					"add route 2001:db8:1::/64 via fe80::1 metric 5",
					"add route 2001:db8:2::/64 via 2001:db8::1 table 100 metric 1024",
				}
			},
			check: func(t *testing.T, ns *testutil.NetNS) {
				assert.Equal(t, []string{
					"0.0.0.0/0 via 192.0.2.1",
					"198.51.100.0/24 via 192.0.2.1 table 100 metric 10",
					"2001:db8:1::/64 via fe80::1 metric 5",
					"2001:db8:2::/64 via 2001:db8::1 table 100 metric 1024",
					"203.0.113.0/24 table 1000",
				}, showRoutes(t, ns, "va"))
			},
		},
		{
			// Adding the address adds its prefix route, which is the listed
			// route, so Apply does not add it.
			name: "prefix route",
			spec: Link{
				Name:      "va",
				Addresses: prefixes("192.0.2.10/24"),
				Routes:    []Route{{Destination: netip.MustParsePrefix("192.0.2.0/24")}},
			},
			plan: func(snapshot) []string {
				return []string{"add address 192.0.2.10/24", "add route 192.0.2.0/24"}
			},
			done: []string{"add address 192.0.2.10/24"},
			check: func(t *testing.T, ns *testutil.NetNS) {
				assert.Contains(t, ns.IP(t, "route", "show", "192.0.2.0/24"), "192.0.2.0/24 dev va proto kernel")
			},
		},
		{
			name: "route gateway",
			setup: func(t *testing.T, ns *testutil.NetNS) {
				ns.IP(t, "addr", "add", "192.0.2.10/24", "dev", "va")
				ns.IP(t, "route", "add", "198.51.100.0/24", "via", "192.0.2.254", "dev", "va", "table", "100", "metric", "10")
			},
			spec: Link{Name: "va", Routes: []Route{
				{Destination: netip.MustParsePrefix("198.51.100.0/24"), Gateway: netip.MustParseAddr("192.0.2.1"), Table: 100, Metric: 10},
			}},
			plan: func(snapshot) []string {
				return []string{"replace route 198.51.100.0/24 via 192.0.2.1 table 100 metric 10 (gateway 192.0.2.254 -> 192.0.2.1)"}
			},
			check: func(t *testing.T, ns *testutil.NetNS) {
				assert.Equal(t, []string{"198.51.100.0/24 via 192.0.2.1 table 100 metric 10"}, showRoutes(t, ns, "va"))
			},
		},
	}

	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ns := newVethNS(t)
			if tc.setup != nil {
				tc.setup(t, ns)
			}
			ctx := context.Background()
			opt := WithNetNSPath(ns.Path)
			before := takeSnapshot(t, ns, "va")

			planned, err := Plan(ctx, tc.spec, opt)
			require.NoError(t, err)
			assert.Equal(t, tc.plan(before), lines(planned), "plan")
			assert.Equal(t, before, takeSnapshot(t, ns, "va"), "Plan changed the link")

			done, err := Apply(ctx, tc.spec, opt)
			require.NoError(t, err)
			wantDone := tc.done
			if wantDone == nil {
				wantDone = tc.plan(before)
			}
			assert.Equal(t, wantDone, lines(done), "changes made")
			tc.check(t, ns)

			again, err := Apply(ctx, tc.spec, opt)
			require.NoError(t, err)
			assert.Empty(t, again, "second Apply")
			assert.Equal(t, "no changes", again.String())

			replanned, err := Plan(ctx, tc.spec, opt)
			require.NoError(t, err)
			assert.Empty(t, replanned, "plan after Apply")
		})
	}
}

func TestIntegrationApplyCreatesVeth(t *testing.T) {
	ns := testutil.NewNetNS(t)
	ctx := context.Background()
	opt := WithNetNSPath(ns.Path)
	spec := Link{
		Name: "va", Kind: KindVeth, Peer: "vb", State: StateUp, MTU: 9000,
		Addresses: []netip.Prefix{netip.MustParsePrefix("192.0.2.10/24")},
		Routes:    []Route{{Destination: netip.MustParsePrefix("198.51.100.0/24"), Gateway: netip.MustParseAddr("192.0.2.1")}},
	}

	planned, err := Plan(ctx, spec, opt)
	require.NoError(t, err)
	assert.Equal(t, []string{
		"create link va type veth peer vb",
		"set mtu 9000",
		"set state up",
		"add address 192.0.2.10/24",
		"add route 198.51.100.0/24 via 192.0.2.1",
	}, lines(planned))
	assert.False(t, linkExists(ns, "va"), "Plan created the link")

	done, err := Apply(ctx, spec, opt)
	require.NoError(t, err)
	assert.Equal(t, []string{
		"create link va type veth peer vb",
		"set mtu 1500 -> 9000",
		"set state down -> up",
		"add address 192.0.2.10/24",
		"add route 198.51.100.0/24 via 192.0.2.1",
	}, lines(done))

	l := showLink(t, ns, "va")
	assert.Equal(t, 9000, l.MTU)
	assert.True(t, l.up())
	assert.Equal(t, []string{"192.0.2.10/24"}, showAddrs(t, ns, "va"))
	assert.Equal(t, []string{"198.51.100.0/24 via 192.0.2.1"}, showRoutes(t, ns, "va"))
	assert.True(t, linkExists(ns, "vb"), "peer vb")

	again, err := Apply(ctx, spec, opt)
	require.NoError(t, err)
	assert.Empty(t, again)
}

func TestIntegrationApplyVethPeerNameTaken(t *testing.T) {
	ns := newVethNS(t)
	spec := Link{Name: "vc", Kind: KindVeth, Peer: "vb"}

	done, err := Apply(context.Background(), spec, WithNetNSPath(ns.Path))
	var applyErr *ApplyError
	require.ErrorAs(t, err, &applyErr)
	assert.Equal(t, CreateLink, applyErr.Change.Action)
	assert.ErrorIs(t, err, syscall.EEXIST)
	assert.ErrorContains(t, err, "a link named vb, the peer's name, exists")
	assert.Empty(t, done)
	assert.False(t, linkExists(ns, "vc"))
}

func TestIntegrationApplyCreatesBridge(t *testing.T) {
	ns := testutil.NewNetNS(t)
	ctx := context.Background()
	spec := Link{Name: "br0", Kind: KindBridge, State: StateUp}

	done, err := Apply(ctx, spec, WithNetNSPath(ns.Path))
	require.NoError(t, err)
	assert.Equal(t, []string{"create link br0 type bridge", "set state down -> up"}, lines(done))
	assert.True(t, showLink(t, ns, "br0").up())
	assert.Contains(t, ns.IP(t, "-d", "link", "show", "dev", "br0"), "bridge")

	again, err := Apply(ctx, spec, WithNetNSPath(ns.Path))
	require.NoError(t, err)
	assert.Empty(t, again)
}

func TestIntegrationApplySetsDownWithIPv6(t *testing.T) {
	// Setting a link down makes the kernel remove its IPv6 addresses, so
	// Apply needs a second round to add them again.
	ns := newVethNS(t)
	spec := Link{Name: "va", State: StateDown, Addresses: []netip.Prefix{netip.MustParsePrefix("2001:db8::10/64")}}
	ns.IP(t, "addr", "add", "2001:db8::10/64", "dev", "va")

	done, err := Apply(context.Background(), spec, WithNetNSPath(ns.Path))
	require.NoError(t, err)
	assert.Equal(t, []string{"set state up -> down", "add address 2001:db8::10/64"}, lines(done))
	assert.Equal(t, []string{"2001:db8::10/64"}, showAddrs(t, ns, "va"))
	assert.False(t, showLink(t, ns, "va").up())

	again, err := Apply(context.Background(), spec, WithNetNSPath(ns.Path))
	require.NoError(t, err)
	assert.Empty(t, again)
}

func TestIntegrationApplyPartialFailure(t *testing.T) {
	ns := newVethNS(t)
	ns.IP(t, "link", "set", "va", "down")
	spec := Link{
		Name: "va", MTU: 9000,
		Addresses: []netip.Prefix{netip.MustParsePrefix("192.0.2.10/24")},
		Routes:    []Route{{Destination: netip.MustParsePrefix("198.51.100.0/24")}},
	}

	done, err := Apply(context.Background(), spec, WithNetNSPath(ns.Path))
	require.Error(t, err)
	assert.True(t, errors.Is(err, unix.ENETDOWN), "errors.Is(%v, ENETDOWN)", err)
	assert.Equal(t, []string{"set mtu 1500 -> 9000", "add address 192.0.2.10/24"}, lines(done))

	var applyErr *ApplyError
	require.ErrorAs(t, err, &applyErr)
	assert.Equal(t, AddRoute, applyErr.Change.Action)
	assert.Equal(t, lines(done), lines(applyErr.Done))
	assert.Contains(t, err.Error(), "add route 198.51.100.0/24 failed: ENETDOWN")
	assert.Contains(t, err.Error(), "2 changes made before it")

	assert.Equal(t, 9000, showLink(t, ns, "va").MTU, "changes before the failure stay made")
	assert.Equal(t, []string{"192.0.2.10/24"}, showAddrs(t, ns, "va"))
}

func TestIntegrationApplyLinkNotFound(t *testing.T) {
	ns := testutil.NewNetNS(t)
	_, err := Apply(context.Background(), Link{Name: "missing0", MTU: 9000}, WithNetNSPath(ns.Path))
	assert.ErrorIs(t, err, ErrLinkNotFound)
	assert.Contains(t, err.Error(), "missing0")
}

func TestIntegrationApplyInvalidChangesNothing(t *testing.T) {
	ns := newVethNS(t)
	ns.IP(t, "addr", "add", "192.0.2.10/24", "dev", "va")
	mtu := func(l Link) Link { l.Name, l.MTU = "va", 9000; return l }
	route := func(dst, gw string) Route {
		r := Route{Destination: netip.MustParsePrefix(dst)}
		if gw != "" {
			r.Gateway = netip.MustParseAddr(gw)
		}
		return r
	}

	cases := []struct {
		name  string
		spec  Link
		field string
		value string
	}{
		{"empty name", Link{MTU: 9000}, "name", "must not be empty"},
		{"long name", Link{Name: "abcdefghijklmnop", MTU: 9000}, "name", "abcdefghijklmnop"},
		{"unknown kind", mtu(Link{Kind: "dummy"}), "kind", "dummy"},
		{"mtu too small", Link{Name: "va", MTU: 67}, "mtu", "67"},
		{"mtu too large", Link{Name: "va", MTU: 65536}, "mtu", "65536"},
		{"mtu too small for ipv6", Link{Name: "va", MTU: 1000, Addresses: []netip.Prefix{netip.MustParsePrefix("2001:db8::1/64")}}, "mtu", "1000"},
		{"missing prefix", mtu(Link{Addresses: []netip.Prefix{{}}}), "addresses[0]", "missing: give a prefix"},
		{"prefix length out of range", mtu(Link{Addresses: []netip.Prefix{netip.PrefixFrom(netip.MustParseAddr("192.0.2.10"), 33)}}), "addresses[0]", "no valid prefix length"},
		{"missing destination", mtu(Link{Routes: []Route{{}}}), "routes[0].destination", "missing: give a prefix such as 198.51.100.0/24"},
		{"duplicate address", mtu(Link{Addresses: []netip.Prefix{netip.MustParsePrefix("192.0.2.10/24"), netip.MustParsePrefix("192.0.2.10/25")}}), "addresses[1]", "192.0.2.10/25"},
		{"multicast address", mtu(Link{Addresses: []netip.Prefix{netip.MustParsePrefix("224.0.0.1/24")}}), "addresses[0]", "224.0.0.1/24"},
		{"host bits in destination", mtu(Link{Routes: []Route{route("198.51.100.1/24", "")}}), "routes[0].destination", "198.51.100.1/24"},
		{"unreachable gateway", mtu(Link{Addresses: []netip.Prefix{netip.MustParsePrefix("192.0.2.10/24")}, Routes: []Route{route("198.51.100.0/24", "203.0.113.1")}}), "routes[0].gateway", "203.0.113.1"},
		{"unreachable gateway on the kernel's addresses", mtu(Link{Routes: []Route{route("198.51.100.0/24", "203.0.113.1")}}), "routes[0].gateway", "203.0.113.1"},
		{"gateway of another family", mtu(Link{Routes: []Route{route("198.51.100.0/24", "2001:db8::1")}}), "routes[0].gateway", "2001:db8::1"},
		{"kind of the existing link", mtu(Link{Kind: KindBridge}), "kind", "bridge"},
		{"multicast hwaddr", Link{Name: "va", HardwareAddr: mustMAC(t, "01:00:5e:00:00:01")}, "hwaddr", "01:00:5e:00:00:01"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			before := takeSnapshot(t, ns, "va")

			_, planErr := Plan(context.Background(), tc.spec, WithNetNSPath(ns.Path))
			done, err := Apply(context.Background(), tc.spec, WithNetNSPath(ns.Path))
			assert.ErrorIs(t, planErr, ErrInvalidSpec)
			require.ErrorIs(t, err, ErrInvalidSpec)
			assert.Empty(t, done)

			var specErr *SpecError
			require.ErrorAs(t, err, &specErr)
			assert.Equal(t, tc.field, specErr.Field)
			assert.True(t, strings.Contains(err.Error(), tc.field) && strings.Contains(err.Error(), tc.value),
				"error %q must name %s and %s", err, tc.field, tc.value)
			assert.Equal(t, before, takeSnapshot(t, ns, "va"), "the link changed")
		})
	}
}

func TestIntegrationApplyWithNetNSFD(t *testing.T) {
	ns := newVethNS(t)
	f, err := os.Open(ns.Path)
	require.NoError(t, err)
	defer f.Close()

	done, err := Apply(context.Background(), Link{Name: "va", MTU: 1400}, WithNetNS(int(f.Fd())))
	require.NoError(t, err)
	assert.Equal(t, []string{"set mtu 1500 -> 1400"}, lines(done))
	assert.Equal(t, 1400, showLink(t, ns, "va").MTU)

	_, err = Plan(context.Background(), Link{Name: "va"}, WithNetNS(int(f.Fd())), WithNetNSPath(ns.Path))
	assert.ErrorContains(t, err, "both given")
}
