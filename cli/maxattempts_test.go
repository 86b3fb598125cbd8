package cli

import (
	"bytes"
	"errors"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/weirstream/weir/topology"
)

// countTo counts 0 … N-1; its position is its state.
type countTo struct{ N, Pos int }

func (c *countTo) Next() (int, bool, error) {
	if c.Pos >= c.N {
		return 0, false, nil
	}
	c.Pos++
	return c.Pos - 1, true, nil
}

// syncBuffer is a bytes.Buffer safe to read while a command writes it.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}
func (s *syncBuffer) String() string { s.mu.Lock(); defer s.mu.Unlock(); return s.b.String() }

// A region that keeps failing stops in maximum_attempts_reached; with --wait-on-max-attempts the job waits
// there, and a forced reset brings it back with a fresh set of attempts.
func TestForcedResetLeavesMaximumAttempts(t *testing.T) {
	var failing atomic.Bool
	failing.Store(true)
	jobs := topology.NewJobs()
	jobs.Register("stubborn", func(p *topology.Params) *topology.Topology {
		topo := topology.New("stubborn")
		c := topology.Periodic(20 * time.Millisecond)
		c.MaxConsecutiveAttempts = 2
		s := topology.SourceOf[int](topo, &countTo{N: 1000})
		s.SetConsistent(c)
		s.ForEach(func(int) {
			if failing.Load() {
				panic(errors.New("not yet"))
			}
		})
		return topo
	})
	var out, errb syncBuffer
	force := make(chan struct{})
	done := make(chan int)
	go func() {
		done <- Run(&Env{Stdout: &out, Stderr: &errb, Jobs: jobs, ForceReset: force},
			[]string{"weir", "run", "stubborn", "--wait-on-max-attempts", "--progress", "10ms"})
	}()
	deadline := time.Now().Add(20 * time.Second)
	for !strings.Contains(errb.String(), "maximum_attempts_reached") {
		if time.Now().After(deadline) {
			t.Fatalf("the region never stopped on its attempts:\n%s", errb.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
	failing.Store(false)
	force <- struct{}{}
	select {
	case code := <-done:
		if code != 0 || !strings.Contains(errb.String(), "forcing a reset of consistent region 0") {
			t.Fatalf("exit %d:\n%s", code, errb.String())
		}
	case <-time.After(20 * time.Second):
		t.Fatalf("the job did not finish after the forced reset:\n%s", errb.String())
	}
}
