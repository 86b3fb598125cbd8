package bench

import (
	"strings"
	"testing"
	"time"
)

// check asserts what a result must hold whatever the machine's speed: these tests never assert on speed.
func check(t *testing.T, r Result, name string, n int) {
	t.Helper()
	t.Logf("%+v", r)
	if r.Error != "" {
		t.Fatalf("%s: %s", name, r.Error)
	}
	if r.Name != name || r.Tuples != n || r.Rounds != Rounds || r.Target == "" {
		t.Errorf("result %+v: want name %s, %d tuples, %d rounds and a target", r, name, n, Rounds)
	}
	if r.NsPerTuple <= 0 || r.BaselineNsPerTuple <= 0 || r.TuplesPerSec <= 0 || r.Ratio <= 0 || r.AllocsPerTuple < 0 {
		t.Errorf("result %+v: figures missing", r)
	}
	if got := r.NsPerTuple / r.BaselineNsPerTuple; got != r.Ratio {
		t.Errorf("ratio %v, want %v", r.Ratio, got)
	}
}

func TestFusedChain(t *testing.T) {
	r := FusedChain(20_000)
	check(t, r, NameFusedChain, 20_000)
	if want := r.Ratio <= 2 && r.AllocsPerTuple < MaxAllocsPerTuple; r.Pass != want {
		t.Errorf("pass %v, want %v", r.Pass, want)
	}
}

func TestPEBoundary(t *testing.T) {
	r := PEBoundary(20_000)
	check(t, r, NamePEBoundary, 20_000)
	if r.Pass != (r.Ratio <= 2) {
		t.Errorf("pass %v with ratio %v", r.Pass, r.Ratio)
	}
}

func TestJobFileMap(t *testing.T) {
	r := JobFileMap(5_000)
	check(t, r, NameJobFileMap, 5_000)
	if !r.Pass {
		t.Error("the job-file scenario has no target to miss")
	}
}

func TestRegionOverhead(t *testing.T) {
	r := RegionOverhead(1_000_000, 5*time.Millisecond)
	check(t, r, NameRegionOverhead, 1_000_000)
	if r.Epochs < 1 || !strings.Contains(r.Note, "epochs committed") {
		t.Errorf("epochs %d, note %q: want the epochs committed", r.Epochs, r.Note)
	}
	if r.Pass != (1/r.Ratio >= MinThroughputShare) {
		t.Errorf("pass %v with ratio %v", r.Pass, r.Ratio)
	}
}

func TestScenarios(t *testing.T) {
	seen := map[string]bool{}
	for _, s := range Scenarios() {
		if s.Name == "" || s.Tuples <= 0 || s.What == "" || s.Run == nil || seen[s.Name] {
			t.Errorf("scenario %+v", s)
		}
		seen[s.Name] = true
	}
	if len(seen) != 4 {
		t.Errorf("scenarios %v", seen)
	}
}

func TestDefaultTuples(t *testing.T) {
	if orDefault(0, 7) != 7 || orDefault(-1, 7) != 7 || orDefault(3, 7) != 3 {
		t.Error("orDefault")
	}
}

func TestThisMachine(t *testing.T) {
	m := ThisMachine()
	if m.CPUs <= 0 || m.GOMAXPROCS <= 0 || m.Go == "" || !strings.Contains(m.String(), "CPUs") {
		t.Errorf("%+v", m)
	}
}

// BenchmarkJobFileMap: a job-file pipeline (sequence → map → filter → sink through the builtin registry)
// against the same expressions in a plain loop. b.N tuples are split into Rounds rounds; run with
// -benchtime=6000000x. The chain and region scenarios run as BenchmarkFusedChain and BenchmarkPEBoundary in
// package executor and BenchmarkConsistentRegionOverhead in package standalone.
func BenchmarkJobFileMap(b *testing.B) {
	r := JobFileMap(max(b.N/Rounds, 1))
	if r.Error != "" {
		b.Fatal(r.Error)
	}
	r.ReportTo(b)
}
