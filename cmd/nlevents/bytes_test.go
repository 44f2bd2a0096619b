package main

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestParseBytesSuffixes(t *testing.T) {
	cases := map[string]int{
		"4194304": 4194304,
		"4096K":   4 << 20,
		"4096k":   4 << 20,
		"32M":     32 << 20,
		"1G":      1 << 30,
		"-1":      -1, // rejected later, with the range in the message
	}
	for value, want := range cases {
		got, err := parseBytes(value)
		require.NoError(t, err, "parseBytes(%q)", value)
		assert.Equal(t, want, got, "parseBytes(%q)", value)
	}

	for _, value := range []string{"", "K", "lots", "2G", "1.5M", "4 M"} {
		_, err := parseBytes(value)
		assert.Error(t, err, "parseBytes(%q)", value)
	}
}
