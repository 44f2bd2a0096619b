package apply

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/nlevents/nlevents/testutil"
)

// waitTimeout bounds every wait for the kernel or for Enforce.
const waitTimeout = 5 * time.Second

// linkShow is the part of `ip -j link show` that the tests compare.
type linkShow struct {
	Name    string   `json:"ifname"`
	Flags   []string `json:"flags"`
	MTU     int      `json:"mtu"`
	Address string   `json:"address"`
}

func (l linkShow) up() bool { return slices.Contains(l.Flags, "UP") }

// showLink reads a link with ip, independently of the package.
func showLink(t *testing.T, ns *testutil.NetNS, name string) linkShow {
	t.Helper()
	var links []linkShow
	decodeIP(t, ns.IP(t, "-j", "link", "show", "dev", name), &links)
	if len(links) != 1 {
		t.Fatalf("ip link show dev %s: %d links", name, len(links))
	}
	return links[0]
}

// linkExists reports whether ip finds the link.
func linkExists(ns *testutil.NetNS, name string) bool {
	_, err := ns.TryIP("link", "show", "dev", name)
	return err == nil
}

// showAddrs returns the link's addresses as "192.0.2.10/24", leaving out
// IPv6 link-local ones.
func showAddrs(t *testing.T, ns *testutil.NetNS, name string) []string {
	t.Helper()
	var links []struct {
		AddrInfo []struct {
			Local     string `json:"local"`
			PrefixLen int    `json:"prefixlen"`
			Scope     string `json:"scope"`
			Family    string `json:"family"`
		} `json:"addr_info"`
	}
	decodeIP(t, ns.IP(t, "-j", "addr", "show", "dev", name), &links)

	var addrs []string
	for _, l := range links {
		for _, a := range l.AddrInfo {
			if a.Family == "inet6" && a.Scope == "link" {
				continue
			}
			addrs = append(addrs, fmt.Sprintf("%s/%d", a.Local, a.PrefixLen))
		}
	}
	slices.Sort(addrs)
	return addrs
}

// hasLinkLocal reports whether the link has an IPv6 link-local address.
func hasLinkLocal(t *testing.T, ns *testutil.NetNS, name string) bool {
	t.Helper()
	out := ns.IP(t, "-j", "-6", "addr", "show", "dev", name, "scope", "link")
	return strings.Contains(out, `"fe80:`)
}

// showRoutes returns the unicast routes through the link that the kernel
// did not add itself, from every table, in the form Route.String prints.
func showRoutes(t *testing.T, ns *testutil.NetNS, name string) []string {
	t.Helper()
	var routes []struct {
		Type     string `json:"type"`
		Dst      string `json:"dst"`
		Gateway  string `json:"gateway"`
		Table    string `json:"table"`
		Metric   int    `json:"metric"`
		Protocol string `json:"protocol"`
	}
	var all []string
	for _, family := range []string{"-4", "-6"} {
		decodeIP(t, ns.IP(t, "-j", family, "route", "show", "table", "all", "dev", name), &routes)
		for _, r := range routes {
			if r.Type != "" || r.Protocol == "kernel" {
				continue
			}
			s := r.Dst
			if s == "default" {
				s = map[string]string{"-4": "0.0.0.0/0", "-6": "::/0"}[family]
			} else if !strings.Contains(s, "/") {
				s += map[string]string{"-4": "/32", "-6": "/128"}[family]
			}
			if r.Gateway != "" {
				s += " via " + r.Gateway
			}
			if r.Table != "" && r.Table != "main" {
				s += " table " + r.Table
			}
			if r.Metric != 0 {
				s += fmt.Sprintf(" metric %d", r.Metric)
			}
			all = append(all, s)
		}
		routes = nil
	}
	slices.Sort(all)
	return all
}

func decodeIP(t *testing.T, out string, v any) {
	t.Helper()
	if err := json.Unmarshal([]byte(out), v); err != nil {
		t.Fatalf("parse ip -j output: %v\n%s", err, out)
	}
}

// snapshot is the state of a link that Plan and invalid descriptions must
// leave as it is. Flags that the kernel changes by itself, such as
// LOWER_UP, are left out.
type snapshot struct {
	Exists  bool
	Up      bool
	MTU     int
	Address string
	Addrs   []string
	Routes  []string
}

func takeSnapshot(t *testing.T, ns *testutil.NetNS, name string) snapshot {
	t.Helper()
	if !linkExists(ns, name) {
		return snapshot{}
	}
	l := showLink(t, ns, name)
	return snapshot{
		Exists:  true,
		Up:      l.up(),
		MTU:     l.MTU,
		Address: l.Address,
		Addrs:   showAddrs(t, ns, name),
		Routes:  showRoutes(t, ns, name),
	}
}

// newVethNS makes a namespace with the veth pair va and vb, both up.
func newVethNS(t *testing.T) *testutil.NetNS {
	t.Helper()
	ns := testutil.NewNetNS(t)
	ns.AddVeth(t, "va", "vb")
	return ns
}

// enforcement is a running Enforce with what its hook has seen.
type enforcement struct {
	corrections <-chan Correction
	errs        <-chan error
	checks      chan checkResult
	cancel      context.CancelFunc
}

// startEnforce runs Enforce in ns until the test ends, and waits at the end
// for both channels to close.
func startEnforce(t *testing.T, ns *testutil.NetNS, spec Link, opts ...Option) *enforcement {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	e := &enforcement{checks: make(chan checkResult, 10000), cancel: cancel}
	hook := withCheckHook(func(r checkResult) {
		select {
		case e.checks <- r:
		default:
			t.Errorf("check hook: buffer full")
		}
	})

	var err error
	e.corrections, e.errs, err = Enforce(ctx, spec, append(opts, WithNetNSPath(ns.Path), hook)...)
	if err != nil {
		cancel()
		t.Fatalf("Enforce: %v", err)
	}

	t.Cleanup(func() {
		cancel()
		e.waitClosed(t)
	})
	return e
}

// waitClosed drains both channels until they close.
func (e *enforcement) waitClosed(t *testing.T) {
	t.Helper()
	timeout := time.After(waitTimeout)
	corrections, errs := e.corrections, e.errs
	for corrections != nil || errs != nil {
		select {
		case _, ok := <-corrections:
			if !ok {
				corrections = nil
			}
		case _, ok := <-errs:
			if !ok {
				errs = nil
			}
		case <-timeout:
			t.Fatalf("Enforce's channels did not close within %v of cancellation", waitTimeout)
		}
	}
}

// next returns the next correction. An error fails the test unless allow
// returns true for it; the allowed errors are returned too.
func (e *enforcement) next(t *testing.T, allow func(error) bool) (Correction, []error) {
	t.Helper()
	timeout := time.After(waitTimeout)
	var allowed []error
	for {
		select {
		case c, ok := <-e.corrections:
			if !ok {
				t.Fatalf("corrections channel closed; errors: %v", allowed)
			}
			return c, allowed
		case err, ok := <-e.errs:
			if !ok {
				t.Fatalf("error channel closed")
			}
			if allow == nil || !allow(err) {
				t.Fatalf("Enforce sent an error: %v", err)
			}
			allowed = append(allowed, err)
		case <-timeout:
			t.Fatalf("no correction within %v", waitTimeout)
		}
	}
}

// nextError returns the next error; a correction fails the test.
func (e *enforcement) nextError(t *testing.T) error {
	t.Helper()
	select {
	case c := <-e.corrections:
		t.Fatalf("got correction %q, expected an error", c)
	case err := <-e.errs:
		return err
	case <-time.After(waitTimeout):
		t.Fatalf("no error within %v", waitTimeout)
	}
	return nil
}

// waitCheck waits for a check for which match returns true, and returns
// the number of checks seen until then, that one included.
func (e *enforcement) waitCheck(t *testing.T, match func(checkResult) bool) int {
	t.Helper()
	timeout := time.After(waitTimeout)
	for n := 1; ; n++ {
		select {
		case r := <-e.checks:
			if match(r) {
				return n
			}
		case <-timeout:
			t.Fatalf("no matching check within %v", waitTimeout)
		}
	}
}
