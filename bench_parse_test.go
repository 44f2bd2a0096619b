// The capture needs a Linux netlink socket, and the captured messages are
// in the byte order of the Linux machine that recorded them.

//go:build linux

package nlevents

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mdlayher/netlink"
	"golang.org/x/sys/unix"
)

// benchDataDir holds one captured rtnetlink message per file, named after
// the sample it is (see benchSamples). testdata/bench/README.md says how to
// regenerate them.
const benchDataDir = "testdata/bench"

var captureBenchData = flag.Bool("capture", false,
	"TestCaptureBenchData: capture the messages for the decoding benchmarks into "+benchDataDir+" (needs root and ip from iproute2)")

// benchSample is one kind of message the decoding benchmarks measure: the
// file it is stored in and how to recognise it in a captured stream.
type benchSample struct {
	name    string
	msgType netlink.HeaderType
	family  uint8
	// match tells the wanted message from others of the same type and
	// family, or is nil when the first one will do.
	match func(msg []byte) bool
}

var benchSamples = []benchSample{
	{name: "link", msgType: rtmNewLink, family: afUnspec, match: hasLinkKind("veth")},
	{name: "bridge-port", msgType: rtmNewLink, family: afBridge},
	{name: "addr4", msgType: rtmNewAddr, family: afInet},
	{name: "addr6", msgType: rtmNewAddr, family: afInet6, match: isGlobalAddr},
	{name: "route4", msgType: rtmNewRoute, family: afInet, match: routeWith(rtaGateway)},
	{name: "route6", msgType: rtmNewRoute, family: afInet6, match: routeWith(rtaGateway)},
	{name: "route4-multipath", msgType: rtmNewRoute, family: afInet, match: routeWith(rtaMultipath)},
	{name: "route6-multipath", msgType: rtmNewRoute, family: afInet6, match: routeWith(rtaMultipath)},
	{name: "neigh", msgType: rtmNewNeigh, family: afInet},
	{name: "rule4", msgType: rtmNewRule, family: afInet, match: ruleWith(fraSrc)},
}

// benchCommands are the ip(8) commands, run in a fresh namespace, whose
// notifications contain every benchSample. Each command's arguments follow
// "ip -n NAME".
var benchCommands = [][]string{
	{"link", "add", "va", "type", "veth", "peer", "name", "vb"},
	{"link", "set", "va", "up"},
	{"link", "set", "vb", "up"},
	{"link", "add", "br0", "type", "bridge"},
	{"link", "set", "vb", "master", "br0"},
	{"addr", "add", "192.0.2.1/24", "dev", "va"},
	{"addr", "add", "2001:db8::1/64", "dev", "va", "nodad"},
	{"route", "add", "198.51.100.0/24", "via", "192.0.2.2", "dev", "va"},
	{"route", "add", "2001:db8:1::/64", "via", "2001:db8::2", "dev", "va"},
	{"route", "add", "203.0.113.0/24", "nexthop", "via", "192.0.2.2", "dev", "va", "weight", "1",
		"nexthop", "via", "192.0.2.3", "dev", "va", "weight", "2"},
	{"route", "add", "2001:db8:2::/64", "nexthop", "via", "2001:db8::2", "dev", "va",
		"nexthop", "via", "2001:db8::3", "dev", "va"},
	{"neigh", "add", "192.0.2.9", "lladdr", "02:00:00:00:00:09", "dev", "va"},
	{"rule", "add", "from", "192.0.2.0/24", "table", "100", "priority", "1000"},
}

// TestCaptureBenchData records, with -capture, the messages that the
// decoding benchmarks read. Without the flag it does nothing.
func TestCaptureBenchData(t *testing.T) {
	if !*captureBenchData {
		t.Skip("pass -capture to record " + benchDataDir)
	}
	if os.Geteuid() != 0 {
		t.Skip("capturing needs root: it creates a network namespace")
	}

	name := fmt.Sprintf("nlevents-bench-capture-%d", os.Getpid())
	runIP(t, "netns", "add", name)
	t.Cleanup(func() { runIP(t, "netns", "del", name) })

	groups := Link | IPv4Addr | IPv6Addr | IPv4Route | IPv6Route | Neigh | IPv4Rule | IPv6Rule
	cfg := &config{netnsFD: -1, netnsPath: "/run/netns/" + name, receiveBuffer: 16 << 20}
	fd, _, err := openSocket(cfg, groups)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(fd)

	for _, args := range benchCommands {
		runIP(t, append([]string{"-n", name}, args...)...)
	}

	captured := readQueuedMessages(t, fd)
	if err := os.MkdirAll(benchDataDir, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, sample := range benchSamples {
		msg := sample.find(captured)
		if msg == nil {
			t.Errorf("no %s message among the %d captured", sample.name, len(captured))
			continue
		}
		path := filepath.Join(benchDataDir, sample.name+".bin")
		if err := os.WriteFile(path, msg, 0o644); err != nil {
			t.Fatal(err)
		}
		t.Logf("wrote %s (%d bytes)", path, len(msg))
	}
}

func runIP(t *testing.T, args ...string) {
	t.Helper()
	out, err := exec.Command("ip", args...).CombinedOutput()
	if err != nil {
		t.Fatalf("ip %s: %v: %s", strings.Join(args, " "), err, bytes.TrimSpace(out))
	}
}

// readQueuedMessages reads every datagram queued on fd and returns copies of
// their messages.
func readQueuedMessages(t *testing.T, fd int) [][]byte {
	t.Helper()
	rx, err := newBatchReader(fd, receiveBufferSize)
	if err != nil {
		t.Fatal(err)
	}
	defer rx.close()
	var msgs [][]byte
	for {
		batch, err := rx.read(nil)
		if errors.Is(err, unix.EAGAIN) {
			return msgs
		}
		if err != nil {
			t.Fatalf("recvmmsg: %v", err)
		}
		for _, d := range batch {
			if d.truncated > 0 {
				t.Fatalf("datagram of %d bytes truncated", d.truncated)
			}
			err = splitMessages(d.data, func(_ netlink.Header, msg []byte, _ int) bool {
				msgs = append(msgs, bytes.Clone(msg))
				return true
			})
			if err != nil {
				t.Fatal(err)
			}
		}
	}
}

// find returns the first message in msgs that is this sample, or nil.
func (s benchSample) find(msgs [][]byte) []byte {
	for _, msg := range msgs {
		h, err := readHeader(msg)
		if err != nil || h.Type != s.msgType || len(msg) <= nlmsgHeaderLen {
			continue
		}
		if msg[nlmsgHeaderLen] != s.family {
			continue
		}
		if s.match == nil || s.match(msg) {
			return msg
		}
	}
	return nil
}

func hasLinkKind(kind string) func([]byte) bool {
	return func(msg []byte) bool {
		ev, err := decodeLink(netlink.Header{}, raw(msg))
		return err == nil && ev.(*LinkEvent).Kind == kind
	}
}

func isGlobalAddr(msg []byte) bool {
	ev, err := decodeAddr(netlink.Header{}, raw(msg))
	return err == nil && ev.(*AddrEvent).Prefix.Addr().IsGlobalUnicast()
}

func routeWith(attr uint16) func([]byte) bool {
	return func(msg []byte) bool { return hasAttr(msg, rtmsgLen, attr) }
}

func ruleWith(attr uint16) func([]byte) bool {
	return func(msg []byte) bool { return hasAttr(msg, fibRuleHdrLen, attr) }
}

func hasAttr(msg []byte, structSize int, attr uint16) bool {
	_, attrs := fixedHeader(raw(msg), structSize)
	for typ, _, ok := attrs.next(); ok; typ, _, ok = attrs.next() {
		if typ == attr {
			return true
		}
	}
	return false
}

// BenchmarkDecode measures decodeMessage on each captured message: the
// common fields, the event value and its copy of the bytes, as the receive
// loop does for every notification.
func BenchmarkDecode(b *testing.B) {
	for _, sample := range benchSamples {
		b.Run(sample.name, func(b *testing.B) {
			msg := loadBenchSample(b, sample.name)
			h, err := readHeader(msg)
			if err != nil {
				b.Fatal(err)
			}

			b.SetBytes(int64(len(msg)))
			b.ReportAllocs()
			b.ResetTimer()
			for range b.N {
				ev, err := decodeMessage(h, msg, 0)
				if err != nil || ev == nil {
					b.Fatalf("decode %s: event %v, error %v", sample.name, ev, err)
				}
			}
		})
	}
}

// BenchmarkDeliverDatagram measures splitting a datagram and decoding its
// message, without the channel send, for the address sample.
func BenchmarkDeliverDatagram(b *testing.B) {
	msg := loadBenchSample(b, "addr4")
	b.SetBytes(int64(len(msg)))
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		err := splitMessages(msg, func(h netlink.Header, m []byte, off int) bool {
			ev, err := decodeMessage(h, m, off)
			return err == nil && ev != nil
		})
		if err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkDeliverToConsumer measures what the loop does for each datagram
// after receiving it: decoding, and the handoff of the event to a consumer
// goroutine over the unbuffered channel, which selects on both channels as
// the package documentation asks.
func BenchmarkDeliverToConsumer(b *testing.B) {
	for _, name := range []string{"addr4", "link"} {
		b.Run(name, func(b *testing.B) {
			msg := loadBenchSample(b, name)
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			l := &loop{ctx: ctx, cfg: &config{netnsFD: -1}, events: make(chan Event), errs: make(chan error)}

			done := make(chan struct{})
			go func() {
				defer close(done)
				for received := 0; received < b.N; {
					select {
					case <-l.events:
						received++
					case err := <-l.errs:
						b.Errorf("unexpected error: %v", err)
						return
					}
				}
			}()

			deliverN(b, l, msg)
			<-done
		})
	}
}

// deliverN times b.N deliveries of msg through l.
func deliverN(b *testing.B, l *loop, msg []byte) {
	b.SetBytes(int64(len(msg)))
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		if !l.deliver(msg) {
			b.Fatal("deliver returned false")
		}
	}
}

// BenchmarkDeliverToStream measures what Stream adds to decoding: the
// loop hands each event to the range body by a function call.
func BenchmarkDeliverToStream(b *testing.B) {
	for _, name := range []string{"addr4", "link"} {
		b.Run(name, func(b *testing.B) {
			msg := loadBenchSample(b, name)
			received := 0
			l := &loop{ctx: context.Background(), cfg: &config{netnsFD: -1}}
			l.yield = func(ev Event, err error) bool {
				if err != nil {
					b.Errorf("unexpected error: %v", err)
					return false
				}
				received++
				return true
			}

			deliverN(b, l, msg)
			if received != b.N {
				b.Fatalf("%d events for %d messages", received, b.N)
			}
		})
	}
}

// BenchmarkFullMessage measures rtnetlink/v2's decoder on the same
// messages, which events run only when Message is called.
func BenchmarkFullMessage(b *testing.B) {
	for _, sample := range benchSamples {
		b.Run(sample.name, func(b *testing.B) {
			msg := loadBenchSample(b, sample.name)
			h, err := readHeader(msg)
			if err != nil {
				b.Fatal(err)
			}
			ev, err := decodeMessage(h, msg, 0)
			if err != nil {
				b.Fatal(err)
			}

			b.ReportAllocs()
			b.ResetTimer()
			for range b.N {
				if err := strictCheck(ev); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func loadBenchSample(b *testing.B, name string) []byte {
	b.Helper()
	msg, err := os.ReadFile(filepath.Join(benchDataDir, name+".bin"))
	if errors.Is(err, os.ErrNotExist) {
		b.Skipf("%s/%s.bin is missing: run go test -run TestCaptureBenchData -capture as root", benchDataDir, name)
	}
	if err != nil {
		b.Fatal(err)
	}
	return msg
}
