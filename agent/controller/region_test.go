package controller

import (
	"context"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/weirstream/weir/agent/api"
	"github.com/weirstream/weir/fsm"
	"github.com/weirstream/weir/operator/builtin"
	"github.com/weirstream/weir/region"
	"github.com/weirstream/weir/topology"
)

type testWriter struct{ t *testing.T }

func (w testWriter) Write(b []byte) (int, error) { w.t.Log(string(b)); return len(b), nil }

func startController(t *testing.T, r *fakeRaft, nodes *fakeNodes, alive ...string) *Controller {
	t.Helper()
	ctl := Start(Config{
		State: r.f.State(), Raft: r, Send: nodes, Jobs: topology.NewJobs(), Registry: builtin.NewRegistryWithStdout(io.Discard),
		Alive:  func() []string { return alive },
		Logger: slog.New(slog.NewTextHandler(testWriter{t}, nil)),
	})
	t.Cleanup(ctl.Stop)
	return ctl
}

// Region states are recorded in order, each compared with the last one recorded, not with the replica,
// which lags while records are on their way: a reset that completed before its "resetting" record was
// applied used to leave "resetting" in the FSM for good (the "processing" after it looked like a repeat).
func TestRegionStatesRecordedInOrder(t *testing.T) {
	r := newFakeRaft()
	ctl := startController(t, r, &fakeNodes{})
	r.must(t, fsm.SubmitJobType, fsm.SubmitJob{Job: fsm.Job{ID: "j", Name: "j"}})
	state := func() fsm.Region { reg, _ := r.f.State().Region("j", 0); return reg }

	ctl.regionChanged("j", region.Status{Region: 0, State: region.Processing})
	waitFor(t, 5*time.Second, "processing recorded", func() bool { return state().State == "processing" })

	r.hold()
	ctl.regionChanged("j", region.Status{Region: 0, State: region.Resetting, Attempts: 1, LastError: "PE x failed"})
	ctl.regionChanged("j", region.Status{Region: 0, State: region.Processing, Attempts: 1, LastError: "PE x failed"})
	r.release()
	waitFor(t, 5*time.Second, "processing recorded after the reset", func() bool {
		s := state()
		return s.State == "processing" && s.Attempts == 1 && s.LastError == "PE x failed"
	})
	// A repeat of the state recorded is not recorded again.
	before := r.f.State().Index()
	ctl.regionChanged("j", region.Status{Region: 0, State: region.Processing, Attempts: 1, LastError: "PE x failed"})
	ctl.regionChanged("j", region.Status{Region: 0, State: region.Draining, Attempts: 1, LastError: "PE x failed"})
	ctl.regionChanged("j", region.Status{Region: 0, State: region.Finished, Attempts: 0})
	waitFor(t, 5*time.Second, "finished recorded", func() bool { return state().State == "finished" })
	if got := r.f.State().Index(); got != before+1 {
		t.Fatalf("%d entries for one change of state", got-before)
	}
}

// twoNodeJob submits a job of two PEs, sequence and stdout, in an operator-driven consistent region, to a
// controller of nodes a and b.
func twoNodeJob(t *testing.T) (*fakeRaft, *Controller, string, *fakeNodes) {
	t.Helper()
	r := newFakeRaft()
	for _, n := range []string{"a", "b"} {
		r.must(t, fsm.RegisterNodeType, fsm.RegisterNode{Node: fsm.Node{Name: n}})
	}
	nodes := &fakeNodes{}
	ctl := startController(t, r, nodes, "a", "b")
	id, err := ctl.Submit(context.Background(), api.SubmitRequest{JobFile: "name: r\nconsistent:\n  trigger: operator_driven\nsteps:\n  - source: sequence\n    count: 10\n  - sink: stdout\n    isolate: true\n"})
	if err != nil {
		t.Fatal(err)
	}
	return r, ctl, id, nodes
}

// During a reset, streams break on purpose (a sender aborted inside a frame, a PE moved) and PEs placed to
// replace lost ones say that they await the reset: neither may make the region reset once more. Outside a
// reset, either resets the region.
func TestBrokenAndAwaitingDuringReset(t *testing.T) {
	_, ctl, id, nodes := twoNodeJob(t)
	status := func() region.Status { sts, _ := ctl.Regions(id); return sts[0] }
	if err := ctl.ResetRegion(id, 0); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 5*time.Second, "the forced reset", func() bool { s := status(); return s.State == region.Resetting && s.Generation == 1 })
	ctl.Report(api.Report{Kind: api.RepBroken, Node: "a", Job: id, Region: 0, PE: "sequence", Gen: 1, Error: "stream broke"})
	isReset1 := func(c api.Command) bool { return c.Kind == api.CmdReset && c.Gen == 1 }
	before := nodes.count("b", isReset1)
	ctl.Report(api.Report{Kind: api.RepAwaiting, Node: "b", Job: id, Region: 0, PE: "stdout", Gen: 1, Error: "started without state"})
	// The PE that awaits the reset gets its command again: the first may have been dropped while its node
	// was down.
	waitFor(t, 5*time.Second, "the reset command resent to b", func() bool { return nodes.count("b", isReset1) > before })
	for _, pe := range []string{"sequence", "stdout"} {
		ctl.Report(api.Report{Kind: api.RepResetDone, Job: id, Region: 0, PE: pe, Gen: 1})
	}
	waitFor(t, 5*time.Second, "the reset to complete in generation 1", func() bool {
		s := status()
		return s.State == region.Processing && s.Generation == 1
	})
	ctl.Report(api.Report{Kind: api.RepBroken, Node: "a", Job: id, Region: 0, PE: "sequence", Gen: 1, Error: "stream broke"})
	waitFor(t, 5*time.Second, "a reset for a stream broken while processing", func() bool {
		s := status()
		return s.State == region.Resetting && s.Generation == 2
	})
}

// Reports about a PE count only from the node it is placed on: a zombie instance elsewhere (started by a
// node that restarted on a stale replica) must not complete a reset for the real one, which would then
// miss the resume and stall the region (`weir chaos --seed 302 --rate 20000 --period 100ms --width 7
// --keys 50`: a restart of every node left the region draining until its drain timeout).
func TestReportsOnlyFromThePEsNode(t *testing.T) {
	r, ctl, id, _ := twoNodeJob(t)
	place := r.f.State().Placements(id)
	other := map[string]string{"a": "b", "b": "a"}
	status := func() region.Status { sts, _ := ctl.Regions(id); return sts[0] }
	if err := ctl.ResetRegion(id, 0); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 5*time.Second, "the forced reset", func() bool { s := status(); return s.State == region.Resetting && s.Generation == 1 })
	// A zombie's crash does not end the job (the filter is synchronous: the job would be failed by now).
	ctl.Report(api.Report{Kind: api.RepCrashed, Node: other[place["stdout"]], Job: id, Region: -1, PE: "stdout", Error: "zombie crashed"})
	if j, _ := r.f.State().Job(id); j.State != fsm.JobRunning {
		t.Fatalf("a zombie's crash report left the job %s (%s)", j.State, j.Error)
	}
	// The real PEs' reports complete the reset. (A zombie's reset_done goes the same synchronous way as
	// its crash; its effect, completing the reset early, cannot be told apart here from the real one's.)
	ctl.Report(api.Report{Kind: api.RepResetDone, Node: place["sequence"], Job: id, Region: 0, PE: "sequence", Gen: 1})
	ctl.Report(api.Report{Kind: api.RepResetDone, Node: place["stdout"], Job: id, Region: 0, PE: "stdout", Gen: 1})
	waitFor(t, 5*time.Second, "the reset to complete", func() bool { return status().State == region.Processing })
	// The real PE's crash ends it.
	ctl.Report(api.Report{Kind: api.RepCrashed, Node: place["stdout"], Job: id, Region: -1, PE: "stdout", Error: "crashed"})
	if j, _ := r.f.State().Job(id); j.State != fsm.JobFailed {
		t.Fatalf("the PE's crash report left the job %s", j.State)
	}
}

// A PE can fail before Submit returns: its node starts it as soon as Raft applies the job, before the
// job's coordinators run. Its report must still fail the region (dropped, the region kept processing and
// never stopped on its attempts: TestMaxAttemptsThenForcedReset in CI).
func TestReportBeforeSubmitReturns(t *testing.T) {
	r := newFakeRaft()
	for _, n := range []string{"a", "b"} {
		r.must(t, fsm.RegisterNodeType, fsm.RegisterNode{Node: fsm.Node{Name: n}})
	}
	ctl := startController(t, r, &fakeNodes{}, "a", "b")
	reported := false
	r.applied = func() {
		for _, j := range r.f.State().Jobs() {
			if !reported {
				reported = true
				ctl.Report(api.Report{Kind: api.RepFailed, Node: r.f.State().Placements(j.ID)["sequence"], Job: j.ID, Region: 0, PE: "sequence", Gen: 0, Error: "failed at once"})
			}
		}
	}
	id, err := ctl.Submit(context.Background(), api.SubmitRequest{JobFile: "name: r\nconsistent:\n  trigger: operator_driven\nsteps:\n  - source: sequence\n    count: 10\n  - sink: stdout\n    isolate: true\n"})
	if err != nil {
		t.Fatal(err)
	}
	if !reported {
		t.Fatal("the job was never applied")
	}
	waitFor(t, 5*time.Second, "the early failure to reset the region", func() bool {
		sts, _ := ctl.Regions(id)
		return len(sts) == 1 && sts[0].Generation == 1 && strings.Contains(sts[0].LastError, "failed at once")
	})
}
