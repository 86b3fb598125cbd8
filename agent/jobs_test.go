package agent

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/weirstream/weir/agent/api"
	"github.com/weirstream/weir/internal/testutil"
)

// A job file: a sequence of count values, doubled in a parallel region of width, into a file sink
// (exactly once when consistent).
func doublesJob(count, rate, width int, consistent bool, out string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "name: doubles\n")
	if consistent {
		fmt.Fprintf(&b, "consistent:\n  period: 200ms\n  drain_timeout: 10s\n  reset_timeout: 10s\n")
	}
	fmt.Fprintf(&b, "steps:\n  - source: sequence\n    count: %d\n", count)
	if rate > 0 {
		fmt.Fprintf(&b, "    rate: %d\n", rate)
	}
	fmt.Fprintf(&b, "  - parallel: %d\n    routing: hash\n    key: \"it %% 13\"\n  - map: \"it * 2\"\n  - end_parallel\n", width)
	fmt.Fprintf(&b, "  - sink: file\n    path: %s\n", out)
	if consistent {
		fmt.Fprintf(&b, "    exactly_once: true\n")
	}
	return b.String()
}

// A single dev agent runs a job file to completion.
func TestDevRunsJobFile(t *testing.T) {
	log := newTestLog(t)
	out := &syncBuffer{}
	a, err := Start(Config{Name: "dev", Dev: true, Fast: true, Stdout: out, Logger: log.logger()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(a.Shutdown)
	job := "name: squares\nsteps:\n  - source: sequence\n    count: 100\n  - map: \"it * it\"\n  - sink: stdout\n"
	id, err := client(a).Submit(ctxT(t), api.SubmitRequest{JobFile: job})
	if err != nil {
		t.Fatal(err)
	}
	var j api.Job
	waitFor(t, 20*time.Second, "the job to end", func() bool {
		j, err = client(a).Job(ctxT(t), id, false)
		return err == nil && j.State != "running"
	})
	if j.State != "finished" {
		t.Fatalf("job %s: %s (%s)", id, j.State, j.Error)
	}
	var got []int
	for _, line := range strings.Fields(out.String()) {
		v, err := strconv.Atoi(line)
		if err != nil {
			t.Fatalf("stdout line %q", line)
		}
		got = append(got, v)
	}
	slices.Sort(got)
	if len(got) != 100 {
		t.Fatalf("%d values printed, want 100: %v", len(got), got)
	}
	for i, v := range got {
		if v != i*i {
			t.Fatalf("value %d is %d, want %d", i, v, i*i)
		}
	}
}

// Jobs submitted through a follower run; every node's replica agrees on them; consistent reads go to the
// leader; a cancelled job stops everywhere; a forced reset counts.
func TestSubmitListCancelReset(t *testing.T) {
	c := newCluster(t, clusterOpts{Nodes: 3})
	leader := c.leader()
	f := c.follower()
	ctx := ctxT(t)

	// A job that finishes, submitted through a follower.
	out := filepath.Join(t.TempDir(), "out")
	id, err := client(f).Submit(ctx, api.SubmitRequest{JobFile: doublesJob(2000, 0, 3, true, out), FileName: "doubles.yaml"})
	if err != nil {
		t.Fatal(err)
	}
	j := c.waitJob(id, "finished", 30*time.Second)
	testutil.CheckExactlyOnce(t, testutil.ReadInts(t, out), 2000, 2)
	if len(j.Regions) != 1 || j.Regions[0].State != "finished" {
		t.Fatalf("regions of the finished job: %+v", j.Regions)
	}

	// Every replica lists it, finished, once it caught up.
	waitFor(t, 10*time.Second, "every replica to list the job finished", func() bool {
		for _, a := range c.live() {
			js, err := client(a).Jobs(ctx, false)
			if err != nil || len(js) != 1 || js[0].ID != id || js[0].State != "finished" {
				return false
			}
			st, err := client(a).Status(ctx, false)
			if err != nil || st.Leader != leader.Name() {
				return false
			}
		}
		return true
	})
	// A consistent read through a follower is served by the leader.
	js, err := client(f).Jobs(ctx, true)
	if err != nil || len(js) != 1 || js[0].State != "finished" {
		t.Fatalf("consistent list through a follower: %v %+v", err, js)
	}
	st, err := client(f).Status(ctx, true)
	if err != nil {
		t.Fatal(err)
	}
	if st.Node != leader.Name() {
		t.Fatalf("consistent status through follower %s answered by %s, want the leader %s", f.Name(), st.Node, leader.Name())
	}

	// A long job: cancelled while it runs, its PEs stop on every node.
	out2 := filepath.Join(t.TempDir(), "out2")
	long, err := client(f).Submit(ctx, api.SubmitRequest{JobFile: doublesJob(1_000_000, 2000, 3, true, out2)})
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, 15*time.Second, "a committed epoch of the long job", func() bool {
		j, err := c.job(long)
		return err == nil && committed(j) > 0
	})
	running := 0
	for _, a := range c.live() {
		running += len(pesRunning(t, a, long))
	}
	if running == 0 {
		t.Fatal("the long job runs no PE anywhere")
	}

	// A forced reset through the API (through a follower) counts, and the region recovers.
	j, _ = c.job(long)
	resets, gen := j.Regions[0].Resets, j.Regions[0].Generation
	if err := client(f).ResetRegion(ctx, long, 0); err != nil {
		t.Fatal(err)
	}
	// Every replica, not only the leader (which shows its live view), sees the region processing again.
	waitFor(t, 15*time.Second, "the forced reset recorded and the region processing again on every replica", func() bool {
		for _, a := range c.live() {
			j, err := client(a).Job(ctx, long, false)
			if err != nil || j.Regions[0].Resets <= resets || j.Regions[0].Generation <= gen || j.Regions[0].State != "processing" {
				return false
			}
		}
		return true
	})
	before := committed(j)
	waitFor(t, 15*time.Second, "a commit after the forced reset", func() bool {
		j, err := c.job(long)
		return err == nil && committed(j) > before
	})
	if err := client(f).ResetRegion(ctx, long, 7); err == nil || !isStatus(err, 400) {
		t.Fatalf("reset of region 7: %v, want a 400", err)
	}
	if err := client(f).ResetRegion(ctx, "nope", 0); !isStatus(err, 404) {
		t.Fatalf("reset of an unknown job: %v, want a 404", err)
	}

	if err := client(f).Cancel(ctx, long); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 10*time.Second, "every replica to see the job cancelled", func() bool {
		for _, a := range c.live() {
			j, ok := a.State().Job(long)
			if !ok || j.State != "cancelled" {
				return false
			}
		}
		return true
	})
	waitFor(t, 10*time.Second, "the cancelled job's PEs to stop everywhere", func() bool {
		for _, a := range c.live() {
			if len(pesRunning(t, a, long)) > 0 {
				return false
			}
		}
		return true
	})
	if err := client(f).Cancel(ctx, long); !isStatus(err, 400) {
		t.Fatalf("cancel of a cancelled job: %v, want a 400", err)
	}
	if err := client(f).Cancel(ctx, "nope"); !isStatus(err, 404) {
		t.Fatalf("cancel of an unknown job: %v, want a 404", err)
	}
}

func isStatus(err error, code int) bool {
	var se *api.StatusError
	return errors.As(err, &se) && se.Code == code
}

var _ = context.Background

// A region that keeps failing stops in maximum_attempts_reached, which every replica shows; a forced reset
// through the API starts it again with a fresh set of attempts.
func TestMaxAttemptsThenForcedReset(t *testing.T) {
	c := newCluster(t, clusterOpts{Nodes: 2})
	ctx := ctxT(t)
	f := c.follower()
	job := "name: failing\nconsistent:\n  period: 100ms\n  max_consecutive_attempts: 2\n  reset_timeout: 10s\nsteps:\n" +
		"  - source: sequence\n    count: 1000\n  - map: \"[0, 1, 2][it % 4]\"\n  - sink: stdout\n    isolate: true\n"
	id, err := client(f).Submit(ctx, api.SubmitRequest{JobFile: job})
	if err != nil {
		t.Fatal(err)
	}
	region := func(a *Agent) api.Region {
		j, err := client(a).Job(ctx, id, false)
		if err != nil || len(j.Regions) != 1 {
			return api.Region{}
		}
		return j.Regions[0]
	}
	waitFor(t, 20*time.Second, "every replica to show the region stopped on its attempts", func() bool {
		for _, a := range c.live() {
			if r := region(a); r.State != "maximum_attempts_reached" {
				return false
			}
		}
		return true
	})
	r := region(f)
	if r.Attempts != 2 || !strings.Contains(r.LastError, "index out of range") {
		t.Fatalf("region stopped on its attempts: %+v", r)
	}
	if err := client(f).ResetRegion(ctx, id, 0); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 20*time.Second, "the forced reset, and the region stopped again", func() bool {
		for _, a := range c.live() {
			if r2 := region(a); r2.Resets <= r.Resets+1 || r2.State != "maximum_attempts_reached" {
				return false
			}
		}
		return true
	})
	if j, _ := c.job(id); j.State != "running" {
		t.Fatalf("the job is %s (%s): a region stopped on its attempts waits for a forced reset", j.State, j.Error)
	}
	if err := client(f).Cancel(ctx, id); err != nil {
		t.Fatal(err)
	}
	c.waitJob(id, "cancelled", 10*time.Second)
}
