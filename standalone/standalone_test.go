package standalone

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/weirstream/weir/topology"
)

// counterIter counts 0 … N-1; its position is its state.
type counterIter struct {
	N, Pos int
}

func (c *counterIter) Next() (int, bool, error) {
	if c.Pos >= c.N {
		return 0, false, nil
	}
	v := c.Pos
	c.Pos++
	return v, true, nil
}

// verifyOrder fails on any value that is not the next one.
type verifyOrder struct {
	Expected int
	failures *atomic.Int64
}

func (v *verifyOrder) Consume(x int) error {
	if x != v.Expected {
		v.failures.Add(1)
		return fmt.Errorf("expected %d, got %d", v.Expected, x)
	}
	v.Expected++
	return nil
}

func testLogger(t *testing.T) *slog.Logger {
	return slog.New(slog.NewTextHandler(tWriter{t}, &slog.HandlerOptions{Level: slog.LevelInfo}))
}

type tWriter struct{ t *testing.T }

func (w tWriter) Write(b []byte) (int, error) { w.t.Log(string(b)); return len(b), nil }

func TestConsistentRegionSurvivesInjectedResets(t *testing.T) {
	var failures atomic.Int64
	topo := topology.New("crsample")
	s := topology.SourceOf[int](topo, &counterIter{N: 20000})
	s.SetConsistent(topology.Periodic(20 * time.Millisecond))
	s.Sink(&verifyOrder{failures: &failures})
	plan, err := topo.Plan()
	if err != nil {
		t.Fatal(err)
	}
	j, err := Start(Options{Plan: plan, Binding: topo, InjectResets: 5, Seed: 1, Logger: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := j.Wait(ctx); err != nil {
		t.Fatal(err)
	}
	st := j.Regions()[0]
	t.Logf("status %+v", st)
	if st.Resets < 5 {
		t.Fatalf("resets = %d, want at least 5", st.Resets)
	}
	if failures.Load() != 0 {
		t.Fatalf("verifier saw %d values out of order", failures.Load())
	}
}

type collect struct {
	mu  sync.Mutex
	got map[int]int
}

func (c *collect) add(v int) { c.mu.Lock(); c.got[v]++; c.mu.Unlock() }

func TestParallelHashJob(t *testing.T) {
	c := &collect{got: map[int]int{}}
	topo := topology.New("par")
	s := topology.SourceOf[int](topo, &counterIter{N: 10000})
	p := s.Parallel(4, topology.HashBy(func(v int) int { return v % 13 }))
	m := topology.Map(p, func(v int) int { return v * 2 })
	m.EndParallel().ForEach(c.add)
	plan, err := topo.Plan()
	if err != nil {
		t.Fatal(err)
	}
	j, err := Start(Options{Plan: plan, Binding: topo, Logger: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := j.Wait(ctx); err != nil {
		t.Logf("stats %+v", j.Stats())
		t.Fatal(err)
	}
	if len(c.got) != 10000 {
		t.Fatalf("got %d distinct values, want 10000", len(c.got))
	}
	for v, n := range c.got {
		if n != 1 || v%2 != 0 {
			t.Fatalf("value %d seen %d times", v, n)
		}
	}
	t.Logf("stats %+v", j.Stats())
}
