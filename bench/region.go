package bench

import (
	"context"
	"fmt"
	"time"

	"github.com/weirstream/weir/standalone"
	"github.com/weirstream/weir/topology"
)

// MinThroughputShare is the share of the plain job's throughput that the job in a consistent region must
// keep: a region may cost at most 5% of throughput.
const MinThroughputShare = 0.95

const targetRegionOverhead = "≥ 95% of baseline tuples/s"

// counter counts 0 … N-1: a replayable source (its position is its state), with or without a region.
type counter struct{ N, Pos int }

func (c *counter) Next() (int, bool, error) {
	if c.Pos >= c.N {
		return 0, false, nil
	}
	c.Pos++
	return c.Pos - 1, true, nil
}

// summer sums what it takes; its sum is its state.
type summer struct{ Sum int }

func (s *summer) Consume(v int) error { s.Sum += v; return nil }

// regionJob is source → map → filter → sink, the sink in a PE of its own so that markers cross a PE
// boundary; with period > 0 the whole job is a periodic consistent region.
func regionJob(n int, period time.Duration) *topology.Topology {
	topo := topology.New("overhead")
	s := topology.SourceOf[int](topo, &counter{N: n})
	if period > 0 {
		s.SetConsistent(topology.Periodic(period))
	}
	m := topology.Map(s, func(v int) int { return v*3 + 1 }).Filter(func(v int) bool { return v&3 != 0 })
	m.Sink(&summer{}, topology.Isolate())
	return topo
}

// passing is how many of 0 … n-1 pass the filter: v*3+1 is a multiple of 4 exactly when v%4 == 1.
func passing(n int) uint64 { return uint64(n - (n+2)/4) }

// regionRun is one timed run of the region job.
type regionRun struct {
	sample
	commits, resets int
}

// runRegionJob runs the job of n tuples in this process as `weir run` does (standalone: executor and region
// coordinator), timed from Start to the end of Wait.
func runRegionJob(n int, period time.Duration) (regionRun, error) {
	topo := regionJob(n, period)
	plan, err := topo.Plan()
	if err != nil {
		return regionRun{}, err
	}
	var j *standalone.Job
	s, err := timed(func() error {
		var err error
		if j, err = standalone.Start(standalone.Options{Plan: plan, Binding: topo}); err != nil {
			return err
		}
		return j.Wait(context.Background())
	})
	if err != nil {
		return regionRun{}, err
	}
	out := regionRun{sample: s}
	var consumed uint64
	for _, st := range j.Stats() {
		consumed += st.Consumed
	}
	for _, rs := range j.Regions() {
		out.commits += rs.Commits
		out.resets += rs.Resets
	}
	if out.resets == 0 && consumed != passing(n) {
		return out, fmt.Errorf("the sink took %d tuples, expected %d", consumed, passing(n))
	}
	return out, nil
}

// RegionOverhead measures the job source → map → filter → | sink (the sink in a PE of its own) in a
// periodic consistent region of the given period against the same job without a region, both run as
// `weir run` runs them, over n tuples per round (n ≤ 0: RegionOverheadTuples, several seconds per job, so
// that several epochs commit). Target: the region keeps at least 95% of the plain job's throughput.
func RegionOverhead(n int, period time.Duration) Result {
	n = orDefault(n, RegionOverheadTuples)
	const name = NameRegionOverhead
	var best regionRun
	eng, base, err := bestOf(Rounds,
		func() (sample, error) {
			r, err := runRegionJob(n, period)
			if err == nil && (best.d == 0 || r.d < best.d) {
				best = r
			}
			return r.sample, err
		},
		func() (sample, error) {
			r, err := runRegionJob(n, 0)
			return r.sample, err
		})
	if err != nil {
		return failed(name, n, targetRegionOverhead, err)
	}
	r := newResult(name, n, eng, base)
	r.Target = targetRegionOverhead
	r.Pass = r.Ratio > 0 && 1/r.Ratio >= MinThroughputShare
	r.Epochs = best.commits
	r.Note = fmt.Sprintf("period %s; %d epochs committed in the best round", period, best.commits)
	if best.resets > 0 {
		r.Note += fmt.Sprintf(", %d resets", best.resets)
	}
	if best.commits < 3 {
		r.Note += ": too few for the period to show, raise the tuples"
	}
	return r
}
