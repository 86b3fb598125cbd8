package standalone

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/weirstream/weir/flow"
	"github.com/weirstream/weir/operator"
	"github.com/weirstream/weir/topology"
)

// tickBuffer holds tuples back and emits them on Tick, like a time window: what it holds is its state.
type tickBuffer struct {
	g   *operator.Guard
	id  int
	out func(rec)
	buf []rec
}

func tickBufferOf() operator.Factory {
	t := flow.TypeOf[rec]()
	return operator.NewFactory(t, []flow.Type{t}, func(operator.Info) (operator.Node, error) { return &tickBuffer{}, nil })
}

func (b *tickBuffer) Bind(g *operator.Guard, id int) { b.g, b.id = g, id }
func (b *tickBuffer) Input() any {
	return func(r rec) { b.g.Cur = b.id; b.buf = append(b.buf, r) }
}
func (b *tickBuffer) Connect(port int, emit any) (err error) {
	b.out, err = operator.CheckOut[rec](port, emit)
	return err
}
func (b *tickBuffer) Open(operator.Context) error { return nil }
func (b *tickBuffer) Close() error                { return nil }
func (b *tickBuffer) Finish() error               { b.flush(); return nil }
func (b *tickBuffer) Drain() error                { return nil }
func (b *tickBuffer) Checkpoint(uint64) ([]byte, error) {
	return json.Marshal(b.buf)
}
func (b *tickBuffer) Restore(epoch uint64, data []byte) error {
	b.buf = nil
	if epoch == 0 {
		return nil
	}
	return json.Unmarshal(data, &b.buf)
}
func (b *tickBuffer) RetireCheckpoint(uint64) error   { return nil }
func (b *tickBuffer) RegionCheckpointed(uint64) error { return nil }
func (b *tickBuffer) TickEvery() time.Duration        { return time.Millisecond }
func (b *tickBuffer) Tick(time.Time) error            { b.flush(); return nil }
func (b *tickBuffer) flush() {
	for _, r := range b.buf {
		b.out(r)
	}
	b.buf = b.buf[:0]
}

// A time-driven operator emits on its own after a reset: nothing it emits may reach an operator that has not
// reset yet (it would be wiped by that operator's restore and lost).
func TestTickerAfterReset(t *testing.T) {
	const n, keys = 30000, 8
	f, v := newFaults(), newVerdict()
	topo := topology.New("ticker")
	s := topology.SourceOf[rec](topo, &recSrc{N: n, Pace: 300, probe: probe{f: f}}, topology.Name("src"))
	s.SetConsistent(consistent(5 * time.Millisecond))
	b := topology.Apply[rec, rec](s, "tickbuf", tickBufferOf(), topology.Name("buf"), topology.Isolate())
	sink := newVerifySink(keys, f, v)
	sink.AnyGen, sink.Pause = true, 200
	b.Sink(sink, topology.Name("sink"), topology.Isolate())
	j := mustRun(t, topo, Options{InjectResets: 15, Seed: 7, BatchSize: 64}, 120*time.Second)
	t.Logf("region %+v", j.Regions()[0])
	v.check(t, "sink", n, keys)
}

// Two sources start one region; one runs dry long before the other.
func TestTwoSourcesUnion(t *testing.T) {
	const small, big, keys = 3000, 30000, 16
	f, v := newFaults(Rule{Op: "sink", At: AtProcess, Nth: 12000, Do: Panic}), newVerdict()
	topo := topology.New("two")
	a := topology.SourceOf[rec](topo, &recSrc{N: small, probe: probe{f: f}}, topology.Name("a"))
	a.SetConsistent(consistent(5 * time.Millisecond))
	b := topology.SourceOf[rec](topo, &recSrc{N: big, Pace: 500, probe: probe{f: f}}, topology.Name("b"))
	b.SetConsistent(consistent(5 * time.Millisecond))
	// a's values become even and b's odd, so that each key holds the values of one source, in order.
	as := topology.Map(a, func(r rec) rec { r.V *= 2; return r })
	bs := topology.Map(b, func(r rec) rec { r.V = 2*r.V + 1; return r })
	u := as.Union(bs).Parallel(3, topology.HashBy(func(r rec) int { return r.V % keys }))
	m := topology.MapOf[rec, rec](u, &passMap{probe: probe{f: f}}, topology.Name("mid"))
	m.EndParallel().Sink(newVerifySink(keys, f, v), topology.Name("sink"))
	j := mustRun(t, topo, Options{InjectResets: 5, Seed: 3}, 120*time.Second)
	t.Logf("region %+v", j.Regions()[0])
	if got := len(j.Regions()); got != 1 {
		t.Fatalf("%d regions, want the two starts merged into 1", got)
	}
	var want []int
	for i := range small {
		want = append(want, 2*i)
	}
	for i := range big {
		want = append(want, 2*i+1)
	}
	v.checkValues(t, "sink", want, keys)
}

// ticking is a source that asks its operator-driven region for an epoch every Every tuples.
type ticking struct {
	Src   recSrc // a named field: an embedded recSrc would be unexported, and no state
	Every int
	ctx   operator.Context
}

func (s *ticking) Open(ctx operator.Context) error { s.ctx = ctx; return s.Src.Open(ctx) }
func (s *ticking) Reset(epoch uint64) error        { return s.Src.Reset(epoch) }
func (s *ticking) ResetToInitialState() error      { return s.Src.ResetToInitialState() }

func (s *ticking) Next() (rec, bool, error) {
	r, ok, err := s.Src.Next()
	if ok && s.Src.Pos%s.Every == 0 && !s.ctx.MakeConsistent() {
		return r, ok, errorString("MakeConsistent refused")
	}
	return r, ok, err
}

type errorString string

func (e errorString) Error() string { return string(e) }

func TestOperatorDrivenRegion(t *testing.T) {
	const n, keys = 20000, 8
	f, v := newFaults(Rule{Op: "mid", At: AtProcess, Nth: 9000}), newVerdict()
	topo := topology.New("driven")
	s := topology.SourceOf[rec](topo, &ticking{Src: recSrc{N: n, probe: probe{f: f}}, Every: 2000}, topology.Name("src"))
	cfg := topology.OperatorDriven()
	cfg.DrainTimeout, cfg.ResetTimeout = 10*time.Second, 10*time.Second
	s.SetConsistent(cfg)
	m := topology.MapOf[rec, rec](s.Parallel(2, topology.HashBy(func(r rec) int { return r.V % keys })), &passMap{probe: probe{f: f}}, topology.Name("mid"))
	m.EndParallel().Sink(newVerifySink(keys, f, v), topology.Name("sink"))
	j := mustRun(t, topo, Options{}, 60*time.Second)
	st := j.Regions()[0]
	t.Logf("region %+v", st)
	if st.Commits < 3 || st.Resets != 1 {
		t.Fatalf("%d commits and %d resets, want several and 1", st.Commits, st.Resets)
	}
	v.check(t, "sink", n, keys)
}

// A transactional sink that fails to publish the final epoch fails the job: the region has finished and
// cannot be reset any more, so waiting for a reset would hang.
func TestFinalPublishFails(t *testing.T) {
	f := newFaults(Rule{Op: "sink", At: AtPublish, Gen: AnyGen, Times: -1})
	p := pipeline{n: 2000, keys: 2, cfg: consistent(time.Hour)} // a single epoch: the final one
	_, err := run(t, p.build("publish", f, newVerdict()), Options{}, 20*time.Second)
	if err == nil || !strings.Contains(err.Error(), "injected failure: sink at publish") || !strings.Contains(err.Error(), "final epoch") {
		t.Fatalf("job ended with %v, want the final publish's failure", err)
	}
	t.Log(err)
}

// A failed publish of an epoch that is not the last resets the region, which then completes.
func TestPublishFailsThenRecovers(t *testing.T) {
	f, v := newFaults(Rule{Op: "sink", At: AtPublish, Nth: 2}), newVerdict()
	p := pipeline{n: 20000, keys: 4, pace: 500, width: 2, cfg: consistent(5 * time.Millisecond)}
	j := mustRun(t, p.build("publish", f, v), Options{}, 60*time.Second)
	st := j.Regions()[0]
	t.Logf("region %+v", st)
	if st.Resets != 1 {
		t.Fatalf("%d resets, want 1", st.Resets)
	}
	v.check(t, "sink", p.n, p.keys)
}

// An Open failure in a consistent region fails the job, and says where.
func TestOpenFailsInRegion(t *testing.T) {
	p := pipeline{n: 1000, keys: 2, width: 2, cfg: consistent(5 * time.Millisecond)}
	f := newFaults(Rule{Op: "mid", At: AtOpen, Nth: 2})
	_, err := run(t, p.build("open", f, newVerdict()), Options{}, 20*time.Second)
	if err == nil {
		t.Fatal("the job succeeded")
	}
	t.Log(err)
	if !strings.Contains(err.Error(), "open mid[") || strings.Contains(err.Error(), "outside any consistent region") {
		t.Fatalf("error %q does not tell the open failure in a region", err)
	}
}

// A job started again with the same ID and checkpoint directory — after a crash, say — resumes every region
// from its last committed epoch instead of starting over.
func TestResumeFromCheckpointDir(t *testing.T) {
	dir := t.TempDir()
	p := pipeline{n: 30000, keys: 8, pace: 300, width: 2, cfg: consistent(5 * time.Millisecond)}
	v := newVerdict()
	j := start(t, p.build("resume", newFaults(), v), Options{JobID: "resume-1", CheckpointDir: dir})
	waitFor(t, 20*time.Second, "a few commits", func() bool { return j.Regions()[0].Commits >= 3 })
	j.Stop() // as if the process died: the checkpoints and the ledger stay
	first := j.Regions()[0]
	t.Logf("first run stopped at %+v", first)

	j = mustRun(t, p.build("resume", newFaults(), v), Options{JobID: "resume-1", CheckpointDir: dir}, 60*time.Second)
	st := j.Regions()[0]
	t.Logf("second run %+v", st)
	if st.Committed <= first.Committed {
		t.Fatalf("the second run committed up to %d, the first had reached %d", st.Committed, first.Committed)
	}
	var emitted uint64
	for _, s := range j.Stats() {
		emitted += s.Emitted
	}
	if emitted >= uint64(p.n) {
		t.Errorf("the second run emitted %d tuples: it started over", emitted)
	}
	v.check(t, "sink", p.n, p.keys)
}
