package nlevents

import (
	"reflect"
	"testing"
)

// TestMalformedThroughLoop feeds each hand-made datagram to the
// subscription loop's delivery path. The loop must send exactly what
// decodeDatagram returns, the model that the table test and the fuzz
// targets check.
func TestMalformedThroughLoop(t *testing.T) {
	for _, tc := range malformedCases() {
		t.Run(tc.name, func(t *testing.T) {
			var want []any
			for _, o := range decodeDatagram(tc.data) {
				if o.event != nil {
					want = append(want, o.event)
				} else {
					want = append(want, o.err)
				}
			}

			got := runDeliver(t, tc.data)
			if !reflect.DeepEqual(got, want) {
				t.Errorf("the loop sent %d values:\n%v\nwant %d:\n%v", len(got), got, len(want), want)
			}
		})
	}
}
