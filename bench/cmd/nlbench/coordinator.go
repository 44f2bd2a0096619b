package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/mdlayher/netlink"
	"golang.org/x/sys/unix"
)

// run is one receiver on one workload run.
type run struct {
	Workload string `json:"workload"`
	Buffer   string `json:"buffer"`
	Round    int    `json:"round"`
	Receiver string `json:"receiver"`

	Expected   int64   `json:"expected"` // notifications the kernel sent to the group
	Received   int64   `json:"received"`
	Overruns   int64   `json:"overruns"`
	Errors     int64   `json:"errors"`
	FirstError string  `json:"first_error,omitempty"`
	CPUNanos   int64   `json:"cpu_ns"`
	Switches   int64   `json:"switches"`
	Mallocs    uint64  `json:"mallocs"`
	AllocBytes uint64  `json:"alloc_bytes"`
	P50Micros  float64 `json:"p50_us"`
	P99Micros  float64 `json:"p99_us"`
	Seconds    float64 `json:"generate_s"` // how long the generator took
}

// coordinate runs every workload, buffer setting, round and receiver, and
// prints the tables. It runs in the namespace that reexecInNewNetNS made.
func coordinate(o options) error {
	state, err := setUpNamespace()
	if err != nil {
		return err
	}
	gen, err := netlink.Dial(unix.NETLINK_ROUTE, nil)
	if err != nil {
		return fmt.Errorf("dial the generator's netlink socket: %w", err)
	}
	defer gen.Close()

	var runs []run
	for _, name := range splitList(o.workloads) {
		w, err := findWorkload(name)
		if err != nil {
			return err
		}
		for _, buffer := range splitList(o.buffers) {
			rcvbuf, err := bufferBytes(buffer, o.largeBuffer)
			if err != nil {
				return err
			}
			for round := range o.rounds {
				for _, receiver := range rotate(splitList(o.receivers), round) {
					r, err := runOnce(gen, state, w, buffer, rcvbuf, receiver, o.changes)
					if err != nil {
						return fmt.Errorf("%s/%s/%s round %d: %w", w.name, buffer, receiver, round+1, err)
					}
					r.Round = round + 1
					logRun(r)
					runs = append(runs, r)
				}
			}
		}
	}

	if o.jsonPath != "" {
		if err := writeJSON(o.jsonPath, runs); err != nil {
			return err
		}
	}
	printTables(os.Stdout, o, runs)
	return nil
}

func bufferBytes(setting string, large int) (int, error) {
	switch setting {
	case "large", "queued":
		return large, nil
	case "default", "queued-default":
		return 0, nil
	}
	return 0, fmt.Errorf("invalid buffer setting %q: use queued, large, default or queued-default", setting)
}

// rotate returns names starting at index round, so that no receiver always
// runs first or last in a round.
func rotate(names []string, round int) []string {
	k := round % len(names)
	return append(slices.Clone(names[k:]), names[:k]...)
}

// setUpNamespace makes the veth pair that the workloads change. It runs ip
// once; the workloads themselves send netlink requests.
func setUpNamespace() (*workloadState, error) {
	out, err := exec.Command("ip", "link", "add", benchLink, "type", "veth", "peer", "name", benchPeer).CombinedOutput()
	if err != nil {
		return nil, fmt.Errorf("ip link add %s type veth: %w: %s", benchLink, err, strings.TrimSpace(string(out)))
	}
	iface, err := net.InterfaceByName(benchLink)
	if err != nil {
		return nil, err
	}
	return &workloadState{linkIndex: uint32(iface.Index)}, nil
}

// runOnce runs one receiver on one workload run.
func runOnce(gen *netlink.Conn, state *workloadState, w workload, buffer string, rcvbuf int, receiver string, changes int) (run, error) {
	r := run{Workload: w.name, Buffer: buffer, Receiver: receiver}

	ref, err := openReference(w.group)
	if err != nil {
		return r, err
	}
	defer unix.Close(ref)

	child, err := startChild(receiver, w, rcvbuf, changes, strings.HasPrefix(buffer, "queued"))
	if err != nil {
		return r, err
	}
	defer child.kill()

	started := time.Now()
	sentAt, err := generate(gen, state, w, changes)
	if err != nil {
		return r, err
	}
	r.Seconds = time.Since(started).Seconds()

	res, err := child.finish()
	if err != nil {
		return r, err
	}
	r.Expected, err = countQueued(ref)
	if err != nil {
		return r, err
	}

	r.Received, r.Overruns, r.Errors, r.FirstError = res.Received, res.Overruns, res.Errors, res.FirstError
	r.CPUNanos, r.Switches, r.Mallocs, r.AllocBytes = res.CPUNanos, res.Switches, res.Mallocs, res.AllocBytes
	r.P50Micros, r.P99Micros = latencies(sentAt, res.ReceivedAt)
	return r, nil
}

// generate makes the workload's changes as fast as the kernel takes them,
// stamping each when the sendmsg that made it returns: the kernel applies
// a request and queues its notifications inside that call. The
// acknowledgement is read after the stamp.
func generate(gen *netlink.Conn, state *workloadState, w workload, changes int) ([]int64, error) {
	sentAt := make([]int64, changes)
	for i := range changes {
		if _, err := gen.Send(w.request(state, i)); err != nil {
			return nil, fmt.Errorf("change %d: send: %w", i, err)
		}
		sentAt[i] = nanotime()
		if _, err := gen.Receive(); err != nil {
			return nil, fmt.Errorf("change %d: %w", i, err)
		}
	}
	return sentAt, nil
}

// openReference opens a socket in the group with a buffer large enough for
// the whole run, read only after the run: it counts what the kernel sent.
func openReference(group uint32) (int, error) {
	fd, err := unix.Socket(unix.AF_NETLINK, unix.SOCK_RAW|unix.SOCK_CLOEXEC|unix.SOCK_NONBLOCK, unix.NETLINK_ROUTE)
	if err != nil {
		return -1, fmt.Errorf("reference socket: %w", err)
	}
	if err := unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUFFORCE, 1<<30); err != nil {
		unix.Close(fd)
		return -1, fmt.Errorf("reference socket: SO_RCVBUFFORCE: %w", err)
	}
	if err := unix.Bind(fd, &unix.SockaddrNetlink{Family: unix.AF_NETLINK, Groups: 1 << (group - 1)}); err != nil {
		unix.Close(fd)
		return -1, fmt.Errorf("reference socket: bind: %w", err)
	}
	return fd, nil
}

// countQueued counts the messages queued on the reference socket. An
// overrun there would make every loss figure wrong, so it is an error.
func countQueued(fd int) (int64, error) {
	buf := make([]byte, 64<<10)
	var count int64
	for {
		n, err := unix.Read(fd, buf)
		switch {
		case errors.Is(err, unix.EAGAIN):
			return count, nil
		case errors.Is(err, unix.EINTR):
			continue
		case err != nil:
			return 0, fmt.Errorf("reference socket lost notifications, raise its buffer: %w", err)
		}
		for b := buf[:n]; len(b) >= 16; {
			length := int(nativeUint32(b))
			if length < 16 || length > len(b) {
				break
			}
			count++
			b = b[min((length+3)&^3, len(b)):]
		}
	}
}

// child is a receiver process.
type child struct {
	cmd    *exec.Cmd
	stdin  io.WriteCloser
	stdout *bufio.Reader
}

func startChild(receiver string, w workload, rcvbuf, changes int, queued bool) (*child, error) {
	self, err := os.Executable()
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(self, "-role=receiver", "-receiver="+receiver, "-workload="+w.name,
		"-changes="+strconv.Itoa(changes), "-rcvbuf="+strconv.Itoa(rcvbuf), "-queued="+strconv.FormatBool(queued))
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}

	c := &child{cmd: cmd, stdin: stdin, stdout: bufio.NewReaderSize(stdout, 1<<20)}
	line, err := c.stdout.ReadString('\n')
	if err != nil || line != "ready\n" {
		c.kill()
		return nil, fmt.Errorf("receiver %s did not start: %q, %v", receiver, line, err)
	}
	return c, nil
}

// finish writes "done" to the child, which then reports once its events
// stop, and reads the child's result.
func (c *child) finish() (result, error) {
	var res result
	if _, err := io.WriteString(c.stdin, "done\n"); err != nil {
		return res, err
	}
	if err := json.NewDecoder(c.stdout).Decode(&res); err != nil {
		return res, fmt.Errorf("read the receiver's result: %w", err)
	}
	return res, c.cmd.Wait()
}

func (c *child) kill() {
	if c.cmd.ProcessState == nil {
		_ = c.cmd.Process.Kill()
		_ = c.cmd.Wait()
	}
}

// latencies returns the median and 99th percentile, in microseconds, of
// the time from each change's stamp to its first event. The receiver can
// read a notification before the generator's stamp, because the kernel
// queues it inside sendmsg; such negative delays count as 0.
func latencies(sentAt, receivedAt []int64) (p50, p99 float64) {
	var delays []int64
	for i, sent := range sentAt {
		if i < len(receivedAt) && receivedAt[i] != 0 {
			delays = append(delays, max(receivedAt[i]-sent, 0))
		}
	}
	if len(delays) == 0 {
		return 0, 0
	}
	slices.Sort(delays)
	pick := func(q float64) float64 {
		return float64(delays[int(q*float64(len(delays)-1))]) / 1e3
	}
	return pick(0.50), pick(0.99)
}

func logRun(r run) {
	fmt.Fprintf(os.Stderr, "%-5s %-7s round %d %-11s expected %6d received %6d overruns %2d errors %d cpu %6.0f ns/event switches %4.2f/event allocs %5.1f/event p50 %7.0f us p99 %7.0f us (generated in %.2fs) %s\n",
		r.Workload, r.Buffer, r.Round, r.Receiver, r.Expected, r.Received, r.Overruns, r.Errors,
		perEvent(float64(r.CPUNanos), r.Received), perEvent(float64(r.Switches), r.Received), perEvent(float64(r.Mallocs), r.Received),
		r.P50Micros, r.P99Micros, r.Seconds, r.FirstError)
}

func writeJSON(path string, runs []run) error {
	b, err := json.MarshalIndent(runs, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, append(b, '\n'), 0o644)
}

func perEvent(total float64, events int64) float64 {
	if events == 0 {
		return 0
	}
	return total / float64(events)
}
