package testutil

import (
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// fakeTB records a failure instead of ending the goroutine, so that a timeout can be observed.
type fakeTB struct {
	testing.TB
	failed string
}

func (f *fakeTB) Helper() {}
func (f *fakeTB) Fatalf(format string, args ...any) {
	f.failed = format
	panic(f)
}

func TestWaiterReturnsOnceTheConditionHolds(t *testing.T) {
	var n atomic.Int32
	Waiter(time.Millisecond)(t, 10*time.Second, "three polls", func() bool { return n.Add(1) >= 3 })
	if n.Load() != 3 {
		t.Fatalf("polled %d times, want 3", n.Load())
	}
}

func TestWaiterFailsAtTheDeadline(t *testing.T) {
	f := &fakeTB{}
	func() {
		defer func() {
			if r := recover(); r != f {
				panic(r)
			}
		}()
		Waiter(time.Millisecond)(f, 20*time.Millisecond, "never", func() bool { return false })
	}()
	if !strings.Contains(f.failed, "timed out") {
		t.Fatalf("a condition that never holds did not fail the test (%q)", f.failed)
	}
}
