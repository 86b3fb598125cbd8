package cli

import (
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
	"time"

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

// fakeRecovery replaces the recovery benchmark with one whose figures are known: the leader of the fast
// profile recovers in slow seconds when slow is set. It records the options of each call.
func fakeRecovery(t *testing.T, slow bool) *[]bench.RecoveryOptions {
	t.Helper()
	old := benchRecovery
	t.Cleanup(func() { benchRecovery = old })
	var calls []bench.RecoveryOptions
	benchRecovery = func(o bench.RecoveryOptions) (bench.RecoveryResult, error) {
		calls = append(calls, o)
		o.Log("fake recovery, fast %v", o.Fast)
		res := bench.RecoveryResult{Profile: bench.ProfileDefault, Rate: o.Rate, Width: o.Width, Period: o.Period, Poll: 10 * time.Millisecond}
		if o.Fast {
			res.Profile = bench.ProfileFast
		}
		kinds := o.Kinds
		if len(kinds) == 0 {
			kinds = []string{bench.KillWorker, bench.KillLeader}
		}
		for _, kind := range kinds {
			total, target := 600*time.Millisecond, bench.TargetWorkerRecovery
			if kind == bench.KillLeader {
				total, target = 2500*time.Millisecond, bench.TargetLeaderRecovery
				if slow && o.Fast {
					total = 9 * time.Second
				}
			}
			s := bench.RecoverySeries{Kill: kind, Target: target, Pass: total <= target,
				Total:  bench.PhaseStats{Name: "total", Until: "kill → first new tuple at the sink", Median: total, Max: total, SinceKillMedian: total, SinceKillMax: total, N: 1},
				Commit: bench.PhaseStats{Name: "commit", Until: "kill → next committed epoch", SinceKillMedian: total + time.Second, SinceKillMax: total + time.Second, N: 1},
				Trials: []bench.RecoveryTrial{{Kill: kind, Victim: "n2", Leader: "n1", SinkBefore: "n2", SinkAfter: "n3",
					Failed: total - 20*time.Millisecond, FailedWhy: "it does not answer", Placed: total - 15*time.Millisecond,
					Resumed: total - 5*time.Millisecond, FirstTuple: total, Committed: total + time.Second, Resets: 2, Gen: 4, GenAfter: 6}},
			}
			for _, name := range bench.RecoveryPhases(kind) {
				s.Phases = append(s.Phases, bench.PhaseStats{Name: name, Until: "milestone of " + name, Median: time.Millisecond, Max: 2 * time.Millisecond, N: 1})
			}
			res.Kills = append(res.Kills, s)
		}
		return res, nil
	}
	return &calls
}

func TestBenchRecovery(t *testing.T) {
	calls := fakeRecovery(t, false)
	r := runCLI(t, "bench", "recovery", "--trials", "2")
	if r.code != 0 {
		t.Fatalf("every target met: want exit 0, got %d", r.code)
	}
	if len(*calls) != 2 || (*calls)[0].Fast || !(*calls)[1].Fast {
		t.Fatalf("want the default profile, then --fast: %+v", *calls)
	}
	for _, o := range *calls {
		if o.Trials != 2 || o.Binary == "" || o.Rate != bench.RecoveryRate || o.Period != bench.RecoveryPeriod || o.Context == nil || o.Dir != "" {
			t.Errorf("options %+v", o)
		}
	}
	for _, want := range []string{
		"recovery with the default timings", "recovery with --fast",
		"kill -9 of the worker, 1 trials; target: first new sink tuple within 5s: pass",
		"kill -9 of the leader, 1 trials; target: first new sink tuple within 8s: pass",
		"election", "detection", "placement", "reset", "replay", "total", "commit",
		"n2 killed (leader n1; sink on n2 → n3): detection 580ms + placement 5ms",
	} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("stdout lacks %q", want)
		}
	}
	if !strings.Contains(r.stderr, "fake recovery, fast true") {
		t.Errorf("progress should go to stderr: %q", r.stderr)
	}
}

func TestBenchRecoveryMiss(t *testing.T) {
	fakeRecovery(t, true)
	r := runCLI(t, "bench", "recovery")
	if r.code != 1 || !strings.Contains(r.stderr, "bench recovery: target missed: fast") {
		t.Fatalf("the fast leader missed: want exit 1 naming it, got %d", r.code)
	}
	if !strings.Contains(r.stdout, "within 8s: FAIL") || !strings.Contains(r.stdout, "within 5s: pass") {
		t.Errorf("verdicts: %q", r.stdout)
	}
}

func TestBenchRecoveryOptionsAndJSON(t *testing.T) {
	calls := fakeRecovery(t, false)
	dir := t.TempDir()
	r := runCLI(t, "bench", "recovery", "--profile", "fast", "--kill", "leader", "--rate", "2000", "--period", "200ms", "--dir", dir, "--json")
	if r.code != 0 || len(*calls) != 1 {
		t.Fatalf("exit %d, %d calls", r.code, len(*calls))
	}
	o := (*calls)[0]
	if !o.Fast || len(o.Kinds) != 1 || o.Kinds[0] != bench.KillLeader || o.Rate != 2000 || o.Period != 200*time.Millisecond ||
		o.Dir != filepath.Join(dir, bench.ProfileFast) {
		t.Fatalf("options %+v", o)
	}
	var rep struct {
		Machine bench.Machine
		Runs    []struct {
			Profile string
			Kills   []bench.RecoverySeries
		}
	}
	if err := json.Unmarshal([]byte(r.stdout), &rep); err != nil {
		t.Fatalf("stdout is not JSON: %v", err)
	}
	if rep.Machine.CPUs <= 0 || len(rep.Runs) != 1 || rep.Runs[0].Profile != bench.ProfileFast || len(rep.Runs[0].Kills) != 1 ||
		rep.Runs[0].Kills[0].Total.Median != 2500*time.Millisecond {
		t.Fatalf("report %+v", rep)
	}
}

func TestBenchRecoveryBadUsage(t *testing.T) {
	calls := fakeRecovery(t, false)
	for _, args := range [][]string{
		{"bench", "recovery", "--profile", "slow"},
		{"bench", "recovery", "--kill", "follower"},
		{"bench", "recovery", "--kill", "worker,follower"},
		{"bench", "recovery", "--trials", "0"},
		{"bench", "recovery", "--rate", "-5"},
		{"bench", "recovery", "--period", "0s"},
		{"bench", "recovery", "extra"},
	} {
		r := runCLI(t, args...)
		if r.code != 2 || r.stdout != "" {
			t.Fatalf("%q: want exit 2 and no output, got %d", args, r.code)
		}
	}
	if len(*calls) != 0 {
		t.Fatalf("bad usage ran the benchmark: %+v", *calls)
	}
}
