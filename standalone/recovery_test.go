package standalone

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/weirstream/weir/operator"
	"github.com/weirstream/weir/region"
	"github.com/weirstream/weir/topology"
)

// pipeline describes the job of the recovery tests: src → [Parallel(width, hash)] → mid → [EndParallel] → sink,
// all in one consistent region, every operator in a PE of its own.
type pipeline struct {
	n, keys   int
	pace      int  // the source pauses a millisecond every pace tuples
	width     int  // 0 or 1: no parallel region
	generator int  // > 0: the source is a Generator with that many goroutines
	dir       bool // checkpoints in a directory (else in memory)
	cfg       topology.Consistent
}

func (p pipeline) options(t *testing.T) Options {
	if p.dir {
		return Options{CheckpointDir: t.TempDir()}
	}
	return Options{}
}

func (p pipeline) build(name string, f *Faults, v *verdict) *topology.Topology {
	topo := topology.New(name)
	var s topology.Stream[rec]
	if p.generator > 0 {
		s = topology.Generate[rec](topo, &recGen{N: p.n, Workers: p.generator, Pace: p.pace, probe: probe{f: f}}, topology.Name("src"))
	} else {
		s = topology.SourceOf[rec](topo, &recSrc{N: p.n, Pace: p.pace, probe: probe{f: f}}, topology.Name("src"))
	}
	s.SetConsistent(p.cfg)
	keys := p.keys
	if p.width > 1 {
		s = s.Parallel(p.width, topology.HashBy(func(r rec) int { return r.V % keys }))
	}
	m := topology.MapOf[rec, rec](s, &passMap{probe: probe{f: f}}, topology.Name("mid"), topology.Isolate())
	if p.width > 1 {
		m = m.EndParallel()
	}
	m.Sink(newVerifySink(p.keys, f, v), topology.Name("sink"), topology.Isolate())
	return topo
}

func consistent(period time.Duration) topology.Consistent {
	c := topology.Periodic(period)
	c.DrainTimeout = 10 * time.Second
	c.ResetTimeout = 10 * time.Second
	return c
}

// TestResetAndReplay injects a failure at every stage of a consistent region and checks that every value of
// the source reaches the sink's committed state exactly once, in order per key.
func TestResetAndReplay(t *testing.T) {
	const n = 20000
	scenarios := []struct {
		name  string
		rules []Rule
	}{
		{"source error", []Rule{{Op: "src", At: AtNext, Nth: 5000}}},
		{"source panic", []Rule{{Op: "src", At: AtNext, Nth: 5000, Do: Panic}}},
		{"middle error", []Rule{{Op: "mid", At: AtProcess, Nth: 7000}}},
		{"middle panic", []Rule{{Op: "mid", At: AtProcess, Nth: 7000, Do: Panic}}},
		{"sink error", []Rule{{Op: "sink", At: AtProcess, Nth: 9000}}},
		{"sink panic", []Rule{{Op: "sink", At: AtProcess, Nth: 9000, Do: Panic}}},
		{"source drain", []Rule{{Op: "src", At: AtDrain, Nth: 2}}},
		{"middle drain", []Rule{{Op: "mid", At: AtDrain, Nth: 3}}},
		{"sink drain panic", []Rule{{Op: "sink", At: AtDrain, Nth: 2, Do: Panic}}},
		{"source checkpoint", []Rule{{Op: "src", At: AtCheckpoint, Nth: 2}}},
		{"middle checkpoint", []Rule{{Op: "mid", At: AtCheckpoint, Nth: 3}}},
		{"sink checkpoint", []Rule{{Op: "sink", At: AtCheckpoint, Nth: 3}}},
		{"restore fails once", []Rule{
			{Op: "mid", At: AtProcess, Nth: 7000},
			{Op: "mid", At: AtReset, Gen: 1},
		}},
		{"restore panics once", []Rule{
			{Op: "sink", At: AtProcess, Nth: 7000},
			{Op: "sink", At: AtReset, Gen: 1, Do: Panic},
		}},
		{"several failures", []Rule{
			{Op: "src", At: AtNext, Nth: 3000, Gen: 0},
			{Op: "mid", At: AtProcess, Nth: 5000, Gen: 1},
			{Op: "sink", At: AtProcess, Nth: 4000, Gen: 2, Do: Panic},
			{Op: "mid", At: AtCheckpoint, Nth: 2, Gen: 3},
		}},
	}
	shapes := []struct {
		name string
		p    pipeline
	}{
		{"chain", pipeline{n: n, keys: 1, pace: 500, cfg: consistent(5 * time.Millisecond)}},
		{"parallel", pipeline{n: n, keys: 16, pace: 500, width: 4, cfg: consistent(5 * time.Millisecond)}},
		{"generator", pipeline{n: n, keys: 16, pace: 500, width: 4, generator: 3, cfg: consistent(5 * time.Millisecond)}},
		{"dir", pipeline{n: n, keys: 16, pace: 500, width: 2, dir: true, cfg: consistent(5 * time.Millisecond)}},
	}
	for _, sh := range shapes {
		for _, sc := range scenarios {
			t.Run(sh.name+"/"+strings.ReplaceAll(sc.name, " ", "_"), func(t *testing.T) {
				f, v := newFaults(sc.rules...), newVerdict()
				j := mustRun(t, sh.p.build("recovery", f, v), sh.p.options(t), 60*time.Second)
				st := j.Regions()[0]
				t.Logf("region %+v; faults %q; dropped %d", st, f.Hits(), totalDropped(j.Stats()))
				if len(f.Hits()) < len(sc.rules) {
					t.Fatalf("only %d of %d faults fired: %q", len(f.Hits()), len(sc.rules), f.Hits())
				}
				if st.Resets < 1 {
					t.Fatalf("no reset happened")
				}
				v.check(t, "sink", sh.p.n, sh.p.keys)
			})
		}
	}
}

// A PE blocked in user code past the drain timeout makes the region reset; once it is released the region
// recovers.
func TestDrainTimeoutResets(t *testing.T) {
	for _, width := range []int{1, 4} {
		t.Run(fmt.Sprint("width", width), func(t *testing.T) {
			p := pipeline{n: 20000, keys: 16, width: width, cfg: consistent(5 * time.Millisecond)}
			p.cfg.DrainTimeout = 100 * time.Millisecond
			f, v := newFaults(Rule{Op: "mid", At: AtProcess, Nth: 5000, Do: Block}), newVerdict()
			j := start(t, p.build("drain-timeout", f, v), Options{})
			waitFor(t, 10*time.Second, "the block", func() bool { return f.Blocked() == 1 })
			waitFor(t, 10*time.Second, "a reset", func() bool { return j.Regions()[0].Resets >= 1 })
			st := j.Regions()[0]
			if !strings.Contains(st.LastError, "drain") || !strings.Contains(st.LastError, "timed out") {
				t.Errorf("last error %q does not tell of a drain timeout", st.LastError)
			}
			f.Release()
			if err := wait(t, j, 60*time.Second); err != nil {
				t.Fatal(err)
			}
			t.Logf("region %+v", j.Regions()[0])
			v.check(t, "sink", p.n, p.keys)
		})
	}
}

// A reset that outlasts the reset timeout is attempted again.
func TestResetTimeoutRetries(t *testing.T) {
	p := pipeline{n: 20000, keys: 16, width: 4, cfg: consistent(5 * time.Millisecond)}
	p.cfg.ResetTimeout = 100 * time.Millisecond
	f, v := newFaults(
		Rule{Op: "sink", At: AtProcess, Nth: 6000},
		Rule{Op: "sink", At: AtReset, Gen: 1, Do: Block},
	), newVerdict()
	j := start(t, p.build("reset-timeout", f, v), Options{})
	waitFor(t, 10*time.Second, "the blocked reset", func() bool { return f.Blocked() == 1 })
	waitFor(t, 10*time.Second, "a second reset", func() bool { return j.Regions()[0].Resets >= 2 })
	if st := j.Regions()[0]; !strings.Contains(st.LastError, "reset") || !strings.Contains(st.LastError, "timed out") {
		t.Errorf("last error %q does not tell of a reset timeout", st.LastError)
	}
	f.Release()
	if err := wait(t, j, 60*time.Second); err != nil {
		t.Fatal(err)
	}
	t.Logf("region %+v", j.Regions()[0])
	v.check(t, "sink", p.n, p.keys)
}

// An operator that always fails exhausts the region's attempts: by default the job fails, naming the limit.
func TestMaxAttemptsFailsJob(t *testing.T) {
	p := pipeline{n: 5000, keys: 4, width: 2, cfg: consistent(5 * time.Millisecond)}
	p.cfg.MaxConsecutiveAttempts = 3
	f, v := newFaults(Rule{Op: "mid", At: AtProcess, Nth: 100, Gen: AnyGen, Times: -1}), newVerdict()
	_, err := run(t, p.build("max-attempts", f, v), Options{}, 30*time.Second)
	if err == nil {
		t.Fatal("the job succeeded")
	}
	t.Log(err)
	for _, want := range []string{"maximum", "3", "injected failure"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not mention %q", err, want)
		}
	}
}

// With KeepOnMaxAttempts the region waits in MaxAttemptsReached; a forced reset brings it back.
func TestMaxAttemptsForceReset(t *testing.T) {
	p := pipeline{n: 20000, keys: 16, width: 4, cfg: consistent(5 * time.Millisecond)}
	p.cfg.MaxConsecutiveAttempts = 2
	f, v := newFaults(Rule{Op: "mid", At: AtProcess, Nth: 3000, Gen: AnyGen, Times: -1}), newVerdict()
	j := start(t, p.build("force-reset", f, v), Options{KeepOnMaxAttempts: true})
	waitFor(t, 20*time.Second, "maximum attempts", func() bool { return regionState(j, 0) == region.MaxAttemptsReached })
	// Every PE was reset once more, into a generation that never resumes.
	st := j.Regions()[0]
	waitFor(t, 10*time.Second, "the PEs to park", func() bool {
		for _, s := range j.Stats() {
			if s.Gen != st.Generation {
				return false
			}
		}
		return true
	})
	// It stays there: nothing is processed.
	stats := j.Stats()
	time.Sleep(50 * time.Millisecond) // a window in which nothing may happen
	if st2 := j.Regions()[0]; st2.State != region.MaxAttemptsReached || st2.Resets != st.Resets {
		t.Fatalf("region moved on from %+v to %+v", st, st2)
	}
	for i, s := range j.Stats() {
		if s.Emitted != stats[i].Emitted {
			t.Fatalf("PE %s emitted while its region was stopped: %d → %d", s.ID, stats[i].Emitted, s.Emitted)
		}
	}
	f.Clear()
	if err := j.ForceReset(0); err != nil {
		t.Fatal(err)
	}
	if err := wait(t, j, 60*time.Second); err != nil {
		t.Fatal(err)
	}
	st = j.Regions()[0]
	t.Logf("region %+v", st)
	if st.State != region.Finished {
		t.Fatalf("region ended in %s", st.State)
	}
	v.check(t, "sink", p.n, p.keys)
}

// After a reset no tuple of an older generation reaches an operator: tuples in flight are dropped on arrival.
func TestGenerationFencing(t *testing.T) {
	p := pipeline{n: 30000, keys: 16, width: 4, cfg: consistent(20 * time.Millisecond)}
	// A slow sink fills the edges before it fails, so that many tuples are in flight at each reset.
	f, v := newFaults(
		Rule{Op: "sink", At: AtProcess, Nth: 5000, Gen: 0},
		Rule{Op: "sink", At: AtProcess, Nth: 3000, Gen: 1, Do: Panic},
		Rule{Op: "sink", At: AtProcess, Nth: 8000, Gen: 2},
	), newVerdict()
	j := mustRun(t, p.build("fencing", f, v), Options{Credits: 4, BatchSize: 64}, 60*time.Second)
	st := j.Regions()[0]
	dropped := totalDropped(j.Stats())
	t.Logf("region %+v; dropped %d", st, dropped)
	if st.Resets != 3 {
		t.Errorf("%d resets, want 3", st.Resets)
	}
	if dropped == 0 {
		t.Errorf("no tuple was dropped for its generation: the test did not exercise fencing")
	}
	v.check(t, "sink", p.n, p.keys)
}

// Injected resets (weir run --inject-resets) on a parallel job: exactly the resets asked for happen and the
// committed output is exact.
func TestInjectResetsParallel(t *testing.T) {
	const n, keys = 50000, 64
	for _, gen := range []int{0, 3} {
		t.Run(fmt.Sprint("generator", gen), func(t *testing.T) {
			p := pipeline{n: n, keys: keys, width: 4, generator: gen, cfg: consistent(10 * time.Millisecond)}
			f, v := newFaults(), newVerdict()
			seed := uint64(time.Now().UnixNano())
			t.Logf("seed %d", seed)
			j := mustRun(t, p.build("inject", f, v), Options{InjectResets: 20, Seed: seed}, 120*time.Second)
			st := j.Regions()[0]
			t.Logf("region %+v; dropped %d", st, totalDropped(j.Stats()))
			if st.Resets != 20 {
				t.Errorf("%d resets, want 20", st.Resets)
			}
			v.check(t, "sink", n, keys)
		})
	}
}

// Recovery through every routing: broadcast (each channel tags its copies), round-robin (no order to keep),
// and nested hash regions (2 × 3 channels), with failures and injected resets.
func TestRecoveryRoutings(t *testing.T) {
	const n = 20000
	cfg := consistent(5 * time.Millisecond)
	rules := func() []Rule {
		return []Rule{
			{Op: "mid", At: AtProcess, Nth: 6000, Gen: AnyGen},
			{Op: "inner", At: AtProcess, Nth: 15000, Gen: AnyGen, Do: Panic},
			{Op: "sink", At: AtCheckpoint, Nth: 5, Gen: AnyGen},
		}
	}
	t.Run("broadcast", func(t *testing.T) {
		const width = 3
		f, v := newFaults(rules()...), newVerdict()
		topo := topology.New("broadcast")
		s := topology.SourceOf[rec](topo, &recSrc{N: n, Pace: 500, probe: probe{f: f}}, topology.Name("src"))
		s.SetConsistent(cfg)
		m := topology.MapOf[rec, rec](s.Parallel(width, topology.Broadcast), &passMap{probe: probe{f: f}}, topology.Name("mid"))
		// Channel c turns v into v*width + c: together the channels emit 0 … n*width-1, key = channel.
		tagged := topology.MapOf[rec, rec](m, &tagCopy{probe: probe{f: f}}, topology.Name("inner"))
		tagged.EndParallel().Sink(newVerifySink(width, f, v), topology.Name("sink"))
		j := mustRun(t, topo, Options{InjectResets: 3, Seed: 11}, 60*time.Second)
		t.Logf("region %+v; faults %q", j.Regions()[0], f.Hits())
		if len(f.Hits()) != 3 {
			t.Fatalf("%d of 3 faults fired", len(f.Hits()))
		}
		v.check(t, "sink", n*width, width)
	})
	t.Run("round-robin", func(t *testing.T) {
		f, v := newFaults(rules()...), newVerdict()
		topo := topology.New("rr")
		s := topology.SourceOf[rec](topo, &recSrc{N: n, Pace: 500, probe: probe{f: f}}, topology.Name("src"))
		s.SetConsistent(cfg)
		m := topology.MapOf[rec, rec](s.Parallel(4, topology.RoundRobin), &passMap{probe: probe{f: f}}, topology.Name("mid"))
		inner := topology.MapOf[rec, rec](m, &passMap{probe: probe{f: f}}, topology.Name("inner"))
		sink := newVerifySink(1, f, v)
		sink.Unordered = true
		inner.EndParallel().Sink(sink, topology.Name("sink"))
		j := mustRun(t, topo, Options{InjectResets: 3, Seed: 12}, 60*time.Second)
		t.Logf("region %+v; faults %q", j.Regions()[0], f.Hits())
		if len(f.Hits()) != 3 {
			t.Fatalf("%d of 3 faults fired", len(f.Hits()))
		}
		v.check(t, "sink", n, 1)
	})
	t.Run("nested", func(t *testing.T) {
		const keys = 24
		key := func(r rec) int { return r.V % keys }
		f, v := newFaults(rules()...), newVerdict()
		topo := topology.New("nested")
		s := topology.SourceOf[rec](topo, &recSrc{N: n, Pace: 500, probe: probe{f: f}}, topology.Name("src"))
		s.SetConsistent(cfg)
		m := topology.MapOf[rec, rec](s.Parallel(2, topology.HashBy(key)), &passMap{probe: probe{f: f}}, topology.Name("mid"))
		inner := topology.MapOf[rec, rec](m.Parallel(3, topology.HashBy(key)), &passMap{probe: probe{f: f}}, topology.Name("inner"))
		inner.EndParallel().EndParallel().Sink(newVerifySink(keys, f, v), topology.Name("sink"))
		j := mustRun(t, topo, Options{InjectResets: 3, Seed: 13}, 60*time.Second)
		t.Logf("region %+v; faults %q", j.Regions()[0], f.Hits())
		if len(f.Hits()) != 3 {
			t.Fatalf("%d of 3 faults fired", len(f.Hits()))
		}
		v.check(t, "sink", n, keys)
	})
}

// tagCopy turns the copy of v that channel c of a width-w broadcast region sees into v*w + c.
type tagCopy struct {
	probe
	ch, width int
}

func (m *tagCopy) Open(ctx operator.Context) error {
	m.ch, m.width = ctx.Info().Channel, ctx.Info().Width
	return m.probe.Open(ctx)
}

func (m *tagCopy) Map(r rec) (rec, error) {
	if err := m.hit(AtProcess); err != nil {
		return rec{}, err
	}
	r.V = r.V*m.width + m.ch
	return r, nil
}
