package nlevents

import (
	"testing"

	"github.com/mdlayher/netlink"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestParseGroupsReadsString(t *testing.T) {
	for _, g := range []Groups{Link, Link | IPv4Addr, Route | Nexthop | IPv6ACAddr, AllGroups} {
		parsed, err := ParseGroups(g.String())
		require.NoError(t, err, "parse %q", g.String())
		assert.Equal(t, g, parsed, "round trip of %q", g.String())
	}
}

func TestParseGroupsAliasesAndErrors(t *testing.T) {
	g, err := ParseGroups(" Link , addr|RULE ")
	require.NoError(t, err)
	assert.Equal(t, Link|IPv4Addr|IPv6Addr|IPv4Rule|IPv6Rule, g)

	_, err = ParseGroups("link,bogus")
	assert.ErrorContains(t, err, `unknown group "bogus"`)
	assert.ErrorContains(t, err, "use one of addr, all, route, rule, link, notify, neigh, tc, ipv4-addr,", "the error lists the names")
	assert.ErrorContains(t, err, "ipv6-acaddr")
	_, err = ParseGroups(",|")
	assert.ErrorContains(t, err, "names no group")

	g, err = ParseGroups("link,,addr,")
	require.NoError(t, err, "empty names are skipped")
	assert.Equal(t, Link|IPv4Addr|IPv6Addr, g)

	// String prints these for groups that Subscribe rejects.
	_, err = ParseGroups("none")
	assert.ErrorContains(t, err, `unknown group "none"`)
	_, err = ParseGroups("link|group(50)")
	assert.ErrorContains(t, err, `unknown group "group(50)"`)
}

func TestGroupsStringUnknownBits(t *testing.T) {
	assert.Equal(t, "link|group(50)", (Link | 1<<49).String())
	assert.Equal(t, "none", Groups(0).String())
	assert.Equal(t, Groups(1<<49), (Link | 1<<49).Unknown())
}

func TestIsDeleteFollowsTypeNumbering(t *testing.T) {
	deletes := map[netlink.HeaderType]bool{
		rtmNewLink: false, rtmDelLink: true, rtmGetLink: false,
		rtmDelAddr: true, rtmDelRoute: true, rtmDelNeigh: true, rtmDelRule: true,
		37: true, // RTM_DELQDISC
		57: true, // RTM_DELMULTICAST
		56: false, nlmsgDone: false, nlmsgError: false,
	}
	for typ, want := range deletes {
		assert.Equal(t, want, isDelete(typ), "type %d (%s)", typ, messageTypeName(typ))
	}
}

func TestMessageTypeNames(t *testing.T) {
	assert.Equal(t, "RTM_DELMULTICAST", Info{Header: netlink.Header{Type: 57}}.MessageType())
	assert.Equal(t, "type(999)", Info{Header: netlink.Header{Type: 999}}.MessageType())
	assert.Equal(t, "", (&SyncEvent{}).EventInfo().MessageType(), "a marker has no message")
}
