package nlevents_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"

	"github.com/nlevents/nlevents"
	"github.com/nlevents/nlevents/testutil"
)

func TestIntegrationSmoke(t *testing.T) {
	ns := testutil.NewNetNS(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	events, errs, err := nlevents.Subscribe(ctx, nlevents.AllGroups&^(nlevents.IPv4MCAddr|nlevents.IPv6MCAddr|nlevents.IPv6ACAddr), nlevents.WithNetNSPath(ns.Path), nlevents.WithInitialDump())
	if err != nil {
		t.Fatal(err)
	}
	ns.AddVeth(t, "va", "vb")
	ns.IP(t, "addr", "add", "192.0.2.1/24", "dev", "va")
	ns.IP(t, "link", "add", "br0", "type", "bridge")
	ns.IP(t, "link", "set", "vb", "master", "br0")
	ns.IP(t, "link", "set", "vb", "nomaster")
	ns.IP(t, "link", "del", "va")
	items := testutil.Collect(t, events, errs, 3*time.Second, func(it testutil.Item) bool {
		l, ok := it.Event.(*nlevents.LinkEvent)
		return ok && l.Deleted && l.Name == "va"
	})
	last := items[len(items)-1].Event.(*nlevents.LinkEvent)
	assert.Equal(t, "va", last.Name)
	assert.True(t, last.Deleted)
}
