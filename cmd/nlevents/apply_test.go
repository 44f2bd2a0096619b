//go:build linux

package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/nlevents/nlevents/apply"
	"github.com/nlevents/nlevents/testutil"
)

// writeSpec writes a JSON description to a temporary file and returns its
// path.
func writeSpec(t *testing.T, json string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "link.json")
	require.NoError(t, os.WriteFile(path, []byte(json), 0o600))
	return path
}

// runCLI runs the program in-process and returns its exit status, stdout
// and stderr.
func runCLI(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	status := run(context.Background(), args, &stdout, &stderr)
	return status, stdout.String(), stderr.String()
}

func TestApplyFlags(t *testing.T) {
	path := writeSpec(t, `{"name": "va"}`)
	cases := []struct {
		name   string
		args   []string
		stderr string
	}{
		{"unknown flag", []string{"apply", "-bogus"}, "flag provided but not defined: -bogus"},
		{"missing file flag", []string{"apply"}, "missing -f"},
		{"dry run and enforce", []string{"apply", "-f", path, "-dry-run", "-enforce"}, "-dry-run and -enforce exclude each other"},
		{"extra argument", []string{"apply", "-f", path, "extra"}, `unexpected argument "extra"`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			status, stdout, stderr := runCLI(t, tc.args...)
			assert.Equal(t, 2, status)
			assert.Empty(t, stdout)
			assert.Contains(t, stderr, tc.stderr)
			assert.Contains(t, stderr, "Usage: nlevents apply")
		})
	}
}

func TestApplyHelp(t *testing.T) {
	status, _, stderr := runCLI(t, "apply", "-h")
	assert.Equal(t, 0, status)
	assert.Contains(t, stderr, "-dry-run")
}

func TestApplyInvalidFile(t *testing.T) {
	cases := []struct {
		name   string
		json   string
		stderr []string
	}{
		{"unknown field", `{"name": "va", "mtux": 9000}`, []string{"mtux", "unknown field"}},
		{"unknown route field", `{"name": "va", "routes": [{"destination": "0.0.0.0/0", "metrc": 1}]}`, []string{"routes[0].metrc", "unknown field"}},
		{"wrong type", `{"name": "va", "mtu": "9000"}`, []string{"mtu", "got a JSON string, expected an integer"}},
		{"invalid prefix", `{"name": "va", "addresses": ["192.0.2.300/24"]}`, []string{"addresses[0]", "192.0.2.300/24"}},
		{"mtu out of range", `{"name": "va", "mtu": 70000}`, []string{"mtu", "70000", "out of range"}},
		{"not JSON", `name: va`, []string{"invalid JSON"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			status, stdout, stderr := runCLI(t, "apply", "-f", writeSpec(t, tc.json))
			assert.Equal(t, 1, status)
			assert.Empty(t, stdout)
			for _, s := range tc.stderr {
				assert.Contains(t, stderr, s)
			}
		})
	}

	missing := filepath.Join(t.TempDir(), "missing.json")
	status, _, stderr := runCLI(t, "apply", "-f", missing)
	assert.Equal(t, 1, status)
	assert.Equal(t, "nlevents apply: "+missing+": no such file or directory\n", stderr, "the path is named once")
}

// TestApplyInvalidFileEveryProblem checks that each problem of a
// description gets a line of its own that starts with the program's name.
func TestApplyInvalidFileEveryProblem(t *testing.T) {
	file := writeSpec(t, `{"name": "veth0", "mtu": 5, "state": "x"}`)
	status, stdout, stderr := runCLI(t, "apply", "-f", file)

	assert.Equal(t, 1, status)
	assert.Empty(t, stdout)
	lines := strings.Split(strings.TrimSuffix(stderr, "\n"), "\n")
	require.Len(t, lines, 2, "stderr: %q", stderr)
	assert.Equal(t, "nlevents apply: "+file+`: invalid state "x": must be "up" or "down"`, lines[0])
	assert.True(t, strings.HasPrefix(lines[1], "nlevents apply: "+file+`: invalid mtu "5"`), "second line %q", lines[1])
}

func TestIntegrationApplyCommand(t *testing.T) {
	ns := testutil.NewNetNS(t)
	ns.AddVeth(t, "va", "vb")
	path := writeSpec(t, `{
		"name": "va",
		"mtu": 9000,
		"addresses": ["192.0.2.10/24"],
		"routes": [{"destination": "198.51.100.0/24", "gateway": "192.0.2.1", "table": 100, "metric": 10}]
	}`)
	want := "set mtu 1500 -> 9000\nadd address 192.0.2.10/24\nadd route 198.51.100.0/24 via 192.0.2.1 table 100 metric 10\n"

	status, stdout, stderr := runCLI(t, "apply", "-f", path, "-netns", ns.Path, "-dry-run")
	assert.Equal(t, 0, status, stderr)
	assert.Equal(t, want, stdout)
	assert.Contains(t, ns.IP(t, "link", "show", "dev", "va"), "mtu 1500", "-dry-run changed the MTU")

	status, stdout, stderr = runCLI(t, "apply", "-f", path, "-netns", ns.Path)
	assert.Equal(t, 0, status, stderr)
	assert.Equal(t, want, stdout)
	assert.Contains(t, ns.IP(t, "link", "show", "dev", "va"), "mtu 9000")
	assert.Contains(t, ns.IP(t, "route", "show", "table", "100"), "198.51.100.0/24 via 192.0.2.1 dev va")

	status, stdout, _ = runCLI(t, "apply", "-f", path, "-netns", ns.Path)
	assert.Equal(t, 0, status)
	assert.Equal(t, "no changes\n", stdout)
}

func TestIntegrationApplyCommandErrors(t *testing.T) {
	ns := testutil.NewNetNS(t)
	ns.AddVeth(t, "va", "vb")

	// A gateway outside the link's prefixes is rejected before any change.
	path := writeSpec(t, `{"name": "va", "mtu": 9000, "addresses": ["192.0.2.10/24"],
		"routes": [{"destination": "198.51.100.0/24", "gateway": "203.0.113.1"}]}`)
	status, stdout, stderr := runCLI(t, "apply", "-f", path, "-netns", ns.Path)
	assert.Equal(t, 1, status)
	assert.Empty(t, stdout)
	assert.Contains(t, stderr, `invalid routes[0].gateway "203.0.113.1"`)
	assert.Contains(t, ns.IP(t, "link", "show", "dev", "va"), "mtu 1500")

	// A change that the kernel rejects: the changes before it are printed.
	ns.IP(t, "link", "set", "va", "down")
	path = writeSpec(t, `{"name": "va", "mtu": 9000, "routes": [{"destination": "198.51.100.0/24"}]}`)
	status, stdout, stderr = runCLI(t, "apply", "-f", path, "-netns", ns.Path)
	assert.Equal(t, 1, status)
	assert.Equal(t, "set mtu 1500 -> 9000\n", stdout)
	assert.Contains(t, stderr, "add route 198.51.100.0/24 failed: ENETDOWN")

	// A link that does not exist.
	path = writeSpec(t, `{"name": "missing0"}`)
	status, _, stderr = runCLI(t, "apply", "-f", path, "-netns", ns.Path)
	assert.Equal(t, 1, status)
	assert.Contains(t, stderr, "link not found")
}

// lineWriter sends each line written to it on a channel.
type lineWriter struct {
	w     *io.PipeWriter
	lines chan string
}

func newLineWriter() *lineWriter {
	r, w := io.Pipe()
	lw := &lineWriter{w: w, lines: make(chan string, 100)}
	go func() {
		scanner := bufio.NewScanner(r)
		for scanner.Scan() {
			lw.lines <- scanner.Text()
		}
		close(lw.lines)
	}()
	return lw
}

func (lw *lineWriter) Write(p []byte) (int, error) { return lw.w.Write(p) }

// waitLine waits for a line that contains s.
func (lw *lineWriter) waitLine(t *testing.T, s string) {
	t.Helper()
	timeout := time.After(5 * time.Second)
	var seen []string
	for {
		select {
		case line, ok := <-lw.lines:
			if !ok {
				t.Fatalf("output ended without %q; lines: %q", s, seen)
			}
			if strings.Contains(line, s) {
				return
			}
			seen = append(seen, line)
		case <-timeout:
			t.Fatalf("no line with %q within 5s; lines: %q", s, seen)
		}
	}
}

func TestIntegrationApplyCommandEnforce(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	ns := testutil.NewNetNS(t)
	ns.AddVeth(t, "va", "vb")
	path := writeSpec(t, `{"name": "va", "mtu": 9000, "addresses": ["192.0.2.10/24"]}`)

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	stdout := newLineWriter()
	var stderr bytes.Buffer
	done := make(chan int)
	go func() {
		done <- run(ctx, []string{"apply", "-f", path, "-netns", ns.Path, "-enforce"}, stdout, &stderr)
	}()

	stdout.waitLine(t, "add address 192.0.2.10/24")
	ns.IP(t, "link", "set", "va", "mtu", "1400")
	stdout.waitLine(t, "set mtu 1400 -> 9000")
	ns.IP(t, "addr", "flush", "dev", "va")
	stdout.waitLine(t, "add address 192.0.2.10/24")

	cancel()
	select {
	case status := <-done:
		assert.Equal(t, 0, status, stderr.String())
	case <-time.After(5 * time.Second):
		t.Fatal("apply -enforce did not end within 5s of cancellation")
	}
	stdout.w.Close()
	for range stdout.lines {
	}
	assert.Contains(t, ns.IP(t, "addr", "show", "dev", "va"), "192.0.2.10/24")
}

// TestIntegrationApplyCommandEnforceConflictAtStart checks that -enforce
// goes on after a first apply that a route conflict stopped: it makes the
// other changes, and reports the conflict.
func TestIntegrationApplyCommandEnforceConflictAtStart(t *testing.T) {
	ns := testutil.NewNetNS(t)
	ns.AddVeth(t, "va", "vb")
	ns.IP(t, "link", "set", "va", "up")
	ns.IP(t, "link", "set", "vb", "up")
	ns.IP(t, "-6", "addr", "add", "2001:db8:1::1/64", "dev", "va", "nodad")
	ns.IP(t, "-6", "addr", "add", "2001:db8:2::1/64", "dev", "vb", "nodad")
	ns.IP(t, "-6", "route", "add", "2001:db8:9::/64", "via", "2001:db8:2::2", "dev", "vb", "metric", "5")
	path := writeSpec(t, `{"name": "va", "mtu": 9000,
		"routes": [{"destination": "2001:db8:9::/64", "gateway": "2001:db8:1::2", "metric": 5}]}`)

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	stdout, stderr := newLineWriter(), newLineWriter()
	done := make(chan int)
	go func() {
		done <- run(ctx, []string{"apply", "-f", path, "-netns", ns.Path, "-enforce"}, stdout, stderr)
	}()

	stdout.waitLine(t, "set mtu 1500 -> 9000")
	stderr.waitLine(t, "nlevents apply: route conflict: the route to 2001:db8:9::/64 via 2001:db8:1::2")
	assert.Contains(t, ns.IP(t, "link", "show", "dev", "va"), "mtu 9000")

	cancel()
	select {
	case status := <-done:
		assert.Equal(t, 0, status, "Ctrl-C ends -enforce with status 0")
	case <-time.After(5 * time.Second):
		t.Fatal("apply -enforce did not end within 5s of cancellation")
	}
	for _, w := range []*lineWriter{stdout, stderr} {
		w.w.Close()
		for range w.lines {
		}
	}
}

func TestEnforcementPrintsRepeatedErrorOnce(t *testing.T) {
	var stdout, stderr bytes.Buffer
	e := &enforcement{stdout: &stdout, stderr: &stderr}
	conflict := fmt.Errorf("%w: the route to 2001:db8:9::/64 would merge", apply.ErrRouteConflict)

	e.printErr(conflict)
	e.printErr(conflict)
	assert.Equal(t, 1, strings.Count(stderr.String(), "route conflict"), "a retry that meets the same error prints nothing")

	e.printCorrection(apply.Correction{Link: "va", Changes: apply.Changes{{Action: apply.SetMTU, Link: "va", From: "1500", To: "9000"}}})
	e.printErr(conflict)
	assert.Equal(t, 2, strings.Count(stderr.String(), "route conflict"), "after a correction, the error is printed again")
	assert.Equal(t, "set mtu 1500 -> 9000\n", stdout.String())
}

// TestApplyCommandEnforceInvalidSpecExits checks that -enforce ends at once
// when the description itself is invalid, which no later check can fix.
func TestApplyCommandEnforceInvalidSpecExits(t *testing.T) {
	path := writeSpec(t, `{"name": "va", "addresses": ["192.0.2.10/24"], "routes": [{"destination": "198.51.100.0/24", "gateway": "203.0.113.1"}]}`)
	// The namespace path does not exist: should validation ever pass, the
	// program fails to open it and touches no real link.
	status, stdout, stderr := runCLI(t, "apply", "-f", path, "-enforce", "-netns", "/nonexistent/netns")
	assert.Equal(t, 1, status)
	assert.Empty(t, stdout)
	assert.Contains(t, stderr, `invalid routes[0].gateway "203.0.113.1"`)
}

func TestPermanentErrors(t *testing.T) {
	change := apply.Change{Action: apply.SetMTU, Link: "va"}
	cases := []struct {
		name string
		err  error
		want bool
	}{
		{"missing link", fmt.Errorf("%w: no link named va", apply.ErrLinkNotFound), false},
		{"route conflict", fmt.Errorf("wrapped: %w", apply.ErrRouteConflict), false},
		{"link gone during the change", &apply.ApplyError{Change: change, Err: syscall.ENODEV}, false},
		{"link down", &apply.ApplyError{Change: change, Err: syscall.ENETDOWN}, false},
		{"failed read", errors.New("apply: read link va: timed out"), false},
		{"value the link rejects for now", &apply.ApplyError{Change: change, Err: syscall.EINVAL}, false},
		{"IPv6 disabled on the link", &apply.ApplyError{Change: change, Err: syscall.EACCES}, false},
		{"gateway off the link's current addresses", &apply.SpecError{Field: "routes[0].gateway", Value: "198.51.100.1", Reason: "not reachable"}, false},
		{"no privilege", &apply.ApplyError{Change: change, Err: syscall.EPERM}, true},
		{"kind of the existing link", &apply.SpecError{Field: "kind", Value: "bridge", Reason: "link va exists with kind veth"}, true},
	}
	for _, tc := range cases {
		assert.Equal(t, tc.want, permanent(tc.err), tc.name)
	}
}

// TestIntegrationApplyCommandEnforceExitsOnPermanentError checks that
// -enforce ends with status 1 when the link is of another kind than the
// description's, which no later check can change, rather than retrying
// forever, and leaves no goroutine behind.
func TestIntegrationApplyCommandEnforceExitsOnPermanentError(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	ns := testutil.NewNetNS(t)
	ns.AddVeth(t, "va", "vb")
	path := writeSpec(t, `{"name": "va", "kind": "bridge"}`)

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var stdout, stderr bytes.Buffer
	done := make(chan int, 1)
	go func() {
		done <- run(ctx, []string{"apply", "-f", path, "-netns", ns.Path, "-enforce"}, &stdout, &stderr)
	}()

	select {
	case status := <-done:
		assert.Equal(t, 1, status)
		assert.Equal(t, 1, strings.Count(stderr.String(), `invalid kind "bridge": link va exists with kind "veth"`), "stderr:\n%s", stderr.String())
	case <-time.After(10 * time.Second):
		cancel()
		<-done
		t.Fatal("apply -enforce went on after an error that no check can fix")
	}
}
