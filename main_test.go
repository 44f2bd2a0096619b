package nlevents_test

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the package's tests if any goroutine outlives them, which
// catches a subscription whose loop did not end after cancellation.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}
