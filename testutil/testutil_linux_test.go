package testutil

import (
	"errors"
	"io/fs"
	"net"
	"os"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/nlevents/nlevents"
)

func TestNetNSIsolatedAndRemoved(t *testing.T) {
	var path string
	t.Run("inside", func(t *testing.T) {
		ns := NewNetNS(t)
		path = ns.Path
		ns.AddVeth(t, "tu-a", "tu-b")

		assert.Positive(t, ns.LinkIndex(t, "tu-a"), "index in the namespace")
		_, err := net.InterfaceByName("tu-a")
		assert.Error(t, err, "the veth is visible outside its namespace")
		CheckThreadNamespaces(t)
	})
	if path == "" {
		return // skipped without root
	}

	_, err := os.Stat(path)
	assert.True(t, errors.Is(err, fs.ErrNotExist), "namespace mount %s after cleanup: %v", path, err)
}

func TestTryIPReportsFailure(t *testing.T) {
	ns := NewNetNS(t)
	out, err := ns.TryIP("link", "set", "no-such-link", "up")
	require.Error(t, err)
	assert.Contains(t, err.Error(), "no-such-link", "error names the command")
	assert.NotEmpty(t, out, "output of the failed command")
}

func TestCollectKeepsOrder(t *testing.T) {
	events := make(chan nlevents.Event)
	errs := make(chan error)
	first, last := &nlevents.SyncEvent{}, &nlevents.SyncEvent{Resync: true}
	failure := errors.New("between")
	go func() {
		events <- first
		errs <- failure
		events <- last
	}()

	items := Collect(t, events, errs, 5*time.Second, func(it Item) bool { return it.Event == last })
	require.Len(t, items, 3)
	assert.Same(t, first, items[0].Event)
	assert.Equal(t, failure, items[1].Err)
	assert.Same(t, last, items[2].Event)
}

func TestWaitForSkipsOtherTypes(t *testing.T) {
	events := make(chan nlevents.Event)
	errs := make(chan error)
	go func() {
		events <- &nlevents.SyncEvent{}
		events <- &nlevents.LinkEvent{Name: "other"}
		events <- &nlevents.LinkEvent{Name: "wanted"}
	}()

	got := WaitFor(t, events, errs, 5*time.Second, func(e *nlevents.LinkEvent) bool { return e.Name == "wanted" })
	assert.Equal(t, "wanted", got.Name)
}
