// Command nlevents prints rtnetlink events as they happen, like ip monitor,
// as text or as JSON lines, and applies link descriptions.
//
// Usage:
//
//	nlevents [-json] [-groups link,addr,route,neigh,rule] [-existing] [-netns PATH] [-rcvbuf BYTES]
//	nlevents apply -f FILE [-dry-run | -enforce] [-netns PATH]
//
// Reading notifications needs no privilege; -netns needs CAP_SYS_ADMIN, and
// apply needs CAP_NET_ADMIN. Ctrl-C ends it with exit status 0. Errors go to
// stderr; a terminal error ends it with status 1, and invalid flags with
// status 2. Run "nlevents apply -h" for the apply subcommand.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"iter"
	"math"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"

	"github.com/nlevents/nlevents"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(run(ctx, os.Args[1:], os.Stdout, os.Stderr))
}

// options are the parsed flags of the monitor.
type options struct {
	json     bool
	groups   nlevents.Groups
	existing bool
	netns    string
	rcvbuf   int
}

func parseFlags(args []string, stderr io.Writer) (options, error) {
	var opts options
	fs := flag.NewFlagSet("nlevents", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintf(stderr, "Usage: nlevents [flags]\n       nlevents apply -f FILE [-dry-run | -enforce] [-netns PATH]\n\n"+
			"Prints rtnetlink events as they happen, one line each. The apply subcommand\n"+
			"puts a link into the state a JSON file describes (see nlevents apply -h).\n\nFlags:\n")
		fs.PrintDefaults()
	}

	groups := fs.String("groups", "link,addr,route,neigh,rule", "comma-separated `list` of groups to watch: link, addr, route, neigh, rule, nexthop, ipv4-addr, ipv6-route, ..., or all")
	fs.BoolVar(&opts.json, "json", false, "print one JSON object per line instead of text")
	fs.BoolVar(&opts.existing, "existing", false, "print the current links, addresses, routes, neighbours and rules first, then a sync line, then live events")
	fs.StringVar(&opts.netns, "netns", "", "watch the network namespace at `path` (for example /run/netns/NAME) instead of this one")
	opts.rcvbuf = nlevents.DefaultReceiveBuffer
	fs.Func("rcvbuf", fmt.Sprintf("socket receive buffer in `bytes`, with an optional K, M or G suffix (default %dM)", nlevents.DefaultReceiveBuffer>>20),
		func(value string) (err error) {
			opts.rcvbuf, err = parseBytes(value)
			return err
		})
	if err := fs.Parse(args); err != nil {
		return opts, err
	}
	if flagGiven(fs, "netns") && opts.netns == "" {
		fmt.Fprintln(stderr, "nlevents: empty -netns: pass a namespace such as /run/netns/NAME, or leave the flag out")
		fs.Usage()
		return opts, errors.New("empty -netns")
	}
	if opts.rcvbuf <= 0 || opts.rcvbuf > math.MaxInt32 {
		fmt.Fprintf(stderr, "nlevents: invalid -rcvbuf %d: must be 1 to %d bytes\n", opts.rcvbuf, math.MaxInt32)
		fs.Usage()
		return opts, errors.New("invalid -rcvbuf")
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "nlevents: unexpected argument %q\n", fs.Arg(0))
		fs.Usage()
		return opts, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}

	g, err := nlevents.ParseGroups(*groups)
	if err != nil {
		fmt.Fprintln(stderr, err)
		fs.Usage()
		return opts, err
	}
	opts.groups = g
	return opts, nil
}

// run monitors until ctx ends and returns the exit status.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) > 0 && args[0] == "apply" {
		return runApply(ctx, args[1:], stdout, stderr)
	}
	opts, err := parseFlags(args, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		return 2
	}

	subOpts := []nlevents.Option{nlevents.WithReceiveBuffer(opts.rcvbuf)}
	if opts.netns != "" {
		subOpts = append(subOpts, nlevents.WithNetNSPath(opts.netns))
	}
	if opts.existing {
		subOpts = append(subOpts, nlevents.WithInitialDump(), nlevents.WithResync())
	}

	p := newPrinter(stdout, opts.json)
	if err := p.watchLinkNames(ctx, opts.existing, subOpts); err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	// Link events keep the names current, and are printed only when the
	// user requested them.
	p.hideLinks = opts.groups&nlevents.Link == 0
	groups := opts.groups | nlevents.Link
	if ctx.Err() != nil {
		return 0 // interrupted while reading the link names
	}
	return monitor(nlevents.Stream(ctx, groups, subOpts...), p, stderr, overrunHint(opts.existing))
}

// overrunHint returns what to do after an overrun. With -existing the
// program resyncs, so the hint describes what follows instead.
func overrunHint(existing bool) string {
	if existing {
		return "notifications were lost: the current state follows again, ending with a sync line"
	}
	return "notifications were lost: raise -rcvbuf, or add -existing to dump the current state again after each loss"
}

// monitor prints until the stream ends. Non-terminal errors are printed and
// the stream goes on; a set-up failure is the stream's only value. Stream
// runs the subscription on this goroutine, which costs less CPU per event
// than Subscribe's channels.
func monitor(stream iter.Seq2[nlevents.Event, error], p *printer, stderr io.Writer, overrunHint string) int {
	status := 0
	for ev, err := range stream {
		if errors.Is(err, nlevents.ErrOverrun) {
			fmt.Fprintf(stderr, "%v; %s\n", err, overrunHint)
			continue
		}
		if err != nil {
			// The package's errors start with "nlevents:".
			fmt.Fprintln(stderr, err)
			if !recoverable(err) {
				status = 1
			}
			continue
		}

		if err := p.print(ev); err != nil {
			fmt.Fprintf(stderr, "nlevents: write: %v\n", err)
			return 1
		}
		// A link name that could not be read leaves a number in the line,
		// which is worth a warning but not the end of the monitor.
		if err := p.names.takeErr(); err != nil && !errors.Is(err, context.Canceled) {
			fmt.Fprintln(stderr, err)
		}
	}
	return status
}

func recoverable(err error) bool {
	var decodeErr *nlevents.DecodeError
	var dumpErr *nlevents.DumpError
	return errors.Is(err, nlevents.ErrOverrun) || errors.As(err, &decodeErr) || errors.As(err, &dumpErr)
}

// parseBytes reads a byte count such as 4194304, 4096K or 4M; the
// suffixes are powers of 1024.
func parseBytes(value string) (int, error) {
	shift := 0
	switch strings.ToUpper(value[len(value)-min(len(value), 1):]) {
	case "K":
		shift = 10
	case "M":
		shift = 20
	case "G":
		shift = 30
	}
	digits := value
	if shift > 0 {
		digits = value[:len(value)-1]
	}

	n, err := strconv.ParseInt(digits, 10, 64)
	if err != nil || n > math.MaxInt32>>shift || n < math.MinInt32>>shift {
		return 0, fmt.Errorf("want a number of bytes up to %d, such as 4194304 or 4M", math.MaxInt32)
	}
	return int(n << shift), nil
}

// flagGiven reports whether the command line set the flag, which
// distinguishes an explicitly empty value from the default.
func flagGiven(fs *flag.FlagSet, name string) bool {
	given := false
	fs.Visit(func(f *flag.Flag) {
		if f.Name == name {
			given = true
		}
	})
	return given
}
