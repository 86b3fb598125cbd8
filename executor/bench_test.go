package executor

import (
	"runtime"
	"testing"
	"time"

	"github.com/weirstream/weir/topology"
)

// The user functions of the benchmark chain, as func values: the executor and the baseline call the very
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

// runJob runs the job of n tuples through an executor and returns the time from Start to the end of every
// PE.
func (c chainFuncs) runJob(b *testing.B, n int, isolate bool) time.Duration {
	x := build(b, c.job(n, isolate), &recorder{}, nil)
	start := time.Now()
	x.Start()
	<-x.Done()
	d := time.Since(start)
	x.Stop()
	return d
}

// baselineLoop calls the same functions in a plain loop.
func (c chainFuncs) baselineLoop(n int) time.Duration {
	start := time.Now()
	c.source(n)(func(v int) bool {
		if u := c.mapFn(v); c.keep(u) {
			c.sink(u)
		}
		return true
	})
	return time.Since(start)
}

// baselineChannel moves the tuples the source yields to the sink on another goroutine in batches of 256
// through a Go channel, recycling the batches through a second channel.
func (c chainFuncs) baselineChannel(n int) time.Duration {
	const batch, credits = 256, 8
	ch := make(chan []int, credits)
	free := make(chan []int, credits+2)
	done := make(chan struct{})
	start := time.Now()
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
	return time.Since(start)
}

// reportTuples puts the per-tuple figures of one benchmark run into b's output.
func reportTuples(b *testing.B, tuples int, exec, base time.Duration, allocs uint64) {
	n := float64(tuples)
	execNs := float64(exec.Nanoseconds()) / n
	baseNs := float64(base.Nanoseconds()) / n
	b.ReportMetric(execNs, "ns/tuple")
	b.ReportMetric(1e9/execNs, "tuples/s")
	b.ReportMetric(float64(allocs)/n, "allocs/tuple")
	b.ReportMetric(baseNs, "baseline-ns/tuple")
	b.ReportMetric(execNs/baseNs, "x-baseline")
}

// benchPair measures the executor and the baseline, alternating rounds of b.N/rounds tuples so that both see
// the same machine, and reports the best round of each (a shared machine only ever slows a round down).
// ns/op is the executor's average over all rounds, setup included; the per-tuple metrics are its best round.
func benchPair(b *testing.B, isolate bool, baseline func(chainFuncs, int) time.Duration) {
	c := newChainFuncs()
	c.runJob(b, 1000, isolate) // warm up
	const rounds = 3
	n := max(b.N/rounds, 1)
	var bestExec, bestBase time.Duration
	var allocs uint64
	b.ReportAllocs()
	b.ResetTimer()
	for r := range rounds {
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		e := c.runJob(b, n, isolate)
		runtime.ReadMemStats(&after)
		b.StopTimer()
		base := baseline(c, n)
		b.StartTimer()
		if r == 0 || e < bestExec {
			bestExec = e
		}
		if r == 0 || base < bestBase {
			bestBase = base
		}
		if r == 0 || after.Mallocs-before.Mallocs < allocs {
			allocs = after.Mallocs - before.Mallocs
		}
	}
	b.StopTimer()
	reportTuples(b, n, bestExec, bestBase, allocs)
}

// BenchmarkFusedChain: source → map → filter → sink fused in one PE, against the same functions called in a
// plain loop. One op is one tuple; run with -benchtime=20000000x or more so that setup is amortized.
func BenchmarkFusedChain(b *testing.B) {
	benchPair(b, false, chainFuncs.baselineLoop)
}

// BenchmarkPEBoundary: the same chain with the sink isolated, so that every tuple crosses a PE boundary,
// against a raw Go channel of batches of 256 between two goroutines.
func BenchmarkPEBoundary(b *testing.B) {
	benchPair(b, true, chainFuncs.baselineChannel)
}
