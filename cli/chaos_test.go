package cli

import (
	"bytes"
	"strings"
	"testing"

	"github.com/weirstream/weir/chaos"
	"github.com/weirstream/weir/topology"
)

// `weir chaos` refuses what it cannot run with exit code 2, before starting anything.
func TestChaosUsage(t *testing.T) {
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"chaos"}, "needs --out"},
		{[]string{"chaos", "--out", "x", "extra"}, "takes no arguments"},
		{[]string{"chaos", "--out", "x", "--faults", "kill,flood"}, `unknown fault "flood"`},
		{[]string{"chaos", "--out", "x", "--faults", "partition"}, "needs --docker"},
		{[]string{"chaos", "--out", "x", "--nodes", "2"}, "at least 3 nodes"},
		{[]string{"chaos", "--out", "x", "--duration", "0s"}, "--duration must be positive"},
	} {
		var out, errb bytes.Buffer
		code := Run(&Env{Stdout: &out, Stderr: &errb}, append([]string{"weir"}, c.args...))
		if code != 2 || !strings.Contains(errb.String(), c.want) {
			t.Errorf("weir %s: exit %d, stderr %q; want 2 and %q", strings.Join(c.args, " "), code, errb.String(), c.want)
		}
	}
}

// Every binary carries the chaos verification job, as an internal job: a user binary with one Go job still
// runs that one when none is named, and lists only its own.
func TestChaosJobIsNotTheUsersDefault(t *testing.T) {
	jobs := topology.NewJobs()
	jobs.Register("mine", func(*topology.Params) *topology.Topology {
		t := topology.New("mine")
		topology.Source(t, func(yield func(int) bool) { yield(1) }, topology.Name("src")).
			ForEach(func(int) {}, topology.Name("sink"))
		return t
	})
	chaos.Register(jobs)
	var out, errb bytes.Buffer
	if code := Run(&Env{Stdout: &out, Stderr: &errb, Jobs: jobs}, []string{"weir", "plan"}); code != 0 || !strings.Contains(out.String(), "mine") {
		t.Fatalf("weir plan with no job named: exit %d\nstdout:\n%s\nstderr:\n%s", code, out.String(), errb.String())
	}
	if got := jobs.Names(); len(got) != 1 || got[0] != "mine" {
		t.Fatalf("the binary lists %v as its jobs, want only mine", got)
	}
	out.Reset()
	if code := Run(&Env{Stdout: &out, Stderr: &errb, Jobs: jobs}, []string{"weir", "plan", chaos.JobName}); code != 0 {
		t.Fatalf("weir plan %s: exit %d: %s", chaos.JobName, code, errb.String())
	}
}
