package controller

import (
	"fmt"
	"github.com/weirstream/weir/topology"
	"io"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/weirstream/weir/agent/api"
	"github.com/weirstream/weir/fsm"
	"github.com/weirstream/weir/jobfile"
	"github.com/weirstream/weir/operator/builtin"
	"github.com/weirstream/weir/region"
)

// submitPlaced records a running job of a job file, placed as given, as a previous leader would have.
func submitPlaced(t *testing.T, r *fakeRaft, id, file string, place map[string]string) {
	t.Helper()
	plan, err := jobfile.Parse(id+".yaml", []byte(file), jobfile.Options{Registry: builtin.NewRegistryWithStdout(io.Discard)})
	if err != nil {
		t.Fatal(err)
	}
	enc, err := plan.Encode()
	if err != nil {
		t.Fatal(err)
	}
	fp, _ := plan.Fingerprint()
	r.must(t, fsm.SubmitJobType, fsm.SubmitJob{Job: fsm.Job{ID: id, Name: plan.Name, Plan: enc, Fingerprint: fp, Origin: plan.Origin.Kind}})
	r.must(t, fsm.PlaceType, fsm.Place{Job: id, Placements: place})
}

const twoPEs = "name: two\nsteps:\n  - source: sequence\n    count: 10\n  - sink: stdout\n    isolate: true\n"

// A new leader asks every node once, all at once, what finished: a node that does not answer costs one
// timeout, not one per job. A job whose PEs all finished under the old leader ends.
func TestTakeOverAsksNodesOnceConcurrently(t *testing.T) {
	r := newFakeRaft()
	for _, n := range []string{"a", "b", "c"} {
		r.must(t, fsm.RegisterNodeType, fsm.RegisterNode{Node: fsm.Node{Name: n}})
	}
	for i := 1; i <= 4; i++ {
		submitPlaced(t, r, fmt.Sprintf("job%d", i), twoPEs, map[string]string{"sequence": "a", "stdout": "b"})
	}
	nodes := &fakeNodes{
		pes: map[string]api.NodePEs{
			"a": {Node: "a", Finished: map[string][]string{"job1": {"sequence"}, "job2": {"sequence"}}},
			"b": {Node: "b", Finished: map[string][]string{"job1": {"stdout"}}},
		},
		slow: map[string]time.Duration{"c": time.Minute}, // c hangs: gossip has not declared it dead yet
	}
	began := time.Now()
	startController(t, r, nodes, "a", "b", "c")
	if took := time.Since(began); took > nodePEsTimeout+time.Second {
		t.Fatalf("the takeover took %s with one node hanging", took)
	}
	if j, _ := r.f.State().Job("job1"); j.State != fsm.JobFinished {
		t.Fatalf("job1, whose PEs all finished, is %s", j.State)
	}
	for _, id := range []string{"job2", "job3", "job4"} {
		if j, _ := r.f.State().Job(id); j.State != fsm.JobRunning {
			t.Fatalf("%s is %s (%s), want running", id, j.State, j.Error)
		}
	}
}

const regionTwoPEs = "name: two\nconsistent:\n  period: 50ms\nsteps:\n  - source: sequence\n    count: 10\n  - sink: stdout\n    isolate: true\n"

// The previous leader committed a region's final epoch, and some PEs heard of it and finished, but the
// region's finished state was not recorded (it is recorded after the commit). The new leader must not reset
// a region whose PEs are ending: it announces the final commit again, and the job ends once every PE has
// finished, even though their reports of it were lost.
func TestTakeOverAfterFinalCommit(t *testing.T) {
	r := newFakeRaft()
	for _, n := range []string{"a", "b"} {
		r.must(t, fsm.RegisterNodeType, fsm.RegisterNode{Node: fsm.Node{Name: n}})
	}
	submitPlaced(t, r, "job", regionTwoPEs, map[string]string{"sequence": "a", "stdout": "b"})
	r.must(t, fsm.BeginEpochType, fsm.BeginEpoch{Job: "job", Region: 0, Epoch: 3})
	r.must(t, fsm.CommitEpochType, fsm.CommitEpoch{Job: "job", Region: 0, Epoch: 3, Manifest: map[string]string{"sequence": "x", "stdout": "y"}})
	nodes := &fakeNodes{pes: map[string]api.NodePEs{
		"a": {Node: "a", Finished: map[string][]string{"job": {"sequence"}}},
		"b": {Node: "b", Running: map[string][]string{"job": {"stdout"}}},
	}}
	ctl := startController(t, r, nodes, "a", "b")
	nodes.mu.Lock()
	cmds := append([]api.Command(nil), nodes.commands...)
	nodes.mu.Unlock()
	waitFor(t, 5*time.Second, "the final commit announced again", func() bool {
		nodes.mu.Lock()
		defer nodes.mu.Unlock()
		cmds = append(cmds[:0], nodes.commands...)
		for _, c := range cmds {
			if c.Kind == api.CmdCommitted && c.Epoch == 3 && c.Final {
				return true
			}
		}
		return false
	})
	for _, c := range cmds {
		if c.Kind == api.CmdReset {
			t.Fatalf("the new leader reset a finished region: %+v", c)
		}
	}
	if sts, ok := ctl.Regions("job"); !ok || len(sts) != 1 || sts[0].State != region.Finished {
		t.Fatalf("regions of the job: %+v", sts)
	}
	// The sink finishes; its report is lost. The controller finds out by itself.
	nodes.mu.Lock()
	nodes.pes["b"] = api.NodePEs{Node: "b", Finished: map[string][]string{"job": {"stdout"}}}
	nodes.mu.Unlock()
	waitFor(t, 3*sweepEvery, "the job to end finished", func() bool {
		j, _ := r.f.State().Job("job")
		return j.State == fsm.JobFinished
	})
}

// The previous leader recorded a job, then lost its leadership before it recorded the job's placement: the
// new leader places its PEs.
func TestTakeOverPlacesUnplacedJob(t *testing.T) {
	r := newFakeRaft()
	for _, n := range []string{"a", "b"} {
		r.must(t, fsm.RegisterNodeType, fsm.RegisterNode{Node: fsm.Node{Name: n}})
	}
	submitPlaced(t, r, "job", twoPEs, map[string]string{"sequence": "a"})
	r.must(t, fsm.PlaceType, fsm.Place{Job: "job"}) // no placements at all
	startController(t, r, &fakeNodes{}, "a", "b")
	if p := r.f.State().Placements("job"); len(p) != 2 || p["sequence"] == "" || p["stdout"] == "" {
		t.Fatalf("placements after the takeover: %v", p)
	}
}

// A node dies after its region's final commit but before its PEs learnt of it: the region cannot reset (its
// other PEs ended), so the lost PEs alone are placed again, restored from the final epoch under a new
// generation and told the final epoch committed, and the job can end. Both when the node is gone at a
// takeover and when it dies later.
func TestLostPEOfAFinishedRegionFinishesAgain(t *testing.T) {
	for _, atTakeover := range []bool{true, false} {
		t.Run(fmt.Sprintf("at takeover %v", atTakeover), func(t *testing.T) { lostAfterFinal(t, atTakeover) })
	}
}

func lostAfterFinal(t *testing.T, atTakeover bool) {
	r := newFakeRaft()
	for _, n := range []string{"a", "b", "c"} {
		r.must(t, fsm.RegisterNodeType, fsm.RegisterNode{Node: fsm.Node{Name: n}})
	}
	submitPlaced(t, r, "job", regionTwoPEs, map[string]string{"sequence": "a", "stdout": "b"})
	r.must(t, fsm.BeginEpochType, fsm.BeginEpoch{Job: "job", Region: 0, Epoch: 3})
	r.must(t, fsm.CommitEpochType, fsm.CommitEpoch{Job: "job", Region: 0, Epoch: 3, Manifest: map[string]string{"sequence": "x", "stdout": "y"}})
	r.must(t, fsm.RegionStateType, fsm.RegionState{Job: "job", Region: 0, State: region.Finished.String()})
	nodes := &fakeNodes{pes: map[string]api.NodePEs{
		"a": {Node: "a", Finished: map[string][]string{"job": {"sequence"}}},
		"b": {Node: "b", Running: map[string][]string{"job": {"stdout"}}},
	}}
	alive := []string{"a", "b", "c"}
	if atTakeover {
		alive = []string{"a", "c"}
	}
	var mu sync.Mutex
	ctl := Start(Config{
		State: r.f.State(), Raft: r, Send: nodes, Jobs: topology.NewJobs(), Registry: builtin.NewRegistryWithStdout(io.Discard),
		Alive: func() []string {
			mu.Lock()
			defer mu.Unlock()
			return alive
		},
		Logger: slog.New(slog.NewTextHandler(testWriter{t}, nil)),
	})
	t.Cleanup(ctl.Stop)
	if !atTakeover {
		mu.Lock()
		alive = []string{"a", "c"}
		mu.Unlock()
		ctl.NodeFailed("b", "test")
	}
	if p := r.f.State().Placements("job"); p["stdout"] != "c" || p["sequence"] != "a" {
		t.Fatalf("placements %v: the lost sink belongs on c, the finished source stays", p)
	}
	reg, _ := r.f.State().Region("job", 0)
	if reg.Generation != 1 {
		t.Fatalf("generation %d, want 1: the lost PE's predecessor must be fenced", reg.Generation)
	}
	var reset, final bool
	waitFor(t, 5*time.Second, "a reset to the final epoch, then its announcement", func() bool {
		nodes.mu.Lock()
		defer nodes.mu.Unlock()
		for _, c := range nodes.commands {
			switch {
			case c.Kind == api.CmdReset && c.Epoch == 3 && c.Gen == 1:
				reset = true
			case c.Kind == api.CmdCommitted && c.Epoch == 3 && c.Gen == 1 && c.Final && reset:
				final = true
			}
		}
		return final
	})
}
