package worker

import (
	"testing"
	"time"

	"github.com/weirstream/weir/agent/api"
	"github.com/weirstream/weir/fsm"
)

// source → sink, each in a PE of its own, one consistent region.
const regionJob = "name: r\nconsistent:\n  trigger: operator_driven\nsteps:\n  - source: sequence\n    count: 1000000\n    rate: 1000\n  - sink: stdout\n    isolate: true\n"

// A drain that reaches a node before the placement that puts the region's start PE there is applied is
// kept, and reaches the PE when it starts (a lost drain costs a whole drain timeout), even when the state
// changes meanwhile for other reasons.
func TestDrainBeforePlacementReachesThePE(t *testing.T) {
	r := newRig(t, "w1")
	r.command(api.Command{Kind: api.CmdDrain, Job: "j", Region: 0, Epoch: 1, Gen: 0})
	r.must(fsm.RegisterNodeType, fsm.RegisterNode{Node: fsm.Node{Name: "w2"}}) // an unrelated change first
	r.w.reconcile()
	r.run()
	r.submit("j", regionJob)
	r.must(fsm.PlaceType, fsm.Place{Job: "j", Placements: map[string]string{"sequence": "w1", "stdout": "w1"}})
	waitFor(t, 10*time.Second, "both PEs to drain epoch 1", func() bool {
		return len(r.find(func(rep api.Report) bool { return rep.Kind == api.RepDrained && rep.Epoch == 1 })) == 2
	})
}

// A PE placed on a node to replace a lost one waits for its region's reset. The reset in progress reaches
// it even when the node's replica already holds that reset's generation when the PE starts (the placement
// and the new generation applied together), and its word that it awaits a reset does not make the region
// reset once more.
func TestReplacedPEJoinsTheResetInProgress(t *testing.T) {
	r := newRig(t, "w1")
	r.submit("j", regionJob)
	r.must(fsm.PlaceType, fsm.Place{Job: "j", Placements: map[string]string{"sequence": "w0", "stdout": "w0"}})
	r.must(fsm.BeginEpochType, fsm.BeginEpoch{Job: "j", Region: 0, Epoch: 1, Generation: 0})
	// w0 is lost: its PEs move here, and the region resets into generation 1. The worker sees both at once.
	r.must(fsm.PlaceType, fsm.Place{Job: "j", Placements: map[string]string{"sequence": "w1", "stdout": "w1"}})
	r.must(fsm.NewGenerationType, fsm.NewGeneration{Job: "j", Region: 0, Generation: 1, Attempts: 0, Reason: "node w0 lost"})
	r.run()
	waitFor(t, 10*time.Second, "both PEs to say they await a reset", func() bool {
		return len(r.find(func(rep api.Report) bool { return rep.Kind == api.RepAwaiting })) == 2
	})
	for _, rep := range r.find(func(rep api.Report) bool { return rep.Kind == api.RepFailed }) {
		t.Fatalf("a replaced PE reported a failure (it would reset the region again): %+v", rep)
	}
	r.command(api.Command{Kind: api.CmdReset, Job: "j", Region: 0, Epoch: 0, Gen: 1})
	waitFor(t, 10*time.Second, "both PEs to reset into generation 1", func() bool {
		return len(r.find(func(rep api.Report) bool { return rep.Kind == api.RepResetDone && rep.Gen == 1 })) == 2
	})
	r.command(api.Command{Kind: api.CmdResume, Job: "j", Region: 0, Gen: 1})
	r.command(api.Command{Kind: api.CmdDrain, Job: "j", Region: 0, Epoch: 2, Gen: 1})
	waitFor(t, 10*time.Second, "both PEs to drain epoch 2 in generation 1", func() bool {
		return len(r.find(func(rep api.Report) bool { return rep.Kind == api.RepDrained && rep.Epoch == 2 && rep.Gen == 1 })) == 2
	})
}

// A reset that completed before a PE was placed here is not replayed to it: the PE would restore an old
// epoch and resume with it. It waits for a reset of its own.
func TestCompletedResetIsNotReplayed(t *testing.T) {
	for _, together := range []bool{false, true} {
		t.Run(map[bool]string{false: "placed", true: "placed-and-reset"}[together], func(t *testing.T) {
			r := newRig(t, "w1")
			r.submit("j", regionJob)
			r.must(fsm.PlaceType, fsm.Place{Job: "j", Placements: map[string]string{"sequence": "w1", "stdout": "w0"}})
			r.run()
			waitFor(t, 10*time.Second, "the source to start", func() bool { return len(r.w.PEs().Running["j"]) == 1 })
			r.must(fsm.NewGenerationType, fsm.NewGeneration{Job: "j", Region: 0, Generation: 1, Reason: "x"})
			r.command(api.Command{Kind: api.CmdReset, Job: "j", Region: 0, Epoch: 0, Gen: 1})
			waitFor(t, 10*time.Second, "the source to reset into generation 1", func() bool {
				return len(r.find(func(rep api.Report) bool { return rep.Kind == api.RepResetDone && rep.Gen == 1 })) == 1
			})
			r.command(api.Command{Kind: api.CmdResume, Job: "j", Region: 0, Gen: 1})
			// w0 is lost later: its sink moves here (and, in the second case, the replica holds the reset
			// that follows before the worker starts the sink). Nothing this node keeps may reset it.
			r.must(fsm.PlaceType, fsm.Place{Job: "j", Placements: map[string]string{"sequence": "w1", "stdout": "w1"}})
			want := uint64(1)
			if together {
				r.must(fsm.NewGenerationType, fsm.NewGeneration{Job: "j", Region: 0, Generation: 2, Reason: "node w0 lost"})
				want = 2
			}
			// The worker may start the sink between the two entries above (then it awaits a reset above
			// generation 1) or after both (above 2): either way it waits, and nothing it keeps resets it.
			waitFor(t, 10*time.Second, "the sink to say it awaits a reset", func() bool {
				return len(r.find(func(rep api.Report) bool {
					return rep.Kind == api.RepAwaiting && rep.PE == "stdout" && rep.Gen >= 1 && rep.Gen <= want
				})) == 1
			})
			if got := r.find(func(rep api.Report) bool { return rep.Kind == api.RepResetDone && rep.PE == "stdout" }); len(got) > 0 {
				t.Fatalf("the sink reset from a replayed, completed reset: %+v", got)
			}
			if !together {
				r.must(fsm.NewGenerationType, fsm.NewGeneration{Job: "j", Region: 0, Generation: 2, Reason: "node w0 lost"})
			}
			r.command(api.Command{Kind: api.CmdReset, Job: "j", Region: 0, Epoch: 0, Gen: 2})
			waitFor(t, 10*time.Second, "both PEs to reset into generation 2", func() bool {
				return len(r.find(func(rep api.Report) bool { return rep.Kind == api.RepResetDone && rep.Gen == 2 })) == 2
			})
		})
	}
}

// A PE that starts in a generation whose reset is over waits for the next reset: the resume of its starting
// generation, which this node keeps, would let it process without its state (`weir chaos --seed 302`).
// The source is the region's start, to which drains go: resumed, it would drain in generation 1.
func TestStartedPEMissesTheResumeOfAResetThatIsOver(t *testing.T) {
	r := newRig(t, "w1")
	r.submit("j", regionJob)
	r.must(fsm.PlaceType, fsm.Place{Job: "j", Placements: map[string]string{"sequence": "w0", "stdout": "w1"}})
	r.run()
	waitFor(t, 10*time.Second, "the sink to start", func() bool { return len(r.w.PEs().Running["j"]) == 1 })
	r.must(fsm.NewGenerationType, fsm.NewGeneration{Job: "j", Region: 0, Generation: 1, Reason: "x"})
	r.command(api.Command{Kind: api.CmdReset, Job: "j", Region: 0, Epoch: 0, Gen: 1})
	waitFor(t, 10*time.Second, "the sink to reset into generation 1", func() bool {
		return len(r.find(func(rep api.Report) bool { return rep.Kind == api.RepResetDone && rep.Gen == 1 })) == 1
	})
	r.command(api.Command{Kind: api.CmdResume, Job: "j", Region: 0, Gen: 1})
	// The source moves here while the region is in generation 1, processing.
	r.must(fsm.PlaceType, fsm.Place{Job: "j", Placements: map[string]string{"sequence": "w1", "stdout": "w1"}})
	waitFor(t, 10*time.Second, "the source to say it awaits a reset", func() bool {
		return len(r.find(func(rep api.Report) bool { return rep.Kind == api.RepAwaiting && rep.PE == "sequence" })) == 1
	})
	r.command(api.Command{Kind: api.CmdDrain, Job: "j", Region: 0, Epoch: 2, Gen: 1})
	// The next reset is the barrier: what the source did with the drain comes before its reset_done.
	r.must(fsm.NewGenerationType, fsm.NewGeneration{Job: "j", Region: 0, Generation: 2, Reason: "source placed on w1"})
	r.command(api.Command{Kind: api.CmdReset, Job: "j", Region: 0, Epoch: 0, Gen: 2})
	waitFor(t, 10*time.Second, "the source to reset into generation 2", func() bool {
		return len(r.find(func(rep api.Report) bool { return rep.Kind == api.RepResetDone && rep.PE == "sequence" && rep.Gen == 2 })) == 1
	})
	if got := r.find(func(rep api.Report) bool { return rep.Kind == api.RepDrained && rep.PE == "sequence" }); len(got) > 0 {
		t.Fatalf("the source drained in generation 1 without its state, resumed by a replayed resume: %+v", got)
	}
}

// A PE started with its reader on its node feeds it in-process. When the reader turns out to run elsewhere
// (a node restarted on a stale replica started both, then learned the current placements), the PE starts
// again, streaming to the reader's node: fed in-process, it blocked its region (`weir chaos --seed 7
// --nodes 5 --duration 30m`). Started again, it awaits the reset that follows the placement change.
func TestPEFeedingAMovedReaderInProcessStartsAgain(t *testing.T) {
	r := newRig(t, "w1")
	r.submit("j", regionJob)
	r.must(fsm.PlaceType, fsm.Place{Job: "j", Placements: map[string]string{"sequence": "w1", "stdout": "w1"}})
	r.run()
	waitFor(t, 10*time.Second, "both PEs to start", func() bool { return len(r.w.PEs().Running["j"]) == 2 })
	r.must(fsm.PlaceType, fsm.Place{Job: "j", Placements: map[string]string{"sequence": "w1", "stdout": "w0"}})
	waitFor(t, 10*time.Second, "the source to start again and await a reset", func() bool {
		return len(r.find(func(rep api.Report) bool { return rep.Kind == api.RepAwaiting && rep.PE == "sequence" })) == 1
	})
	if got := r.w.PEs().Running["j"]; len(got) != 1 || got[0] != "sequence" {
		t.Fatalf("running here: %v, want the source only", got)
	}
}
