// Command nlbench measures rtnetlink notification receivers on the same
// workloads: a raw read(2) loop (the floor), nlevents (Subscribe, and
// Stream as nlevents-stream), github.com/vishvananda/netlink and github.com/mdlayher/netlink with
// github.com/jsimonetti/rtnetlink/v2.
//
// It needs root, because it re-executes itself in a new network namespace
// (the coordinator) and makes a veth pair there. For each workload, receive
// buffer setting, round and receiver, the coordinator starts the receiver
// as a child process, generates the workload with netlink requests, and
// reads the child's figures. The generator's CPU is not counted: only the
// child's user+sys time is. Runs are interleaved, each round in a different order,
// and the tables show medians over the rounds.
//
//	go run ./cmd/nlbench                  # every workload and setting, 4 rounds
//	go run ./cmd/nlbench -rounds 1 -workloads addr -changes 2000
package main

import (
	"flag"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"syscall"
)

type options struct {
	role        string
	receiver    string
	workload    string
	workloads   string
	receivers   string
	buffers     string
	changes     int
	rounds      int
	rcvbuf      int
	queued      bool
	largeBuffer int
	jsonPath    string
}

func main() {
	var o options
	flag.StringVar(&o.role, "role", "", "internal: coordinator or receiver; empty starts the coordinator in a new network namespace")
	flag.StringVar(&o.receiver, "receiver", "", "internal: receiver to run (raw, nlevents, nlevents-stream, vishvananda, mdlayher)")
	flag.StringVar(&o.workload, "workload", "", "internal: the receiver's workload")
	flag.StringVar(&o.workloads, "workloads", "addr,link,route", "comma-separated workloads to run: addr, link, route")
	flag.StringVar(&o.receivers, "receivers", strings.Join(receiverNames, ","), "comma-separated receivers to run: raw, nlevents, nlevents-stream, vishvananda, mdlayher")
	flag.StringVar(&o.buffers, "buffers", "queued,large,default,queued-default", "comma-separated receive buffer settings: large (-large-buffer bytes, forced), default (each library's own), and queued or queued-default (the same, but the receiver reads only after the workload)")
	flag.IntVar(&o.changes, "changes", 20000, "changes per workload run; each makes at least one notification")
	flag.IntVar(&o.rounds, "rounds", 4, "rounds; each runs every receiver once per workload and buffer setting")
	flag.IntVar(&o.rcvbuf, "rcvbuf", 0, "internal: the receiver's socket receive buffer in bytes, 0 for its default")
	flag.BoolVar(&o.queued, "queued", false, "internal: start consuming only after the workload is over")
	flag.IntVar(&o.largeBuffer, "large-buffer", 256<<20, "receive buffer of the large setting, in bytes, set with SO_RCVBUFFORCE")
	flag.StringVar(&o.jsonPath, "json", "", "also write every run's figures to this file as JSON")
	flag.Parse()

	var err error
	switch o.role {
	case "":
		err = reexecInNewNetNS()
	case "coordinator":
		err = coordinate(o)
	case "receiver":
		err = receive(o)
	default:
		err = fmt.Errorf("invalid -role %q: use coordinator or receiver", o.role)
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "nlbench: %v\n", err)
		os.Exit(1)
	}
}

// reexecInNewNetNS runs this program again as the coordinator, in a new
// network namespace that ends with it. The host's interfaces are never
// touched.
func reexecInNewNetNS() error {
	if os.Geteuid() != 0 {
		return fmt.Errorf("needs root: it creates a network namespace and forces socket buffer sizes")
	}
	self, err := os.Executable()
	if err != nil {
		return err
	}

	cmd := exec.Command(self, append([]string{"-role=coordinator"}, os.Args[1:]...)...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Cloneflags: syscall.CLONE_NEWNET, Pdeathsig: syscall.SIGKILL}
	return cmd.Run()
}

func receive(o options) error {
	w, err := findWorkload(o.workload)
	if err != nil {
		return err
	}
	return runReceiver(o.receiver, w, o.changes, o.rcvbuf, o.queued)
}

func splitList(s string) []string {
	var out []string
	for _, item := range strings.Split(s, ",") {
		if item = strings.TrimSpace(item); item != "" {
			out = append(out, item)
		}
	}
	return out
}
