package main

import (
	"context"

	"github.com/nlevents/nlevents"
)

// linkNames maps the index of each link in the watched namespace to its
// name, so that text output prints "dev veth0", as ip monitor does, and not
// "dev 3".
type linkNames map[int]string

// name returns the link's name, or "" when it is not known.
func (n linkNames) name(index int) string { return n[index] }

// update records the name in a link event, and removes a deleted link.
func (n linkNames) update(ev nlevents.Event) {
	link, ok := ev.(*nlevents.LinkEvent)
	switch {
	case !ok:
	case link.Deleted:
		delete(n, link.Index)
	case link.Name != "":
		n[link.Index] = link.Name
	}
}

// loadLinkNames reads the names of the links that exist now, with a dump
// of the links alone. A link that appears after this dump and before the
// monitor's own subscription starts is shown by index until its next link
// event.
func loadLinkNames(ctx context.Context, opts []nlevents.Option) (linkNames, error) {
	names := linkNames{}
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
		names.update(ev)
	}
	return names, nil
}
