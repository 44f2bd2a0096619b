package apply_test

import (
	"context"
	"fmt"
	"log"
	"net/netip"
	"os"
	"os/signal"
	"strings"

	"github.com/nlevents/nlevents/apply"
)

// This example brings veth0 up with an MTU of 9000, one address and a
// default route, prints what it changed, then keeps the link that way until
// interrupted. It needs Linux and CAP_NET_ADMIN, so it has no output to
// check.
func Example() {
	spec := apply.Link{
		Name:      "veth0",
		State:     apply.StateUp,
		MTU:       9000,
		Addresses: []netip.Prefix{netip.MustParsePrefix("192.0.2.10/24")},
		Routes: []apply.Route{{
			Destination: netip.MustParsePrefix("0.0.0.0/0"),
			Gateway:     netip.MustParseAddr("192.0.2.1"),
		}},
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()

	changes, err := apply.Apply(ctx, spec)
	if err != nil {
		log.Fatal(err) // an *apply.ApplyError when the kernel rejected a change
	}
	fmt.Println(changes) // "no changes" when veth0 was already so

	corrections, errs, err := apply.Enforce(ctx, spec)
	if err != nil {
		log.Fatal(err)
	}
	for corrections != nil || errs != nil {
		select {
		case c, ok := <-corrections:
			if !ok {
				corrections = nil
				continue
			}
			fmt.Println(c)
		case err, ok := <-errs:
			if !ok {
				errs = nil
				continue
			}
			log.Println(err)
		}
	}
}

// Decode reads a description from JSON and reports mistakes with the
// field's name.
func ExampleDecode() {
	_, err := apply.Decode(strings.NewReader(`{"name": "veth0", "mtu": 9000, "addresses": ["192.0.2.300/24"]}`))
	fmt.Println(err)
	// Output: apply: invalid addresses[0] "192.0.2.300/24": not an address with a prefix length such as 192.0.2.10/24 or 2001:db8::10/64
}
