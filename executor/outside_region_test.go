package executor

import (
	"io"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/weirstream/weir/flow"
	"github.com/weirstream/weir/jobfile"
	"github.com/weirstream/weir/operator/builtin"
	"github.com/weirstream/weir/region"
	"github.com/weirstream/weir/topology"
)

// flakyLink is a remote link whose sends fail (as a broken stream's do) while failing is set, and
// otherwise deliver into an edge.
type flakyLink struct {
	edge        *flow.Edge[int]
	failing     *atomic.Int32 // sends still to fail
	failControl *atomic.Int32 // sends of control items still to fail
	failed      *atomic.Int32
}

func (l flakyLink) Send(b flow.Batch[int], abort <-chan struct{}) bool {
	if b.Ctl.Kind != flow.CtlNone && l.failControl.Load() > 0 {
		l.failControl.Add(-1)
		l.failed.Add(1)
		return false
	}
	if l.failing.Load() > 0 {
		l.failing.Add(-1)
		l.failed.Add(1)
		return false
	}
	return l.edge.Send(b, abort)
}
func (l flakyLink) Buffer() []int  { return l.edge.Buffer() }
func (l flakyLink) BatchSize() int { return l.edge.BatchSize() }

// flakyRemote connects a writer executor and a reader executor through flakyLinks.
type flakyRemote struct {
	mu          sync.Mutex
	edges       map[int]*flow.Edge[int]
	failing     atomic.Int32
	failControl atomic.Int32
	failed      atomic.Int32
}

func (r *flakyRemote) edge(l *region.Link) *flow.Edge[int] {
	r.mu.Lock()
	defer r.mu.Unlock()
	e, ok := r.edges[l.Index]
	if !ok {
		e = flow.NewEdge[int](8, 16)
		r.edges[l.Index] = e
	}
	return e
}

func (r *flakyRemote) Incoming(l *region.Link, t flow.Type) (flow.AnyEdge, error) {
	return r.edge(l), nil
}
func (r *flakyRemote) Outgoing(l *region.Link, t flow.Type, fail func(error)) (any, error) {
	return flow.Link[int](flakyLink{edge: r.edge(l), failing: &r.failing, failControl: &r.failControl, failed: &r.failed}), nil
}

// Outside consistent regions nothing replays: a send that fails on a broken stream loses its batch, but the
// PE goes on (the next send re-dials; a final marker goes again), and the job still ends. It used to halt
// the PE for good: the source dropped the rest of its output and never sent the final marker, so the job
// never finished.
func TestBrokenLinkOutsideRegionLosesOnlyItsBatch(t *testing.T) {
	var sum, count atomic.Int64
	topo := topology.New("lossy")
	s := topology.SourceOf[int](topo, &counter{N: 10000}, topology.Name("src"))
	s.ForEach(func(v int) { sum.Add(int64(v)); count.Add(1) }, topology.Name("sink"), topology.Isolate())
	plan, err := topo.Plan()
	if err != nil {
		t.Fatal(err)
	}
	ph, err := region.Expand(plan)
	if err != nil {
		t.Fatal(err)
	}
	remote := &flakyRemote{edges: map[int]*flow.Edge[int]{}}
	remote.failing.Store(3)
	remote.failControl.Store(2) // the final marker too: it must go again
	src, _ := ph.PEByID("src")
	sink, _ := ph.PEByID("sink")
	rep := &recorder{}
	writer := build(t, topo, rep, func(o *Options) { o.Run, o.Remote, o.BatchSize = []int{src.Index}, remote, 16 })
	reader := build(t, topo, rep, func(o *Options) { o.Run, o.Remote, o.BatchSize = []int{sink.Index}, remote, 16 })
	startAndStop(t, reader)
	startAndStop(t, writer)
	select {
	case <-reader.Done():
	case <-time.After(20 * time.Second):
		t.Fatalf("the reader never finished: %d tuples arrived, %d sends failed", count.Load(), remote.failed.Load())
	}
	<-writer.Done()
	if c := rep.find("crashed", nil); len(c) > 0 {
		t.Fatal(c[0].err)
	}
	rep.await(t, "finished", []string{"src", "sink"}, nil)
	if n := count.Load(); n >= 10000 || n < 10000-3*16 {
		t.Fatalf("%d tuples arrived; want all but the 3 lost batches of at most 16", n)
	}
}

// A paced source (one that sleeps between tuples, watching loop.Done) that is stopped has not exhausted its
// input: it must not send the final marker. It used to: a node that stopped, or a PE that moved, ended the
// stream for its readers, which finished early; the PE that replaced it then had nobody to send to.
func TestStoppedPacedSourceSendsNoFinal(t *testing.T) {
	plan, err := jobfile.Parse("paced.yaml", []byte("name: paced\nsteps:\n  - source: sequence\n    count: 1000000\n    rate: 200\n  - sink: stdout\n    isolate: true\n"),
		jobfile.Options{Registry: builtin.NewRegistryWithStdout(io.Discard)})
	if err != nil {
		t.Fatal(err)
	}
	ph, err := region.Expand(plan)
	if err != nil {
		t.Fatal(err)
	}
	binding := builtin.Binding(builtin.NewRegistryWithStdout(io.Discard))
	remote := &loopRemote{edges: map[int]flow.AnyEdge{}}
	rep := &recorder{}
	mk := func(pe string) *Executor {
		def, ok := ph.PEByID(pe)
		if !ok {
			t.Fatalf("no PE %s in %v", pe, ph.PEs)
		}
		x, err := New(Options{Job: "paced", Physical: ph, Binding: binding, Reporter: rep, Run: []int{def.Index}, Remote: remote})
		if err != nil {
			t.Fatal(err)
		}
		return x
	}
	writer, reader := mk("sequence"), mk("stdout")
	reader.Start()
	t.Cleanup(reader.Stop)
	writer.Start()
	waitFor(t, 10*time.Second, "some tuples through", func() bool { return statOf(reader, "stdout").Consumed > 5 })
	writer.Stop()
	select {
	case <-reader.Done():
		t.Fatal("the reader finished: the stopped source sent the final marker")
	case <-time.After(200 * time.Millisecond):
	}
	if f := rep.find("finished", nil); len(f) > 0 {
		t.Fatalf("finished reports from a stopped source: %+v", f)
	}
}
