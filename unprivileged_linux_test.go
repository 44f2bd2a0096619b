package nlevents_test

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/nlevents/nlevents"
	"github.com/nlevents/nlevents/testutil"
)

// unprivilegedChildEnv is set to "1" in the environment of the child process
// that TestIntegrationUnprivileged starts.
const unprivilegedChildEnv = "NLEVENTS_TEST_UNPRIVILEGED_CHILD"

// TestUnprivilegedChild subscribes without any privilege and prints what it
// receives. TestIntegrationUnprivileged runs it in a namespace as the user
// nobody (uid 65534).
func TestUnprivilegedChild(t *testing.T) {
	if os.Getenv(unprivilegedChildEnv) != "1" {
		t.Skip("runs only as the child process of TestIntegrationUnprivileged")
	}
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()

	events, errs, err := nlevents.Subscribe(ctx, nlevents.Link)
	require.NoError(t, err, "Subscribe without privilege")
	fmt.Println("subscribed")

	ev := testutil.WaitFor(t, events, errs, waitTimeout, func(e *nlevents.LinkEvent) bool { return e.Name == "unpriv0" })
	fmt.Println("received", ev.Name)
	cancel()
	require.NoError(t, waitClosed(events, errs, waitTimeout))
}

// TestIntegrationUnprivileged checks that reading notifications in the
// caller's own namespace needs no privilege: without CAP_NET_ADMIN,
// Subscribe falls back from SO_RCVBUFFORCE to SO_RCVBUF.
func TestIntegrationUnprivileged(t *testing.T) {
	ns := testutil.NewNetNS(t)
	setpriv, err := exec.LookPath("setpriv")
	if err != nil {
		t.Skipf("setpriv (util-linux) not found: %v", err)
	}

	// The go test binary sits in a directory that only root can enter, so
	// the child runs a copy in a directory that every user can read.
	dir, err := os.MkdirTemp("", "nlevents-unprivileged-")
	require.NoError(t, err)
	t.Cleanup(func() { os.RemoveAll(dir) })
	require.NoError(t, os.Chmod(dir, 0o755))
	binary := filepath.Join(dir, "nlevents.test")
	copyFile(t, os.Args[0], binary, 0o755)

	cmd := exec.Command("ip", "netns", "exec", ns.Name,
		setpriv, "--reuid=65534", "--regid=65534", "--clear-groups", "--inh-caps=-all",
		binary, "-test.run=^TestUnprivilegedChild$")
	cmd.Env = append(os.Environ(), unprivilegedChildEnv+"=1")

	// The child writes to a pipe that the test owns, so that Wait, which
	// runs concurrently, does not close it before everything is read.
	reader, writer, err := os.Pipe()
	require.NoError(t, err)
	defer reader.Close()
	cmd.Stdout, cmd.Stderr = writer, writer
	err = cmd.Start()
	writer.Close()
	require.NoError(t, err)

	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	finished := false
	defer func() {
		if !finished {
			cmd.Process.Kill()
			<-exited
		}
	}()

	lines := make(chan string, 100)
	go func() {
		defer close(lines)
		scanner := bufio.NewScanner(reader)
		for scanner.Scan() {
			lines <- scanner.Text()
		}
	}()
	var output []string
	readUntil := func(prefix string) bool {
		timeout := time.After(2 * waitTimeout)
		for {
			select {
			case line, ok := <-lines:
				if !ok {
					return false
				}
				output = append(output, line)
				if strings.HasPrefix(line, prefix) {
					return true
				}
			case <-timeout:
				return false
			}
		}
	}

	subscribed := readUntil("subscribed")
	require.True(t, subscribed, "child did not subscribe; output:\n%s", strings.Join(output, "\n"))
	ns.IP(t, "link", "add", "unpriv0", "type", "bridge")
	received := readUntil("received unpriv0")
	assert.True(t, received, "child did not receive the event; output:\n%s", strings.Join(output, "\n"))

	select {
	case err := <-exited:
		finished = true
		assert.NoError(t, err, "child output:\n%s", strings.Join(output, "\n"))
	case <-time.After(2 * waitTimeout):
		t.Errorf("child did not exit; output:\n%s", strings.Join(output, "\n"))
	}
}

func copyFile(t *testing.T, from, to string, mode os.FileMode) {
	t.Helper()
	src, err := os.Open(from)
	require.NoError(t, err)
	defer src.Close()
	dst, err := os.OpenFile(to, os.O_CREATE|os.O_EXCL|os.O_WRONLY, mode)
	require.NoError(t, err)
	_, err = io.Copy(dst, src)
	require.NoError(t, err)
	require.NoError(t, dst.Close())
}
