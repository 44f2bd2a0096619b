package nlevents_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"net/netip"
	"strings"
	"time"

	"github.com/nlevents/nlevents"
)

// Subscribe to link and address changes and print them for a minute. Both
// channels close when the context ends, which ends the loop.
func ExampleSubscribe() {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()

	events, errs, err := nlevents.Subscribe(ctx, nlevents.Link|nlevents.Addr)
	if err != nil {
		log.Fatal(err)
	}
	for events != nil || errs != nil {
		select {
		case ev, ok := <-events:
			if !ok {
				events = nil
				continue
			}
			fmt.Println(ev)
		case err, ok := <-errs:
			if !ok {
				errs = nil
				continue
			}
			if errors.Is(err, nlevents.ErrOverrun) {
				log.Println("missed notifications; run with nlevents.WithResync to recover")
				continue
			}
			log.Println(err)
		}
	}
}

// Range over events and errors in one ordered sequence, starting with the
// routes that exist now. Breaking out of the loop ends the subscription.
func ExampleStream() {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()

	for ev, err := range nlevents.Stream(ctx, nlevents.Route, nlevents.WithInitialDump()) {
		if err != nil {
			log.Println(err)
			continue
		}
		if _, ok := ev.(*nlevents.SyncEvent); ok {
			fmt.Println("all existing routes printed")
			break
		}
		fmt.Println(ev)
	}
}

// Handle each kind of event through its own type.
func Example_typeSwitch() {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()

	groups := nlevents.Link | nlevents.Addr | nlevents.Route | nlevents.Neigh | nlevents.Rule
	for ev, err := range nlevents.Stream(ctx, groups) {
		if err != nil {
			log.Println(err)
			continue
		}

		switch e := ev.(type) {
		case *nlevents.LinkEvent:
			fmt.Printf("link %s index %d up %t deleted %t\n", e.Name, e.Index, e.Up(), e.Deleted)
		case *nlevents.BridgePortEvent:
			// Not a link creation or deletion: e.Deleted means that the
			// port left its bridge.
			fmt.Printf("bridge port %s master %d deleted %t\n", e.Name, e.MasterIndex, e.Deleted)
		case *nlevents.AddrEvent:
			fmt.Printf("address %v on %d deleted %t\n", e.Prefix, e.Index, e.Deleted)
		case *nlevents.RouteEvent:
			fmt.Printf("route %v via %v table %d deleted %t\n", e.Dst, e.Gateway, e.Table, e.Deleted)
		case *nlevents.NeighEvent:
			fmt.Printf("neighbour %v lladdr %v %v\n", e.IP, e.HardwareAddr, e.State)
		case *nlevents.RuleEvent:
			fmt.Printf("rule %d lookup %d deleted %t\n", e.Priority, e.Table, e.Deleted)
		default:
			fmt.Println(ev)
		}
	}
}

func ExampleParseGroups() {
	groups, err := nlevents.ParseGroups("link, addr,IPV4-ROUTE")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(groups)
	fmt.Println(groups&nlevents.IPv6Addr != 0)

	// The message goes on with every name that ParseGroups accepts.
	_, err = nlevents.ParseGroups("link,routes")
	problem, _, _ := strings.Cut(err.Error(), ": use")
	fmt.Println(problem)
	// Output:
	// link|ipv4-addr|ipv4-route|ipv6-addr
	// true
	// nlevents: unknown group "routes"
}

func ExampleGroups_String() {
	fmt.Println(nlevents.Link | nlevents.Route)
	fmt.Println(nlevents.Nexthop | nlevents.Groups(1)<<49)
	fmt.Println(nlevents.Groups(0))
	// Output:
	// link|ipv4-route|ipv6-route
	// nexthop|group(50)
	// none
}

// Print an event with link names, as ip monitor does. A program keeps the
// names from the link events it receives.
func ExampleFormat() {
	names := map[int]string{2: "veth0"}
	ev := &nlevents.AddrEvent{Prefix: netip.MustParsePrefix("192.0.2.10/24"), Index: 2}
	fmt.Println(nlevents.Format(ev, func(index int) string { return names[index] }))
	// Output: new addr 192.0.2.10/24 dev veth0 scope global
}
