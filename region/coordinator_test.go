package region

import (
	"errors"
	"fmt"
	"maps"
	"strings"
	"testing"
	"time"

	"github.com/weirstream/weir/topology"
	"go.uber.org/goleak"
)

func TestCoordinatorStartsProcessing(t *testing.T) {
	h := newHarness(t, nil)
	defer h.stop()
	st := h.expectState(Processing)
	want := Status{Region: 3, State: Processing}
	if st != want {
		t.Fatalf("initial status %+v, want %+v", st, want)
	}
	if cs := h.rec.cmds(); len(cs) != 0 {
		t.Fatalf("commands before the first period: %v", cs)
	}
	if p := h.clk.Pending(); len(p) != 1 || p[0] != testPeriod {
		t.Fatalf("armed timers %v, want the trigger in %s", p, testPeriod)
	}
}

func TestCoordinatorPeriodicEpochs(t *testing.T) {
	h := newHarness(t, nil)
	defer h.stop()

	h.advance(testPeriod - time.Nanosecond)
	if n := h.rec.count(kDrain); n != 0 {
		t.Fatalf("drain before the period elapsed")
	}
	var last uint64
	for i := 1; i <= 5; i++ {
		// Each epoch starts a period after the previous one committed (IBM: the interval begins counting
		// after the end of the previous consistent state).
		if i == 1 {
			h.advance(time.Nanosecond)
		} else {
			h.advance(testPeriod - time.Nanosecond)
			if n := h.rec.count(kDrain); n != i-1 {
				t.Fatalf("epoch %d started early: %v", i, h.rec.cmds())
			}
			h.advance(time.Nanosecond)
		}
		d, ok := h.rec.last(kDrain)
		if !ok || d.Epoch <= last {
			t.Fatalf("epoch %d: drain %v after epoch %d", i, d, last)
		}
		epoch := d.Epoch
		h.expectDrain(epoch, 0, false)

		// The drain takes 3 s; the PEs report one by one.
		h.advance(3 * time.Second)
		before := len(h.rec.cmds())
		refs := map[string]string{}
		for k, pe := range h.o.PEs {
			h.c.Drained(pe, epoch, 0, ref(pe, epoch, 0))
			refs[pe] = ref(pe, epoch, 0)
			h.sync()
			if k < len(h.o.PEs)-1 {
				h.expectState(Draining)
				if n := len(h.rec.cmds()); n != before {
					t.Fatalf("commands before every PE reported: %v", h.rec.cmds()[before:])
				}
			}
		}
		got := h.rec.cmds()[before:]
		want := []cmd{
			{Kind: kCommit, Epoch: epoch, Gen: 0, Refs: refs},
			{Kind: kCommitted, Epoch: epoch, Gen: 0},
		}
		if !equalCmds(got, want) {
			t.Fatalf("epoch %d: commands %v, want %v", epoch, got, want)
		}
		st := h.expectState(Processing)
		if st.Committed != epoch || st.Commits != i || st.Epoch != 0 || st.Attempts != 0 || st.Final {
			t.Fatalf("after commit of %d: status %+v", epoch, st)
		}
		if !st.LastCheckpoint.Equal(h.clk.Now()) {
			t.Fatalf("LastCheckpoint %v, want %v", st.LastCheckpoint, h.clk.Now())
		}
		last = epoch
	}
	if last != 5 {
		t.Fatalf("epochs 1..5 expected, last %d", last)
	}
}

func TestCoordinatorPeriodCountsFromReset(t *testing.T) {
	h := newHarness(t, nil)
	defer h.stop()
	h.advance(testPeriod)
	h.expectDrain(1, 0, false)
	h.c.Inject("x")
	h.advance(time.Hour) // a long reset: the reset timeout is 7 s, so it takes several attempts
	h.expectState(Resetting)
	gen := h.status().Generation
	h.advance(3 * time.Second)
	h.resetAll(gen)
	// The region does not drain at once after the reset: the period starts when the reset completes.
	h.advance(testPeriod - time.Nanosecond)
	if n := h.rec.count(kDrain); n != 1 {
		t.Fatalf("drained before a period after the reset: %v", h.rec.of(kDrain))
	}
	h.advance(time.Nanosecond)
	h.expectDrain(2, gen, false)
}

func TestCoordinatorTakesOverFromLedger(t *testing.T) {
	h := newHarness(t, func(o *Options) { o.Committed, o.Generation = 7, 3 })
	defer h.stop()
	st := h.expectState(Processing)
	if st.Committed != 7 || st.Generation != 3 {
		t.Fatalf("status %+v", st)
	}
	h.advance(testPeriod)
	h.expectDrain(8, 3, false)

	h2 := newHarness(t, func(o *Options) { o.Committed, o.NextEpoch = 7, 12 })
	defer h2.stop()
	h2.advance(testPeriod)
	h2.expectDrain(12, 0, false)
	h2.drainAll(12, 0)
	h2.advance(testPeriod)
	h2.expectDrain(13, 0, false)

	// A NextEpoch at or below the committed epoch would reuse an epoch: it is raised.
	h3 := newHarness(t, func(o *Options) { o.Committed, o.NextEpoch = 7, 5 })
	defer h3.stop()
	h3.advance(testPeriod)
	h3.expectDrain(8, 0, false)
}

func TestCoordinatorResetFirst(t *testing.T) {
	h := newHarness(t, func(o *Options) { o.Committed, o.Generation, o.ResetFirst = 4, 2, true })
	defer h.stop()
	st := h.expectState(Resetting)
	if st.Generation != 3 || st.Attempts != 0 || st.Resets != 1 {
		t.Fatalf("status %+v", st)
	}
	want := []cmd{{Kind: kNewGen, Gen: 3}, {Kind: kReset, Gen: 3, Epoch: 4}}
	if got := h.rec.cmds(); !equalCmds(got, want) {
		t.Fatalf("commands %v, want %v", got, want)
	}
	h.resetAll(3)
	h.expectState(Processing)
	if r, _ := h.rec.last(kResume); r.Gen != 3 {
		t.Fatalf("resume %v", r)
	}
	h.advance(h.clk.Pending()[0])
	h.expectDrain(5, 3, false)
}

func TestCoordinatorIgnoresStaleReports(t *testing.T) {
	h := newHarness(t, nil)
	defer h.stop()

	// A Drained while processing (no epoch in flight) is ignored, even for the epoch that comes next.
	for _, pe := range h.o.PEs {
		h.c.Drained(pe, 1, 0, "early")
	}
	h.sync()
	h.expectState(Processing)
	if cs := h.rec.cmds(); len(cs) != 0 {
		t.Fatalf("commands: %v", cs)
	}

	h.advance(testPeriod)
	h.expectDrain(1, 0, false)
	n := len(h.rec.cmds())
	h.c.Drained("src_a", 1, 0, "first")
	h.c.Drained("src_a", 1, 0, "duplicate")      // duplicate
	h.c.Drained("src_b", 1, 1, "future gen")     // wrong generation
	h.c.Drained("src_b", 2, 0, "next epoch")     // wrong epoch
	h.c.Drained("src_b", 0, 0, "no epoch")       // wrong epoch
	h.c.Drained("ghost", 1, 0, "unknown PE")     // unknown PE
	h.c.Drained("sink", 1, 0, "sink")            //
	h.c.ResetDone("src_b", 0)                    // not resetting
	h.c.Exhausted("sink", 0)                     // not a start
	h.c.Failed("src_b", 1, errors.New("zombie")) // a generation that does not exist yet
	h.sync()
	st := h.expectState(Draining)
	if len(h.rec.cmds()) != n || st.Epoch != 1 {
		t.Fatalf("stale reports changed something: %v, status %+v", h.rec.cmds()[n:], st)
	}
	h.c.Drained("src_b", 1, 0, "right")
	h.sync()
	c, ok := h.rec.last(kCommit)
	want := map[string]string{"src_a": "first", "src_b": "right", "sink": "sink"}
	if !ok || c.Epoch != 1 || !maps.Equal(c.Refs, want) {
		t.Fatalf("commit %v, want refs %v", c, want)
	}
	h.expectState(Processing)

	// Reports for the epoch just committed are ignored too.
	n = len(h.rec.cmds())
	h.drainAll(1, 0)
	if len(h.rec.cmds()) != n {
		t.Fatalf("late reports: %v", h.rec.cmds()[n:])
	}
}

func TestCoordinatorFailureResets(t *testing.T) {
	h := newHarness(t, nil)
	defer h.stop()

	// Before any commit, a failure resets to epoch 0 (the initial state).
	h.c.Failed("sink", 0, errors.New("boom"))
	h.sync()
	st := h.expectState(Resetting)
	if st.Generation != 1 || st.Attempts != 1 || st.Resets != 1 || !strings.Contains(st.LastError, "sink") ||
		!strings.Contains(st.LastError, "boom") {
		t.Fatalf("status %+v", st)
	}
	want := []cmd{{Kind: kNewGen, Gen: 1}, {Kind: kReset, Gen: 1, Epoch: 0}}
	if got := h.rec.cmds(); !equalCmds(got, want) {
		t.Fatalf("commands %v, want %v (the generation is recorded before the reset uses it)", got, want)
	}

	// Resume waits for every PE of the new generation; the old generation's, unknown PEs and duplicates do
	// not count.
	n := len(h.rec.cmds())
	for _, pe := range h.o.PEs {
		h.c.ResetDone(pe, 0)
	}
	h.c.ResetDone("ghost", 1)
	h.c.ResetDone("src_a", 1)
	h.c.ResetDone("src_a", 1)
	h.c.ResetDone("src_b", 1)
	h.c.ResetDone("sink", 2)
	h.c.Drained("sink", 1, 1, "not draining")
	h.c.Failed("sink", 0, errors.New("an old generation's failure"))
	h.sync()
	h.expectState(Resetting)
	if len(h.rec.cmds()) != n {
		t.Fatalf("resumed early: %v", h.rec.cmds()[n:])
	}
	h.c.ResetDone("sink", 1)
	h.sync()
	st = h.expectState(Processing)
	if got := h.rec.cmds()[n:]; !equalCmds(got, []cmd{{Kind: kResume, Gen: 1}}) {
		t.Fatalf("commands %v, want resume(g1)", got)
	}
	if st.Attempts != 1 {
		t.Fatalf("attempts %d: a reset is not a commit", st.Attempts)
	}

	// An epoch commits in the new generation; the next failure resets to it.
	epoch := h.runEpoch()
	if st := h.status(); st.Attempts != 0 || st.Committed != epoch {
		t.Fatalf("after commit: %+v", st)
	}
	n = len(h.rec.cmds())
	h.c.Failed("src_a", 1, errors.New("again"))
	h.sync()
	want = []cmd{{Kind: kNewGen, Gen: 2}, {Kind: kReset, Gen: 2, Epoch: epoch}}
	if got := h.rec.cmds()[n:]; !equalCmds(got, want) {
		t.Fatalf("commands %v, want %v", got, want)
	}
	st = h.expectState(Resetting)
	if st.Committed != epoch || st.Generation != 2 || st.Resets != 2 || st.Attempts != 1 {
		t.Fatalf("status %+v", st)
	}
}

func TestCoordinatorFailureWhileDrainingAbandonsTheEpoch(t *testing.T) {
	h := newHarness(t, nil)
	defer h.stop()
	h.advance(testPeriod)
	h.expectDrain(1, 0, false)
	h.c.Drained("src_a", 1, 0, "a")
	h.c.Failed("src_b", 0, errors.New("crash"))
	h.sync()
	st := h.expectState(Resetting)
	if st.Epoch != 0 || st.Committed != 0 {
		t.Fatalf("status %+v", st)
	}
	// The abandoned epoch's reports do not commit anything.
	h.drainAll(1, 0)
	h.drainAll(1, 1)
	if n := h.rec.count(kCommit); n != 0 {
		t.Fatalf("abandoned epoch committed")
	}
	h.resetAll(1)
	// Epoch numbers are not reused: the next epoch is 2.
	h.advance(h.clk.Pending()[0])
	h.expectDrain(2, 1, false)
}

func TestCoordinatorMaxAttempts(t *testing.T) {
	h := newHarness(t, nil) // max 3 attempts
	defer h.stop()
	epoch := h.runEpoch()

	for attempt := 1; attempt <= 3; attempt++ {
		gen := uint64(attempt - 1)
		h.c.Failed("sink", gen, fmt.Errorf("failure %d", attempt))
		h.sync()
		st := h.expectState(Resetting)
		if st.Attempts != attempt || st.Generation != gen+1 {
			t.Fatalf("attempt %d: status %+v", attempt, st)
		}
		if attempt < 3 {
			h.resetAll(gen + 1) // a successful reset is not a commit: attempts keep counting
			h.expectState(Processing)
		}
	}
	n := len(h.rec.cmds())
	h.c.Failed("src_a", 3, errors.New("the last straw"))
	h.sync()
	st := h.expectState(MaxAttemptsReached)
	if st.Attempts != 3 || !strings.Contains(st.LastError, "the last straw") || st.Committed != epoch || st.Epoch != 0 {
		t.Fatalf("status %+v", st)
	}
	// The PEs are parked at the committed epoch, in a new generation, and never resumed.
	want := []cmd{{Kind: kNewGen, Gen: 4}, {Kind: kReset, Gen: 4, Epoch: epoch}}
	if got := h.rec.cmds()[n:]; !equalCmds(got, want) {
		t.Fatalf("commands %v, want %v", got, want)
	}
	if p := h.clk.Pending(); len(p) != 0 {
		t.Fatalf("timers armed in MaxAttemptsReached: %v", p)
	}

	// Nothing moves it: failures, injections, triggers, reports, time.
	n = len(h.rec.cmds())
	h.c.Failed("src_a", 4, errors.New("more"))
	h.c.Failed("src_a", 3, errors.New("more"))
	h.c.Inject("inject")
	h.c.Trigger()
	h.resetAll(4)
	h.drainAll(epoch+1, 4)
	h.advance(time.Hour)
	if got := h.rec.cmds()[n:]; len(got) != 0 {
		t.Fatalf("commands in MaxAttemptsReached: %v", got)
	}
	if st2 := h.expectState(MaxAttemptsReached); st2 != st {
		t.Fatalf("status moved: %+v -> %+v", st, st2)
	}

	// A forced reset starts afresh.
	h.c.ForceReset("forced reset")
	h.sync()
	st = h.expectState(Resetting)
	if st.Attempts != 0 || st.Generation != 5 {
		t.Fatalf("after forced reset: %+v", st)
	}
	want = []cmd{{Kind: kNewGen, Gen: 5}, {Kind: kReset, Gen: 5, Epoch: epoch}}
	if got := h.rec.cmds()[n:]; !equalCmds(got, want) {
		t.Fatalf("commands %v, want %v", got, want)
	}
	h.resetAll(5)
	h.expectState(Processing)
	next := h.runEpoch()
	if next <= epoch {
		t.Fatalf("epoch %d after %d", next, epoch)
	}
}

func TestCoordinatorCommitClearsAttempts(t *testing.T) {
	h := newHarness(t, nil)
	defer h.stop()
	// Fail twice, commit, and then three more failures are needed to exhaust the attempts: the count starts
	// again at 0 after every commit.
	for round := 0; round < 3; round++ {
		for i := 0; i < 2; i++ {
			gen := h.status().Generation
			h.c.Inject("chaos")
			h.sync()
			h.expectState(Resetting)
			h.resetAll(gen + 1)
		}
		if st := h.status(); st.Attempts != 2 {
			t.Fatalf("round %d: attempts %d", round, st.Attempts)
		}
		h.runEpoch()
		if st := h.status(); st.Attempts != 0 {
			t.Fatalf("round %d: attempts %d after a commit", round, st.Attempts)
		}
	}
	if st := h.status(); st.Commits != 3 || st.Resets != 6 {
		t.Fatalf("status %+v", st)
	}
}

func TestCoordinatorForceReset(t *testing.T) {
	h := newHarness(t, nil)
	defer h.stop()
	// From Processing, Draining and Resetting alike; each bumps the generation and zeroes the attempts.
	h.c.Inject("x")
	h.sync()
	h.expectState(Resetting)
	h.c.ForceReset("forced reset")
	h.sync()
	st := h.expectState(Resetting)
	if st.Generation != 2 || st.Attempts != 0 {
		t.Fatalf("status %+v", st)
	}
	h.resetAll(1) // the superseded generation's reports do not count
	h.expectState(Resetting)
	h.resetAll(2)
	h.advance(h.clk.Pending()[0])
	h.expectDrain(1, 2, false)
	h.c.ForceReset("forced reset")
	h.sync()
	st = h.expectState(Resetting)
	if st.Generation != 3 || st.Epoch != 0 {
		t.Fatalf("status %+v", st)
	}
}

func TestCoordinatorForceResetIgnoredWhenFinished(t *testing.T) {
	h := newHarness(t, nil)
	defer h.stop()
	h.exhaustAll(0)
	h.advance(0)
	h.expectDrain(1, 0, true)
	h.drainAll(1, 0)
	st := h.expectState(Finished)
	n := len(h.rec.cmds())
	h.c.ForceReset("forced reset")
	h.c.Inject("late")
	h.c.Failed("sink", 0, errors.New("late"))
	h.c.Trigger()
	h.exhaustAll(0)
	h.advance(time.Hour)
	if got := h.rec.cmds()[n:]; len(got) != 0 {
		t.Fatalf("commands after Finished: %v", got)
	}
	if st2 := h.expectState(Finished); st2 != st {
		t.Fatalf("status moved: %+v -> %+v", st, st2)
	}
}

func TestCoordinatorDrainTimeout(t *testing.T) {
	h := newHarness(t, nil) // drain timeout 5 s, reset timeout 7 s
	defer h.stop()
	h.advance(testPeriod)
	h.expectDrain(1, 0, false)
	h.c.Drained("src_a", 1, 0, "a")
	h.advance(5*time.Second - time.Nanosecond)
	h.expectState(Draining)
	h.advance(time.Nanosecond)
	st := h.expectState(Resetting)
	if st.Attempts != 1 || st.Generation != 1 || !strings.Contains(st.LastError, "timed out") ||
		!strings.Contains(st.LastError, "sink, src_b") || strings.Contains(st.LastError, "src_a") {
		t.Fatalf("status %+v", st)
	}
	if r, _ := h.rec.last(kReset); r.Gen != 1 || r.Epoch != 0 {
		t.Fatalf("reset %v", r)
	}
}

func TestCoordinatorResetTimeoutMakesAnotherAttempt(t *testing.T) {
	h := newHarness(t, nil)
	defer h.stop()
	h.c.Inject("x")
	h.sync()
	h.c.ResetDone("src_a", 1)
	h.advance(7*time.Second - time.Nanosecond)
	h.expectState(Resetting)
	h.advance(time.Nanosecond)
	st := h.expectState(Resetting)
	if st.Attempts != 2 || st.Generation != 2 || !strings.Contains(st.LastError, "reset to epoch 0 timed out") ||
		!strings.Contains(st.LastError, "sink, src_b") {
		t.Fatalf("status %+v", st)
	}
	// The timeouts go on until the attempts run out.
	h.advance(7 * time.Second)
	h.expectState(Resetting)
	h.advance(7 * time.Second)
	st = h.expectState(MaxAttemptsReached)
	if st.Attempts != 3 {
		t.Fatalf("status %+v", st)
	}
	if resets := h.rec.of(kReset); len(resets) != 4 {
		t.Fatalf("resets %v: three attempts and the parking reset", resets)
	}
}

func TestCoordinatorTimersOfOlderStatesDoNotFire(t *testing.T) {
	h := newHarness(t, func(o *Options) { o.Config.Period = time.Hour })
	defer h.stop()
	staleFrom := func() int { return len(h.clk.Spent()) }
	// fireSpent fires every stopped or fired timer from index k on, as if each had raced with its Stop.
	fireSpent := func(k int) {
		for _, tm := range h.clk.Spent()[k:] {
			tm.f()
		}
		h.sync()
	}

	// 1. The operator-style trigger starts an epoch while the periodic tick is armed: the tick is stopped,
	// but suppose it fired just before. After the commit, the late tick must not start an epoch.
	k := staleFrom()
	h.c.Trigger()
	h.sync()
	h.expectDrain(1, 0, false)
	h.drainAll(1, 0)
	h.expectState(Processing)
	n := len(h.rec.cmds())
	fireSpent(k)
	h.expectState(Processing)
	if got := h.rec.cmds()[n:]; len(got) != 0 {
		t.Fatalf("a stale trigger started an epoch: %v", got)
	}

	// 2. A drain deadline of an epoch that committed does not reset the next epoch.
	k = staleFrom()
	h.c.Trigger()
	h.sync()
	h.expectDrain(2, 0, false)
	h.drainAll(2, 0) // stops the deadline
	h.c.Trigger()
	h.sync()
	h.expectDrain(3, 0, false)
	fireSpent(k)
	h.expectDrain(3, 0, false)
	// ...and the real one still works.
	h.advance(5 * time.Second)
	h.expectState(Resetting)

	// 3. A reset deadline of a superseded reset does not fail the current one.
	k = staleFrom()
	h.c.ForceReset("forced reset")
	h.sync()
	st := h.expectState(Resetting)
	fireSpent(k)
	if st2 := h.expectState(Resetting); st2.Generation != st.Generation || st2.Attempts != st.Attempts {
		t.Fatalf("a stale reset timeout made an attempt: %+v -> %+v", st, st2)
	}
	// 4. Nor does it fire into Processing after the reset completed.
	k = staleFrom()
	h.resetAll(st.Generation)
	h.expectState(Processing)
	n = len(h.rec.cmds())
	fireSpent(k)
	fireSpent(0)
	h.expectState(Processing)
	if got := h.rec.cmds()[n:]; len(got) != 0 {
		t.Fatalf("stale timers acted: %v", got)
	}
	// 5. Advancing past every old deadline does nothing either; the only live timer is the trigger.
	if p := h.clk.Pending(); len(p) != 1 {
		t.Fatalf("armed timers %v", p)
	}
}

func TestCoordinatorCommitFailure(t *testing.T) {
	h := newHarness(t, nil)
	defer h.stop()
	first := h.runEpoch()

	h.advance(testPeriod)
	d, _ := h.rec.last(kDrain)
	h.rec.setFailCommits(1)
	n := len(h.rec.cmds())
	h.drainAll(d.Epoch, 0)
	st := h.expectState(Resetting)
	if st.Committed != first || st.Commits != 1 || st.Attempts != 1 || !strings.Contains(st.LastError, "commit of epoch 2") {
		t.Fatalf("status %+v", st)
	}
	got := h.rec.cmds()[n:]
	if len(got) != 3 || got[0].Kind != kCommit || !got[0].Failed || got[1].Kind != kNewGen ||
		!got[2].equal(cmd{Kind: kReset, Gen: 1, Epoch: first}) {
		t.Fatalf("commands %v: a failed commit resets to the last committed epoch, announcing nothing", got)
	}
	if c := h.rec.of(kCommitted); len(c) != 1 {
		t.Fatalf("announcements %v", c)
	}
	h.resetAll(1)
	h.advance(h.clk.Pending()[0])
	h.expectDrain(3, 1, false)
	h.drainAll(3, 1)
	if st := h.expectState(Processing); st.Committed != 3 || st.Attempts != 0 {
		t.Fatalf("status %+v", st)
	}
}

func TestCoordinatorNewGenerationFailure(t *testing.T) {
	h := newHarness(t, nil)
	defer h.stop()
	h.rec.setFailNewGens(1)
	h.c.Inject("x")
	h.sync()
	st := h.expectState(Resetting)
	if h.rec.count(kReset) != 0 {
		t.Fatalf("reset sent with an unrecorded generation: %v", h.rec.cmds())
	}
	if !strings.Contains(st.LastError, "record generation 1") {
		t.Fatalf("status %+v", st)
	}
	// The reset timeout makes another attempt, which succeeds.
	h.advance(7 * time.Second)
	st = h.expectState(Resetting)
	if st.Generation != 2 || st.Attempts != 2 {
		t.Fatalf("status %+v", st)
	}
	if r, ok := h.rec.last(kReset); !ok || r.Gen != 2 {
		t.Fatalf("reset %v", r)
	}
	h.resetAll(2)
	h.expectState(Processing)

	// At the last attempt too, an unrecorded generation is not used.
	for h.status().State != MaxAttemptsReached {
		gen := h.status().Generation
		if h.status().Attempts == 3 {
			h.rec.setFailNewGens(1)
		}
		h.c.Failed("sink", gen, errors.New("x"))
		h.sync()
	}
	if r, _ := h.rec.last(kReset); r.Gen == h.status().Generation {
		t.Fatalf("parking reset sent with an unrecorded generation: %v", h.rec.cmds())
	}
}

func TestCoordinatorFinalEpoch(t *testing.T) {
	h := newHarness(t, nil)
	defer h.stop()
	epoch := h.runEpoch()

	// Exhaustion of an older generation, of a non-start PE, and of only one start does not end the region.
	h.c.Exhausted("src_a", 7)
	h.c.Exhausted("sink", 0)
	h.c.Exhausted("src_a", 0)
	h.c.Exhausted("src_a", 0)
	h.advance(0)
	if h.rec.count(kDrain) != 1 {
		t.Fatalf("drain before every start was exhausted: %v", h.rec.cmds())
	}
	h.c.Exhausted("src_b", 0)
	h.advance(0) // the final epoch starts at once, not a period later
	h.expectDrain(epoch+1, 0, true)
	if st := h.status(); !st.Final {
		t.Fatalf("status %+v", st)
	}
	n := len(h.rec.cmds())
	h.drainAll(epoch+1, 0)
	st := h.expectState(Finished)
	if st.Committed != epoch+1 || !st.Final || st.Epoch != 0 {
		t.Fatalf("status %+v", st)
	}
	got := h.rec.cmds()[n:]
	if len(got) != 2 || got[0].Kind != kCommit || !got[1].equal(cmd{Kind: kCommitted, Gen: 0, Epoch: epoch + 1, Final: true}) {
		t.Fatalf("commands %v", got)
	}
	if p := h.clk.Pending(); len(p) != 0 {
		t.Fatalf("timers armed after Finished: %v", p)
	}
	h.stop()
	if st := h.status(); st.State != Finished {
		t.Fatalf("stop turned Finished into %s", st.State)
	}
}

func TestCoordinatorExhaustedDuringDrain(t *testing.T) {
	h := newHarness(t, nil)
	defer h.stop()
	h.advance(testPeriod)
	h.expectDrain(1, 0, false)
	h.exhaustAll(0)
	h.expectDrain(1, 0, false) // the epoch in flight stays regular
	h.drainAll(1, 0)
	h.expectState(Processing)
	h.advance(0)
	h.expectDrain(2, 0, true)
	h.drainAll(2, 0)
	h.expectState(Finished)
}

func TestCoordinatorHoldFinal(t *testing.T) {
	for _, trigger := range []string{topology.TriggerPeriodic, topology.TriggerOperatorDriven} {
		t.Run(trigger, func(t *testing.T) {
			var h *harness
			h = newHarness(t, func(o *Options) {
				o.Config.Trigger = trigger
				o.HoldFinal = func() bool { return h.hold.Load() }
			})
			defer h.stop()
			h.hold.Store(true)
			h.exhaustAll(0)
			// Regular epochs go on while the final one is held (operator-driven: every second at least).
			for i := uint64(1); i <= 3; i++ {
				p := h.clk.Pending()
				if len(p) != 1 || p[0] <= 0 {
					t.Fatalf("epoch %d: armed timers %v", i, p)
				}
				h.advance(p[0])
				h.expectDrain(i, 0, false)
				h.drainAll(i, 0)
				h.expectState(Processing)
			}
			h.hold.Store(false)
			h.advance(h.clk.Pending()[0])
			h.expectDrain(4, 0, true)
			h.drainAll(4, 0)
			h.expectState(Finished)
		})
	}
}

func TestCoordinatorResetAfterExhaustionReplays(t *testing.T) {
	h := newHarness(t, nil)
	defer h.stop()
	e := h.runEpoch()
	h.exhaustAll(0)
	h.advance(0)
	h.expectDrain(e+1, 0, true)
	h.c.Failed("sink", 0, errors.New("crash during the final epoch"))
	h.sync()
	st := h.expectState(Resetting)
	if st.Final || st.Epoch != 0 {
		t.Fatalf("status %+v", st)
	}
	h.resetAll(1)
	// The sources replay: exhaustion is forgotten, the next epoch is regular.
	h.advance(h.clk.Pending()[0])
	h.expectDrain(e+2, 1, false)
	h.drainAll(e+2, 1)
	// A partial exhaustion in the new generation plus the old generation's report is not enough.
	h.c.Exhausted("src_a", 1)
	h.c.Exhausted("src_b", 0)
	h.advance(0)
	h.expectState(Processing)
	h.c.Exhausted("src_b", 1)
	h.advance(0)
	h.expectDrain(e+3, 1, true)
	h.drainAll(e+3, 1)
	if st := h.expectState(Finished); st.Committed != e+3 {
		t.Fatalf("status %+v", st)
	}
	if c := h.rec.of(kCommitted); len(c) != 3 || !c[2].Final || c[0].Final || c[1].Final {
		t.Fatalf("announcements %v", c)
	}
}

func TestCoordinatorFinalEpochCommitFailure(t *testing.T) {
	h := newHarness(t, nil)
	defer h.stop()
	h.exhaustAll(0)
	h.advance(0)
	h.expectDrain(1, 0, true)
	h.rec.setFailCommits(1)
	h.drainAll(1, 0)
	st := h.expectState(Resetting)
	if st.Final || st.Committed != 0 {
		t.Fatalf("status %+v", st)
	}
	if c := h.rec.of(kCommitted); len(c) != 0 {
		t.Fatalf("announced %v", c)
	}
	h.resetAll(1)
	h.exhaustAll(1)
	h.advance(0)
	h.expectDrain(2, 1, true)
	h.drainAll(2, 1)
	h.expectState(Finished)
}

func TestCoordinatorOperatorDriven(t *testing.T) {
	h := newHarness(t, func(o *Options) { o.Config.Trigger, o.Config.Period = topology.TriggerOperatorDriven, 0 })
	defer h.stop()
	if p := h.clk.Pending(); len(p) != 0 {
		t.Fatalf("operator-driven region armed %v", p)
	}
	h.advance(24 * time.Hour)
	if n := h.rec.count(kDrain); n != 0 {
		t.Fatalf("operator-driven region drained by itself")
	}
	h.c.Trigger()
	h.sync()
	h.expectDrain(1, 0, false)
	h.c.Trigger() // ignored while draining
	h.c.Trigger()
	h.sync()
	h.expectDrain(1, 0, false)
	if n := h.rec.count(kDrain); n != 1 {
		t.Fatalf("drains %v", h.rec.of(kDrain))
	}
	h.drainAll(1, 0)
	h.expectState(Processing)
	h.advance(24 * time.Hour)
	if n := h.rec.count(kDrain); n != 1 {
		t.Fatalf("operator-driven region drained by itself")
	}
	// Ignored while resetting.
	h.c.Inject("x")
	h.sync()
	h.c.Trigger()
	h.sync()
	h.expectState(Resetting)
	h.resetAll(1)
	h.c.Trigger()
	h.sync()
	h.expectDrain(2, 1, false)
	// Exhaustion still ends an operator-driven region without a trigger.
	h.drainAll(2, 1)
	h.exhaustAll(1)
	h.advance(0)
	h.expectDrain(3, 1, true)
}

func TestCoordinatorInject(t *testing.T) {
	h := newHarness(t, nil)
	defer h.stop()
	// Processing.
	h.c.Inject("chaos monkey")
	h.sync()
	st := h.expectState(Resetting)
	if st.LastError != "chaos monkey" || st.Generation != 1 {
		t.Fatalf("status %+v", st)
	}
	// Resetting: ignored.
	h.c.Inject("again")
	h.sync()
	if st2 := h.expectState(Resetting); st2 != st {
		t.Fatalf("inject while resetting: %+v", st2)
	}
	h.resetAll(1)
	// Draining.
	h.advance(h.clk.Pending()[0])
	h.expectDrain(1, 1, false)
	h.c.Inject("mid-drain")
	h.sync()
	if st := h.expectState(Resetting); st.LastError != "mid-drain" || st.Generation != 2 {
		t.Fatalf("status %+v", st)
	}
	// A reason with a percent sign is not a format string.
	h.resetAll(2)
	h.c.Inject("100% broken")
	h.sync()
	if st := h.status(); st.LastError != "100% broken" {
		t.Fatalf("LastError %q", st.LastError)
	}
}

func TestCoordinatorStop(t *testing.T) {
	h := newHarness(t, nil)
	h.advance(testPeriod)
	h.expectDrain(1, 0, false)
	h.stop()
	select {
	case <-h.c.Done():
	default:
		t.Fatal("Done not closed after Stop")
	}
	if st := h.status(); st.State != Stopped {
		t.Fatalf("state %s", st.State)
	}
	ch := h.statusChanges()
	if ch[len(ch)-1].State != Stopped {
		t.Fatalf("last change %+v", ch[len(ch)-1])
	}
	// Stopping twice, and reporting to a stopped coordinator, are harmless.
	h.stop()
	h.c.Drained("src_a", 1, 0, "x")
	h.c.Failed("src_a", 0, errors.New("x"))
	h.c.ForceReset("forced reset")
	if h.c.sync() {
		t.Fatal("sync on a stopped coordinator")
	}
	if p := h.clk.Pending(); len(p) != 0 {
		t.Fatalf("timers left armed: %v", p)
	}
	goleak.VerifyNone(t) // the loop's goroutine is gone
}

func TestCoordinatorStopFromOtherGoroutines(t *testing.T) {
	h := newHarness(t, nil)
	done := make(chan struct{})
	for range 4 {
		go func() {
			defer func() { done <- struct{}{} }()
			for i := range 100 {
				h.c.Drained("src_a", uint64(i), 0, "x")
				h.c.Trigger()
			}
		}()
	}
	go func() {
		defer func() { done <- struct{}{} }()
		h.stop()
	}()
	h.stop()
	for range 5 {
		<-done
	}
	<-h.c.Done()
}

func TestCoordinatorOnChange(t *testing.T) {
	h := newHarness(t, nil)
	h.advance(testPeriod)
	h.drainAll(1, 0)
	// Post a failure and the whole reset at once: every state is reported, even when the loop handles them
	// in one batch.
	h.c.Failed("sink", 0, errors.New("x"))
	for _, pe := range h.o.PEs {
		h.c.ResetDone(pe, 1)
	}
	h.sync()
	h.stop()
	ch := h.statusChanges()
	var states []State
	for i, s := range ch {
		if i > 0 && s == ch[i-1] {
			t.Fatalf("change %d repeats %+v", i, s)
		}
		if s.Region != 3 {
			t.Fatalf("change %+v", s)
		}
		if len(states) == 0 || states[len(states)-1] != s.State {
			states = append(states, s.State)
		}
	}
	want := []State{Draining, Checkpointing, Processing, Resetting, Processing, Stopped}
	if fmt.Sprint(states) != fmt.Sprint(want) {
		t.Fatalf("states %v, want %v", states, want)
	}
	if last := ch[len(ch)-1]; last != h.status() {
		t.Fatalf("last change %+v, status %+v", last, h.status())
	}
}

func TestCoordinatorNoPEs(t *testing.T) {
	// A region without start PEs can never report exhaustion: it must not consider itself exhausted.
	h := newHarness(t, func(o *Options) { o.Starts = nil })
	defer h.stop()
	h.advance(0)
	if n := h.rec.count(kDrain); n != 0 {
		t.Fatalf("drained at once: %v", h.rec.cmds())
	}
	h.advance(testPeriod)
	h.expectDrain(1, 0, false)
}

func TestCoordinatorRealClock(t *testing.T) {
	// The real timers, end to end: PEs that answer at once, a period of a few milliseconds.
	rec := &recorder{}
	var c *Coordinator
	ready := make(chan struct{}) // c is set
	rec.onDrain = func(epoch, gen uint64, final bool) {
		<-ready
		for _, pe := range []string{"a", "b"} {
			c.Drained(pe, epoch, gen, pe)
		}
	}
	rec.onReset = func(gen, epoch uint64) {
		<-ready
		for _, pe := range []string{"a", "b"} {
			c.ResetDone(pe, gen)
		}
	}
	c = Start(Options{
		Config: topology.Consistent{Trigger: topology.TriggerPeriodic, Period: 2 * time.Millisecond},
		PEs:    []string{"a", "b"}, Starts: []string{"a"}, Actuator: rec, Ledger: rec,
	})
	close(ready)
	defer c.Stop()
	waitFor(t, 10*time.Second, "three commits", func() bool { return c.Status().Commits >= 3 })
	c.Inject("x")
	waitFor(t, 10*time.Second, "a reset and three more commits", func() bool {
		s := c.Status()
		return s.Resets == 1 && s.Commits >= 6
	})
	c.Exhausted("a", c.Status().Generation)
	waitFor(t, 10*time.Second, "finished", func() bool { return c.Status().State == Finished })
	var last uint64
	for _, cm := range rec.of(kCommitted) {
		if cm.Epoch <= last {
			t.Fatalf("epochs not increasing: %v", rec.of(kCommitted))
		}
		last = cm.Epoch
	}
}

func TestCoordinatorRealDrainTimeout(t *testing.T) {
	rec := &recorder{}
	c := Start(Options{
		Config: topology.Consistent{Trigger: topology.TriggerOperatorDriven, DrainTimeout: 5 * time.Millisecond,
			ResetTimeout: 5 * time.Millisecond, MaxConsecutiveAttempts: 2},
		PEs: []string{"a"}, Starts: []string{"a"}, Actuator: rec, Ledger: rec,
	})
	defer c.Stop()
	c.Trigger()
	// Nobody answers: drain timeout, two reset timeouts, then the region stops.
	waitFor(t, 10*time.Second, "maximum attempts", func() bool { return c.Status().State == MaxAttemptsReached })
	if s := c.Status(); s.Attempts != 2 || !strings.Contains(s.LastError, "timed out") {
		t.Fatalf("status %+v", s)
	}
}

func TestStateNames(t *testing.T) {
	for s, want := range map[State]string{Processing: "processing", MaxAttemptsReached: "maximum_attempts_reached",
		Stopped: "stopped", State(42): "state(42)"} {
		if s.String() != want {
			t.Errorf("%d: %q, want %q", int(s), s.String(), want)
		}
		if b, _ := s.MarshalText(); string(b) != want {
			t.Errorf("%d: MarshalText %q", int(s), b)
		}
	}
}

func equalCmds(a, b []cmd) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if !a[i].equal(b[i]) {
			return false
		}
	}
	return true
}

// Every drained epoch was begun in the ledger first, in its generation.
func TestCoordinatorBeginsEveryEpochBeforeDraining(t *testing.T) {
	h := newHarness(t, nil)
	defer h.stop()
	for i := 0; i < 3; i++ {
		h.runEpoch()
	}
	h.c.Inject("x")
	h.resetAll(1)
	h.runEpoch()
	h.rec.mu.Lock()
	defer h.rec.mu.Unlock()
	if h.rec.drainUnbegun != 0 || len(h.rec.begun) != 4 {
		t.Fatalf("drains not begun first: %d; begun %v", h.rec.drainUnbegun, h.rec.begun)
	}
}

// A ledger that cannot record the start of an epoch fails it: nothing is drained, the region resets.
func TestCoordinatorBeginFailureResets(t *testing.T) {
	h := newHarness(t, nil)
	defer h.stop()
	h.rec.mu.Lock()
	h.rec.failBegins = 1
	h.rec.mu.Unlock()
	h.advance(testPeriod)
	st := h.expectState(Resetting)
	if h.rec.count(kDrain) != 0 || !strings.Contains(st.LastError, "begin epoch 1") {
		t.Fatalf("status %+v journal %v", st, h.rec.cmds())
	}
}

// A coordinator taking over announces the committed epoch again and numbers its epochs above NextEpoch.
func TestCoordinatorTakeoverAnnouncesAndContinues(t *testing.T) {
	h := newHarness(t, func(o *Options) {
		o.Committed, o.Generation, o.NextEpoch, o.Announce = 4, 2, 9, true
	})
	defer h.stop()
	c, ok := h.rec.last(kCommitted)
	if !ok || c.Epoch != 4 || c.Gen != 2 || c.Final {
		t.Fatalf("announcement %v (ok %v)", c, ok)
	}
	if e := h.runEpoch(); e != 9 {
		t.Fatalf("first epoch %d, want 9", e)
	}
}
