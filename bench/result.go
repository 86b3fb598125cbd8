package bench

import (
	"fmt"
	"os"
	"runtime"
	"strings"
	"time"
)

// Result is what one scenario measured. The engine's figures (NsPerTuple, TuplesPerSec, AllocsPerTuple) and
// the baseline's (BaselineNsPerTuple) come from the same run: each is the best of Rounds alternating rounds
// of Tuples tuples, because on a shared machine other work only ever slows a round down.
type Result struct {
	Name               string  `json:"name"`
	Tuples             int     `json:"tuples"`
	Rounds             int     `json:"rounds"`
	NsPerTuple         float64 `json:"ns_per_tuple"`
	BaselineNsPerTuple float64 `json:"baseline_ns_per_tuple"`
	// Ratio is NsPerTuple / BaselineNsPerTuple: how many times slower than the baseline.
	Ratio        float64 `json:"ratio"`
	TuplesPerSec float64 `json:"tuples_per_sec"`
	// AllocsPerTuple is the engine's heap allocations (runtime.MemStats.Mallocs) during the measured part,
	// per tuple: what the PEs allocate while running, not the building of the job.
	AllocsPerTuple float64 `json:"allocs_per_tuple"`
	// Target says what the scenario must achieve; Pass whether it did.
	Target string `json:"target"`
	Pass   bool   `json:"pass"`
	// Epochs is the number of epochs the consistent region committed in the engine's best round (region
	// scenarios only).
	Epochs int `json:"epochs,omitempty"`
	// Note adds what the figures alone do not say.
	Note string `json:"note,omitempty"`
	// Error is set when the scenario could not run (Pass is false then).
	Error string `json:"error,omitempty"`
}

// Rounds is how many times every scenario measures the engine and its baseline, alternating.
const Rounds = 3

// Scenario is one benchmark, run by name from `weir bench`.
type Scenario struct {
	Name string
	// Tuples is the default number of tuples per round: enough to amortize setting the job up.
	Tuples int
	// What says in one line what is measured against what.
	What string
	Run  func(n int) Result
}

// Scenarios returns every scenario, quickest first.
func Scenarios() []Scenario {
	return []Scenario{
		{Name: NameFusedChain, Tuples: FusedChainTuples, Run: FusedChain,
			What: "source → map → filter → sink fused in one PE vs the same funcs in a plain loop"},
		{Name: NamePEBoundary, Tuples: PEBoundaryTuples, Run: PEBoundary,
			What: "the same chain with the sink in a PE of its own vs a raw chan []int of 256-int batches"},
		{Name: NameJobFileMap, Tuples: JobFileMapTuples, Run: JobFileMap,
			What: "job file sequence → map \"it * 2\" → filter → sink vs the same expressions in a plain loop"},
		{Name: NameRegionOverhead, Tuples: RegionOverheadTuples, Run: func(n int) Result { return RegionOverhead(n, time.Second) },
			What: "a job in a periodic consistent region (1s) vs the same job without one"},
	}
}

// Scenario names.
const (
	NameFusedChain     = "fused-chain"
	NamePEBoundary     = "pe-boundary"
	NameJobFileMap     = "jobfile-map"
	NameRegionOverhead = "region-overhead"
)

// Default tuples per round.
const (
	FusedChainTuples     = 20_000_000
	PEBoundaryTuples     = 20_000_000
	JobFileMapTuples     = 2_000_000
	RegionOverheadTuples = 400_000_000
)

// Machine describes where the figures were measured.
type Machine struct {
	Go         string `json:"go"`
	OS         string `json:"os"`
	Arch       string `json:"arch"`
	CPUs       int    `json:"cpus"`
	GOMAXPROCS int    `json:"gomaxprocs"`
	// Load is /proc/loadavg's 1, 5 and 15 minute load averages when readable ("" elsewhere).
	Load string `json:"load,omitempty"`
}

// ThisMachine describes the machine now.
func ThisMachine() Machine {
	m := Machine{Go: runtime.Version(), OS: runtime.GOOS, Arch: runtime.GOARCH, CPUs: runtime.NumCPU(), GOMAXPROCS: runtime.GOMAXPROCS(0)}
	if b, err := os.ReadFile("/proc/loadavg"); err == nil {
		if f := strings.Fields(string(b)); len(f) >= 3 {
			m.Load = strings.Join(f[:3], " ")
		}
	}
	return m
}

func (m Machine) String() string {
	s := fmt.Sprintf("%s %s/%s, %d CPUs, GOMAXPROCS %d", m.Go, m.OS, m.Arch, m.CPUs, m.GOMAXPROCS)
	if m.Load != "" {
		s += ", load average " + m.Load
	}
	return s
}

// sample is one measured run.
type sample struct {
	d       time.Duration
	mallocs uint64
}

// timed runs f after a garbage collection (so that no earlier garbage is collected on its time) between two
// memory snapshots, and returns its wall time and the heap allocations made meanwhile.
func timed(f func() error) (sample, error) {
	runtime.GC()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	start := time.Now()
	err := f()
	d := time.Since(start)
	runtime.ReadMemStats(&after)
	return sample{d: d, mallocs: after.Mallocs - before.Mallocs}, err
}

// bestOf runs engine and baseline alternately for rounds rounds and keeps the best of each: the shortest
// time and, separately, the fewest allocations.
func bestOf(rounds int, engine, baseline func() (sample, error)) (eng, base sample, err error) {
	for r := range rounds {
		e, err := engine()
		if err != nil {
			return eng, base, err
		}
		b, err := baseline()
		if err != nil {
			return eng, base, err
		}
		if r == 0 {
			eng, base = e, b
			continue
		}
		eng.d, eng.mallocs = min(eng.d, e.d), min(eng.mallocs, e.mallocs)
		base.d, base.mallocs = min(base.d, b.d), min(base.mallocs, b.mallocs)
	}
	return eng, base, nil
}

// newResult fills in the per-tuple figures of n tuples.
func newResult(name string, n int, eng, base sample) Result {
	t := float64(n)
	r := Result{Name: name, Tuples: n, Rounds: Rounds,
		NsPerTuple:         float64(eng.d.Nanoseconds()) / t,
		BaselineNsPerTuple: float64(base.d.Nanoseconds()) / t,
		AllocsPerTuple:     float64(eng.mallocs) / t,
	}
	if r.NsPerTuple > 0 {
		r.TuplesPerSec = 1e9 / r.NsPerTuple
	}
	if r.BaselineNsPerTuple > 0 {
		r.Ratio = r.NsPerTuple / r.BaselineNsPerTuple
	}
	return r
}

// failed is the result of a scenario that could not run.
func failed(name string, n int, target string, err error) Result {
	return Result{Name: name, Tuples: n, Rounds: Rounds, Target: target, Error: err.Error()}
}

func orDefault(n, def int) int {
	if n <= 0 {
		return def
	}
	return n
}

// MetricReporter is what ReportTo reports through: a *testing.B.
type MetricReporter interface {
	ReportMetric(n float64, unit string)
}

// ReportTo reports r's figures as benchmark metrics: ns/tuple, tuples/s, allocs/tuple, baseline-ns/tuple
// and x-baseline (the ratio), and ns/op as the engine's ns/tuple, one op being one tuple (the benchmark's
// own ns/op would also count the baseline's rounds).
func (r Result) ReportTo(b MetricReporter) {
	b.ReportMetric(r.NsPerTuple, "ns/op")
	b.ReportMetric(r.NsPerTuple, "ns/tuple")
	b.ReportMetric(r.TuplesPerSec, "tuples/s")
	b.ReportMetric(r.AllocsPerTuple, "allocs/tuple")
	b.ReportMetric(r.BaselineNsPerTuple, "baseline-ns/tuple")
	b.ReportMetric(r.Ratio, "x-baseline")
}
