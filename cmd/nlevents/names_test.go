package main

import (
	"errors"
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/nlevents/nlevents"
)

// TestLinkNamesReloadOnlyAboveHighest checks when the names are read
// again: for an unknown index above every index seen, once per index, and
// never for an unknown index below, which is a link that is gone.
func TestLinkNamesReloadOnlyAboveHighest(t *testing.T) {
	current := map[int]string{1: "lo", 2: "va", 5: "br0"}
	reloads := 0
	names := newLinkNames(map[int]string{1: "lo", 2: "va"}, func() (map[int]string, error) {
		reloads++
		return current, nil
	})

	assert.Equal(t, "va", names.name(2))
	assert.Equal(t, "", names.name(3), "index 3 is above the highest known, 2, and not in the reload")
	assert.Equal(t, 1, reloads, "an unknown index above the highest reads the names")
	assert.Equal(t, "br0", names.name(5), "the reload found index 5")
	assert.Equal(t, 1, reloads, "a name found by the reload needs no other")

	assert.Equal(t, "", names.name(4), "index 4 is below 5: a link that is gone")
	assert.Equal(t, "", names.name(3))
	assert.Equal(t, 1, reloads, "an index at or below the highest is never read again")

	assert.Equal(t, "", names.name(9))
	assert.Equal(t, "", names.name(9))
	assert.Equal(t, 2, reloads, "each index above the highest is looked for once")
}

func TestLinkNamesFollowLinkEvents(t *testing.T) {
	names := newLinkNames(map[int]string{1: "lo"}, func() (map[int]string, error) {
		t.Fatal("no index here is unknown and above the highest")
		return nil, nil
	})

	names.update(&nlevents.LinkEvent{Index: 7, Name: "vb"})
	assert.Equal(t, "vb", names.name(7))

	names.update(&nlevents.LinkEvent{Info: nlevents.Info{Deleted: true}, Index: 7, Name: "vb"})
	assert.Equal(t, "", names.name(7), "a deleted link's name is forgotten")
	assert.Equal(t, "", names.name(6), "6 is below the highest index a link event showed")
}

func TestLinkNamesReportReloadFailureOnce(t *testing.T) {
	failure := errors.New("no such namespace")
	names := newLinkNames(map[int]string{}, func() (map[int]string, error) { return nil, failure })

	assert.Equal(t, "", names.name(3))
	err := names.takeErr()
	assert.ErrorIs(t, err, failure)
	assert.ErrorContains(t, err, "failed to read link names, so lines show link 3 as a number")
	assert.NoError(t, names.takeErr(), "a failure is reported once")

	var none *linkNames
	assert.NoError(t, none.takeErr(), "a printer without names has no failure")
}
