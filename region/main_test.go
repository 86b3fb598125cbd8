package region

import (
	"testing"
	"time"

	"github.com/weirstream/weir/internal/testutil"
	"go.uber.org/goleak"
)

// TestMain fails the package's tests if any goroutine (a coordinator's loop, a permit waiter) outlives them.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

var waitFor = testutil.Waiter(time.Millisecond)
