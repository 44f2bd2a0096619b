package main

import (
	"context"
	"fmt"

	"github.com/nlevents/nlevents"
)

// linkNames maps the index of each link in the watched namespace to its
// name, so that output prints "dev veth0", as ip monitor does, and not
// "dev 3". The names come from a dump of the links, read before the
// monitor's own subscription starts, and then from link events.
//
// A link created between that dump and the subscription is in neither, so
// an unknown index above the highest known one reads the names again. The
// kernel numbers a namespace's new links upward and announces each before
// most events that refer to it: a new bridge's own FDB entry comes first,
// and costs a reading that finds the name. An unknown index at or below the
// highest is taken as a link that is gone.
//
// NOTE: a link created in the gap with an explicit index (ip link add ...
// index N), or moved in from another namespace, can have a lower index; it
// stays a number until its next link event.
type linkNames struct {
	byIndex map[int]string
	highest int // the highest index known, or looked for

	// reload reads the current names, and err keeps its last failure
	// until the printer reports it.
	reload func() (map[int]string, error)
	err    error
}

// newLinkNames returns names that start from byIndex and read them again
// with reload.
func newLinkNames(byIndex map[int]string, reload func() (map[int]string, error)) *linkNames {
	n := &linkNames{byIndex: byIndex, reload: reload}
	for index := range byIndex {
		n.highest = max(n.highest, index)
	}
	return n
}

// name returns the link's name, or "" when it is not known.
func (n *linkNames) name(index int) string {
	if name, ok := n.byIndex[index]; ok || index <= n.highest || n.reload == nil {
		return name
	}

	// Look for this index once: whatever the dump finds, later misses at
	// or below it are links that are gone.
	n.highest = index
	fresh, err := n.reload()
	if err != nil {
		n.err = fmt.Errorf("nlevents: failed to read link names, so lines show link %d as a number: %w", index, err)
		return ""
	}
	for i, name := range fresh {
		n.byIndex[i] = name
		n.highest = max(n.highest, i)
	}
	return n.byIndex[index]
}

// update records the name in a link event, and removes a deleted link.
func (n *linkNames) update(ev nlevents.Event) {
	link, ok := ev.(*nlevents.LinkEvent)
	switch {
	case !ok:
		return
	case link.Deleted:
		delete(n.byIndex, link.Index)
	case link.Name != "":
		n.byIndex[link.Index] = link.Name
	}
	n.highest = max(n.highest, link.Index)
}

// takeErr returns the failure of the last reload, once.
func (n *linkNames) takeErr() error {
	if n == nil {
		return nil
	}
	err := n.err
	n.err = nil
	return err
}

// loadLinkNames reads the names of the links that exist now, with a dump
// of the links alone; opts name the namespace.
func loadLinkNames(ctx context.Context, opts []nlevents.Option) (map[int]string, error) {
	names := map[int]string{}
	opts = append(opts[:len(opts):len(opts)], nlevents.WithInitialDump())
	for ev, err := range nlevents.Stream(ctx, nlevents.Link, opts...) {
		if err != nil {
			if recoverable(err) {
				continue
			}
			return nil, err
		}
		if _, ok := ev.(*nlevents.SyncEvent); ok {
			break
		}
		if link, ok := ev.(*nlevents.LinkEvent); ok && !link.Deleted {
			names[link.Index] = link.Name
		}
	}
	return names, nil
}
