package apply

import (
	"context"
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// absurdJSON returns descriptions a generator gone wrong could write.
func absurdJSON() map[string]struct{ json, field string } {
	var addrs, routes []string
	for i := 0; i < 1000; i++ {
		addrs = append(addrs, fmt.Sprintf(`"2001:db8:%x::1/64"`, i))
		routes = append(routes, fmt.Sprintf(`{"destination": "2001:db8:%x::/64"}`, i))
	}
	return map[string]struct{ json, field string }{
		"mtu 0":             {`{"name": "va", "mtu": 0}`, "mtu"},
		"mtu 2^32":          {`{"name": "va", "mtu": 4294967296}`, "mtu"},
		"mtu 2^64":          {`{"name": "va", "mtu": 18446744073709551616}`, "mtu"},
		"negative mtu":      {`{"name": "va", "mtu": -1500}`, "mtu"},
		"1000 addresses":    {`{"name": "va", "addresses": [` + strings.Join(addrs, ",") + `]}`, "addresses"},
		"1000 routes":       {`{"name": "va", "routes": [` + strings.Join(routes, ",") + `]}`, "routes"},
		"16-byte name":      {`{"name": "abcdefghijklmnop", "mtu": 1400}`, "name"},
		"unknown field":     {`{"name": "va", "mtu": 1400, "speed": 1000}`, "speed"},
		"mtu as a string":   {`{"name": "va", "mtu": "1400"}`, "mtu"},
		"state as a number": {`{"name": "va", "state": 1}`, "state"},
	}
}

func TestIntegrationAbsurdJSONChangesNothing(t *testing.T) {
	ns := newVethNS(t)
	for name, tc := range absurdJSON() {
		t.Run(name, func(t *testing.T) {
			before := takeSnapshot(t, ns, "va")

			spec, err := Decode(strings.NewReader(tc.json))
			if err == nil {
				// Decoding may accept a value that only validation rejects.
				_, err = Apply(context.Background(), spec, WithNetNSPath(ns.Path))
			}
			require.ErrorIs(t, err, ErrInvalidSpec)
			var specErr *SpecError
			require.ErrorAs(t, err, &specErr)
			assert.Equal(t, tc.field, specErr.Field, "error: %v", err)
			assert.Contains(t, err.Error(), tc.field)
			assert.Less(t, len(err.Error()), 400, "the error must stay readable: %v", err)
			assert.Equal(t, before, takeSnapshot(t, ns, "va"), "the link changed")
		})
	}
}

func TestInvalidNamespaceOptionsRejected(t *testing.T) {
	spec := Link{Name: "lo", MTU: 1400}
	cases := map[string][]Option{
		"negative fd": {WithNetNS(-1)},
		"empty path":  {WithNetNSPath("")},
	}
	for name, opts := range cases {
		t.Run(name, func(t *testing.T) {
			// Plan only reads, so even a fall back to the host's own
			// namespace would change nothing; it must fail all the same.
			changes, err := Plan(context.Background(), spec, opts...)
			require.Error(t, err)
			assert.Empty(t, changes)
			assert.Contains(t, err.Error(), "network namespace")
		})
	}
}

func TestIntegrationNotANamespaceNamed(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("entering a network namespace needs root (CAP_SYS_ADMIN)")
	}
	path := t.TempDir() + "/not-a-namespace"
	require.NoError(t, os.WriteFile(path, nil, 0o644))

	_, err := Plan(context.Background(), Link{Name: "va", MTU: 1400}, WithNetNSPath(path))
	require.Error(t, err)
	assert.Contains(t, err.Error(), path)
	assert.Contains(t, err.Error(), "not a network namespace")
}
