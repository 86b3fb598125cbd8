package cli

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/weirstream/weir/bench"
)

// benchRows returns the table's rows by benchmark name (the header excluded).
func benchRows(t *testing.T, stdout string) map[string]string {
	t.Helper()
	rows := map[string]string{}
	header := false
	for _, line := range strings.Split(stdout, "\n") {
		f := strings.Fields(line)
		switch {
		case len(f) == 0:
		case f[0] == "benchmark":
			header = true
			for _, col := range []string{"tuples/s", "ns/tuple", "baseline ns/tuple", "ratio", "allocs/tuple", "target", "result"} {
				if !strings.Contains(line, col) {
					t.Errorf("header %q lacks column %q", line, col)
				}
			}
		case header && (strings.HasSuffix(line, "pass") || strings.HasSuffix(line, "FAIL") || strings.HasSuffix(line, "ERROR")):
			rows[f[0]] = line
		}
	}
	if !header {
		t.Fatalf("no table in %q", stdout)
	}
	return rows
}

// A real run, kept short: the figures of a few thousand tuples mean nothing, so only the table's shape and
// the agreement of the exit code with the verdicts are checked, never the speed.
func TestBenchQuickRun(t *testing.T) {
	r := runCLI(t, "bench", "--tuples", "2000", "--only", "fused-chain", "--only", "pe-boundary")
	rows := benchRows(t, r.stdout)
	if len(rows) != 2 || rows["fused-chain"] == "" || rows["pe-boundary"] == "" {
		t.Fatalf("rows %q: want fused-chain and pe-boundary", rows)
	}
	failed := false
	for name, row := range rows {
		if strings.HasSuffix(row, "ERROR") {
			t.Fatalf("%s: %s", name, r.stdout)
		}
		failed = failed || strings.HasSuffix(row, "FAIL")
	}
	switch {
	case failed && (r.code != 1 || !strings.Contains(r.stderr, "target missed")):
		t.Fatalf("a target missed: want exit 1 saying so, got %d", r.code)
	case !failed && r.code != 0:
		t.Fatalf("every target met: want exit 0, got %d", r.code)
	}
	for _, want := range []string{"fused-chain: 2000 tuples × 3 rounds", "pe-boundary: done in"} {
		if !strings.Contains(r.stderr, want) {
			t.Errorf("progress lacks %q", want)
		}
	}
}

// The job-file benchmark has no target, so its run exits 0 whatever the speed.
func TestBenchJSON(t *testing.T) {
	r := runCLI(t, "bench", "--json", "--only=jobfile-map", "--tuples=1000")
	if r.code != 0 {
		t.Fatalf("exit %d", r.code)
	}
	var rep struct {
		Machine bench.Machine
		Results []bench.Result
	}
	if err := json.Unmarshal([]byte(r.stdout), &rep); err != nil {
		t.Fatalf("stdout is not JSON: %v", err)
	}
	if rep.Machine.CPUs <= 0 || len(rep.Results) != 1 {
		t.Fatalf("report %+v", rep)
	}
	res := rep.Results[0]
	if res.Name != "jobfile-map" || res.Tuples != 1000 || !res.Pass || res.Error != "" ||
		res.NsPerTuple <= 0 || res.BaselineNsPerTuple <= 0 || res.AllocsPerTuple <= 0 {
		t.Fatalf("result %+v", res)
	}
}

// fakeScenarios replaces the benchmarks with ones whose verdicts are known.
func fakeScenarios(t *testing.T) {
	t.Helper()
	old := benchScenarios
	t.Cleanup(func() { benchScenarios = old })
	mk := func(name string, pass bool) bench.Scenario {
		return bench.Scenario{Name: name, Tuples: 10, What: "fake", Run: func(n int) bench.Result {
			return bench.Result{Name: name, Tuples: n, Rounds: bench.Rounds, NsPerTuple: 30, BaselineNsPerTuple: 10,
				Ratio: 3, TuplesPerSec: 1e9 / 30, Target: "≤ 2× baseline", Pass: pass}
		}}
	}
	benchScenarios = func() []bench.Scenario {
		return []bench.Scenario{mk("quick", true), mk("slow", false), {Name: "broken", Tuples: 10, What: "fake",
			Run: func(n int) bench.Result { return bench.Result{Name: "broken", Tuples: n, Error: "no luck"} }}}
	}
}

func TestBenchExitCodes(t *testing.T) {
	fakeScenarios(t)

	r := runCLI(t, "bench", "--only", "quick")
	if r.code != 0 || !strings.HasSuffix(benchRows(t, r.stdout)["quick"], "pass") {
		t.Fatalf("all met: exit %d", r.code)
	}
	if !strings.Contains(r.stderr, "quick: 10 tuples") {
		t.Errorf("want each benchmark's default tuples, got %q", r.stderr)
	}

	r = runCLI(t, "bench", "--tuples", "5")
	rows := benchRows(t, r.stdout)
	if r.code != 1 || !strings.HasSuffix(rows["slow"], "FAIL") || !strings.HasSuffix(rows["broken"], "ERROR") ||
		!strings.HasSuffix(rows["quick"], "pass") {
		t.Fatalf("want exit 1 with quick pass, slow FAIL, broken ERROR; got %d, %q", r.code, rows)
	}
	if !strings.Contains(r.stderr, "weir: bench: target missed: slow, broken") || !strings.Contains(r.stdout, "broken: error: no luck") {
		t.Fatalf("the misses and the error should be named")
	}
	if !strings.Contains(r.stderr, "slow: 5 tuples") {
		t.Errorf("--tuples should apply to every benchmark")
	}
}

func TestBenchBadUsage(t *testing.T) {
	fakeScenarios(t)
	for _, args := range [][]string{
		{"bench", "--only", "nosuch"},
		{"bench", "--only", "quick,nosuch"},
		{"bench", "--tuples", "-3"},
		{"bench", "extra"},
	} {
		r := runCLI(t, args...)
		if r.code != 2 || r.stdout != "" {
			t.Fatalf("%q: want exit 2 and no output, got %d", args, r.code)
		}
	}
	r := runCLI(t, "bench", "--only", "nosuch")
	if !strings.Contains(r.stderr, "quick, slow, broken") {
		t.Errorf("an unknown name should list the benchmarks: %q", r.stderr)
	}
	r = runCLI(t, "bench", "--only", "slow,quick")
	if rows := benchRows(t, r.stdout); len(rows) != 2 || r.code != 1 {
		t.Errorf("comma-separated names: rows %q, exit %d", rows, r.code)
	}
}
