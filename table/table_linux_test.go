package table_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/nlevents/nlevents"
	"github.com/nlevents/nlevents/table"
	"github.com/nlevents/nlevents/testutil"
)

// waitTimeout bounds each wait. It only matters when a test fails, and a
// resync under load can repeat while the kernel keeps overrunning the tiny
// buffer of the overrun tests, so it is generous.
const waitTimeout = 30 * time.Second

// subscription is a stream feeding a table in the test goroutine.
type subscription struct {
	events <-chan nlevents.Event
	errs   <-chan error
	table  *table.Table
}

func subscribe(t *testing.T, ns *testutil.NetNS, groups nlevents.Groups, opts ...nlevents.Option) *subscription {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	opts = append(opts, nlevents.WithNetNSPath(ns.Path))
	events, errs, err := nlevents.Subscribe(ctx, groups, opts...)
	require.NoError(t, err)

	t.Cleanup(func() {
		cancel()
		for range events {
		}
		for range errs {
		}
	})
	return &subscription{events: events, errs: errs, table: table.New()}
}

// feed applies events and errors to the table until until returns true.
func (s *subscription) feed(t *testing.T, until func(testutil.Item) bool) []testutil.Item {
	t.Helper()
	return testutil.Collect(t, s.events, s.errs, waitTimeout, func(it testutil.Item) bool {
		s.table.Update(it.Event, it.Err)
		return until(it)
	})
}

// converge feeds the table until got() equals want, the kernel's
// final state. Waiting for the state itself, not for a sentinel change, is
// needed because the kernel sends IPv6 address notifications from a work
// queue, after the request that added the address has returned. A table
// that lost an event never converges, and the wait times out.
func (s *subscription) converge(t *testing.T, want []string, got func(*table.Table) []string) []testutil.Item {
	t.Helper()
	deadline := time.After(waitTimeout)
	var items []testutil.Item
	for pending := 0; ; pending++ {
		// Comparing sorts thousands of entries, so compare when the stream
		// is idle or every few hundred items, not after each one.
		var it testutil.Item
		select {
		case it.Event = <-s.events:
		case it.Err = <-s.errs:
		case <-time.After(20 * time.Millisecond):
			pending = 500
		case <-deadline:
			assertSameSet(t, want, got(s.table), "entries")
			t.Fatalf("table did not converge to the kernel's %d entries within %v", len(want), waitTimeout)
		}
		if it.Event != nil || it.Err != nil {
			s.table.Update(it.Event, it.Err)
			items = append(items, it)
		}

		if pending >= 500 {
			pending = 0
			if slices.Equal(got(s.table), want) {
				return items
			}
		}
	}
}

// compareRoutesAfterSentinel adds a sentinel route through dev and waits
// for its event, so that every notification before it has been applied,
// then compares the table's IPv4 routes with the kernel's.
func (s *subscription) compareRoutesAfterSentinel(t *testing.T, ns *testutil.NetNS, dev, what string) {
	t.Helper()
	ns.IP(t, "route", "add", "203.0.113.200/32", "dev", dev)
	s.feed(t, func(it testutil.Item) bool {
		r, ok := it.Event.(*nlevents.RouteEvent)
		return ok && r.Dst.String() == "203.0.113.200/32"
	})
	assertSameSet(t, kernelRoutes(t, ns, 4), tableRoutes(s.table, 2), what)
}

func isSync(it testutil.Item) bool {
	_, ok := it.Event.(*nlevents.SyncEvent)
	return ok
}

func prepare(t *testing.T, ns *testutil.NetNS) {
	t.Helper()
	ns.AddVeth(t, "va", "vb")
	ns.AddVeth(t, "vc", "vd")
	ns.IP(t, "addr", "add", "192.0.2.1/24", "dev", "va")
	ns.IP(t, "addr", "add", "198.51.100.1/24", "dev", "vc")
	ns.IP(t, "-6", "addr", "add", "2001:db8:1::1/64", "dev", "va", "nodad")
	ns.IP(t, "route", "add", "203.0.113.0/25", "via", "192.0.2.254", "dev", "va")
	ns.IP(t, "route", "add", "192.0.2.128/25", "via", "198.51.100.254", "metric", "50")
	ns.IP(t, "neigh", "add", "192.0.2.7", "lladdr", "02:00:00:00:00:07", "dev", "va")
	ns.IP(t, "neigh", "add", "198.51.100.9", "lladdr", "02:00:00:00:00:09", "dev", "vc")
}

func TestIntegrationInitialDumpMatchesKernel(t *testing.T) {
	ns := testutil.NewNetNS(t)
	prepare(t, ns)

	sub := subscribe(t, ns, nlevents.Link|nlevents.Addr|nlevents.Route|nlevents.Neigh, nlevents.WithInitialDump())
	items := sub.feed(t, isSync)

	var neighbours []string
	for _, it := range items[:len(items)-1] {
		require.NoError(t, it.Err)
		assert.True(t, it.Event.EventInfo().Dumped, "event before the marker not marked as dumped: %v", it.Event)
		if n, ok := it.Event.(*nlevents.NeighEvent); ok && n.State == nlevents.NeighPermanent {
			neighbours = append(neighbours, n.IP.String()+" "+n.HardwareAddr.String())
		}
	}
	// What the test made exists when the dump runs, so the picture is exact
	// at the marker. The kernel adds IPv6 link-local addresses and fe80::/64
	// routes from a work queue, so those may come later, as notifications.
	assertSameSet(t, kernelLinks(t, ns), tableLinks(sub.table), "links")
	assertSameSet(t, without("fe80:", kernelAddrs(t, ns)), without("fe80:", tableAddrs(sub.table)), "addresses")
	assertSameSet(t, kernelRoutes(t, ns, 4), tableRoutes(sub.table, 2), "IPv4 routes")
	assertSameSet(t, only("2001:db8:", kernelRoutes(t, ns, 6)), only("2001:db8:", tableRoutes(sub.table, 10)), "IPv6 routes")
	assert.ElementsMatch(t, []string{"192.0.2.7 02:00:00:00:00:07", "198.51.100.9 02:00:00:00:00:09"}, neighbours)
	assert.True(t, sub.table.Synced())
	assert.False(t, items[len(items)-1].Event.EventInfo().Dumped, "the marker is not a dumped object")

	// A change after the marker arrives as a live event.
	ns.IP(t, "link", "set", "vd", "mtu", "1400")
	items = sub.feed(t, func(it testutil.Item) bool {
		l, ok := it.Event.(*nlevents.LinkEvent)
		return ok && l.Name == "vd" && l.MTU == 1400
	})
	assert.False(t, items[len(items)-1].Event.EventInfo().Dumped)

	sub.converge(t, kernelAddrs(t, ns), tableAddrs)
	sub.converge(t, kernelRoutes(t, ns, 6), func(tbl *table.Table) []string { return tableRoutes(tbl, 10) })
}

// writeBatch writes an ip -batch file and returns its path.
func writeBatch(t *testing.T, lines []string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "batch")
	require.NoError(t, os.WriteFile(path, []byte(strings.Join(lines, "\n")+"\n"), 0o644))
	return path
}

func addrBatch(verb, dev string, third, count int) []string {
	var lines []string
	for i := 0; i < count; i++ {
		lines = append(lines, fmt.Sprintf("addr %s 2001:db8:%x::%x/128 dev %s nodad", verb, third, i+1, dev))
	}
	return lines
}

func TestIntegrationDumpDuringChangesLosesNothing(t *testing.T) {
	ns := testutil.NewNetNS(t)
	ns.AddVeth(t, "va", "vb")
	ns.IP(t, "-batch", writeBatch(t, addrBatch("add", "va", 1, 3000)))

	// Changes run in another process while the dump is in progress.
	churn := exec.Command("ip", "-n", ns.Name, "-batch", writeBatch(t, append(addrBatch("del", "va", 1, 1500), addrBatch("add", "vb", 2, 1500)...)))
	sub := subscribe(t, ns, nlevents.Link|nlevents.Addr, nlevents.WithInitialDump(), nlevents.WithResync(), nlevents.WithReceiveBuffer(64<<20))
	require.NoError(t, churn.Start())
	items := sub.feed(t, isSync)
	require.NoError(t, churn.Wait())

	items = append(items, sub.converge(t, kernelAddrs(t, ns), tableAddrs)...)
	for _, it := range items {
		assert.NoError(t, it.Err)
	}
	assertSameSet(t, kernelLinks(t, ns), tableLinks(sub.table), "links")
}

func TestIntegrationInferredDeleteOnLinkDown(t *testing.T) {
	ns := testutil.NewNetNS(t)
	prepare(t, ns)
	sub := subscribe(t, ns, nlevents.IPv4Route, nlevents.WithInitialDump(), nlevents.WithInferredDeletes())
	sub.feed(t, isSync)

	ns.IP(t, "link", "set", "va", "down")
	items := sub.feed(t, func(it testutil.Item) bool {
		r, ok := it.Event.(*nlevents.RouteEvent)
		return ok && r.Inferred && r.Dst.String() == "203.0.113.0/25"
	})
	last := items[len(items)-1].Event.(*nlevents.RouteEvent)
	assert.True(t, last.Deleted)
	for _, it := range items {
		_, isRoute := it.Event.(*nlevents.RouteEvent)
		assert.True(t, it.Err != nil || isRoute, "event of a group not subscribed: %v", it)
	}

	sub.compareRoutesAfterSentinel(t, ns, "vc", "IPv4 routes")
}

func TestIntegrationInferredDeleteOnNexthopDelete(t *testing.T) {
	ns := testutil.NewNetNS(t)
	prepare(t, ns)
	ns.IP(t, "nexthop", "add", "id", "7", "via", "198.51.100.254", "dev", "vc")
	ns.IP(t, "route", "add", "203.0.113.128/25", "nhid", "7")

	sub := subscribe(t, ns, nlevents.IPv4Route, nlevents.WithInitialDump(), nlevents.WithInferredDeletes())
	sub.feed(t, isSync)
	require.Contains(t, tableRoutes(sub.table, 2), "203.0.113.128/25 0 198.51.100.254@"+fmt.Sprint(ns.LinkIndex(t, "vc"))+"/1")

	ns.IP(t, "nexthop", "del", "id", "7")
	items := sub.feed(t, func(it testutil.Item) bool {
		r, ok := it.Event.(*nlevents.RouteEvent)
		return ok && r.Deleted && r.Dst.String() == "203.0.113.128/25"
	})
	assert.True(t, items[len(items)-1].Event.EventInfo().Inferred)

	sub.compareRoutesAfterSentinel(t, ns, "vc", "IPv4 routes")
}

func TestIntegrationIPv6MultipathMatchesKernel(t *testing.T) {
	ns := testutil.NewNetNS(t)
	ns.AddVeth(t, "va", "vb")
	ns.AddVeth(t, "vc", "vd")
	ns.IP(t, "-6", "addr", "add", "2001:db8:1::1/64", "dev", "va", "nodad")
	ns.IP(t, "-6", "addr", "add", "2001:db8:2::1/64", "dev", "vc", "nodad")
	sub := subscribe(t, ns, nlevents.IPv6Route, nlevents.WithInitialDump())
	sub.feed(t, isSync)

	steps := [][]string{
		{"-6", "route", "add", "2001:db8:9::/64", "nexthop", "via", "2001:db8:1::2", "dev", "va", "nexthop", "via", "2001:db8:2::2", "dev", "vc", "weight", "3"},
		{"-6", "route", "append", "2001:db8:9::/64", "via", "2001:db8:1::3", "dev", "va"},
		{"-6", "route", "del", "2001:db8:9::/64", "via", "2001:db8:2::2", "dev", "vc"},
	}
	for _, step := range steps {
		ns.IP(t, step...)
		sub.feed(t, func(it testutil.Item) bool {
			r, ok := it.Event.(*nlevents.RouteEvent)
			return ok && r.Dst.String() == "2001:db8:9::/64"
		})
		// Only the documentation prefixes: the kernel adds fe80::/64 routes
		// from a work queue when a link comes up, so their notifications
		// can trail the step's.
		assertSameSet(t, only("2001:db8:", kernelRoutes(t, ns, 6)), only("2001:db8:", tableRoutes(sub.table, 10)), "after ip "+strings.Join(step, " "))
	}
}

// forceOverrun subscribes with a tiny buffer, makes thousands of changes
// while nothing reads, and returns the subscription.
func forceOverrun(t *testing.T, opts ...nlevents.Option) (*subscription, *testutil.NetNS) {
	ns := testutil.NewNetNS(t)
	ns.AddVeth(t, "va", "vb")
	opts = append(opts, nlevents.WithReceiveBuffer(4096))
	sub := subscribe(t, ns, nlevents.Link|nlevents.Addr, opts...)
	if len(opts) > 1 {
		sub.feed(t, isSync)
	}

	ns.IP(t, "-batch", writeBatch(t, addrBatch("add", "va", 3, 2000)))
	return sub, ns
}

func TestIntegrationOverrunWithResyncConverges(t *testing.T) {
	sub, ns := forceOverrun(t, nlevents.WithInitialDump(), nlevents.WithResync())

	var overruns int
	items := sub.feed(t, func(it testutil.Item) bool {
		if errors.Is(it.Err, nlevents.ErrOverrun) {
			overruns++
		}
		s, ok := it.Event.(*nlevents.SyncEvent)
		return ok && s.Resync
	})
	assert.Positive(t, overruns, "no ErrOverrun among %d items", len(items))

	sub.converge(t, kernelAddrs(t, ns), tableAddrs)
	assert.True(t, sub.table.Synced())
}

func TestIntegrationOverrunWithoutResyncIsReported(t *testing.T) {
	sub, _ := forceOverrun(t)
	sub.feed(t, func(it testutil.Item) bool {
		return errors.Is(it.Err, nlevents.ErrOverrun)
	})
	assert.False(t, sub.table.Synced())
}

func TestIntegrationInferredDeleteOnAddressRemoval(t *testing.T) {
	ns := testutil.NewNetNS(t)
	prepare(t, ns)
	sub := subscribe(t, ns, nlevents.IPv4Route, nlevents.WithInitialDump(), nlevents.WithInferredDeletes())
	sub.feed(t, isSync)

	// Removing a link's last IPv4 address flushes every IPv4 route through
	// the link, without RTM_DELROUTE for the routes through gateways.
	ns.IP(t, "addr", "del", "192.0.2.1/24", "dev", "va")
	items := sub.feed(t, func(it testutil.Item) bool {
		r, ok := it.Event.(*nlevents.RouteEvent)
		return ok && r.Deleted && r.Dst.String() == "203.0.113.0/25"
	})
	assert.True(t, items[len(items)-1].Event.EventInfo().Inferred)

	sub.compareRoutesAfterSentinel(t, ns, "vc", "IPv4 routes")
}

func TestIntegrationSamePrefixOnTwoLinks(t *testing.T) {
	ns := testutil.NewNetNS(t)
	ns.AddVeth(t, "va", "vb")
	ns.IP(t, "addr", "add", "192.0.2.1/24", "dev", "va")
	ns.IP(t, "addr", "add", "192.0.2.2/24", "dev", "vb")
	sub := subscribe(t, ns, nlevents.Addr|nlevents.Route, nlevents.WithInitialDump(), nlevents.WithInferredDeletes())
	sub.feed(t, isSync)
	assertSameSet(t, kernelRoutes(t, ns, 4), tableRoutes(sub.table, 2), "IPv4 routes with two prefix routes")

	ns.IP(t, "addr", "del", "192.0.2.2/24", "dev", "vb")
	sub.compareRoutesAfterSentinel(t, ns, "va", "IPv4 routes after removing one address")
}
