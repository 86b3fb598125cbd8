package bench

import (
	"testing"

	"go.uber.org/goleak"
)

// A scenario leaves no goroutine behind: every job it starts ends, and so does the baseline's reader.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}
