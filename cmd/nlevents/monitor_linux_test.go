package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/mdlayher/netlink"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/nlevents/nlevents"
	"github.com/nlevents/nlevents/testutil"
)

func TestBadFlagsExitTwo(t *testing.T) {
	cases := []struct {
		args []string
		want string // in stderr
	}{
		{[]string{"-bogus"}, "Usage"},
		{[]string{"extra-argument"}, "Usage"},
		{[]string{"-groups", "nosuch"}, `unknown group "nosuch"`},
		{[]string{"-groups", ","}, "names no group"},
		{[]string{"-netns", ""}, "empty -netns"},
		{[]string{"-rcvbuf", "-1"}, "invalid -rcvbuf -1"},
		{[]string{"-rcvbuf", "0"}, "invalid -rcvbuf 0"},
		{[]string{"-rcvbuf", "lots"}, `invalid value "lots" for flag -rcvbuf: want a number of bytes`},
		{[]string{"-rcvbuf", "3G"}, "want a number of bytes up to 2147483647"},
		{[]string{"-rcvbuf", "K"}, "want a number of bytes"},
	}
	for _, c := range cases {
		var stdout, stderr bytes.Buffer
		status := run(context.Background(), c.args, &stdout, &stderr)
		assert.Equal(t, 2, status, "args %q", c.args)
		assert.Contains(t, stderr.String(), c.want, "args %q", c.args)
		assert.Empty(t, stdout.String(), "args %q", c.args)
	}
}

func TestInvalidNetnsExitsOne(t *testing.T) {
	var stdout, stderr bytes.Buffer
	status := run(context.Background(), []string{"-netns", "/nonexistent/netns"}, &stdout, &stderr)
	assert.Equal(t, 1, status)
	assert.Contains(t, stderr.String(), "/nonexistent/netns")
}

// startMonitor runs the program in the background with its output on a
// pipe, and returns a line reader and a function that stops it and returns
// its exit status.
func startMonitor(t *testing.T, args ...string) (*bufio.Scanner, func() int) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	reader, writer := io.Pipe()
	var stderr bytes.Buffer
	status := make(chan int, 1)
	go func() {
		status <- run(ctx, args, writer, &stderr)
		writer.Close()
	}()

	stop := func() int {
		cancel()
		go io.Copy(io.Discard, reader) // let a pending write finish
		select {
		case s := <-status:
			assert.Empty(t, stderr.String())
			return s
		case <-time.After(5 * time.Second):
			t.Fatal("the program did not stop within 5s of cancellation")
			return -1
		}
	}
	t.Cleanup(func() { cancel() })
	return bufio.NewScanner(reader), stop
}

// readLines reads lines until match returns true, with a timeout.
func readLines(t *testing.T, lines *bufio.Scanner, match func(string) bool) []string {
	t.Helper()
	found := make(chan []string, 1)
	go func() {
		var read []string
		for lines.Scan() {
			read = append(read, lines.Text())
			if match(lines.Text()) {
				found <- read
				return
			}
		}
		found <- nil
	}()

	select {
	case read := <-found:
		require.NotNil(t, read, "output ended before the expected line")
		return read
	case <-time.After(10 * time.Second):
		t.Fatal("expected line not printed within 10s")
		return nil
	}
}

func TestExistingJSONThenLiveEvents(t *testing.T) {
	ns := testutil.NewNetNS(t)
	ns.AddVeth(t, "va", "vb")
	ns.IP(t, "link", "add", "br0", "type", "bridge")
	ns.IP(t, "addr", "add", "192.0.2.1/24", "dev", "va")

	lines, stop := startMonitor(t, "-json", "-existing", "-netns", ns.Path, "-groups", "link,addr")
	dumped := readLines(t, lines, func(line string) bool { return strings.Contains(line, `"type":"sync"`) })

	// Notifications that the kernel queues during the dump, such as a veth
	// whose carrier comes up late, are printed among the dumped objects
	// with action "new"; only the dumped ones must list what exists.
	var names, prefixes []string
	for _, line := range dumped {
		var obj map[string]any
		require.NoError(t, json.Unmarshal([]byte(line), &obj), "line %q is not JSON", line)
		if obj["action"] != "dump" {
			continue
		}
		switch obj["type"] {
		case "link":
			names = append(names, obj["name"].(string))
		case "addr":
			prefixes = append(prefixes, obj["prefix"].(string))
		}
	}
	assert.ElementsMatch(t, []string{"lo", "va", "vb", "br0"}, names)
	assert.Contains(t, prefixes, "192.0.2.1/24")

	ns.IP(t, "link", "set", "vb", "master", "br0")
	ns.IP(t, "link", "set", "vb", "mtu", "1300")
	live := readLines(t, lines, func(line string) bool { return strings.Contains(line, `"mtu":1300`) })
	var obj map[string]any
	require.NoError(t, json.Unmarshal([]byte(live[len(live)-1]), &obj))
	assert.Equal(t, "new", obj["action"])
	assert.Equal(t, "vb", obj["name"])
	assert.Equal(t, "RTM_NEWLINK", obj["message"])
	assert.Equal(t, float64(ns.LinkIndex(t, "va")), obj["parent"], "a veth's parent is its peer")
	assert.Equal(t, "va", obj["parent_name"])
	assert.NotContains(t, obj, "parent_in_other_netns")
	assert.Equal(t, float64(ns.LinkIndex(t, "br0")), obj["master"])
	assert.Equal(t, "br0", obj["master_name"])

	assert.Equal(t, 0, stop(), "cancellation (Ctrl-C) must exit 0")
}

func TestTextOutputOneLinePerEvent(t *testing.T) {
	ns := testutil.NewNetNS(t)
	lines, stop := startMonitor(t, "-netns", ns.Path, "-groups", "link")
	waitForMonitorSubscribed(t)

	ns.AddVeth(t, "va", "vb")
	ns.IP(t, "link", "del", "va")
	read := readLines(t, lines, func(line string) bool { return strings.HasPrefix(line, "del link") && strings.Contains(line, " va ") })
	assert.Contains(t, read[len(read)-1], "kind veth")

	// The kernel sends IFLA_LINK 0 for vb, announced before its peer
	// exists, and for both deletions, so only va's first line has a
	// parent (ip prints "@NONE" for the others).
	created := slices.IndexFunc(read, func(line string) bool { return strings.HasPrefix(line, "new link") && strings.Contains(line, " va") })
	require.GreaterOrEqual(t, created, 0, "no line announces va: %q", read)
	assert.Contains(t, read[created], " va@vb ", "the peer is named as ip names it")
	assert.Equal(t, 0, stop())
}

func TestHeaderFlagsNamedByKind(t *testing.T) {
	cases := []struct {
		header netlink.Header
		want   string
	}{
		{netlink.Header{Type: 24, Flags: 0x600}, "excl|create"},          // RTM_NEWROUTE
		{netlink.Header{Type: 24, Flags: 0xc00}, "create|append"},        // RTM_NEWROUTE, ip route append
		{netlink.Header{Type: 25, Flags: 0}, ""},                         // RTM_DELROUTE
		{netlink.Header{Type: 16, Flags: 0x2 | 0x10}, "multi|dump_intr"}, // RTM_NEWLINK from a dump
		{netlink.Header{Type: 3, Flags: 0x2 | 0x400}, "multi|0x400"},     // NLMSG_DONE has no kind
	}
	for _, c := range cases {
		assert.Equal(t, c.want, headerFlags(c.header), "type %d flags %#x", c.header.Type, uint16(c.header.Flags))
	}
}

// TestTextOutputNamesLinks checks that text output names two links. One
// existed before the program started, and its name comes from a dump of
// the links. The other is created later, and its name comes from its link
// event, which is not printed, because the link group was not asked for.
func TestTextOutputNamesLinks(t *testing.T) {
	ns := testutil.NewNetNS(t)
	ns.AddVeth(t, "va", "vb")
	lines, stop := startMonitor(t, "-netns", ns.Path, "-groups", "addr")
	waitForMonitorSubscribed(t)

	ns.IP(t, "addr", "add", "192.0.2.1/24", "dev", "va")
	ns.IP(t, "link", "add", "br0", "type", "bridge")
	ns.IP(t, "addr", "add", "198.51.100.1/24", "dev", "br0")
	read := readLines(t, lines, func(line string) bool { return strings.Contains(line, "198.51.100.1/24") })

	assert.Contains(t, read, "new addr 192.0.2.1/24 dev va scope global label va")
	assert.Contains(t, read[len(read)-1], "198.51.100.1/24 dev br0 ")
	for _, line := range read {
		assert.False(t, strings.HasPrefix(line, "new link"), "link event printed without -groups link: %q", line)
	}
	assert.Equal(t, 0, stop())
}

// waitForMonitorSubscribed waits until the goroutine that runs monitor runs
// its subscription's loop. The loop starts after the socket has joined the
// groups, so from then on the program receives every change.
func waitForMonitorSubscribed(t *testing.T) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	buf := make([]byte, 1<<20)
	for {
		stacks := string(buf[:runtime.Stack(buf, true)])
		for _, stack := range strings.Split(stacks, "\n\n") {
			// In the test binary the package is named by its import path.
			inMonitor := strings.Contains(stack, "main.monitor(") || strings.Contains(stack, "cmd/nlevents.monitor(")
			if inMonitor && strings.Contains(stack, "(*loop).run(") {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("the program did not start its subscription within 10s; stacks:\n%s", stacks)
		}
		time.Sleep(time.Millisecond) // polls a condition; not a settling delay
	}
}

// TestJSONOutputNamesLinks checks that JSON objects carry the names of the
// links they refer to next to the indexes, and that link events stay out
// of the output when the link group was not requested.
func TestJSONOutputNamesLinks(t *testing.T) {
	ns := testutil.NewNetNS(t)
	ns.AddVeth(t, "va", "vb")
	ns.IP(t, "link", "set", "va", "up")
	lines, stop := startMonitor(t, "-json", "-netns", ns.Path, "-groups", "addr,route")
	waitForMonitorSubscribed(t)

	// br0 is created after the start, so its name comes from a link event,
	// which must not be printed.
	ns.IP(t, "link", "add", "br0", "type", "bridge")
	ns.IP(t, "link", "set", "br0", "up")
	ns.IP(t, "addr", "add", "192.0.2.1/24", "dev", "va")
	ns.IP(t, "route", "add", "198.51.100.0/24", "dev", "va", "metric", "7")
	ns.IP(t, "route", "add", "203.0.113.0/24", "nexthop", "dev", "va", "nexthop", "dev", "br0")
	read := readLines(t, lines, func(line string) bool { return strings.Contains(line, `"203.0.113.0/24"`) })

	byType := map[string]map[string]any{}
	for _, line := range read {
		var obj map[string]any
		require.NoError(t, json.Unmarshal([]byte(line), &obj), "line %q is not JSON", line)
		assert.NotEqual(t, "link", obj["type"], "link event printed without -groups link: %s", line)
		byType[obj["type"].(string)+" "+strOf(obj["prefix"])+strOf(obj["dst"])] = obj
	}
	addr := byType["addr 192.0.2.1/24"]
	require.NotNil(t, addr, "no addr object in %q", read)
	assert.Equal(t, "va", addr["dev"])
	assert.Equal(t, float64(ns.LinkIndex(t, "va")), addr["index"])

	route := byType["route 198.51.100.0/24"]
	assert.Equal(t, "va", route["dev"])
	assert.Equal(t, float64(ns.LinkIndex(t, "va")), route["oif"])

	multipath := byType["route 203.0.113.0/24"]
	require.NotNil(t, multipath, "no multipath route object in %q", read)
	hops, _ := multipath["nexthops"].([]any)
	require.Len(t, hops, 2)
	assert.Equal(t, "va", hops[0].(map[string]any)["dev"])
	assert.Equal(t, "br0", hops[1].(map[string]any)["dev"], "a link created after the start is named")
	assert.Equal(t, 0, stop())
}

func strOf(v any) string {
	s, _ := v.(string)
	return s
}

// TestLinkNamesReloadFromNamespace reads names from a namespace, creates a
// link there, and checks that asking for the new index reads its name
// from the kernel, as the program does for a link created between its
// first dump and its subscription.
func TestLinkNamesReloadFromNamespace(t *testing.T) {
	ns := testutil.NewNetNS(t)
	ns.AddVeth(t, "va", "vb")
	ctx := context.Background()
	opts := []nlevents.Option{nlevents.WithNetNSPath(ns.Path)}

	first, err := loadLinkNames(ctx, opts)
	require.NoError(t, err)
	assert.Equal(t, "va", first[ns.LinkIndex(t, "va")])
	names := newLinkNames(first, func() (map[int]string, error) { return loadLinkNames(ctx, opts) })

	ns.IP(t, "link", "add", "br0", "type", "bridge")
	assert.Equal(t, "br0", names.name(ns.LinkIndex(t, "br0")))
	assert.NoError(t, names.takeErr())
}
