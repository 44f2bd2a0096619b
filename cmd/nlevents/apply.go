package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/nlevents/nlevents/apply"
)

// applyOptions are the parsed flags of the apply subcommand.
type applyOptions struct {
	file    string
	dryRun  bool
	enforce bool
	netns   string
}

func parseApplyFlags(args []string, stderr io.Writer) (applyOptions, error) {
	var opts applyOptions
	fs := flag.NewFlagSet("nlevents apply", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintf(stderr, "Usage: nlevents apply -f FILE [-dry-run | -enforce] [-netns PATH]\n\n"+
			"Puts a link into the state that a JSON file describes and prints each\n"+
			"change, one per line. For example:\n\n"+
			"  {\"name\": \"veth0\", \"state\": \"up\", \"mtu\": 9000,\n"+
			"   \"addresses\": [\"192.0.2.10/24\"],\n"+
			"   \"routes\": [{\"destination\": \"198.51.100.0/24\", \"gateway\": \"192.0.2.1\"}]}\n\n"+
			"Flags:\n")
		fs.PrintDefaults()
	}

	fs.StringVar(&opts.file, "f", "", "read the link description from JSON `file` (- for standard input)")
	fs.BoolVar(&opts.dryRun, "dry-run", false, "print the changes that would be made, and make none")
	fs.BoolVar(&opts.enforce, "enforce", false, "apply, then keep the link in the described state until interrupted, printing each correction (nothing while the link matches); errors are printed once and enforcement goes on, except missing privileges or a link of another kind, which end it with status 1")
	fs.StringVar(&opts.netns, "netns", "", "work in the network namespace at `path` (for example /run/netns/NAME) instead of this one")
	if err := fs.Parse(args); err != nil {
		return opts, err
	}

	switch {
	case fs.NArg() > 0:
		return opts, usageError(fs, stderr, fmt.Sprintf("unexpected argument %q", fs.Arg(0)))
	case opts.file == "":
		return opts, usageError(fs, stderr, "missing -f: give the JSON file that describes the link")
	case opts.dryRun && opts.enforce:
		return opts, usageError(fs, stderr, "-dry-run and -enforce exclude each other")
	case flagGiven(fs, "netns") && opts.netns == "":
		return opts, usageError(fs, stderr, "empty -netns: pass a namespace such as /run/netns/NAME, or leave the flag out")
	}
	return opts, nil
}

func usageError(fs *flag.FlagSet, stderr io.Writer, msg string) error {
	fmt.Fprintf(stderr, "nlevents apply: %s\n", msg)
	fs.Usage()
	return errors.New(msg)
}

// runApply runs the apply subcommand and returns the exit status: 0 on
// success, 1 when the description is invalid or a change fails, and 2 for
// invalid flags. With -enforce it runs until ctx ends.
func runApply(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	opts, err := parseApplyFlags(args, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		return 2
	}

	spec, err := readSpec(opts.file)
	if err != nil {
		source := opts.file
		if source == "-" {
			source = "standard input"
		}
		// A *PathError would name the file a second time.
		var pathErr *os.PathError
		if errors.As(err, &pathErr) {
			err = pathErr.Err
		}
		printApplyError(stderr, source+": ", err)
		return 1
	}
	var applyOpts []apply.Option
	if opts.netns != "" {
		applyOpts = append(applyOpts, apply.WithNetNSPath(opts.netns))
	}

	if opts.dryRun {
		changes, err := apply.Plan(ctx, spec, applyOpts...)
		return report(stdout, stderr, changes, err)
	}

	if opts.enforce {
		// Enforce's first check applies the description and reports the
		// changes as its first correction.
		e := &enforcement{stdout: stdout, stderr: stderr}
		return e.run(ctx, spec, applyOpts)
	}
	changes, err := apply.Apply(ctx, spec, applyOpts...)
	return report(stdout, stderr, changes, err)
}

// permanent reports whether -enforce ends after err, because no later
// check can do better: the program lacks privileges (EPERM), or the link
// exists with another kind than the description's. Other errors may clear
// as the link's state changes, even EINVAL (an IPv6 address while the MTU
// is below 1280, an MTU above the lower link's), so enforcement goes on.
func permanent(err error) bool {
	var specErr *apply.SpecError
	if errors.As(err, &specErr) && specErr.Field == "kind" {
		return true
	}
	var applyErr *apply.ApplyError
	if !errors.As(err, &applyErr) {
		return false
	}
	for _, errno := range permanentErrnos {
		if errors.Is(err, errno) {
			return true
		}
	}
	return false
}

// readSpec decodes the description in the file at path, or on standard
// input for "-".
func readSpec(path string) (apply.Link, error) {
	if path == "-" {
		return apply.Decode(os.Stdin)
	}

	f, err := os.Open(path)
	if err != nil {
		return apply.Link{}, err
	}
	defer f.Close()
	return apply.Decode(f)
}

// report prints the changes, one per line, then err, and returns the exit
// status. Changes made before an error are printed too.
func report(stdout, stderr io.Writer, changes apply.Changes, err error) int {
	if len(changes) > 0 || err == nil {
		fmt.Fprintln(stdout, changes)
	}
	if err != nil {
		printApplyError(stderr, "", err)
		return 1
	}
	return 0
}

// enforcement prints what Enforce reports until ctx ends.
type enforcement struct {
	stdout, stderr io.Writer
	// lastErr is the text of the error printed last, so that an error
	// that repeats at each retry is printed once until a correction.
	lastErr string
}

// run prints each correction until ctx ends. Errors are printed and
// enforcement goes on, unless the error is permanent or the subscription
// fails: then run returns 1.
func (e *enforcement) run(ctx context.Context, spec apply.Link, opts []apply.Option) int {
	enforceCtx, stop := context.WithCancel(ctx)
	defer stop()
	corrections, errs, err := apply.Enforce(enforceCtx, spec, opts...)
	if err != nil {
		printApplyError(e.stderr, "", err)
		return 1
	}

	status, stopped := 0, false
	for corrections != nil || errs != nil {
		select {
		case c, ok := <-corrections:
			if !ok {
				corrections = nil
				continue
			}
			e.printCorrection(c)
		case err, ok := <-errs:
			if !ok {
				errs = nil
				continue
			}
			status = 1
			e.printErr(err)
			if permanent(err) {
				stop() // both channels close soon after
				stopped = true
			}
		}
	}
	if stopped {
		return 1
	}
	if ctx.Err() != nil {
		return 0 // interrupted, as -enforce expects
	}
	return status
}

// printApplyError prints an error of the apply package, whose messages start
// with "apply:", after the program's name and where, which is "" or ends
// with ": ". Joined errors, such as all the problems of a description, get
// a line each.
func printApplyError(stderr io.Writer, where string, err error) {
	errs := []error{err}
	if joined, ok := err.(interface{ Unwrap() []error }); ok {
		errs = joined.Unwrap()
	}
	for _, e := range errs {
		fmt.Fprintf(stderr, "nlevents apply: %s%s\n", where, strings.TrimPrefix(e.Error(), "apply: "))
	}
}

// printCorrection prints the correction's lines.
func (e *enforcement) printCorrection(c apply.Correction) {
	fmt.Fprintln(e.stdout, c)
	e.lastErr = ""
}

// printErr prints err unless it is the error printed last with no
// correction since: each retry meets an error that persists.
func (e *enforcement) printErr(err error) {
	if err.Error() == e.lastErr {
		return
	}
	printApplyError(e.stderr, "", err)
	e.lastErr = err.Error()
}
