package standalone

import (
	"context"
	"errors"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/weirstream/weir/region"
	"github.com/weirstream/weir/topology"
)

// plainJob is src → mid → sink without a consistent region; isolate puts mid and sink in PEs of their own.
func plainJob(f *Faults, n int, isolate bool) *topology.Topology {
	var opts []topology.Option
	if isolate {
		opts = append(opts, topology.Isolate())
	}
	topo := topology.New("plain")
	s := topology.SourceOf[rec](topo, &recSrc{N: n, probe: probe{f: f}}, topology.Name("src"))
	m := topology.MapOf[rec, rec](s, &passMap{probe: probe{f: f}}, append(opts, topology.Name("mid"))...)
	m.Sink(newVerifySink(1, f, newVerdict()), append(opts, topology.Name("sink"))...)
	return topo
}

// Outside a consistent region nothing can replay: a failure fails the job, naming the operator.
func TestFailureWithoutRegion(t *testing.T) {
	cases := []struct {
		name  string
		rule  Rule
		wants []string
	}{
		{"middle error", Rule{Op: "mid", At: AtProcess, Nth: 500}, []string{"mid", "injected failure"}},
		{"middle panic", Rule{Op: "mid", At: AtProcess, Nth: 500, Do: Panic}, []string{"mid", "injected panic", "goroutine", "passMap"}},
		{"sink panic", Rule{Op: "sink", At: AtProcess, Nth: 500, Do: Panic}, []string{"sink", "injected panic", "verifySink"}},
		{"source error", Rule{Op: "src", At: AtNext, Nth: 500}, []string{"src", "injected failure"}},
		{"source panic", Rule{Op: "src", At: AtNext, Nth: 500, Do: Panic}, []string{"src", "injected panic", "recSrc"}},
		{"open error", Rule{Op: "sink", At: AtOpen}, []string{"sink", "open", "injected failure"}},
		{"open panic", Rule{Op: "mid", At: AtOpen, Do: Panic}, []string{"mid", "open", "injected panic"}},
	}
	for _, c := range cases {
		for _, isolate := range []bool{false, true} {
			name := c.name + map[bool]string{false: "/fused", true: "/isolated"}[isolate]
			t.Run(strings.ReplaceAll(name, " ", "_"), func(t *testing.T) {
				f := newFaults(c.rule)
				_, err := run(t, plainJob(f, 5000, isolate), Options{}, 30*time.Second)
				if err == nil {
					t.Fatal("the job succeeded")
				}
				t.Logf("error: %.300s", err)
				for _, w := range c.wants {
					if !strings.Contains(err.Error(), w) {
						t.Errorf("error does not mention %q", w)
					}
				}
			})
		}
	}
}

// A panic downstream of a Generator happens on one of the generator's goroutines: it still fails the job,
// blaming the operator that panicked, with its stack.
func TestGeneratorDownstreamPanicWithoutRegion(t *testing.T) {
	f := newFaults(Rule{Op: "mid", At: AtProcess, Nth: 700, Do: Panic})
	topo := topology.New("gen-panic")
	s := topology.Generate[rec](topo, &recGen{N: 1 << 40, Workers: 3, probe: probe{f: f}}, topology.Name("src"))
	m := topology.MapOf[rec, rec](s, &passMap{probe: probe{f: f}}, topology.Name("mid"))
	m.ForEach(func(rec) {}, topology.Name("sink"))
	_, err := run(t, topo, Options{}, 30*time.Second)
	if err == nil {
		t.Fatal("the job succeeded")
	}
	t.Logf("error: %.400s", err)
	for _, w := range []string{"operator mid", "injected panic", "goroutine", "passMap"} {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("error does not mention %q", w)
		}
	}
}

// A failure in one PE outside a region fails the job even while other PEs are blocked on credit into it.
func TestFailureWithoutRegionUnblocksUpstream(t *testing.T) {
	f := newFaults(Rule{Op: "sink", At: AtProcess, Nth: 3000})
	_, err := run(t, plainJob(f, 1_000_000, true), Options{BatchSize: 16, Credits: 2}, 30*time.Second)
	if err == nil || !strings.Contains(err.Error(), "injected failure") {
		t.Fatalf("error %v, want the sink's failure", err)
	}
}

// Cancelling a job mid-flight ends every goroutine, whatever its PEs were doing: sources blocked on credit
// (backpressure), generators blocked on permits, PEs parked by a region out of attempts, PEs aligning
// markers.
func TestCancelMidFlight(t *testing.T) {
	defer goleak.VerifyNone(t)
	t.Run("backpressure", func(t *testing.T) {
		f := newFaults()
		topo := topology.New("backpressure")
		s := topology.SourceOf[rec](topo, &recSrc{N: 1 << 40, probe: probe{f: f}}, topology.Name("src"))
		p := s.Parallel(3, topology.HashBy(func(r rec) int { return r.V % 7 }))
		m := topology.MapOf[rec, rec](p, &slowMap{Pause: 50 * time.Microsecond, probe: probe{f: f}}, topology.Name("mid"))
		m.EndParallel().ForEach(func(rec) {}, topology.Name("sink"))
		j := start(t, topo, Options{BatchSize: 8, Credits: 2})
		waitFor(t, 10*time.Second, "backpressure", func() bool {
			var emitted, consumed uint64
			for _, s := range j.Stats() {
				emitted += s.Emitted
				consumed += s.Consumed
			}
			return consumed > 100 && emitted >= consumed+2*8 // a full edge's credit in flight: the source waits
		})
		t.Logf("stats %+v", j.Stats())
		cancelAndWait(t, j)
	})
	t.Run("generator on permits", func(t *testing.T) {
		// The sink always fails: the region runs out of attempts and parks its PEs, the generator's
		// goroutines wait on permits that never come.
		p := pipeline{n: 1 << 40, keys: 4, width: 2, generator: 3, cfg: consistent(5 * time.Millisecond)}
		p.cfg.MaxConsecutiveAttempts = 2
		f := newFaults(Rule{Op: "sink", At: AtProcess, Nth: 2000, Gen: AnyGen, Times: -1})
		j := start(t, p.build("permits", f, newVerdict()), Options{KeepOnMaxAttempts: true})
		waitFor(t, 20*time.Second, "maximum attempts", func() bool { return regionState(j, 0) == region.MaxAttemptsReached })
		cancelAndWait(t, j)
	})
	t.Run("generator running", func(t *testing.T) {
		p := pipeline{n: 1 << 40, keys: 4, width: 4, generator: 4, cfg: consistent(2 * time.Millisecond)}
		j := start(t, p.build("gen-running", newFaults(), newVerdict()), Options{BatchSize: 4, Credits: 1})
		waitFor(t, 20*time.Second, "a few epochs", func() bool { return j.Regions()[0].Commits >= 3 })
		cancelAndWait(t, j)
	})
	t.Run("draining", func(t *testing.T) {
		// A slow path holds the merge's alignment while the fast one backs up.
		var fastSeen, slowSeen, bad atomic.Int64
		topo := topology.New("draining")
		s := topology.SourceOf[int](topo, &posSource{N: 1 << 40, log: &epochLog{at: map[uint64][3]int{}}}, topology.Name("src"))
		s.SetConsistent(consistent(time.Millisecond))
		parts := s.Split(2, func(v int) int { return v % 2 })
		fast := topology.MapOf[int, int](parts[0], &pathMap{seen: &fastSeen}, topology.Isolate())
		slow := topology.MapOf[int, int](parts[1], &pathMap{seen: &slowSeen, Every: 10, Pause: time.Millisecond}, topology.Isolate())
		fast.Union(slow).Sink(&pathSink{LastEven: -2, LastOdd: -1, log: &epochLog{at: map[uint64][3]int{}}, fast: &fastSeen, bad: &bad})
		j := start(t, topo, Options{BatchSize: 8, Credits: 2})
		waitFor(t, 20*time.Second, "a few epochs", func() bool { return j.Regions()[0].Commits >= 3 })
		cancelAndWait(t, j)
	})
	t.Run("blocked reset", func(t *testing.T) {
		// A reset is stuck in an operator; Stop must not wait for the region.
		p := pipeline{n: 1 << 40, keys: 4, width: 2, cfg: consistent(5 * time.Millisecond)}
		f := newFaults(Rule{Op: "mid", At: AtProcess, Nth: 1000}, Rule{Op: "src", At: AtReset, Gen: 1, Do: Block})
		j := start(t, p.build("blocked-reset", f, newVerdict()), Options{})
		waitFor(t, 20*time.Second, "the blocked reset", func() bool { return f.Blocked() == 1 })
		// The blocked operator is user code: nothing can interrupt it. It returns once the job is stopping.
		cancelAndWait(t, j, f.Release)
	})
}

// cancelAndWait cancels j's context, runs then (if any), and checks that the job stops.
func cancelAndWait(t *testing.T, j *Job, then ...func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- j.Wait(ctx) }()
	cancel()
	for _, f := range then {
		f()
	}
	select {
	case err := <-done:
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("Wait returned %v, want context.Canceled", err)
		}
	case <-time.After(20 * time.Second):
		t.Fatalf("the job did not stop; regions %+v stats %+v", j.Regions(), j.Stats())
	}
}
