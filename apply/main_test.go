package apply

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the package's tests if any goroutine outlives them, which
// catches an Enforce whose goroutine, or whose subscription's, did not end.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}
