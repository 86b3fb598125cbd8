package watch

import (
	"context"
	"sync/atomic"
	"time"
)

// While returns a context derived from ctx that is also cancelled once holds, polled every interval,
// returns false, and a stop function that releases the watch and reports whether that happened. Stop must
// be called once the work is done (again is harmless); the context is cancelled by then.
//
// Polling, not notification: the conditions watched (who leads, where a PE is placed) are read from state
// that offers no change feed, and the work they end takes seconds when left alone, so tens of
// milliseconds of delay are of no concern.
func While(ctx context.Context, interval time.Duration, holds func() bool) (context.Context, func() (ended bool)) {
	ctx, cancel := context.WithCancel(ctx)
	var ended atomic.Bool
	done := make(chan struct{})
	go func() {
		defer close(done)
		tick := time.NewTicker(interval)
		defer tick.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
			if !holds() {
				ended.Store(true)
				cancel()
				return
			}
		}
	}()
	return ctx, func() bool {
		cancel()
		<-done
		return ended.Load()
	}
}
