package executor_test

import (
	"testing"

	"github.com/weirstream/weir/bench"
)

// report puts a scenario's figures into b's output (bench.Result.ReportTo): ns/tuple, tuples/s,
// allocs/tuple, baseline-ns/tuple, x-baseline, and ns/op as the engine's ns/tuple.
func report(b *testing.B, r bench.Result) {
	if r.Error != "" {
		b.Fatal(r.Error)
	}
	r.ReportTo(b)
	if !r.Pass && b.N >= 1000 { // not the probe runs of a few tuples, all setup
		b.Logf("%s: target missed (%s): %.2f× baseline, %.2g allocs/tuple", r.Name, r.Target, r.Ratio, r.AllocsPerTuple)
	}
}

// BenchmarkFusedChain: source → map → filter → sink fused in one PE, against the same funcs called in a
// plain loop (bench.FusedChain). b.N tuples are split into bench.Rounds alternating rounds, of which the
// best counts; run with -benchtime=60000000x or more so that setup is amortized.
func BenchmarkFusedChain(b *testing.B) {
	report(b, bench.FusedChain(max(b.N/bench.Rounds, 1)))
}

// BenchmarkPEBoundary: the same chain with the sink isolated, so that every tuple crosses a PE boundary,
// against a raw Go channel of batches of 256 between two goroutines (bench.PEBoundary).
func BenchmarkPEBoundary(b *testing.B) {
	report(b, bench.PEBoundary(max(b.N/bench.Rounds, 1)))
}
