package standalone

import (
	"context"
	"flag"
	"testing"
	"time"

	"github.com/weirstream/weir/topology"
)

var crTuples = flag.Int("cr.tuples", 600_000_000,
	"tuples per job of BenchmarkConsistentRegionOverhead: enough for several 1s epochs")

// benchCounter counts 0 … N-1: a replayable source, with or without a region around it.
type benchCounter struct{ N, Pos int }

func (c *benchCounter) Next() (int, bool, error) {
	if c.Pos >= c.N {
		return 0, false, nil
	}
	c.Pos++
	return c.Pos - 1, true, nil
}

// benchSink sums what it takes; its sum is its state.
type benchSink struct{ Sum int }

func (s *benchSink) Consume(v int) error { s.Sum += v; return nil }

// regionJob is source → map → filter → sink, the sink in a PE of its own so that markers cross a PE
// boundary; with period > 0 the whole job is a periodic consistent region.
func regionJob(n int, period time.Duration) *topology.Topology {
	topo := topology.New("overhead")
	s := topology.SourceOf[int](topo, &benchCounter{N: n})
	if period > 0 {
		s.SetConsistent(topology.Periodic(period))
	}
	m := topology.Map(s, func(v int) int { return v*3 + 1 }).Filter(func(v int) bool { return v&3 != 0 })
	m.Sink(&benchSink{}, topology.Isolate())
	return topo
}

func timeJob(b *testing.B, n int, period time.Duration) (time.Duration, int) {
	topo := regionJob(n, period)
	plan, err := topo.Plan()
	if err != nil {
		b.Fatal(err)
	}
	start := time.Now()
	j, err := Start(Options{Plan: plan, Binding: topo})
	if err != nil {
		b.Fatal(err)
	}
	if err := j.Wait(context.Background()); err != nil {
		b.Fatal(err)
	}
	d := time.Since(start)
	epochs := 0
	if rs := j.Regions(); len(rs) > 0 {
		epochs = rs[0].Commits
	}
	return d, epochs
}

// BenchmarkConsistentRegionOverhead runs the same job without and with a periodic consistent region (1s
// period), alternating, and reports the throughput cost of the region. The tuple count is fixed by
// -cr.tuples (default 600M, several seconds per job); run it with -benchtime=1x.
func BenchmarkConsistentRegionOverhead(b *testing.B) {
	n := *crTuples
	var plain, cr time.Duration
	epochs := 0
	for i := 0; i < b.N; i++ {
		for round := range 2 {
			p, _ := timeJob(b, n, 0)
			c, e := timeJob(b, n, time.Second)
			if (i == 0 && round == 0) || p < plain {
				plain = p
			}
			if (i == 0 && round == 0) || c < cr {
				cr, epochs = c, e
			}
		}
	}
	plainNs := float64(plain.Nanoseconds()) / float64(n)
	crNs := float64(cr.Nanoseconds()) / float64(n)
	b.ReportMetric(plainNs, "plain-ns/tuple")
	b.ReportMetric(crNs, "region-ns/tuple")
	b.ReportMetric(1e9/crNs, "region-tuples/s")
	b.ReportMetric(100*(crNs/plainNs-1), "overhead-%")
	b.ReportMetric(float64(epochs), "epochs")
}
