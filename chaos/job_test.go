package chaos

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/weirstream/weir/standalone"
	"github.com/weirstream/weir/topology"
)

// The verification job, run in one process with resets injected, produces what the checks expect: its
// outputs pass them.
func TestJobPassesTheChecksWithResets(t *testing.T) {
	const count, keys = 20000, 7
	out := t.TempDir()
	jobs := topology.NewJobs()
	Register(jobs)
	params := JobParams{Count: count, Rate: 20000, Keys: keys, Width: 3, Period: 50 * time.Millisecond, Out: out}.Map()
	topo, plan, err := jobs.Build(JobName, params)
	if err != nil {
		t.Fatal(err)
	}
	j, err := standalone.Start(standalone.Options{Plan: plan, Binding: topo, InjectResets: 4, Seed: 3})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := j.Wait(ctx); err != nil {
		t.Fatal(err)
	}
	if rs := j.Regions(); len(rs) != 1 || rs[0].Resets < 4 {
		t.Fatalf("regions %+v: want one region reset at least 4 times", rs)
	}
	eo, err := ReadEO(filepath.Join(out, "eo"), count, keys)
	if err != nil {
		t.Fatal(err)
	}
	alo, err := ReadALO(filepath.Join(out, "alo"), count)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []Check{NothingLost(alo, count), ExactlyOnce(eo, count), PerKeyState(eo, count, keys)} {
		if !c.Pass {
			t.Errorf("%s: %s", c.Name, c.Detail)
		}
		t.Logf("%s: %s", c.Name, c.Detail)
	}
}

// Expected is the state a key's running count and sum reach.
func TestExpected(t *testing.T) {
	s := &KeyState{keys: 5}
	for v := 0; v < 100; v++ {
		got, _ := s.Map(v)
		if want := Expected(v, 5); got != want {
			t.Fatalf("v=%d: %+v, want %+v", v, got, want)
		}
	}
}

// The source paces itself on the schedule it started: behind it (after a replay) it catches up at once.
func TestSequencePacing(t *testing.T) {
	s := &Sequence{Count: 1000, Rate: 1000}
	start := time.Now()
	for range 100 {
		if _, ok, _ := s.Next(); !ok {
			t.Fatal("exhausted early")
		}
	}
	if d := time.Since(start); d < 80*time.Millisecond {
		t.Fatalf("100 values at 1000/s in %s", d)
	}
	s.Start -= int64(time.Second) // a second behind: 1000 values are overdue
	start = time.Now()
	for range 800 {
		s.Next()
	}
	if d := time.Since(start); d > 500*time.Millisecond {
		t.Fatalf("800 overdue values took %s", d)
	}
}
