package nlevents

import (
	"errors"
	"fmt"
	"os"
	"runtime"
	"strconv"

	"golang.org/x/sys/unix"
)

// openSocket creates the netlink socket, in the configured namespace, sizes
// its receive buffer, binds it and joins the groups. It returns the socket
// and the port id the kernel assigned. The caller owns the fd.
func openSocket(cfg *config, groups Groups) (fd int, portID uint32, err error) {
	fd, err = createSocket(cfg)
	if err != nil {
		return -1, 0, err
	}

	portID, err = setUpSocket(fd, cfg, groups)
	if err != nil {
		unix.Close(fd)
		return -1, 0, err
	}
	return fd, portID, nil
}

// createSocket creates the socket in the caller's namespace or in the one
// the options name. A socket stays in the namespace it was created in.
func createSocket(cfg *config) (int, error) {
	create := func() (int, error) {
		fd, err := unix.Socket(unix.AF_NETLINK, unix.SOCK_RAW|unix.SOCK_CLOEXEC|unix.SOCK_NONBLOCK, unix.NETLINK_ROUTE)
		if err != nil {
			return -1, fmt.Errorf("nlevents: %w", os.NewSyscallError("socket", err))
		}
		return fd, nil
	}

	switch {
	case cfg.netnsPath != "":
		nsFD, err := unix.Open(cfg.netnsPath, unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err != nil {
			return -1, fmt.Errorf("nlevents: open network namespace %q: %w; pass /run/netns/NAME (see ip netns list) or /proc/PID/ns/net", cfg.netnsPath, err)
		}
		defer unix.Close(nsFD)
		return inNetNS(nsFD, strconv.Quote(cfg.netnsPath), create)
	case cfg.netnsFD >= 0:
		return inNetNS(cfg.netnsFD, fmt.Sprintf("fd %d", cfg.netnsFD), create)
	}
	return create()
}

// inNetNS runs fn on a new, locked OS thread that has entered the network
// namespace nsFD. The caller's threads never change namespace.
func inNetNS(nsFD int, name string, fn func() (int, error)) (int, error) {
	type result struct {
		fd  int
		err error
	}
	done := make(chan result, 1)

	go func() {
		// NB: this goroutine unlocks its thread only after the thread is
		// back in its own namespace. If going back fails, it exits locked,
		// and the runtime ends the thread instead of reusing it.
		runtime.LockOSThread()
		fd, err, restored := runInNetNS(nsFD, name, fn)
		if restored {
			runtime.UnlockOSThread()
		}
		done <- result{fd, err}
	}()

	r := <-done
	return r.fd, r.err
}

// runInNetNS enters nsFD, runs fn and returns to the thread's namespace. It
// must run on a locked thread. restored is false when the thread may be left
// in another namespace.
func runInNetNS(nsFD int, name string, fn func() (int, error)) (fd int, err error, restored bool) {
	origin, err := unix.Open("/proc/thread-self/ns/net", unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return -1, fmt.Errorf("nlevents: open this thread's network namespace: %w", err), true
	}
	defer unix.Close(origin)

	if err := unix.Setns(nsFD, unix.CLONE_NEWNET); err != nil {
		return -1, netnsError(name, err), true
	}

	fd, err = fn()
	if restoreErr := unix.Setns(origin, unix.CLONE_NEWNET); restoreErr != nil {
		if fd >= 0 {
			unix.Close(fd)
		}
		return -1, fmt.Errorf("nlevents: return from network namespace %s: %w", name, restoreErr), false
	}
	return fd, err, true
}

func netnsError(name string, err error) error {
	switch {
	case errors.Is(err, unix.EINVAL):
		return fmt.Errorf("nlevents: enter network namespace %s: %w: it is not a network namespace; pass /run/netns/NAME or /proc/PID/ns/net", name, err)
	case errors.Is(err, unix.EPERM):
		return fmt.Errorf("nlevents: enter network namespace %s: %w: entering a namespace needs CAP_SYS_ADMIN", name, err)
	}
	return fmt.Errorf("nlevents: enter network namespace %s: %w", name, err)
}

// setUpSocket sizes the receive buffer, binds, and joins every group with
// NETLINK_ADD_MEMBERSHIP, which unlike the bind mask reaches groups above 32.
func setUpSocket(fd int, cfg *config, groups Groups) (uint32, error) {
	if err := setReceiveBuffer(fd, cfg.receiveBuffer); err != nil {
		return 0, err
	}

	if err := unix.Bind(fd, &unix.SockaddrNetlink{Family: unix.AF_NETLINK}); err != nil {
		return 0, fmt.Errorf("nlevents: %w", os.NewSyscallError("bind", err))
	}
	sa, err := unix.Getsockname(fd)
	if err != nil {
		return 0, fmt.Errorf("nlevents: %w", os.NewSyscallError("getsockname", err))
	}

	for _, group := range groups.Numbers() {
		if err := unix.SetsockoptInt(fd, unix.SOL_NETLINK, unix.NETLINK_ADD_MEMBERSHIP, int(group)); err != nil {
			return 0, fmt.Errorf("nlevents: join multicast group %v (%d): %w; kernels older than the group reject it",
				Groups(1)<<(group-1), group, os.NewSyscallError("setsockopt", err))
		}
	}

	// Extended acknowledgements give dump errors a message; older kernels
	// lack them, which costs nothing but the message.
	_ = unix.SetsockoptInt(fd, unix.SOL_NETLINK, unix.NETLINK_EXT_ACK, 1)
	return sa.(*unix.SockaddrNetlink).Pid, nil
}

// setReceiveBuffer tries SO_RCVBUFFORCE, which needs CAP_NET_ADMIN, and
// falls back to SO_RCVBUF, which the kernel caps at net.core.rmem_max.
func setReceiveBuffer(fd, bytes int) error {
	err := unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUFFORCE, bytes)
	if err == nil {
		return nil
	}
	if err := unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUF, bytes); err != nil {
		return fmt.Errorf("nlevents: set receive buffer to %d bytes: %w", bytes, os.NewSyscallError("setsockopt", err))
	}
	return nil
}
