package cli

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/weirstream/weir/topology"
)

type result struct {
	code           int
	stdout, stderr string
}

func runCLI(t *testing.T, args ...string) result {
	t.Helper()
	var out, errb bytes.Buffer
	code := Run(&Env{Stdout: &out, Stderr: &errb, Jobs: topology.NewJobs()}, append([]string{"weir"}, args...))
	r := result{code, out.String(), errb.String()}
	t.Logf("weir %s → exit %d\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), code, r.stdout, r.stderr)
	return r
}

func writeJobFile(t *testing.T, text string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "job.yaml")
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

const countJob = `name: counting
params:
  count: 10
steps:
  - source: sequence
    count: ${count}
  - map: "it * 3"
  - sink: stdout
`

func TestRunPrintsTuplesAndSummary(t *testing.T) {
	r := runCLI(t, "run", writeJobFile(t, countJob), "-P", "count=5", "--progress", "0")
	if r.code != 0 {
		t.Fatalf("exit %d", r.code)
	}
	if r.stdout != "0\n3\n6\n9\n12\n" {
		t.Fatalf("stdout %q", r.stdout)
	}
	for _, want := range []string{"job counting finished", "tuples in (from sources): 5", "tuples out (into sinks):  5"} {
		if !strings.Contains(r.stderr, want) {
			t.Fatalf("summary lacks %q", want)
		}
	}
}

func TestFlagsBeforeOrAfterTheJob(t *testing.T) {
	job := writeJobFile(t, countJob)
	a := runCLI(t, "run", "-P", "count=3", "--quiet", job)
	b := runCLI(t, "run", job, "-P", "count=3", "--quiet")
	c := runCLI(t, "run", "--quiet", job, "--param=count=3")
	for _, r := range []result{a, b, c} {
		if r.code != 0 || r.stdout != "0\n3\n6\n" || r.stderr != "" {
			t.Fatalf("got %+v", r)
		}
	}
}

func TestRunWithInjectedResetsIsExactlyOnce(t *testing.T) {
	out := filepath.Join(t.TempDir(), "out")
	job := writeJobFile(t, `name: eo
consistent:
  period: 20ms
steps:
  - source: sequence
    count: 200000
  - parallel: 3
    routing: hash
    key: "it % 7"
  - map: "it + 1"
  - end_parallel
  - sink: file
    path: `+out+`
    exactly_once: true
`)
	r := runCLI(t, "run", job, "--inject-resets", "4", "--progress", "0", "--checkpoint-dir", t.TempDir())
	if r.code != 0 || !strings.Contains(r.stderr, "4 resets") {
		t.Fatalf("exit %d", r.code)
	}
	seen := make(map[string]bool)
	files, _ := filepath.Glob(filepath.Join(out, "part-*"))
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, line := range strings.Fields(string(data)) {
			if seen[line] {
				t.Fatalf("%s published twice", line)
			}
			seen[line] = true
		}
	}
	if len(seen) != 200000 {
		t.Fatalf("%d values published, want 200000", len(seen))
	}
}

func TestBadJobFilesNameLineAndField(t *testing.T) {
	cases := []struct {
		name, job string
		wants     []string
	}{
		{"unknown operator", "name: x\nsteps:\n  - source: sequense\n    count: 3\n  - sink: stdout\n",
			[]string{"job.yaml:3", "sequense", "sequence", "gauss", "file"}},
		{"bad expression", "name: x\nsteps:\n  - source: sequence\n    count: 3\n  - map: \"it *\"\n  - sink: stdout\n",
			[]string{"job.yaml:5", "map", "it *"}},
		{"unknown parameter", "name: x\nsteps:\n  - source: sequence\n    count: 3\n    cuont: 4\n  - sink: stdout\n",
			[]string{"job.yaml:5", "cuont", "count"}},
		{"yaml syntax", "name: x\nsteps:\n  - source: [\n", []string{"job.yaml"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := runCLI(t, "run", writeJobFile(t, c.job))
			if r.code != 2 {
				t.Fatalf("exit %d, want 2", r.code)
			}
			for _, w := range c.wants {
				if !strings.Contains(r.stderr, w) {
					t.Fatalf("message lacks %q", w)
				}
			}
		})
	}
}

func TestUnknownParameterListsTheDeclaredOnes(t *testing.T) {
	r := runCLI(t, "run", writeJobFile(t, countJob), "-P", "cont=3")
	if r.code != 2 || !strings.Contains(r.stderr, "cont") || !strings.Contains(r.stderr, "count") {
		t.Fatalf("exit %d", r.code)
	}
}

func TestFailedJobExitsNonZeroWithTheReason(t *testing.T) {
	r := runCLI(t, "run", writeJobFile(t, "name: x\nsteps:\n  - source: sequence\n    count: 5\n  - map: \"it + 1\"\n  - sink: verify_order\n"), "--progress", "0")
	if r.code != 1 || !strings.Contains(r.stderr, "expected 0, got 1") || !strings.Contains(r.stderr, "verify_order") {
		t.Fatalf("exit %d", r.code)
	}
}

func TestMissingJob(t *testing.T) {
	r := runCLI(t, "run", "nosuchjob")
	if r.code != 2 || !strings.Contains(r.stderr, "neither a job file nor a Go job") {
		t.Fatalf("exit %d", r.code)
	}
	r = runCLI(t, "run", "missing.yaml")
	if r.code != 2 || !strings.Contains(r.stderr, "missing.yaml") {
		t.Fatalf("exit %d", r.code)
	}
}

func TestPlanDescribesPEsAndRegions(t *testing.T) {
	r := runCLI(t, "plan", "../examples/squares.yaml")
	if r.code != 0 {
		t.Fatalf("exit %d", r.code)
	}
	for _, want := range []string{"PEs (6)", "map[0]", "map[3]", `hash by "it % 13"`, "consistent region 0: periodic every 500ms", "starts: sequence"} {
		if !strings.Contains(r.stdout, want) {
			t.Fatalf("plan lacks %q", want)
		}
	}
	m := runCLI(t, "plan", "--mermaid", "../examples/squares.yaml")
	if m.code != 0 || !strings.HasPrefix(m.stdout, "graph LR") || !strings.Contains(m.stdout, "-- hash -->") {
		t.Fatalf("mermaid exit %d", m.code)
	}
}

func TestOperatorsListsEveryKind(t *testing.T) {
	r := runCLI(t, "operators")
	for _, k := range []string{"sequence", "gauss", "file", "map", "filter", "flat_map", "aggregate", "dedup", "stdout", "verify_order"} {
		if !strings.Contains(r.stdout, k) {
			t.Fatalf("operators lacks %s", k)
		}
	}
}

func TestInterruptStopsAnEndlessJobCleanly(t *testing.T) {
	sig := make(chan struct{})
	var out, errb bytes.Buffer
	done := make(chan int)
	go func() {
		done <- Run(&Env{Stdout: &out, Stderr: &errb, Signals: sig}, []string{"weir", "run", writeJobFile(t,
			"name: endless\nsteps:\n  - source: gauss\n    rate: 1000\n  - filter: \"it > 100\"\n  - sink: stdout\n"), "--progress", "0"})
	}()
	close(sig)
	if code := <-done; code != 0 || !strings.Contains(errb.String(), "interrupted") {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
}

func TestReorder(t *testing.T) {
	app := NewApp(&Env{Stdout: &bytes.Buffer{}, Stderr: &bytes.Buffer{}})
	got := strings.Join(Reorder(app, []string{"weir", "run", "job.yaml", "-P", "a=1", "--quiet", "--", "-x"}), " ")
	if got != "weir run -P a=1 --quiet job.yaml -- -x" {
		t.Fatalf("got %q", got)
	}
}
