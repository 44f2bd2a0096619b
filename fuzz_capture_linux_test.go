package nlevents_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/nlevents/nlevents"
	"github.com/nlevents/nlevents/testutil"
)

var captureSeeds = flag.Bool("capture-seeds", false,
	"record what the kernel sends in a test namespace as fuzz seeds in testdata/fuzz (TestIntegrationCaptureSeeds)")

// maxSeedsPerTarget caps the captured seeds of each per-kind target, so that
// the corpus stays small enough to read in review.
const maxSeedsPerTarget = 24

// TestIntegrationCaptureSeeds records the messages that a fresh namespace
// emits for each object kind, and the datagrams of its dumps, as Go fuzz
// corpus files named kernel-* in testdata/fuzz/<target>/. It replaces the
// kernel-* files of a previous capture. It runs only with -capture-seeds.
func TestIntegrationCaptureSeeds(t *testing.T) {
	if !*captureSeeds {
		t.Skip("records fuzz seeds from the kernel only with -capture-seeds")
	}
	ns := testutil.NewNetNS(t)

	ctx, cancel := context.WithCancel(context.Background())
	groups := nlevents.Link | nlevents.Neigh | nlevents.Addr | nlevents.Route | nlevents.Rule | nlevents.Nexthop
	events, errs, err := nlevents.Subscribe(ctx, groups, nlevents.WithNetNSPath(ns.Path), nlevents.WithInitialDump())
	if err != nil {
		cancel()
		t.Fatalf("Subscribe: %v", err)
	}
	defer func() {
		cancel()
		if err := waitClosed(events, errs, waitTimeout); err != nil {
			t.Errorf("after cancel: %v", err)
		}
	}()

	makeObjects(t, ns)
	datagrams := dumpDatagrams(t, ns)
	removeObjects(t, ns)

	items := testutil.Collect(t, events, errs, 10*time.Second, func(it testutil.Item) bool {
		l, ok := it.Event.(*nlevents.LinkEvent)
		return ok && l.Deleted && l.Name == "va"
	})

	notifications := map[string][]seed{}
	typesSeen := map[[2]byte]bool{}
	for _, it := range items {
		if it.Err != nil {
			t.Logf("error during capture: %v", it.Err)
			continue
		}
		raw, ok := it.Event.(interface{ Raw() []byte })
		if !ok {
			continue // a *SyncEvent has no message
		}
		msg := raw.Raw()
		if target := kindTarget(it.Event); target != "" {
			notifications[target] = append(notifications[target], kindSeed(msg))
		}
		// A notification arrives alone in its datagram. One message of each
		// type and family is enough for the datagram target.
		key := [2]byte{msg[4], msg[16]}
		if !typesSeen[key] {
			typesSeen[key] = true
			notifications["FuzzDecodeDatagram"] = append(notifications["FuzzDecodeDatagram"], datagramSeed(msg))
		}
	}
	var dumps []seed
	for _, d := range datagrams {
		dumps = append(dumps, datagramSeed(d))
	}

	for _, target := range []string{"FuzzSplitMessages", "FuzzDecodeDatagram", "FuzzDecodeLink",
		"FuzzDecodeAddr", "FuzzDecodeRoute", "FuzzDecodeNeigh", "FuzzDecodeRule"} {
		removeKernelSeeds(t, target)
	}
	writeSeeds(t, "FuzzSplitMessages", "dump", dumps)
	writeSeeds(t, "FuzzDecodeDatagram", "dump", dumps)
	for target, list := range notifications {
		writeSeeds(t, target, "notify", list)
	}
}

// makeObjects creates one object of each kind and changes some of them.
func makeObjects(t *testing.T, ns *testutil.NetNS) {
	ns.AddVeth(t, "va", "vb")
	for _, args := range [][]string{
		{"link", "set", "va", "mtu", "1400"},
		{"link", "set", "va", "address", "02:00:00:00:00:01"},
		{"addr", "add", "192.0.2.1/24", "dev", "va", "label", "va:1"},
		{"addr", "add", "10.0.0.1", "peer", "10.0.0.2/32", "dev", "va"},
		{"-6", "addr", "add", "2001:db8::1/64", "dev", "va", "nodad"},
		{"route", "add", "198.51.100.0/24", "via", "192.0.2.2", "metric", "50"},
		{"route", "add", "203.0.113.0/24", "nexthop", "via", "192.0.2.3", "weight", "2", "nexthop", "via", "192.0.2.4"},
		{"-6", "route", "add", "2001:db8:1::/64", "via", "2001:db8::2", "table", "300"},
		{"route", "add", "blackhole", "192.0.2.128/25", "table", "100"},
		{"neigh", "add", "192.0.2.9", "lladdr", "02:00:00:00:00:09", "dev", "va"},
		{"-6", "neigh", "add", "2001:db8::9", "lladdr", "02:00:00:00:00:0a", "dev", "va"},
		{"rule", "add", "from", "192.0.2.0/24", "table", "100", "priority", "100"},
		{"rule", "add", "fwmark", "0x10", "iif", "va", "table", "101", "priority", "101"},
		{"-6", "rule", "add", "to", "2001:db8::/32", "oif", "va", "table", "300", "priority", "102"},
		{"nexthop", "add", "id", "7", "via", "192.0.2.5", "dev", "va"},
		{"route", "add", "192.0.2.200/32", "nhid", "7"},
		{"link", "add", "br0", "type", "bridge"},
		{"link", "set", "vb", "master", "br0"},
		{"link", "set", "br0", "up"},
	} {
		ns.IP(t, args...)
	}
}

// removeObjects deletes what makeObjects made; va goes last, and its
// deletion ends the capture.
func removeObjects(t *testing.T, ns *testutil.NetNS) {
	for _, args := range [][]string{
		{"link", "set", "vb", "nomaster"},
		{"link", "del", "br0"},
		{"rule", "del", "priority", "100"},
		{"-6", "rule", "del", "priority", "102"},
		{"route", "del", "192.0.2.200/32"},
		{"nexthop", "del", "id", "7"},
		{"neigh", "del", "192.0.2.9", "dev", "va"},
		{"route", "del", "198.51.100.0/24"},
		{"-6", "addr", "del", "2001:db8::1/64", "dev", "va"},
		{"link", "del", "va"},
	} {
		ns.IP(t, args...)
	}
}

// dumpDatagrams dumps links, addresses, routes, neighbours and rules on a
// socket of its own in ns and returns every datagram the kernel sent,
// NLMSG_DONE included.
func dumpDatagrams(t *testing.T, ns *testutil.NetNS) [][]byte {
	var datagrams [][]byte
	err := ns.Do(func() error {
		fd, err := unix.Socket(unix.AF_NETLINK, unix.SOCK_RAW|unix.SOCK_CLOEXEC, unix.NETLINK_ROUTE)
		if err != nil {
			return fmt.Errorf("socket: %w", err)
		}
		defer unix.Close(fd)
		if err := unix.SetsockoptTimeval(fd, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &unix.Timeval{Sec: 5}); err != nil {
			return fmt.Errorf("set SO_RCVTIMEO: %w", err)
		}

		for seq, typ := range []uint16{unix.RTM_GETLINK, unix.RTM_GETADDR, unix.RTM_GETROUTE, unix.RTM_GETNEIGH, unix.RTM_GETRULE} {
			got, err := dump(fd, typ, uint32(seq+1))
			if err != nil {
				return fmt.Errorf("dump type %d: %w", typ, err)
			}
			datagrams = append(datagrams, got...)
		}
		return nil
	})
	if err != nil {
		t.Fatalf("dump in %s: %v", ns.Name, err)
	}
	return datagrams
}

// dump sends one dump request for all families and reads datagrams until
// the one that holds NLMSG_DONE.
func dump(fd int, typ uint16, seq uint32) ([][]byte, error) {
	req := make([]byte, 16+16) // header and a zeroed family header; 16 bytes fit every kind
	binary.NativeEndian.PutUint32(req[0:4], uint32(len(req)))
	binary.NativeEndian.PutUint16(req[4:6], typ)
	binary.NativeEndian.PutUint16(req[6:8], unix.NLM_F_REQUEST|unix.NLM_F_DUMP)
	binary.NativeEndian.PutUint32(req[8:12], seq)
	if err := unix.Sendto(fd, req, 0, &unix.SockaddrNetlink{Family: unix.AF_NETLINK}); err != nil {
		return nil, fmt.Errorf("sendto: %w", err)
	}

	var datagrams [][]byte
	buf := make([]byte, 1<<16)
	for {
		n, _, err := unix.Recvfrom(fd, buf, 0)
		if err != nil {
			return nil, fmt.Errorf("recvfrom: %w", err)
		}
		datagrams = append(datagrams, bytes.Clone(buf[:n]))
		if lastType(buf[:n]) == unix.NLMSG_DONE {
			return datagrams, nil
		}
		if lastType(buf[:n]) == unix.NLMSG_ERROR {
			return nil, errors.New("the kernel answered with NLMSG_ERROR")
		}
	}
}

// lastType returns the type of the last message of a well-formed datagram.
func lastType(b []byte) uint16 {
	var typ uint16
	for len(b) >= 16 {
		length := int(binary.NativeEndian.Uint32(b[0:4]))
		typ = binary.NativeEndian.Uint16(b[4:6])
		if length < 16 || length > len(b) {
			break
		}
		b = b[min((length+3)&^3, len(b)):]
	}
	return typ
}

// kindTarget returns the per-kind fuzz target for an event, or "" for
// events that have none.
func kindTarget(ev nlevents.Event) string {
	switch ev.(type) {
	case *nlevents.LinkEvent, *nlevents.BridgePortEvent:
		return "FuzzDecodeLink"
	case *nlevents.AddrEvent:
		return "FuzzDecodeAddr"
	case *nlevents.RouteEvent:
		return "FuzzDecodeRoute"
	case *nlevents.NeighEvent:
		return "FuzzDecodeNeigh"
	case *nlevents.RuleEvent:
		return "FuzzDecodeRule"
	}
	return ""
}

// seed is the text of one corpus file, in the format of go test fuzz v1.
type seed string

// kindSeed encodes the arguments of a per-kind target: the payload after
// the netlink header, and whether the message is a deletion (its type is
// odd: RTM_DEL* follows RTM_NEW*).
func kindSeed(msg []byte) seed {
	deleted := binary.NativeEndian.Uint16(msg[4:6])%2 == 1
	return seed(fmt.Sprintf("go test fuzz v1\n[]byte(%q)\nbool(%t)\n", msg[16:], deleted))
}

// datagramSeed encodes the argument of a datagram target.
func datagramSeed(b []byte) seed {
	return seed(fmt.Sprintf("go test fuzz v1\n[]byte(%q)\n", b))
}

// removeKernelSeeds removes the kernel-* files of a previous capture.
func removeKernelSeeds(t *testing.T, target string) {
	dir := filepath.Join("testdata", "fuzz", target)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	old, err := filepath.Glob(filepath.Join(dir, "kernel-*"))
	if err != nil {
		t.Fatal(err)
	}
	for _, path := range old {
		if err := os.Remove(path); err != nil {
			t.Fatal(err)
		}
	}
}

// writeSeeds writes up to maxSeedsPerTarget distinct seeds of list, spread
// over the capture, as files kernel-<prefix>-NN of target.
func writeSeeds(t *testing.T, target, prefix string, list []seed) {
	seen := map[seed]bool{}
	var distinct []seed
	for _, s := range list {
		if !seen[s] {
			seen[s] = true
			distinct = append(distinct, s)
		}
	}

	dir := filepath.Join("testdata", "fuzz", target)
	step := max(1, (len(distinct)+maxSeedsPerTarget-1)/maxSeedsPerTarget)
	written := 0
	for i := 0; i < len(distinct); i += step {
		name := filepath.Join(dir, fmt.Sprintf("kernel-%s-%02d", prefix, written))
		if err := os.WriteFile(name, []byte(distinct[i]), 0o644); err != nil {
			t.Fatal(err)
		}
		written++
	}
	t.Logf("%s: wrote %d of %d distinct %s seeds", dir, written, len(distinct), prefix)
}
