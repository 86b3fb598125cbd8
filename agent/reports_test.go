package agent

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"
)

// A report sent to a leader that froze (a paused process, a dead container's address swallowing the
// connection) is abandoned as soon as another node leads, not after the request's timeout: the new
// leader's reset of the region waits for those reports (found by `weir chaos --docker --seed 3`, where
// resets after the leader's death took as long as the report's 5 s timeout).
func TestWhileLeadsAbandonsAFrozenLeader(t *testing.T) {
	var leader atomic.Value
	leader.Store("n1")
	go func() {
		time.Sleep(200 * time.Millisecond)
		leader.Store("n2")
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	start := time.Now()
	err := whileLeads(ctx, "n1", func() string { return leader.Load().(string) }, func(ctx context.Context) error {
		<-ctx.Done() // the frozen leader never answers
		return ctx.Err()
	})
	if d := time.Since(start); d > time.Second {
		t.Fatalf("the request to the old leader was abandoned after %s", d.Round(time.Millisecond))
	}
	if err == nil || !errors.Is(err, context.Canceled) {
		t.Fatalf("error %v, want one saying the request was cancelled", err)
	}
	// While the leader stays, the request runs to its end.
	err = whileLeads(context.Background(), "n2", func() string { return "n2" }, func(ctx context.Context) error {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(300 * time.Millisecond):
			return nil
		}
	})
	if err != nil {
		t.Fatalf("a request to a steady leader: %v", err)
	}
}
