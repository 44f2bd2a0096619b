package main

import (
	"bytes"
	"encoding/json"
	"net/netip"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/nlevents/nlevents"
)

// TestJSONRulePriorityZero checks that the JSON of the rule with priority
// 0, which every namespace has (from all lookup local), keeps its
// priority, where zero values are otherwise left out.
func TestJSONRulePriorityZero(t *testing.T) {
	noName := func(int) string { return "" }
	for _, priority := range []uint32{0, 32766} {
		b, err := json.Marshal(jsonOf(&nlevents.RuleEvent{Family: 2, Priority: priority, Table: 255}, noName))
		require.NoError(t, err)

		var obj map[string]any
		require.NoError(t, json.Unmarshal(b, &obj))
		assert.Equal(t, float64(priority), obj["priority"], "JSON %s", b)
		assert.Equal(t, "inet", obj["family"])
	}
}

// TestMonitorOverrunSaysWhatToDo checks that a loss of notifications is
// reported with what to do about it, and does not end the monitor.
func TestMonitorOverrunSaysWhatToDo(t *testing.T) {
	stream := func(yield func(nlevents.Event, error) bool) {
		if yield(nil, nlevents.ErrOverrun) {
			yield(&nlevents.SyncEvent{}, nil)
		}
	}
	var stdout, stderr bytes.Buffer

	status := monitor(stream, newPrinter(&stdout, false), &stderr, "raise -rcvbuf")
	assert.Equal(t, 0, status, "an overrun is not terminal")
	assert.Equal(t, nlevents.ErrOverrun.Error()+"; raise -rcvbuf\n", stderr.String())
	assert.Equal(t, "sync\n", stdout.String(), "the stream goes on after the overrun")
}

func TestJSONNexthopObject(t *testing.T) {
	names := func(index int) string { return map[int]string{3: "va"}[index] }
	single, err := json.Marshal(jsonOf(&nlevents.NexthopEvent{ID: 7, Family: 2, Gateway: netip.MustParseAddr("192.0.2.1"), OutIndex: 3}, names))
	require.NoError(t, err)
	assert.JSONEq(t, `{"type":"nexthop","action":"new","family":"inet","id":7,"gateway":"192.0.2.1","oif":3,"dev":"va"}`, string(single))

	group, err := json.Marshal(jsonOf(&nlevents.NexthopEvent{ID: 9, Group: []nlevents.NexthopMember{{ID: 7, Weight: 1}, {ID: 8, Weight: 3}}}, names))
	require.NoError(t, err)
	assert.JSONEq(t, `{"type":"nexthop","action":"new","id":9,"group":[{"id":7,"weight":1},{"id":8,"weight":3}]}`, string(group))

	blackhole, err := json.Marshal(jsonOf(&nlevents.NexthopEvent{ID: 5, Blackhole: true}, names))
	require.NoError(t, err)
	assert.JSONEq(t, `{"type":"nexthop","action":"new","id":5,"blackhole":true}`, string(blackhole))

	fdb, err := json.Marshal(jsonOf(&nlevents.NexthopEvent{ID: 6, Family: 2, Gateway: netip.MustParseAddr("192.0.2.3"), FDB: true, Flags: 0x04}, names))
	require.NoError(t, err)
	assert.JSONEq(t, `{"type":"nexthop","action":"new","family":"inet","id":6,"gateway":"192.0.2.3","fdb":true,"flags":"onlink"}`, string(fdb))

	resilient, err := json.Marshal(jsonOf(&nlevents.NexthopEvent{ID: 11, Resilient: true, Group: []nlevents.NexthopMember{{ID: 7, Weight: 1}}}, names))
	require.NoError(t, err)
	assert.JSONEq(t, `{"type":"nexthop","action":"new","id":11,"group":[{"id":7,"weight":1}],"resilient":true}`, string(resilient))
}

func TestJSONNextHopFlagsAreWords(t *testing.T) {
	route := &nlevents.RouteEvent{Family: 2, Dst: netip.MustParsePrefix("192.0.2.0/24"),
		NextHops: []nlevents.NextHop{{Index: 3, Weight: 1, Flags: 0x10}}}
	b, err := json.Marshal(jsonOf(route, func(int) string { return "" }))
	require.NoError(t, err)
	assert.Contains(t, string(b), `"nexthops":[{"oif":3,"weight":1,"flags":"linkdown"}]`)
}

// TestJSONAddressAndRouteFlags checks that JSON carries the flags that
// text lines print, in the same words.
func TestJSONAddressAndRouteFlags(t *testing.T) {
	noName := func(int) string { return "" }
	addr := &nlevents.AddrEvent{Family: 10, Prefix: netip.MustParsePrefix("2001:db8::1/64"), Flags: 0x02 | 0x40 | 0x80}
	b, err := json.Marshal(jsonOf(addr, noName))
	require.NoError(t, err)
	assert.Contains(t, string(b), `"flags":"nodad|tentative"`)

	route := &nlevents.RouteEvent{Family: 2, Dst: netip.MustParsePrefix("192.0.2.0/24"), Flags: 0x10}
	b, err = json.Marshal(jsonOf(route, noName))
	require.NoError(t, err)
	assert.Contains(t, string(b), `"flags":"linkdown"`)
}

func TestOverrunHintFitsTheFlags(t *testing.T) {
	assert.Contains(t, overrunHint(false), "raise -rcvbuf, or add -existing")
	assert.Contains(t, overrunHint(true), "the current state follows again", "-existing resyncs after an overrun")
}
