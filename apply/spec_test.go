package apply

import (
	"encoding/json"
	"errors"
	"net/netip"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// lines returns the changes as String prints them, one per element.
func lines(cs Changes) []string {
	out := make([]string, len(cs))
	for i, c := range cs {
		out[i] = c.String()
	}
	return out
}

func TestValidateAcceptsValid(t *testing.T) {
	l := Link{
		Name: "veth0", Kind: KindVeth, Peer: "veth1", State: StateUp, MTU: 9000,
		HardwareAddr: HardwareAddr{0x02, 0, 0x5e, 0x10, 0, 1},
		Addresses:    []netip.Prefix{netip.MustParsePrefix("192.0.2.10/24"), netip.MustParsePrefix("2001:db8::10/64")},
		Routes: []Route{
			{Destination: netip.MustParsePrefix("0.0.0.0/0"), Gateway: netip.MustParseAddr("192.0.2.1")},
			{Destination: netip.MustParsePrefix("::/0"), Gateway: netip.MustParseAddr("fe80::1")},
			{Destination: netip.MustParsePrefix("198.51.100.0/24")},
		},
	}
	assert.NoError(t, l.Validate())
	assert.NoError(t, Link{Name: "eth0"}.Validate())

	// The kernel accepts these gateways: a subnet's network address, and
	// the last address of a /31, which has no broadcast address.
	for _, gw := range []struct{ prefix, gateway string }{{"10.1.2.3/20", "10.1.0.0"}, {"192.0.2.0/31", "192.0.2.1"}} {
		l := Link{Name: "x", Addresses: []netip.Prefix{netip.MustParsePrefix(gw.prefix)},
			Routes: []Route{{Destination: netip.MustParsePrefix("198.51.100.0/24"), Gateway: netip.MustParseAddr(gw.gateway)}}}
		assert.NoError(t, l.Validate(), "gateway %s on %s", gw.gateway, gw.prefix)
	}
}

func TestValidateRejects(t *testing.T) {
	p := netip.MustParsePrefix
	a := netip.MustParseAddr
	cases := []struct {
		name   string
		link   Link
		field  string
		reason string
	}{
		{"empty name", Link{}, "name", "must not be empty"},
		{"long name", Link{Name: "sixteen-bytes-xx"}, "name", "at most 15"},
		{"slash in name", Link{Name: "a/b"}, "name", "'/'"},
		{"dot name", Link{Name: "."}, "name", "not a valid link name"},
		{"unknown kind", Link{Name: "x", Kind: "dummy"}, "kind", "unknown kind"},
		{"veth without peer", Link{Name: "x", Kind: KindVeth}, "peer", "required"},
		{"veth peer same name", Link{Name: "x", Kind: KindVeth, Peer: "x"}, "peer", "must differ"},
		{"peer without veth", Link{Name: "x", Peer: "y"}, "peer", "only for kind"},
		{"unknown state", Link{Name: "x", State: "UP"}, "state", `must be "up" or "down"`},
		{"routes on a down link", Link{Name: "x", State: StateDown, Routes: []Route{{Destination: p("198.51.100.0/24")}}}, "state", "routes need the link up"},
		{"mtu too small", Link{Name: "x", MTU: 67}, "mtu", "out of range 68 to 65535"},
		{"mtu too large", Link{Name: "x", MTU: 65536}, "mtu", "out of range"},
		{"negative mtu", Link{Name: "x", MTU: -1}, "mtu", "out of range"},
		{"mtu below ipv6", Link{Name: "x", MTU: 1279, Addresses: []netip.Prefix{p("2001:db8::1/64")}}, "mtu", "minimum for IPv6"},
		{"empty hwaddr", Link{Name: "x", HardwareAddr: HardwareAddr{}}, "hwaddr", "must not be empty"},
		{"multicast hwaddr", Link{Name: "x", HardwareAddr: HardwareAddr{1, 0, 0x5e, 0, 0, 1}}, "hwaddr", "multicast"},
		{"zero hwaddr", Link{Name: "x", HardwareAddr: HardwareAddr{0, 0, 0, 0, 0, 0}}, "hwaddr", "all zeros"},
		{"missing prefix", Link{Name: "x", Addresses: []netip.Prefix{{}}}, "addresses[0]", "missing: give a prefix such as 192.0.2.10/24"},
		{"mapped address", Link{Name: "x", Addresses: []netip.Prefix{p("::ffff:192.0.2.1/120")}}, "addresses[0]", "IPv4-mapped"},
		{"unspecified address", Link{Name: "x", Addresses: []netip.Prefix{p("0.0.0.0/8")}}, "addresses[0]", "unspecified"},
		{"duplicate address", Link{Name: "x", Addresses: []netip.Prefix{p("192.0.2.1/24"), p("192.0.2.1/25")}}, "addresses[1]", "duplicate address: addresses[0]"},
		{"missing destination", Link{Name: "x", Routes: []Route{{}}}, "routes[0].destination", "missing: give a prefix such as 198.51.100.0/24"},
		{"host bits", Link{Name: "x", Routes: []Route{{Destination: p("198.51.100.7/24")}}}, "routes[0].destination", "use 198.51.100.0/24"},
		{"gateway family", Link{Name: "x", Routes: []Route{{Destination: p("0.0.0.0/0"), Gateway: a("fe80::1")}}}, "routes[0].gateway", "same address family"},
		{"gateway unreachable", Link{Name: "x", Addresses: []netip.Prefix{p("192.0.2.10/24")}, Routes: []Route{{Destination: p("0.0.0.0/0"), Gateway: a("203.0.113.1")}}}, "routes[0].gateway", "not reachable"},
		{"gateway with no addresses", Link{Name: "x", Addresses: []netip.Prefix{}, Routes: []Route{{Destination: p("0.0.0.0/0"), Gateway: a("192.0.2.1")}}}, "routes[0].gateway", "the link has no addresses"},
		{"gateway is own address", Link{Name: "x", Addresses: []netip.Prefix{p("192.0.2.10/24")}, Routes: []Route{{Destination: p("0.0.0.0/0"), Gateway: a("192.0.2.10")}}}, "routes[0].gateway", "own address"},
		{"gateway is broadcast", Link{Name: "x", Addresses: []netip.Prefix{p("192.0.2.10/24")}, Routes: []Route{{Destination: p("0.0.0.0/0"), Gateway: a("192.0.2.255")}}}, "routes[0].gateway", "is the broadcast address of the link's prefix 192.0.2.10/24"},
		{"gateway is broadcast of /20", Link{Name: "x", Addresses: []netip.Prefix{p("10.1.2.3/20")}, Routes: []Route{{Destination: p("0.0.0.0/0"), Gateway: a("10.1.15.255")}}}, "routes[0].gateway", "broadcast address"},
		{"gateway zone", Link{Name: "x", Routes: []Route{{Destination: p("::/0"), Gateway: a("fe80::1%eth0")}}}, "routes[0].gateway", "zone"},
		{"multicast gateway", Link{Name: "x", Routes: []Route{{Destination: p("::/0"), Gateway: a("ff02::1")}}}, "routes[0].gateway", "not a unicast"},
		{"duplicate route", Link{Name: "x", Routes: []Route{{Destination: p("::/0")}, {Destination: p("::/0"), Metric: 1024}}}, "routes[1]", "duplicate route"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.link.Validate()
			require.ErrorIs(t, err, ErrInvalidSpec)
			var specErr *SpecError
			require.ErrorAs(t, err, &specErr)
			assert.Equal(t, tc.field, specErr.Field)
			assert.Contains(t, specErr.Reason, tc.reason)
			assert.Contains(t, err.Error(), tc.field)
		})
	}
}

func TestValidateReportsAllProblems(t *testing.T) {
	err := Link{Name: "", MTU: 1, State: "sideways"}.Validate()
	require.Error(t, err)
	for _, field := range []string{"name", "mtu", "state"} {
		assert.Contains(t, err.Error(), "invalid "+field)
	}
}

func TestDecodeValid(t *testing.T) {
	l, err := Decode(strings.NewReader(`{
		"name": "va", "kind": "veth", "peer": "vb", "state": "up", "mtu": 9000,
		"hwaddr": "02:00:5e:10:00:01",
		"addresses": ["192.0.2.10/24", "2001:db8::10/64"],
		"routes": [
			{"destination": "198.51.100.0/24", "gateway": "192.0.2.1", "table": 100, "metric": 10},
			{"destination": "::/0", "gateway": ""}
		]
	}`))
	require.NoError(t, err)
	assert.Equal(t, Link{
		Name: "va", Kind: KindVeth, Peer: "vb", State: StateUp, MTU: 9000,
		HardwareAddr: HardwareAddr{0x02, 0, 0x5e, 0x10, 0, 1},
		Addresses:    []netip.Prefix{netip.MustParsePrefix("192.0.2.10/24"), netip.MustParsePrefix("2001:db8::10/64")},
		Routes: []Route{
			{Destination: netip.MustParsePrefix("198.51.100.0/24"), Gateway: netip.MustParseAddr("192.0.2.1"), Table: 100, Metric: 10},
			{Destination: netip.MustParsePrefix("::/0")},
		},
	}, l)
}

func TestDecodeNilAndEmpty(t *testing.T) {
	l, err := Decode(strings.NewReader(`{"name": "va", "addresses": null}`))
	require.NoError(t, err)
	assert.Nil(t, l.Addresses, "null leaves the addresses alone")
	assert.Nil(t, l.Routes)

	l, err = Decode(strings.NewReader(`{"name": "va", "addresses": []}`))
	require.NoError(t, err)
	assert.NotNil(t, l.Addresses, "[] removes every address")
	assert.Empty(t, l.Addresses)
}

func TestDecodeRoundTrip(t *testing.T) {
	in := Link{
		Name: "va", State: StateDown, MTU: 1400,
		HardwareAddr: HardwareAddr{0x02, 0, 0x5e, 0x10, 0, 1},
		Addresses:    []netip.Prefix{netip.MustParsePrefix("192.0.2.10/24")},
		Routes:       []Route{},
	}
	b, err := json.Marshal(in)
	require.NoError(t, err)
	out, err := Decode(strings.NewReader(string(b)))
	require.NoError(t, err, "%s", b)
	assert.Equal(t, in, out)
}

func TestDecodeRejects(t *testing.T) {
	cases := []struct {
		name  string
		json  string
		field string
		text  string
	}{
		{"unknown field", `{"name": "va", "mtux": 1}`, "mtux", "unknown field"},
		{"name with NUL", `{"name": "va\u0000zz", "mtu": 1400}`, "name", "control characters"},
		{"name with control character", `{"name": "v\u0001a"}`, "name", "control characters"},
		{"field in other case", `{"name": "va", "MTU": 1400}`, "MTU", "unknown field"},
		{"duplicate field", `{"name": "va", "mtu": 9000, "mtu": 1500}`, "mtu", "duplicate field"},
		{"duplicate route field", `{"name": "va", "routes": [{"destination": "::/0", "metric": 1, "metric": 2}]}`, "routes[0].metric", "duplicate field"},
		{"unknown route field", `{"name": "va", "routes": [{"destination": "::/0"}, {"destination": "::/0", "metric": 1, "tabel": 5}]}`, "routes[1].tabel", "unknown field"},
		{"missing name", `{"mtu": 1500}`, "name", "missing"},
		{"wrong type", `{"name": "va", "mtu": "1500"}`, "mtu", "got a JSON string, expected an integer"},
		{"fraction", `{"name": "va", "mtu": 1500.5}`, "mtu", "expected an integer"},
		{"negative metric", `{"name": "va", "routes": [{"destination": "::/0", "metric": -1}]}`, "routes[0].metric", "expected an integer from 0 to 4294967295"},
		{"name not a string", `{"name": 5}`, "name", "got a JSON number, expected a string"},
		{"addresses not an array", `{"name": "va", "addresses": "192.0.2.1/24"}`, "addresses", "expected an array"},
		{"invalid prefix", `{"name": "va", "addresses": ["192.0.2.10/24", "192.0.2.300/24"]}`, "addresses[1]", "192.0.2.300/24"},
		{"address without length", `{"name": "va", "addresses": ["192.0.2.10"]}`, "addresses[0]", "192.0.2.10"},
		{"invalid gateway", `{"name": "va", "routes": [{"destination": "::/0", "gateway": "fe80::g"}]}`, "routes[0].gateway", "fe80::g"},
		{"missing destination", `{"name": "va", "routes": [{"gateway": "fe80::1"}]}`, "routes[0].destination", "missing"},
		{"empty state", `{"name": "va", "state": ""}`, "state", "leave the field out"},
		{"zero mtu", `{"name": "va", "mtu": 0}`, "mtu", "leave the field out"},
		{"invalid hwaddr", `{"name": "va", "hwaddr": "02:00"}`, "hwaddr", "02:00"},
		{"validation", `{"name": "va", "mtu": 70000}`, "mtu", "out of range"},
		{"trailing data", `{"name": "va"} {"name": "vb"}`, "", "unexpected data after the JSON object"},
		{"array", `[{"name": "va"}]`, "", "got a JSON array, expected an object"},
		{"syntax", `{"name": "va",}`, "", "invalid JSON at byte"},
		{"empty", ``, "", "incomplete JSON"},
		{"truncated", `{"name": "va"`, "", "incomplete JSON"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Decode(strings.NewReader(tc.json))
			require.ErrorIs(t, err, ErrInvalidSpec)
			var specErr *SpecError
			require.ErrorAs(t, err, &specErr)
			assert.Equal(t, tc.field, specErr.Field)
			assert.Contains(t, err.Error(), tc.text)
		})
	}
}

func TestPlanAddressesIgnoresKernelManaged(t *testing.T) {
	p := netip.MustParsePrefix
	st := &kernelState{exists: true, index: 3, addrs: []kernelAddr{
		{prefix: p("fe80::1/64"), flags: ifaFPermanent},
		{prefix: p("2001:db8::aa/64"), flags: 0}, // from autoconfiguration
		{prefix: p("2001:db8::bb/64"), flags: ifaFPermanent},
	}}

	cs, err := plan(Link{Name: "x", Addresses: []netip.Prefix{}}, st)
	require.NoError(t, err)
	assert.Equal(t, []string{"remove address 2001:db8::bb/64"}, lines(cs))

	// Listing a link-local address puts every link-local address under
	// management.
	cs, err = plan(Link{Name: "x", Addresses: []netip.Prefix{p("fe80::2/64")}}, st)
	require.NoError(t, err)
	assert.Equal(t, []string{"remove address fe80::1/64", "remove address 2001:db8::bb/64", "add address fe80::2/64"}, lines(cs))
}

func TestPlanRoutesNormalizes(t *testing.T) {
	p := netip.MustParsePrefix
	st := &kernelState{exists: true, index: 3,
		addrs: []kernelAddr{{prefix: p("192.0.2.10/24"), flags: ifaFPermanent}},
		routes: []Route{
			{Destination: p("2001:db8:1::/64"), Gateway: netip.MustParseAddr("fe80::1"), Table: rtTableMain, Metric: 1024},
			{Destination: p("0.0.0.0/0"), Gateway: netip.MustParseAddr("192.0.2.254"), Table: rtTableMain},
		}}
	spec := Link{Name: "x", Routes: []Route{
		{Destination: p("2001:db8:1::/64"), Gateway: netip.MustParseAddr("fe80::1")},
		{Destination: p("0.0.0.0/0"), Gateway: netip.MustParseAddr("192.0.2.1")},
	}}
	cs, err := plan(spec, st)
	require.NoError(t, err)
	assert.Equal(t, []string{"replace route 0.0.0.0/0 via 192.0.2.1 (gateway 192.0.2.254 -> 192.0.2.1)"}, lines(cs))
}

func TestPlanChecksKernelState(t *testing.T) {
	_, err := plan(Link{Name: "x", MTU: 1500}, &kernelState{})
	assert.ErrorIs(t, err, ErrLinkNotFound)

	_, err = plan(Link{Name: "x", Kind: KindBridge}, &kernelState{exists: true, kind: "veth"})
	assert.ErrorIs(t, err, ErrInvalidSpec)
	assert.ErrorContains(t, err, `exists with kind "veth"`)

	gw := Link{Name: "x", Routes: []Route{{Destination: netip.MustParsePrefix("0.0.0.0/0"), Gateway: netip.MustParseAddr("192.0.2.1")}}}
	_, err = plan(gw, &kernelState{exists: true})
	assert.ErrorIs(t, err, ErrInvalidSpec)
	assert.ErrorContains(t, err, "the link has no addresses")
}

func TestChangeStrings(t *testing.T) {
	assert.Equal(t, "set mtu 1400 -> 9000", Change{Action: SetMTU, From: "1400", To: "9000"}.String())
	assert.Equal(t, "set state up", Change{Action: SetState, To: "up"}.String())
	assert.Equal(t, "create link br0 type bridge", Change{Action: CreateLink, Link: "br0", To: "bridge"}.String())
	assert.Equal(t, "add address 192.0.2.10/24", Change{Action: AddAddress, Address: netip.MustParsePrefix("192.0.2.10/24")}.String())
	assert.Equal(t, "action(99)", Action(99).String())
	assert.Equal(t, "no changes", Changes(nil).String())
	assert.Equal(t, "link va deleted", Correction{Link: "va", LinkDeleted: true}.String())
	assert.Equal(t, "link va deleted\ncreate link va type bridge", Correction{Link: "va", LinkDeleted: true, Changes: Changes{{Action: CreateLink, Link: "va", To: "bridge"}}}.String())
}

func TestApplyErrorMessage(t *testing.T) {
	cause := errors.New("boom")
	err := &ApplyError{
		Change: Change{Action: SetMTU, Link: "va", From: "1500", To: "9000"},
		Done:   Changes{{Action: SetState, From: "down", To: "up"}},
		Err:    cause,
	}
	assert.Equal(t, "apply: link va: set mtu 1500 -> 9000 failed: boom (1 change made before it: set state down -> up)", err.Error())
	assert.ErrorIs(t, err, cause)
}

func TestValidateQuotesControlCharactersOnce(t *testing.T) {
	err := Link{Name: "a\x00b"}.Validate()

	var specErr *SpecError
	require.ErrorAs(t, err, &specErr)
	assert.Equal(t, "a\x00b", specErr.Value, "Value is the name as given")
	assert.EqualError(t, err, `apply: invalid name "a\x00b": must not contain control characters such as NUL`)
}

func TestBroadcastOfPrefix(t *testing.T) {
	cases := map[string]string{
		"192.0.2.10/24": "192.0.2.255",
		"10.1.2.3/20":   "10.1.15.255",
		"10.0.0.1/8":    "10.255.255.255",
		"0.0.0.0/0":     "255.255.255.255",
		"192.0.2.1/32":  "192.0.2.1",
	}
	for prefix, want := range cases {
		assert.Equal(t, want, broadcast(netip.MustParsePrefix(prefix)).String(), prefix)
	}
}
