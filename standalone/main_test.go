package standalone

import (
	"testing"

	"go.uber.org/goleak"
)

// Every goroutine a job starts must end when the job ends or is stopped.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}
