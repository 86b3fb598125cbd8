package executor

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/weirstream/weir/checkpoint"
	"github.com/weirstream/weir/flow"
	"github.com/weirstream/weir/internal/testutil"
	"github.com/weirstream/weir/operator"
	"github.com/weirstream/weir/region"
	"github.com/weirstream/weir/topology"
)

// Every goroutine an executor starts must end when its PEs end or are stopped.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// report is one call of the Reporter.
type report struct {
	kind   string
	region int
	pe     string
	epoch  uint64
	gen    uint64
	err    error
}

// recorder is a Reporter that records every report; tests play the coordinator.
type recorder struct {
	mu      sync.Mutex
	reports []report
}

func (r *recorder) add(e report) {
	r.mu.Lock()
	r.reports = append(r.reports, e)
	r.mu.Unlock()
}

func (r *recorder) Drained(reg int, pe string, epoch, gen uint64, ref string) {
	r.add(report{kind: "drained", region: reg, pe: pe, epoch: epoch, gen: gen})
}
func (r *recorder) Exhausted(reg int, pe string, gen uint64) {
	r.add(report{kind: "exhausted", region: reg, pe: pe, gen: gen})
}
func (r *recorder) ResetDone(reg int, pe string, gen uint64) {
	r.add(report{kind: "reset", region: reg, pe: pe, gen: gen})
}
func (r *recorder) Failed(reg int, pe string, gen uint64, err error) {
	r.add(report{kind: "failed", region: reg, pe: pe, gen: gen, err: err})
}
func (r *recorder) Trigger(reg int)              { r.add(report{kind: "trigger", region: reg}) }
func (r *recorder) Finished(pe string)           { r.add(report{kind: "finished", pe: pe}) }
func (r *recorder) Crashed(pe string, err error) { r.add(report{kind: "crashed", pe: pe, err: err}) }

// find returns the reports of kind that match.
func (r *recorder) find(kind string, match func(report) bool) []report {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []report
	for _, e := range r.reports {
		if e.kind == kind && (match == nil || match(e)) {
			out = append(out, e)
		}
	}
	return out
}

// await waits until every PE in pes has made a report of kind that matches.
func (r *recorder) await(t *testing.T, kind string, pes []string, match func(report) bool) {
	t.Helper()
	waitFor(t, 20*time.Second, fmt.Sprintf("%s from %v", kind, pes), func() bool {
		got := r.find(kind, match)
		for _, pe := range pes {
			if !slices.ContainsFunc(got, func(e report) bool { return e.pe == pe }) {
				return false
			}
		}
		return true
	})
}

var waitFor = testutil.Waiter(time.Millisecond)

type tWriter struct{ t testing.TB }

func (w tWriter) Write(b []byte) (int, error) { w.t.Log(string(b)); return len(b), nil }

// build expands topo and makes an executor of it; mod adjusts the options.
func build(t testing.TB, topo *topology.Topology, rep Reporter, mod func(*Options)) *Executor {
	t.Helper()
	plan, err := topo.Plan()
	if err != nil {
		t.Fatal(err)
	}
	ph, err := region.Expand(plan)
	if err != nil {
		t.Fatal(err)
	}
	o := Options{Job: "test", Physical: ph, Binding: topo, Reporter: rep}
	if tt, ok := t.(*testing.T); ok {
		o.Logger = slog.New(slog.NewTextHandler(tWriter{tt}, nil))
	}
	if mod != nil {
		mod(&o)
	}
	x, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	return x
}

// startAndStop starts x and stops it when the test ends.
func startAndStop(t testing.TB, x *Executor) {
	x.Start()
	t.Cleanup(x.Stop)
}

func statOf(x *Executor, pe string) PEStats {
	for _, s := range x.Stats() {
		if s.ID == pe {
			return s
		}
	}
	return PEStats{}
}

// ---- test operators -----------------------------------------------------------------------------------------

// counter is an Iterator over 0 … N-1.
type counter struct{ N, Pos int }

func (c *counter) Next() (int, bool, error) {
	if c.Pos >= c.N {
		return 0, false, nil
	}
	c.Pos++
	return c.Pos - 1, true, nil
}

// tally is a sink that counts and sums what it takes, and logs its state at every checkpoint.
type tally struct {
	Count, Sum int
	log        *sync.Map // epoch → [2]int
}

func (s *tally) Consume(v int) error { s.Count++; s.Sum += v; return nil }
func (s *tally) Checkpoint(epoch uint64) error {
	s.log.Store(epoch, [2]int{s.Count, s.Sum})
	return nil
}

// gatedBuffer holds tuples back and emits them on Tick once its gate is open, like a time window: what it
// holds is its state.
type gatedBuffer struct {
	g    *operator.Guard
	id   int
	out  func(int)
	buf  []int
	open *atomic.Bool
}

func gatedBufferOf(open *atomic.Bool) operator.Factory {
	t := flow.TypeOf[int]()
	return operator.NewFactory(t, []flow.Type{t}, func(operator.Info) (operator.Node, error) {
		return &gatedBuffer{open: open}, nil
	})
}

func (b *gatedBuffer) Bind(g *operator.Guard, id int) { b.g, b.id = g, id }
func (b *gatedBuffer) Input() any {
	return func(v int) { b.g.Cur = b.id; b.buf = append(b.buf, v) }
}
func (b *gatedBuffer) Connect(port int, emit any) (err error) {
	b.out, err = operator.CheckOut[int](port, emit)
	return err
}
func (b *gatedBuffer) Open(operator.Context) error { return nil }
func (b *gatedBuffer) Close() error                { return nil }
func (b *gatedBuffer) Finish() error               { b.flush(); return nil }
func (b *gatedBuffer) Drain() error                { return nil }
func (b *gatedBuffer) Checkpoint(uint64) ([]byte, error) {
	return json.Marshal(b.buf)
}
func (b *gatedBuffer) Restore(epoch uint64, data []byte) error {
	b.buf = nil
	if epoch == 0 {
		return nil
	}
	return json.Unmarshal(data, &b.buf)
}
func (b *gatedBuffer) RetireCheckpoint(uint64) error   { return nil }
func (b *gatedBuffer) RegionCheckpointed(uint64) error { return nil }
func (b *gatedBuffer) TickEvery() time.Duration        { return time.Millisecond }
func (b *gatedBuffer) Tick(time.Time) error {
	if b.open.Load() {
		b.flush()
	}
	return nil
}
func (b *gatedBuffer) flush() {
	for _, v := range b.buf {
		b.out(v)
	}
	b.buf = b.buf[:0]
}

// loopRemote connects executors of one process as a transport would connect nodes: the writer's outgoing
// link is the reader's incoming edge.
type loopRemote struct {
	mu    sync.Mutex
	edges map[int]flow.AnyEdge
}

func (r *loopRemote) edge(l *region.Link, t flow.Type) flow.AnyEdge {
	r.mu.Lock()
	defer r.mu.Unlock()
	e, ok := r.edges[l.Index]
	if !ok {
		e = t.NewEdge(8, 256)
		r.edges[l.Index] = e
	}
	return e
}

func (r *loopRemote) Incoming(l *region.Link, t flow.Type) (flow.AnyEdge, error) {
	return r.edge(l, t), nil
}

func (r *loopRemote) Outgoing(l *region.Link, t flow.Type, fail func(error)) (any, error) {
	return r.edge(l, t), nil
}

// failingStore fails Save for the epochs in saveFails.
type failingStore struct {
	checkpoint.Store
	saveFails map[uint64]bool
}

func (s *failingStore) Save(ctx context.Context, k checkpoint.Key, data []byte) error {
	if s.saveFails[k.Epoch] {
		return fmt.Errorf("disk full")
	}
	return s.Store.Save(ctx, k, data)
}
