package standalone_test

import (
	"flag"
	"testing"
	"time"

	"github.com/weirstream/weir/bench"
)

var crTuples = flag.Int("cr.tuples", bench.RegionOverheadTuples,
	"tuples per job of BenchmarkConsistentRegionOverhead: enough for several 1s epochs")

// BenchmarkConsistentRegionOverhead runs the same job without and with a periodic consistent region (1s
// period), alternating, and reports the throughput cost of the region (bench.RegionOverhead). The tuple
// count is fixed by -cr.tuples (several seconds per job); run it with -benchtime=1x.
func BenchmarkConsistentRegionOverhead(b *testing.B) {
	var best bench.Result
	for i := 0; i < b.N; i++ {
		r := bench.RegionOverhead(*crTuples, time.Second)
		if r.Error != "" {
			b.Fatal(r.Error)
		}
		if i == 0 || r.NsPerTuple < best.NsPerTuple {
			best = r
		}
	}
	b.ReportMetric(best.BaselineNsPerTuple, "plain-ns/tuple")
	b.ReportMetric(best.NsPerTuple, "region-ns/tuple")
	b.ReportMetric(best.TuplesPerSec, "region-tuples/s")
	b.ReportMetric(100*(best.Ratio-1), "overhead-%")
	b.ReportMetric(float64(best.Epochs), "epochs")
	b.ReportMetric(best.AllocsPerTuple, "allocs/tuple")
	b.Log(best.Note)
	if !best.Pass {
		b.Logf("target missed (%s): the region keeps %.1f%% of the plain job's throughput", best.Target, 100/best.Ratio)
	}
}
