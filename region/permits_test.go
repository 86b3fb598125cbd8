package region

import (
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// holders counts permits actually held, to check Block's promise from outside.
type holders struct{ n atomic.Int64 }

func TestPermitsManyHolders(t *testing.T) {
	p := NewPermits()
	var h holders
	var wg sync.WaitGroup
	for range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 500 {
				if err := p.Acquire(); err != nil {
					t.Errorf("Acquire: %v", err)
					return
				}
				h.n.Add(1)
				h.n.Add(-1)
				p.Release()
			}
		}()
	}
	wg.Wait()
	// Any number may hold at once.
	for range 10 {
		if err := p.Acquire(); err != nil {
			t.Fatal(err)
		}
	}
	for range 10 {
		p.Release()
	}
	if !p.Block() {
		t.Fatal("Block failed")
	}
	p.Unblock()
}

func TestPermitsBlockExcludesHolders(t *testing.T) {
	// Submitters acquire and release in a loop while a coordinator blocks and unblocks: whenever Block has
	// returned, nobody holds a permit until Unblock.
	p := NewPermits()
	var h holders
	var blocked atomic.Bool
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				if err := p.Acquire(); err != nil {
					t.Errorf("Acquire: %v", err)
					return
				}
				h.n.Add(1)
				if blocked.Load() {
					t.Error("a permit was granted while blocked")
				}
				h.n.Add(-1)
				p.Release()
			}
		}()
	}
	for range 200 {
		if !p.Block() {
			t.Fatal("Block failed")
		}
		blocked.Store(true)
		if n := h.n.Load(); n != 0 {
			t.Fatalf("%d permits held after Block", n)
		}
		blocked.Store(false)
		p.Unblock()
	}
	close(stop)
	wg.Wait()
}

func TestPermitsBlockWaitsForHolders(t *testing.T) {
	p := NewPermits()
	if err := p.Acquire(); err != nil {
		t.Fatal(err)
	}
	if err := p.Acquire(); err != nil {
		t.Fatal(err)
	}
	blockDone := make(chan bool)
	go func() { blockDone <- p.Block() }()
	// New acquirers wait once Block has started, even though permits are still held.
	waitFor(t, 5*time.Second, "Block to start", func() bool {
		p.mu.Lock()
		defer p.mu.Unlock()
		return p.blocked
	})
	acquired := make(chan error)
	go func() { acquired <- p.Acquire() }()
	p.Release()
	select {
	case <-blockDone:
		t.Fatal("Block returned while a permit was held")
	case err := <-acquired:
		t.Fatalf("Acquire returned (%v) while blocked", err)
	case <-time.After(20 * time.Millisecond): // a negative check: nothing may happen
	}
	p.Release()
	if !<-blockDone {
		t.Fatal("Block failed")
	}
	select {
	case err := <-acquired:
		t.Fatalf("Acquire returned (%v) before Unblock", err)
	case <-time.After(20 * time.Millisecond):
	}
	p.Unblock()
	if err := <-acquired; err != nil {
		t.Fatal(err)
	}
	p.Release()
}

func TestPermitsStopReleasesWaiters(t *testing.T) {
	p := NewPermits()
	if err := p.Acquire(); err != nil {
		t.Fatal(err)
	}
	blockDone := make(chan bool)
	go func() { blockDone <- p.Block() }()
	waitFor(t, 5*time.Second, "Block to start", func() bool {
		p.mu.Lock()
		defer p.mu.Unlock()
		return p.blocked
	})
	errs := make(chan error, 4)
	for range 4 {
		go func() { errs <- p.Acquire() }()
	}
	p.Stop()
	if <-blockDone {
		t.Fatal("Block reported success after Stop")
	}
	for range 4 {
		if err := <-errs; !errors.Is(err, ErrStopped) {
			t.Fatalf("waiting Acquire: %v", err)
		}
	}
	// Later calls fail at once; releasing the permit still held is harmless.
	if err := p.Acquire(); !errors.Is(err, ErrStopped) {
		t.Fatalf("Acquire after Stop: %v", err)
	}
	p.Release()
	if p.Block() {
		t.Fatal("Block after Stop succeeded")
	}
	p.Unblock()
	if err := p.Acquire(); !errors.Is(err, ErrStopped) {
		t.Fatalf("Acquire after Stop and Unblock: %v", err)
	}
	p.Stop() // twice is harmless
}

func TestPermitsStopWithoutBlock(t *testing.T) {
	p := NewPermits()
	p.Stop()
	if err := p.Acquire(); !errors.Is(err, ErrStopped) {
		t.Fatalf("Acquire: %v", err)
	}
}

func TestPermitsUnbalancedReleaseIsCountedNotFatal(t *testing.T) {
	p := NewPermits()
	p.Release() // an operator bug: no permit held
	if p.OverReleased() != 1 {
		t.Fatalf("over-releases = %d, want 1", p.OverReleased())
	}
	// The count did not go negative: Block still waits for a real holder.
	if err := p.Acquire(); err != nil {
		t.Fatal(err)
	}
	done := make(chan bool)
	go func() { done <- p.Block() }()
	select {
	case <-done:
		t.Fatal("Block returned while a permit was held")
	case <-time.After(20 * time.Millisecond):
	}
	p.Release()
	if !<-done {
		t.Fatal("Block failed after the holder released")
	}
}

func TestPermitsExtraReleaseAfterStopIsIgnored(t *testing.T) {
	// A submitter whose Acquire failed at shutdown and releases anyway must not crash the process.
	p := NewPermits()
	p.Stop()
	if err := p.Acquire(); !errors.Is(err, ErrStopped) {
		t.Fatalf("Acquire: %v", err)
	}
	p.Release()
	p.Release()
}

func TestPermitsUnblockWithoutBlock(t *testing.T) {
	p := NewPermits()
	p.Unblock()
	if err := p.Acquire(); err != nil {
		t.Fatal(err)
	}
	p.Release()
}
