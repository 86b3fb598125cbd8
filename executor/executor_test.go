package executor

import (
	"context"
	"fmt"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/weirstream/weir/checkpoint"
	"github.com/weirstream/weir/flow"
	"github.com/weirstream/weir/operator"
	"github.com/weirstream/weir/topology"
)

func consistent() topology.Consistent {
	// The tests play the coordinator: the configuration only marks the region.
	return topology.Consistent{Trigger: topology.TriggerOperatorDriven}.WithDefaults()
}

// chainJob is source → map → filter → sink, the sink isolated in a PE of its own when isolate is set.
func chainJob(n int, isolate bool) *topology.Topology {
	var opts []topology.Option
	if isolate {
		opts = append(opts, topology.Isolate())
	}
	sink := 0
	topo := topology.New("chain")
	s := topology.Source(topo, func(yield func(int) bool) {
		for i := range n {
			if !yield(i) {
				return
			}
		}
	})
	m := topology.Map(s, func(v int) int { return v * 3 })
	f := m.Filter(func(v int) bool { return v%2 == 0 })
	f.ForEach(func(v int) { sink += v }, opts...)
	return topo
}

// mallocs runs a chain of n tuples to its end and returns the heap allocations made meanwhile.
func mallocs(t *testing.T, n int, isolate bool) uint64 {
	rep := &recorder{}
	x := build(t, chainJob(n, isolate), rep, func(o *Options) { o.Logger = nil })
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	x.Start()
	<-x.Done()
	runtime.ReadMemStats(&after)
	x.Stop()
	if c := rep.find("crashed", nil); len(c) > 0 {
		t.Fatal(c[0].err)
	}
	return after.Mallocs - before.Mallocs
}

// A fused chain, and a chain across a PE boundary, allocate nothing per tuple in steady state: the
// allocations of a long run and of a short one differ by what setup and timers cost, not by the tuples.
func TestChainAllocatesNothingPerTuple(t *testing.T) {
	for _, isolate := range []bool{false, true} {
		name := map[bool]string{false: "fused", true: "pe-boundary"}[isolate]
		t.Run(name, func(t *testing.T) {
			const short, long = 100_000, 3_100_000
			a, b := mallocs(t, short, isolate), mallocs(t, long, isolate)
			perTuple := (float64(b) - float64(a)) / (long - short)
			t.Logf("%d allocations for %d tuples, %d for %d: %.6f per tuple", a, short, b, long, perTuple)
			if perTuple > 0.001 {
				t.Fatalf("%.4f allocations per tuple", perTuple)
			}
		})
	}
}

// localGen keeps its position in a local variable and writes it to its state under each permit, as
// operator.Generator allows: after a reset Run is called again with the restored state.
type localGen struct {
	N, Pos int
	limit  *atomic.Int64 // emits only below it
}

func (g *localGen) Run(ctx operator.SourceContext[int]) error {
	for i := g.Pos; i < g.N; {
		for int64(i) >= g.limit.Load() {
			select {
			case <-ctx.Done():
				return nil
			case <-time.After(time.Millisecond):
			}
		}
		if ctx.Acquire() != nil {
			return nil
		}
		err := ctx.Emit(i)
		i++
		g.Pos = i
		ctx.Release()
		if err != nil {
			return nil
		}
	}
	return nil
}

func TestGeneratorRunsAgainAfterReset(t *testing.T) {
	const n = 1000
	var limit atomic.Int64
	log := &sync.Map{}
	topo := topology.New("gen")
	s := topology.Generate[int](topo, &localGen{N: n, limit: &limit}, topology.Name("src"))
	s.SetConsistent(consistent())
	s.Sink(&tally{log: log}, topology.Name("sink"), topology.Isolate())
	rep := &recorder{}
	x := build(t, topo, rep, nil)
	startAndStop(t, x)
	pes := []string{"src", "sink"}
	gen := func(g uint64) func(report) bool { return func(e report) bool { return e.gen == g } }
	consumed := func(c uint64) func() bool { return func() bool { return statOf(x, "sink").In >= c } }

	limit.Store(100)
	waitFor(t, 10*time.Second, "100 tuples", consumed(100))
	x.Drain(0, 1, 0, false)
	rep.await(t, "drained", pes, nil)
	x.Committed(0, 0, 1, false)

	limit.Store(300)
	waitFor(t, 10*time.Second, "300 tuples", consumed(300))
	x.Reset(0, 1, 1) // back to epoch 1: the source at 100
	rep.await(t, "reset", pes, gen(1))
	x.Resume(0, 1)

	limit.Store(n)
	rep.await(t, "exhausted", []string{"src"}, gen(1))
	x.Drain(0, 2, 1, true)
	rep.await(t, "drained", pes, func(e report) bool { return e.epoch == 2 })
	x.Committed(0, 1, 2, true)
	select {
	case <-x.Done():
	case <-time.After(10 * time.Second):
		t.Fatal("the PEs did not finish")
	}
	got, _ := log.Load(uint64(2))
	if want := [2]int{n, n * (n - 1) / 2}; got != want {
		t.Fatalf("final checkpoint holds %v (count, sum), want %v", got, want)
	}
	if f := rep.find("failed", nil); len(f) > 0 {
		t.Fatal(f[0].err)
	}
}

// In a cluster the PEs of a region get a reset at different moments. A PE that has reset must not process —
// here: emit what a time-driven node restored — before the whole region has reset and resumes, or a PE that
// has not reset yet takes those tuples and then wipes them with its own restore.
func TestNoProcessingBeforeResume(t *testing.T) {
	const n = 1000
	var open atomic.Bool
	log := &sync.Map{}
	topo := topology.New("split-reset")
	s := topology.SourceOf[int](topo, &counter{N: n}, topology.Name("src"))
	s.SetConsistent(consistent())
	b := topology.Apply[int, int](s, "buffer", gatedBufferOf(&open), topology.Name("buf"), topology.Isolate())
	b.Sink(&tally{log: log}, topology.Name("sink"), topology.Isolate())
	// Node 1 runs the sink, node 2 the source and the buffer; they share the checkpoint store.
	store := checkpoint.NewMemStore()
	remote := &loopRemote{edges: map[int]flow.AnyEdge{}}
	rep1, rep2 := &recorder{}, &recorder{}
	x1 := build(t, topo, rep1, func(o *Options) { o.Run = peIndexes(t, o, "sink"); o.Remote = remote; o.Store = store })
	x2 := build(t, topo, rep2, func(o *Options) { o.Run = peIndexes(t, o, "src", "buf"); o.Remote = remote; o.Store = store })
	startAndStop(t, x1)
	startAndStop(t, x2)

	// Epoch 1 commits with every tuple held in the buffer.
	rep2.await(t, "exhausted", []string{"src"}, nil)
	waitFor(t, 10*time.Second, "the buffer to hold every tuple", func() bool { return statOf(x2, "buf").In == n })
	x2.Drain(0, 1, 0, false)
	rep1.await(t, "drained", []string{"sink"}, nil)
	rep2.await(t, "drained", []string{"src", "buf"}, nil)
	x1.Committed(0, 0, 1, false)
	x2.Committed(0, 0, 1, false)

	// Node 2 resets first; the buffer restores its tuples and would flush them on its next tick.
	x2.Reset(0, 1, 1)
	rep2.await(t, "reset", []string{"src", "buf"}, nil)
	open.Store(true)
	deadline := time.Now().Add(100 * time.Millisecond)
	for time.Now().Before(deadline) && statOf(x1, "sink").In == 0 {
		time.Sleep(time.Millisecond)
	}
	if in := statOf(x1, "sink").In; in > 0 {
		t.Errorf("the sink took %d tuples of the new generation before it reset", in)
	}
	x1.Reset(0, 1, 1)
	rep1.await(t, "reset", []string{"sink"}, nil)
	x1.Resume(0, 1)
	x2.Resume(0, 1)

	rep2.await(t, "exhausted", []string{"src"}, func(e report) bool { return e.gen == 1 })
	x2.Drain(0, 2, 1, true)
	rep1.await(t, "drained", []string{"sink"}, func(e report) bool { return e.epoch == 2 })
	x1.Committed(0, 1, 2, true)
	x2.Committed(0, 1, 2, true)
	<-x1.Done()
	<-x2.Done()
	got, _ := log.Load(uint64(2))
	if want := [2]int{n, n * (n - 1) / 2}; got != want {
		t.Fatalf("final checkpoint holds %v (count, sum), want %v", got, want)
	}
}

func peIndexes(t *testing.T, o *Options, ids ...string) []int {
	var out []int
	for _, id := range ids {
		pe, ok := o.Physical.PEByID(id)
		if !ok {
			t.Fatalf("no PE %s", id)
		}
		out = append(out, pe.Index)
	}
	return out
}

// A checkpoint that cannot be saved fails the region; one that cannot be loaded fails the reset.
func TestCheckpointStoreFailures(t *testing.T) {
	topo := topology.New("store")
	s := topology.SourceOf[int](topo, &counter{N: 1 << 40}, topology.Name("src"))
	s.SetConsistent(consistent())
	s.Sink(&tally{log: &sync.Map{}}, topology.Name("sink"), topology.Isolate())
	rep := &recorder{}
	store := &failingStore{Store: checkpoint.NewMemStore(), saveFails: map[uint64]bool{2: true}}
	x := build(t, topo, rep, func(o *Options) { o.Store = store })
	startAndStop(t, x)

	x.Drain(0, 1, 0, false)
	rep.await(t, "drained", []string{"src", "sink"}, nil)
	x.Drain(0, 2, 0, false)
	rep.await(t, "failed", []string{"src", "sink"}, nil)
	for _, f := range rep.find("failed", nil) {
		if f.gen != 0 || !strings.Contains(f.err.Error(), "save checkpoint") || !strings.Contains(f.err.Error(), "disk full") {
			t.Fatalf("failure %v in generation %d", f.err, f.gen)
		}
	}
	// Epoch 3 was never saved: a reset to it cannot load the PEs' state.
	x.Reset(0, 1, 3)
	rep.await(t, "failed", []string{"src", "sink"}, func(e report) bool { return e.gen == 1 })
	for _, f := range rep.find("failed", func(e report) bool { return e.gen == 1 }) {
		if !strings.Contains(f.err.Error(), "load checkpoint of epoch 3") {
			t.Fatalf("failure %v", f.err)
		}
	}
	// A reset to the saved epoch works.
	x.Reset(0, 2, 1)
	rep.await(t, "reset", []string{"src", "sink"}, func(e report) bool { return e.gen == 2 })
}

// waitingStore's loads of epoch 1 wait until their context ends: a checkpoint whose holders are down.
type waitingStore struct {
	checkpoint.Store
	waiting, ended atomic.Int32
}

func (s *waitingStore) Load(ctx context.Context, k checkpoint.Key) ([]byte, error) {
	if k.Epoch == 1 {
		s.waiting.Add(1)
		<-ctx.Done()
		s.ended.Add(1)
		return nil, ctx.Err()
	}
	return s.Store.Load(ctx, k)
}

// A reset whose checkpoint load waits (for a node that holds a copy) does not hold up a stop: the PE is
// moved or its job cancelled meanwhile.
func TestWaitingLoadGivesWayToAStop(t *testing.T) {
	topo := topology.New("store")
	s := topology.SourceOf[int](topo, &counter{N: 1 << 40}, topology.Name("src"))
	s.SetConsistent(consistent())
	s.Sink(&tally{log: &sync.Map{}}, topology.Name("sink"), topology.Isolate())
	rep := &recorder{}
	store := &waitingStore{Store: checkpoint.NewMemStore()}
	x := build(t, topo, rep, func(o *Options) { o.Store = store })
	x.Start()
	x.Drain(0, 1, 0, false)
	rep.await(t, "drained", []string{"src", "sink"}, nil)
	x.Committed(0, 0, 1, false)
	x.Reset(0, 1, 1)
	waitFor(t, 10*time.Second, "both loads to wait", func() bool { return store.waiting.Load() == 2 })
	stopped := make(chan struct{})
	go func() { x.Stop(); close(stopped) }()
	waitFor(t, 10*time.Second, "the stop", func() bool {
		select {
		case <-stopped:
			return true
		default:
			return false
		}
	})
	if n := store.ended.Load(); n != 2 {
		t.Fatalf("%d waiting loads ended, want 2", n)
	}
}

// The leader resends a drain until it is delivered: a repeated drain must not checkpoint the epoch again
// (downstream, its marker would arrive twice on one input and fail the region).
func TestRepeatedDrainIsIgnored(t *testing.T) {
	topo := topology.New("redrain")
	s := topology.SourceOf[int](topo, &counter{N: 100}, topology.Name("src"))
	s.SetConsistent(consistent())
	s.Sink(&tally{log: &sync.Map{}}, topology.Name("sink"), topology.Isolate())
	rep := &recorder{}
	x := build(t, topo, rep, nil)
	startAndStop(t, x)
	rep.await(t, "exhausted", []string{"src"}, nil)
	x.Drain(0, 1, 0, false)
	x.Drain(0, 1, 0, false)
	rep.await(t, "drained", []string{"src", "sink"}, nil)
	x.Drain(0, 1, 0, false)
	x.Drain(0, 2, 0, true)
	rep.await(t, "drained", []string{"src", "sink"}, func(e report) bool { return e.epoch == 2 })
	rep.mu.Lock()
	defer rep.mu.Unlock()
	counts := map[string]int{}
	for _, e := range rep.reports {
		if e.kind == "failed" {
			t.Fatalf("PE %s failed: %v", e.pe, e.err)
		}
		if e.kind == "drained" {
			counts[fmt.Sprintf("%s@%d", e.pe, e.epoch)]++
		}
	}
	for k, n := range counts {
		if n != 1 {
			t.Fatalf("%s drained %d times", k, n)
		}
	}
}
