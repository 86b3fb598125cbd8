package main

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/weirstream/weir/cli"
	"github.com/weirstream/weir/operator"
	"github.com/weirstream/weir/topology"
)

func run(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	jobs := topology.NewJobs()
	jobs.Register("cr-sample", statefulSample)
	var out, errb bytes.Buffer
	code := cli.Run(&cli.Env{Stdout: &out, Stderr: &errb, Jobs: jobs}, append([]string{"crsample"}, args...))
	t.Logf("exit %d\nstdout:\n%s\nstderr:\n%s", code, out.String(), errb.String())
	return code, out.String(), errb.String()
}

// The sample must pass with resets injected: that is the point of the consistent region.
func TestSampleSurvivesInjectedResets(t *testing.T) {
	code, _, stderr := run(t, "run", "cr-sample", "--inject-resets", "3", "--progress", "0",
		"-P", "iterations=400", "-P", "period=1ms", "-P", "checkpoint_period=40ms")
	if code != 0 {
		t.Fatalf("exit %d", code)
	}
	for _, want := range []string{"tuples in (from sources): ", "finished", "3 resets"} {
		if !strings.Contains(stderr, want) {
			t.Fatalf("summary lacks %q", want)
		}
	}
}

// Without a consistent region the verifier's failure is fatal: prove the sample would catch a gap.
func TestVerifierRejectsAGap(t *testing.T) {
	v := &VerifyNumericOrder{}
	for i := 0; i < 3; i++ {
		if err := v.Consume(i); err != nil {
			t.Fatal(err)
		}
	}
	if err := v.Consume(4); err == nil || !strings.Contains(err.Error(), "Expected 3 got 4") {
		t.Fatalf("gap not reported: %v", err)
	}
}

// The metrics are not state: a restored TimeCounter gets its count back and no metrics, which Open then
// recreates (the sample's __getstate__ and __enter__).
func TestTimeCounterStateLeavesMetricsOut(t *testing.T) {
	c := &TimeCounter{Iterations: 10, Period: time.Millisecond, Count: 7, metric: &operator.Metric{}, metric2: &operator.Metric{}}
	data, err := operator.StateOf(c).Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	fresh := &TimeCounter{}
	if err := operator.StateOf(fresh).Restore(data); err != nil {
		t.Fatal(err)
	}
	if fresh.Count != 7 || fresh.Iterations != 10 || fresh.Period != time.Millisecond {
		t.Fatalf("restored %+v", fresh)
	}
	if fresh.metric != nil || fresh.metric2 != nil {
		t.Fatal("metrics were restored with the state")
	}
}

func TestPlanShowsTheRegion(t *testing.T) {
	code, out, _ := run(t, "plan", "cr-sample")
	if code != 0 || !strings.Contains(out, "consistent region 0: periodic every 5s") {
		t.Fatalf("plan exit %d:\n%s", code, out)
	}
}
