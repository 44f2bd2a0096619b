package testutil

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// netnsDir is the directory of ip netns's named namespaces. NewNetNS puts
// its namespaces there so that ip -n NAME and ip netns exec NAME reach them.
const netnsDir = "/run/netns"

// NetNS is a network namespace made for one test and removed at its cleanup.
type NetNS struct {
	// Name is the namespace's name for ip -n and ip netns exec.
	Name string
	// Path is the namespace's bind mount, for nlevents.WithNetNSPath.
	Path string
}

// NewNetNS creates an empty network namespace (only a loopback link, down)
// and removes it when the test ends. The namespace is made on a locked OS
// thread that returns to its own namespace before it is unlocked, so no
// thread of the test is left inside. The test is skipped, with the reason,
// when the process lacks the privilege (root, or CAP_SYS_ADMIN).
func NewNetNS(t testing.TB) *NetNS {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("testutil: creating a network namespace needs root (CAP_SYS_ADMIN); run the tests as root")
	}

	ns := &NetNS{Name: "nlevents-test-" + randomHex(6)}
	ns.Path = filepath.Join(netnsDir, ns.Name)
	if err := ns.create(); err != nil {
		if errors.Is(err, unix.EPERM) {
			t.Skipf("testutil: cannot create a network namespace: %v", err)
		}
		t.Fatalf("testutil: create network namespace %s: %v", ns.Name, err)
	}

	t.Cleanup(func() {
		if err := ns.remove(); err != nil {
			t.Errorf("testutil: remove network namespace %s: %v", ns.Name, err)
		}
	})
	return ns
}

// create makes the namespace on a dedicated thread and bind-mounts it at
// Path.
func (ns *NetNS) create() error {
	if err := os.MkdirAll(netnsDir, 0o755); err != nil {
		return err
	}
	file, err := os.OpenFile(ns.Path, os.O_CREATE|os.O_EXCL|os.O_RDONLY, 0o444)
	if err != nil {
		return err
	}
	file.Close()

	err = onLockedThread(func() error {
		if err := unix.Unshare(unix.CLONE_NEWNET); err != nil {
			return fmt.Errorf("unshare: %w", err)
		}
		return unix.Mount("/proc/thread-self/ns/net", ns.Path, "none", unix.MS_BIND, "")
	})
	if err != nil {
		os.Remove(ns.Path)
	}
	return err
}

func (ns *NetNS) remove() error {
	if err := unix.Unmount(ns.Path, unix.MNT_DETACH); err != nil {
		return fmt.Errorf("unmount %s: %w", ns.Path, err)
	}
	return os.Remove(ns.Path)
}

// Do runs fn on an OS thread inside the namespace, for code that opens
// sockets there directly. The thread returns to its own namespace before it
// is used again.
func (ns *NetNS) Do(fn func() error) error {
	nsFD, err := unix.Open(ns.Path, unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("testutil: open %s: %w", ns.Path, err)
	}
	defer unix.Close(nsFD)

	return onLockedThread(func() error {
		if err := unix.Setns(nsFD, unix.CLONE_NEWNET); err != nil {
			return fmt.Errorf("testutil: enter %s: %w", ns.Name, err)
		}
		return fn()
	})
}

// onLockedThread runs fn on a new locked thread and puts the thread back in
// its original network namespace afterwards. If that fails, the goroutine
// exits still locked, so the runtime ends the thread.
func onLockedThread(fn func() error) error {
	done := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		restored, err := runRestoringNetNS(fn)
		if restored {
			runtime.UnlockOSThread()
		}
		// NB: sent only after runRestoringNetNS has closed its fd, so that
		// a caller that counts its open fds next does not see it.
		done <- err
	}()
	return <-done
}

// runRestoringNetNS runs fn on the locked calling thread and puts the thread
// back in its original network namespace. restored is false when that
// failed, and the thread must not be reused.
func runRestoringNetNS(fn func() error) (restored bool, err error) {
	origin, err := unix.Open("/proc/thread-self/ns/net", unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return true, err
	}
	defer unix.Close(origin)

	err = fn()
	if restoreErr := unix.Setns(origin, unix.CLONE_NEWNET); restoreErr != nil {
		return false, errors.Join(err, fmt.Errorf("return to the original namespace: %w", restoreErr))
	}
	return true, err
}

// IP runs "ip -n NAME ARGS..." and returns its output; a failure fails the
// test with the command and its output. It skips the test when iproute2 is
// not installed.
func (ns *NetNS) IP(t testing.TB, args ...string) string {
	t.Helper()
	out, err := ns.TryIP(args...)
	if err != nil {
		t.Fatalf("testutil: %v", err)
	}
	return out
}

// TryIP runs "ip -n NAME ARGS..." and returns its output, or an error with
// the command and its output.
func (ns *NetNS) TryIP(args ...string) (string, error) {
	path, err := exec.LookPath("ip")
	if err != nil {
		return "", fmt.Errorf("ip (iproute2) not found: install it (apt-get install iproute2): %w", err)
	}

	full := append([]string{"-n", ns.Name}, args...)
	out, err := exec.Command(path, full...).CombinedOutput()
	if err != nil {
		return string(out), fmt.Errorf("ip %s: %w: %s", strings.Join(full, " "), err, strings.TrimSpace(string(out)))
	}
	return string(out), nil
}

// AddVeth creates a veth pair named a and b in the namespace, both ends up.
func (ns *NetNS) AddVeth(t testing.TB, a, b string) {
	t.Helper()
	ns.IP(t, "link", "add", "name", a, "type", "veth", "peer", "name", b)
	ns.IP(t, "link", "set", a, "up")
	ns.IP(t, "link", "set", b, "up")
}

// LinkIndex returns the index of the link named name, failing the test when
// there is none.
func (ns *NetNS) LinkIndex(t testing.TB, name string) int {
	t.Helper()
	var index int
	err := ns.Do(func() error {
		iface, err := netInterfaceByName(name)
		index = iface
		return err
	})
	if err != nil {
		t.Fatalf("testutil: link %q in %s: %v", name, ns.Name, err)
	}
	return index
}

func randomHex(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic(err) // crypto/rand does not fail on Linux
	}
	return hex.EncodeToString(b)
}

// CheckThreadNamespaces fails the test when a thread of the process is in
// another network namespace than the process's main thread. Such a thread
// would open the sockets of whatever goroutine runs on it next in the wrong
// namespace, so code that enters namespaces must never leave one behind.
func CheckThreadNamespaces(t testing.TB) {
	t.Helper()
	want, err := os.Readlink("/proc/self/ns/net")
	if err != nil {
		t.Fatalf("testutil: read the process's network namespace: %v", err)
	}
	tasks, err := os.ReadDir("/proc/self/task")
	if err != nil {
		t.Fatalf("testutil: list the process's threads: %v", err)
	}

	for _, task := range tasks {
		got, err := os.Readlink("/proc/self/task/" + task.Name() + "/ns/net")
		switch {
		case errors.Is(err, fs.ErrNotExist):
			continue // the thread has exited
		case err != nil:
			t.Errorf("testutil: read the network namespace of thread %s: %v", task.Name(), err)
		case got != want:
			t.Errorf("testutil: thread %s is in network namespace %s, the process in %s", task.Name(), got, want)
		}
	}
}
