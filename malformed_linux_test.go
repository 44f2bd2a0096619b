package nlevents

import (
	"reflect"
	"testing"
)

func init() { checkDelivery = compareDelivery }

// compareDelivery feeds data to the subscription loop's delivery path and
// fails the test unless the loop sends exactly the outcomes in want.
func compareDelivery(t *testing.T, data []byte, want []outcome) {
	t.Helper()
	var wantValues []any
	for _, o := range want {
		if o.event != nil {
			wantValues = append(wantValues, o.event)
		} else {
			wantValues = append(wantValues, o.err)
		}
	}

	got := runDeliver(t, data)
	if !reflect.DeepEqual(got, wantValues) {
		t.Fatalf("the loop sent %d values:\n%v\nwant %d:\n%v", len(got), got, len(wantValues), wantValues)
	}
}

// TestMalformedThroughLoop feeds each hand-made datagram to the
// subscription loop's delivery path. The loop must send exactly what
// decodeDatagram returns, the model that the table test and the fuzz
// targets check.
func TestMalformedThroughLoop(t *testing.T) {
	for _, tc := range malformedCases() {
		t.Run(tc.name, func(t *testing.T) {
			compareDelivery(t, tc.data, decodeDatagram(tc.data))
		})
	}
}
