package testutil

import (
	"testing"
	"time"
)

// WaitFunc polls cond until it holds, and fails the test, naming what it waited for, once d has passed.
type WaitFunc func(t testing.TB, d time.Duration, what string, cond func() bool)

// Waiter returns a WaitFunc that polls every interval: a millisecond for conditions read from memory,
// tens of milliseconds for ones that ask another process. Tests poll with a deadline; they never sleep a
// fixed time and hope.
func Waiter(interval time.Duration) WaitFunc {
	return func(t testing.TB, d time.Duration, what string, cond func() bool) {
		t.Helper()
		deadline := time.Now().Add(d)
		for !cond() {
			if time.Now().After(deadline) {
				t.Fatalf("timed out after %s waiting for %s", d, what)
			}
			time.Sleep(interval)
		}
	}
}
