package bench

import (
	"fmt"
	"sync"

	"github.com/weirstream/weir/executor"
	"github.com/weirstream/weir/region"
	"github.com/weirstream/weir/topology"
)

// Targets of the chain scenarios.
const (
	// MaxAllocsPerTuple tells "no heap allocation per tuple" from the few allocations of starting the PEs,
	// which the tuples amortize: an allocation per tuple shows as 1, one per batch of 256 as 0.004.
	MaxAllocsPerTuple = 0.001
	maxChainRatio     = 2.0

	targetFusedChain = "≤ 2× baseline, < 0.001 allocs/tuple"
	targetPEBoundary = "≤ 2× baseline"
)

// chainFuncs are the user functions of the chain, as func values: the engine and the baseline call the very
// same ones.
type chainFuncs struct {
	source func(n int) func(yield func(int) bool)
	mapFn  func(int) int
	keep   func(int) bool
	sink   func(int)
	total  *int
}

func newChainFuncs() chainFuncs {
	total := new(int)
	return chainFuncs{
		source: func(n int) func(yield func(int) bool) {
			return func(yield func(int) bool) {
				for i := range n {
					if !yield(i) {
						return
					}
				}
			}
		},
		mapFn: func(v int) int { return v*3 + 1 },
		keep:  func(v int) bool { return v&3 != 0 },
		sink:  func(v int) { *total += v },
		total: total,
	}
}

// job is source → map → filter → sink; isolate puts the sink in a PE of its own.
func (c chainFuncs) job(n int, isolate bool) *topology.Topology {
	var opts []topology.Option
	if isolate {
		opts = append(opts, topology.Isolate())
	}
	topo := topology.New("bench")
	s := topology.Source(topo, c.source(n))
	f := topology.Map(s, c.mapFn).Filter(c.keep)
	f.ForEach(c.sink, opts...)
	return topo
}

// runEngine runs the job of n tuples through an executor, timing it from Start to the end of every PE (the
// building of the job before and the Stop after are not timed), and checks that the sink summed want, what
// the plain loop sums.
func (c chainFuncs) runEngine(n int, isolate bool, want int) (sample, error) {
	x, rep, err := newExecutor(c.job(n, isolate))
	if err != nil {
		return sample{}, err
	}
	*c.total = 0
	s, _ := timed(func() error {
		x.Start()
		<-x.Done()
		return nil
	})
	x.Stop()
	if err := rep.err(); err != nil {
		return s, err
	}
	if *c.total != want {
		return s, fmt.Errorf("the sink summed %d, the plain loop %d", *c.total, want)
	}
	return s, nil
}

// expected is what the sink sums over n tuples, computed by the plain loop.
func (c chainFuncs) expected(n int) int {
	*c.total = 0
	c.loop(n)
	return *c.total
}

// loop calls the functions in a plain loop.
func (c chainFuncs) loop(n int) {
	c.source(n)(func(v int) bool {
		if u := c.mapFn(v); c.keep(u) {
			c.sink(u)
		}
		return true
	})
}

// baselineLoop times the plain loop.
func (c chainFuncs) baselineLoop(n int) (sample, error) {
	return timed(func() error { c.loop(n); return nil })
}

// baselineChannel moves the tuples the source yields to the sink on another goroutine in batches of 256
// through a raw Go channel (8 batches of credit, as the executor's edges), recycling the batches through a
// second channel.
func (c chainFuncs) baselineChannel(n int) (sample, error) {
	const batch, credits = 256, 8
	return timed(func() error {
		ch := make(chan []int, credits)
		free := make(chan []int, credits+2)
		done := make(chan struct{})
		go func() {
			defer close(done)
			for items := range ch {
				for _, v := range items {
					c.sink(v)
				}
				select {
				case free <- items[:0]:
				default:
				}
			}
		}()
		buf := make([]int, 0, batch)
		c.source(n)(func(v int) bool {
			if u := c.mapFn(v); c.keep(u) {
				buf = append(buf, u)
				if len(buf) == batch {
					ch <- buf
					select {
					case buf = <-free:
					default:
						buf = make([]int, 0, batch)
					}
				}
			}
			return true
		})
		if len(buf) > 0 {
			ch <- buf
		}
		close(ch)
		<-done
		return nil
	})
}

// chain measures the chain in the executor against baseline.
func chain(name, target string, n int, isolate bool, baseline func(chainFuncs, int) (sample, error)) Result {
	c := newChainFuncs()
	if _, err := c.runEngine(1000, isolate, c.expected(1000)); err != nil { // warm up
		return failed(name, n, target, err)
	}
	want := c.expected(n)
	eng, base, err := bestOf(Rounds,
		func() (sample, error) { return c.runEngine(n, isolate, want) },
		func() (sample, error) { return baseline(c, n) })
	if err != nil {
		return failed(name, n, target, err)
	}
	r := newResult(name, n, eng, base)
	r.Target = target
	return r
}

// FusedChain measures source → map → filter → sink fused in one PE against the same func values called in
// a plain loop, over n tuples per round (n ≤ 0: FusedChainTuples). Target: at most 2× the baseline's time
// per tuple and no heap allocation per tuple.
func FusedChain(n int) Result {
	n = orDefault(n, FusedChainTuples)
	r := chain(NameFusedChain, targetFusedChain, n, false, chainFuncs.baselineLoop)
	r.Pass = r.Error == "" && r.Ratio <= maxChainRatio && r.AllocsPerTuple < MaxAllocsPerTuple
	return r
}

// PEBoundary measures the same chain with the sink isolated in a PE of its own, so that every tuple crosses
// a PE boundary in batches, against a raw chan []int of 256-int batches between two goroutines, over n
// tuples per round (n ≤ 0: PEBoundaryTuples). Target: at most 2× the baseline's time per tuple.
func PEBoundary(n int) Result {
	n = orDefault(n, PEBoundaryTuples)
	r := chain(NamePEBoundary, targetPEBoundary, n, true, chainFuncs.baselineChannel)
	r.Pass = r.Error == "" && r.Ratio <= maxChainRatio
	return r
}

// newExecutor binds a job to an executor with no consistent-region coordinator (the chain jobs have no
// region) and a reporter that keeps the first failure.
func newExecutor(topo *topology.Topology) (*executor.Executor, *reporter, error) {
	plan, err := topo.Plan()
	if err != nil {
		return nil, nil, err
	}
	return newExecutorOf(plan, topo)
}

func newExecutorOf(plan *topology.Plan, binding topology.Binding) (*executor.Executor, *reporter, error) {
	ph, err := region.Expand(plan)
	if err != nil {
		return nil, nil, err
	}
	rep := &reporter{}
	x, err := executor.New(executor.Options{Job: plan.Name, Physical: ph, Binding: binding, Reporter: rep})
	if err != nil {
		return nil, nil, err
	}
	return x, rep, nil
}

// reporter keeps the first failure a PE reports.
type reporter struct {
	mu    sync.Mutex
	first error
}

func (r *reporter) fail(pe string, err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.first == nil {
		r.first = fmt.Errorf("PE %s: %w", pe, err)
	}
}

func (r *reporter) err() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.first
}

func (r *reporter) Drained(int, string, uint64, uint64, string) {}
func (r *reporter) Exhausted(int, string, uint64)               {}
func (r *reporter) ResetDone(int, string, uint64)               {}
func (r *reporter) Failed(_ int, pe string, _ uint64, err error) {
	r.fail(pe, err)
}
func (r *reporter) Trigger(int)                  {}
func (r *reporter) Finished(string)              {}
func (r *reporter) Crashed(pe string, err error) { r.fail(pe, err) }

var _ executor.Reporter = (*reporter)(nil)
