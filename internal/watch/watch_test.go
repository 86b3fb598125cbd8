package watch

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestWhileEndsWhenTheConditionStopsHolding(t *testing.T) {
	var holds atomic.Bool
	holds.Store(true)
	ctx, stop := While(context.Background(), time.Millisecond, holds.Load)
	holds.Store(false)
	select {
	case <-ctx.Done():
	case <-time.After(10 * time.Second):
		t.Fatal("the context was not cancelled when the condition stopped holding")
	}
	if !stop() {
		t.Fatal("stop does not report that the condition ended the watch")
	}
}

func TestWhileStoppedWhileTheConditionHolds(t *testing.T) {
	parent, cancel := context.WithCancel(context.Background())
	ctx, stop := While(parent, time.Millisecond, func() bool { return true })
	cancel() // the parent's end ends the watch too, and is not the condition's doing
	<-ctx.Done()
	if stop() {
		t.Fatal("stop reports the condition ended the watch; the parent did")
	}
	ctx, stop = While(context.Background(), time.Millisecond, func() bool { return true })
	if stop() {
		t.Fatal("stop reports the condition ended a watch it never ended")
	}
	if ctx.Err() == nil {
		t.Fatal("the context outlives stop")
	}
}
