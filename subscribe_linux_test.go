package nlevents_test

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"

	"github.com/nlevents/nlevents"
	"github.com/nlevents/nlevents/testutil"
)

func TestSubscribeSetupErrors(t *testing.T) {
	// Warm up what the first Subscribe opens once per process.
	openFDs(t)
	checkNoFDLeak(t)

	regular, err := os.Create(filepath.Join(t.TempDir(), "not-a-namespace"))
	require.NoError(t, err)
	defer regular.Close()

	cancelled, cancel := context.WithCancel(context.Background())
	cancel()

	// A variable, not a constant, so that the file builds where int has 32
	// bits; there the conversion wraps to a negative size.
	var twoGiB int64 = 1 << 31

	tests := []struct {
		name     string
		ctx      context.Context
		groups   nlevents.Groups
		opts     []nlevents.Option
		is       error  // expected with errors.Is, when not nil
		contains string // expected in the message
	}{
		{"no groups", context.Background(), 0, nil, nlevents.ErrNoGroups, "no multicast groups"},
		{"unknown group bit", context.Background(), nlevents.Link | 1<<50, nil, nil, "unknown multicast group bits 0x4000000000000"},
		{"placeholder group 14", context.Background(), 1 << 13, nil, nil, "unknown multicast group bits 0x2000"},
		{"zero receive buffer", context.Background(), nlevents.Link, []nlevents.Option{nlevents.WithReceiveBuffer(0)}, nil, "invalid receive buffer size 0"},
		{"negative receive buffer", context.Background(), nlevents.Link, []nlevents.Option{nlevents.WithReceiveBuffer(-1)}, nil, "invalid receive buffer size -1"},
		{"nil option", context.Background(), nlevents.Link, []nlevents.Option{nil}, nil, "nil Option"},
		{"missing netns path", context.Background(), nlevents.Link, []nlevents.Option{nlevents.WithNetNSPath("/nonexistent/netns/blue")}, fs.ErrNotExist, `"/nonexistent/netns/blue"`},
		{"netns fd not a namespace", context.Background(), nlevents.Link, []nlevents.Option{nlevents.WithNetNS(int(regular.Fd()))}, nil, "not a network namespace"},
		{"empty netns path", context.Background(), nlevents.Link, []nlevents.Option{nlevents.WithNetNSPath("")}, nil, "empty network namespace path"},
		{"netns path not a namespace", context.Background(), nlevents.Link, []nlevents.Option{nlevents.WithNetNSPath(regular.Name())}, nil, "not a network namespace"},
		{"netns fd not open", context.Background(), nlevents.Link, []nlevents.Option{nlevents.WithNetNS(100000)}, unix.EBADF, "fd 100000"},
		{"negative netns fd", context.Background(), nlevents.Link, []nlevents.Option{nlevents.WithNetNS(-1)}, nil, "invalid network namespace fd -1"},
		{"receive buffer above 2 GiB", context.Background(), nlevents.Link, []nlevents.Option{nlevents.WithReceiveBuffer(int(twoGiB))}, nil, "invalid receive buffer size 2147483648"},
		{"two namespaces", context.Background(), nlevents.Link, []nlevents.Option{nlevents.WithNetNS(int(regular.Fd())), nlevents.WithNetNSPath(regular.Name())}, nil, "pick one namespace"},
		{"cancelled context", cancelled, nlevents.Link, nil, context.Canceled, "subscribe"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if os.Geteuid() != 0 && tt.contains == "not a network namespace" {
				t.Skip("entering a namespace needs root (CAP_SYS_ADMIN); without it the error is EPERM")
			}
			if tt.name == "receive buffer above 2 GiB" && strconv.IntSize == 32 {
				t.Skip("an int cannot hold 2 GiB on 32-bit platforms")
			}
			before := openFDs(t)

			events, errs, err := nlevents.Subscribe(tt.ctx, tt.groups, tt.opts...)
			require.Error(t, err)
			assert.Nil(t, events, "event channel")
			assert.Nil(t, errs, "error channel")
			if tt.is != nil {
				assert.ErrorIs(t, err, tt.is)
			}
			assert.Contains(t, err.Error(), tt.contains)
			assert.Contains(t, err.Error(), "nlevents: ")
			assert.Equal(t, before, openFDs(t), "open fds before and after")
		})
	}
}

func TestIntegrationNetNSByFD(t *testing.T) {
	ns := testutil.NewNetNS(t)
	nsFile, err := os.Open(ns.Path)
	require.NoError(t, err)
	defer nsFile.Close()

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	events, errs, err := nlevents.Subscribe(ctx, nlevents.Link, nlevents.WithNetNS(int(nsFile.Fd())))
	require.NoError(t, err)

	ns.IP(t, "link", "add", "br0", "type", "bridge")
	ev := testutil.WaitFor(t, events, errs, waitTimeout, func(e *nlevents.LinkEvent) bool { return e.Name == "br0" })
	assert.Equal(t, ns.LinkIndex(t, "br0"), ev.Index, "Index")

	cancel()
	require.NoError(t, waitClosed(events, errs, waitTimeout))
}

func TestIntegrationReceiveBufferSize(t *testing.T) {
	ns := testutil.NewNetNS(t)
	tests := []struct {
		name string
		opts []nlevents.Option
		want int
	}{
		{"default", nil, nlevents.DefaultReceiveBuffer},
		{"1 MiB", []nlevents.Option{nlevents.WithReceiveBuffer(1 << 20)}, 1 << 20},
		// SO_RCVBUFFORCE ignores net.core.rmem_max, so this works as root
		// even where rmem_max is smaller.
		{"64 MiB", []nlevents.Option{nlevents.WithReceiveBuffer(64 << 20)}, 64 << 20},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := -1
			nlevents.HookSocket(t, func(fd int, _ uint32) {
				size, err := unix.GetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUF)
				if err != nil {
					t.Errorf("getsockopt SO_RCVBUF: %v", err)
				}
				got = size
			})
			subscribeNS(t, ns, nlevents.Link, tt.opts...)

			// The kernel doubles the requested size for its bookkeeping.
			assert.Equal(t, 2*tt.want, got, "SO_RCVBUF")
		})
	}
}

// withoutNetAdmin runs fn on a thread whose effective capabilities lack
// CAP_NET_ADMIN, then raises it again. Capabilities are per thread on
// Linux, so the rest of the process keeps it. If raising it fails, the
// goroutine exits with its thread locked, and the runtime ends the thread.
func withoutNetAdmin(t *testing.T, fn func()) {
	t.Helper()
	done := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		header := unix.CapUserHeader{Version: unix.LINUX_CAPABILITY_VERSION_3}
		var data [2]unix.CapUserData
		if err := unix.Capget(&header, &data[0]); err != nil {
			runtime.UnlockOSThread()
			done <- fmt.Errorf("capget: %w", err)
			return
		}
		saved := data
		data[0].Effective &^= 1 << unix.CAP_NET_ADMIN
		if err := unix.Capset(&header, &data[0]); err != nil {
			runtime.UnlockOSThread()
			done <- fmt.Errorf("capset: %w", err)
			return
		}

		fn()
		if err := unix.Capset(&header, &saved[0]); err != nil {
			done <- fmt.Errorf("capset to restore CAP_NET_ADMIN: %w", err)
			return
		}
		runtime.UnlockOSThread()
		done <- nil
	}()
	require.NoError(t, <-done)
}

func TestIntegrationReceiveBufferWithoutNetAdmin(t *testing.T) {
	testutil.NewNetNS(t) // skips without root
	rmemMax, err := os.ReadFile("/proc/sys/net/core/rmem_max")
	require.NoError(t, err)
	limit, err := strconv.Atoi(strings.TrimSpace(string(rmemMax)))
	require.NoError(t, err)

	got := -1
	nlevents.HookSocket(t, func(fd int, _ uint32) {
		got, _ = unix.GetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUF)
	})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var events <-chan nlevents.Event
	var errs <-chan error
	withoutNetAdmin(t, func() {
		// The socket is made on this thread, in the host namespace, where
		// the test only listens.
		events, errs, err = nlevents.Subscribe(ctx, nlevents.Link, nlevents.WithReceiveBuffer(2*limit))
	})
	require.NoError(t, err, "Subscribe falls back to SO_RCVBUF")
	cancel()
	require.NoError(t, waitClosed(events, errs, waitTimeout))

	// SO_RCVBUF caps the request at rmem_max, then the kernel doubles it.
	assert.Equal(t, 2*limit, got, "SO_RCVBUF")
}

func TestIntegrationNetNSIsolation(t *testing.T) {
	watched := testutil.NewNetNS(t)
	other := testutil.NewNetNS(t)
	events, errs := subscribeNS(t, watched, nlevents.Link)

	other.IP(t, "link", "add", "other0", "type", "bridge")
	items := addMarker(t, watched, events, errs)
	for _, it := range items {
		require.NoError(t, it.Err)
		if l, ok := it.Event.(*nlevents.LinkEvent); ok {
			assert.NotEqual(t, "other0", l.Name, "event from another namespace: %v", l)
		}
	}
}

// fillFDTable lowers the soft limit on open files to limit and opens fds
// until every number below it is taken, then closes the last free of them,
// so that exactly free numbers are available. It restores the limit and
// closes its fds when the test ends.
func fillFDTable(t *testing.T, limit uint64, free int) {
	t.Helper()
	var saved unix.Rlimit
	require.NoError(t, unix.Getrlimit(unix.RLIMIT_NOFILE, &saved))
	lowered := unix.Rlimit{Cur: limit, Max: saved.Max}
	require.NoError(t, unix.Setrlimit(unix.RLIMIT_NOFILE, &lowered))

	var fillers []int
	t.Cleanup(func() {
		for _, fd := range fillers {
			unix.Close(fd)
		}
		if err := unix.Setrlimit(unix.RLIMIT_NOFILE, &saved); err != nil {
			t.Errorf("restore RLIMIT_NOFILE: %v", err)
		}
	})
	for {
		fd, err := unix.Open("/dev/null", unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if errors.Is(err, unix.EMFILE) {
			break
		}
		require.NoError(t, err)
		fillers = append(fillers, fd)
	}
	require.GreaterOrEqual(t, len(fillers), free, "fds opened to fill the table")
	for range free {
		unix.Close(fillers[len(fillers)-1])
		fillers = fillers[:len(fillers)-1]
	}
}

func TestIntegrationSubscribeOutOfFDs(t *testing.T) {
	tests := []struct {
		name     string
		free     int
		netns    bool
		contains string
	}{
		{"no fd for the socket", 0, false, "socket"},
		{"no fds for the pipe", 1, false, "pipe2"},
		{"one fd for the pipe", 2, false, "pipe2"},
		{"no fd for the namespace", 0, true, "open network namespace"},
		{"no fd for the thread's namespace", 1, true, "open this thread's network namespace"},
		{"no fd for the socket in a namespace", 2, true, "socket"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var opts []nlevents.Option
			if tt.netns {
				ns := testutil.NewNetNS(t)
				opts = append(opts, nlevents.WithNetNSPath(ns.Path))
			}
			// The limit leaves room above the fds the test process has open.
			fillFDTable(t, 512, tt.free)

			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			events, errs, err := nlevents.Subscribe(ctx, nlevents.Link, opts...)
			if err == nil {
				cancel()
				assert.NoError(t, waitClosed(events, errs, waitTimeout))
				t.Fatal("Subscribe succeeded with a full fd table")
			}
			assert.ErrorIs(t, err, unix.EMFILE)
			assert.Contains(t, err.Error(), tt.contains)

			// Subscribe must have closed whatever it opened before failing,
			// so all the free fds can be opened again.
			var reopened []int
			defer func() {
				for _, fd := range reopened {
					unix.Close(fd)
				}
			}()
			for range tt.free {
				fd, err := unix.Open("/dev/null", unix.O_RDONLY|unix.O_CLOEXEC, 0)
				require.NoError(t, err, "an fd that Subscribe left open")
				reopened = append(reopened, fd)
			}
		})
	}
	testutil.CheckThreadNamespaces(t)
}
