package region

import (
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/weirstream/weir/topology"
	"pgregory.net/rapid"
)

// crModel is the consistent-region protocol as DESIGN.md and IBM's documentation state it, written from
// the specification rather than from the coordinator: the state machine test drives both with the same
// random events and compares their states, their commands and their armed timers.
type crModel struct {
	cfg                         topology.Consistent
	pes, starts                 []string
	state                       State
	gen, committed, epoch, next uint64
	attempts, commits, resets   int
	final                       bool
	lastErr                     bool
	lastCkpt                    time.Duration
	pending, exhausted          map[string]bool
	now, periodStart            time.Duration
	// trig and dead are the due times of the armed trigger and deadline (-1: none).
	trig, dead                   time.Duration
	hold, failCommit, failNewGen bool
	out                          []cmd
}

func (m *crModel) allExhausted() bool {
	if len(m.starts) == 0 {
		return false
	}
	for _, s := range m.starts {
		if !m.exhausted[s] {
			return false
		}
	}
	return true
}

func (m *crModel) all() map[string]bool {
	p := map[string]bool{}
	for _, pe := range m.pes {
		p[pe] = true
	}
	return p
}

func (m *crModel) armTrigger() {
	m.trig = -1
	switch {
	case m.allExhausted() && !m.hold:
		m.trig = m.now
	case m.cfg.Trigger == topology.TriggerPeriodic:
		m.trig = m.now + max(m.cfg.Period-(m.now-m.periodStart), 0)
	case m.allExhausted():
		m.trig = m.now + max(m.cfg.Period, time.Second)
	}
}

func (m *crModel) startDrain() {
	m.trig = -1
	m.epoch = m.next
	m.next++
	m.final = m.allExhausted() && !m.hold
	m.pending = m.all()
	m.state = Draining
	m.dead = m.now + m.cfg.DrainTimeout
	m.out = append(m.out, cmd{Kind: kDrain, Epoch: m.epoch, Gen: m.gen, Final: m.final})
}

func (m *crModel) commit() {
	m.dead = -1
	refs := map[string]string{}
	for _, pe := range m.pes {
		refs[pe] = ref(pe, m.epoch, m.gen)
	}
	m.out = append(m.out, cmd{Kind: kCommit, Epoch: m.epoch, Gen: m.gen, Refs: refs, Failed: m.failCommit})
	if m.failCommit {
		m.fail()
		return
	}
	m.committed = m.epoch
	m.attempts = 0
	m.commits++
	m.lastCkpt = m.now
	m.out = append(m.out, cmd{Kind: kCommitted, Epoch: m.epoch, Gen: m.gen, Final: m.final})
	m.epoch = 0
	if m.final {
		m.state = Finished
		return
	}
	m.state = Processing
	m.periodStart = m.now // the period counts from the end of the last consistent state
	m.armTrigger()
}

// newGen bumps the generation and records it; it reports whether the ledger took it.
func (m *crModel) newGen() bool {
	m.gen++
	m.out = append(m.out, cmd{Kind: kNewGen, Gen: m.gen, Failed: m.failNewGen})
	return !m.failNewGen
}

func (m *crModel) fail() {
	if m.state == MaxAttemptsReached || m.state == Finished {
		return
	}
	m.lastErr = true
	if m.attempts >= m.cfg.MaxConsecutiveAttempts {
		m.trig, m.dead = -1, -1
		m.state = MaxAttemptsReached
		m.epoch, m.final = 0, false
		clear(m.exhausted)
		if m.newGen() {
			m.out = append(m.out, cmd{Kind: kReset, Gen: m.gen, Epoch: m.committed})
		}
		return
	}
	m.attempts++
	m.reset()
}

func (m *crModel) reset() {
	m.trig = -1
	m.resets++
	m.epoch, m.final = 0, false
	clear(m.exhausted)
	m.state = Resetting
	m.pending = m.all()
	m.dead = m.now + m.cfg.ResetTimeout
	if m.newGen() {
		m.out = append(m.out, cmd{Kind: kReset, Gen: m.gen, Epoch: m.committed})
	} else {
		clear(m.pending) // no PE was told of the generation: no report of it counts
		m.lastErr = true
	}
}

func (m *crModel) drained(pe string, epoch, gen uint64) {
	if m.state != Draining || gen != m.gen || epoch != m.epoch || !m.pending[pe] {
		return
	}
	delete(m.pending, pe)
	if len(m.pending) == 0 {
		m.commit()
	}
}

func (m *crModel) exhaust(pe string, gen uint64) {
	if gen != m.gen || !slices.Contains(m.starts, pe) {
		return
	}
	m.exhausted[pe] = true
	if m.state == Processing && m.allExhausted() {
		m.armTrigger()
	}
}

func (m *crModel) resetDone(pe string, gen uint64) {
	if m.state != Resetting || gen != m.gen || !m.pending[pe] {
		return
	}
	delete(m.pending, pe)
	if len(m.pending) == 0 {
		m.dead = -1
		m.state = Processing
		m.periodStart = m.now // ...or of the last reset
		m.out = append(m.out, cmd{Kind: kResume, Gen: m.gen})
		m.armTrigger()
	}
}

func (m *crModel) failed(gen uint64) {
	if gen == m.gen {
		m.fail()
	}
}

func (m *crModel) trigger() {
	if m.state == Processing {
		m.startDrain()
	}
}

func (m *crModel) inject() {
	if m.state == Processing || m.state == Draining {
		m.fail()
	}
}

func (m *crModel) forceReset() {
	if m.state == Finished {
		return
	}
	m.attempts = 0
	m.lastErr = true // the reason of a forced reset is its last error
	m.reset()
}

// advance moves time on; at most one timer is ever armed, and what it arms in turn is due later.
func (m *crModel) advance(d time.Duration) {
	m.now += d
	if m.trig >= 0 && m.dead >= 0 {
		panic("model: trigger and deadline armed together")
	}
	switch {
	case m.trig >= 0 && m.trig <= m.now:
		m.trig = -1
		if m.state == Processing {
			m.startDrain()
		}
	case m.dead >= 0 && m.dead <= m.now:
		m.dead = -1
		if m.state == Draining || m.state == Resetting {
			m.fail()
		}
	}
}

// armed returns the delays of the armed timers, as fakeClock.Pending does.
func (m *crModel) armed() []time.Duration {
	var out []time.Duration
	for _, at := range []time.Duration{m.trig, m.dead} {
		if at >= 0 {
			out = append(out, at-m.now)
		}
	}
	return out
}

// history checks the protocol's invariants on the journal alone, independently of the model.
type history struct {
	pes []string
	max int
	// drained and resetDone record, per (epoch, gen) and per gen, when (journal length) each PE reported.
	drained   map[[2]uint64]map[string][]int
	resetDone map[uint64]map[string][]int
	statuses  []Status
}

func (hi *history) check(t *rapid.T, journal []cmd) {
	var lastCommit, lastDrain, gen uint64
	drainAt := map[[2]uint64]int{}
	resetAt := map[uint64]int{}
	newGenOK := map[uint64]bool{}
	finalCommitted := false
	for i, c := range journal {
		if finalCommitted {
			t.Fatalf("command %v after the final commit", c)
		}
		if c.Gen < gen {
			t.Fatalf("command %d %v: generation went back from %d", i, c, gen)
		}
		gen = c.Gen
		switch c.Kind {
		case kDrain:
			if c.Epoch <= lastDrain {
				t.Fatalf("drain %v after drain of epoch %d", c, lastDrain)
			}
			lastDrain = c.Epoch
			drainAt[[2]uint64{c.Epoch, c.Gen}] = i
		case kCommit:
			at, ok := drainAt[[2]uint64{c.Epoch, c.Gen}]
			if !ok {
				t.Fatalf("commit %v of an epoch never drained", c)
			}
			for _, pe := range hi.pes {
				if !slices.ContainsFunc(hi.drained[[2]uint64{c.Epoch, c.Gen}][pe], func(when int) bool { return when > at && when <= i }) {
					t.Fatalf("commit %v before %s reported that epoch drained", c, pe)
				}
			}
			if !c.Failed {
				if c.Epoch <= lastCommit {
					t.Fatalf("commit of epoch %d after %d", c.Epoch, lastCommit)
				}
				lastCommit = c.Epoch
			}
		case kCommitted:
			if i == 0 || journal[i-1].Kind != kCommit || journal[i-1].Failed || journal[i-1].Epoch != c.Epoch {
				t.Fatalf("announcement %v without a successful ledger commit just before", c)
			}
			finalCommitted = c.Final
		case kNewGen:
			newGenOK[c.Gen] = !c.Failed
		case kReset:
			if !newGenOK[c.Gen] {
				t.Fatalf("reset %v before its generation was recorded", c)
			}
			resetAt[c.Gen] = i
		case kResume:
			at, ok := resetAt[c.Gen]
			if !ok {
				t.Fatalf("resume %v without a reset", c)
			}
			for _, pe := range hi.pes {
				if !slices.ContainsFunc(hi.resetDone[c.Gen][pe], func(when int) bool { return when > at && when <= i }) {
					t.Fatalf("resume %v before %s reported the reset done", c, pe)
				}
			}
		}
	}
	var sgen uint64
	for _, s := range hi.statuses {
		if s.Generation < sgen {
			t.Fatalf("status generation went back: %+v", s)
		}
		sgen = s.Generation
		if s.Attempts > hi.max || s.Attempts < 0 {
			t.Fatalf("attempts %d, max %d", s.Attempts, hi.max)
		}
		if s.State == Finished && !finalCommitted {
			t.Fatalf("finished without a final commit")
		}
	}
}

func TestCoordinatorStateMachine(t *testing.T) {
	// Several rounds of rapid's default 100 cases: the action space is wide, and a wrong report must meet
	// the right state to matter. Each round prints its own seed on failure.
	rounds := 4
	if testing.Short() {
		rounds = 1
	}
	for range rounds {
		rapid.Check(t, coordinatorStateMachine)
		if t.Failed() {
			return
		}
	}
}

func coordinatorStateMachine(rt *rapid.T) {
	nPE := rapid.IntRange(1, 3).Draw(rt, "pes")
	pes := []string{"p0", "p1", "p2"}[:nPE]
	starts := pes[:rapid.IntRange(1, nPE).Draw(rt, "starts")]
	trigger := rapid.SampledFrom([]string{topology.TriggerPeriodic, topology.TriggerOperatorDriven}).Draw(rt, "trigger")
	sec := func(name string, lo int) time.Duration {
		return time.Duration(rapid.IntRange(lo, 20).Draw(rt, name)) * time.Second
	}
	cfg := topology.Consistent{
		Trigger: trigger, Period: sec("period", 1), DrainTimeout: sec("drain_timeout", 1),
		ResetTimeout: sec("reset_timeout", 1), MaxConsecutiveAttempts: rapid.IntRange(1, 4).Draw(rt, "max"),
	}
	if trigger == topology.TriggerOperatorDriven && rapid.Bool().Draw(rt, "no_period") {
		cfg.Period = 0
	}
	committed := uint64(rapid.IntRange(0, 3).Draw(rt, "committed"))
	generation := uint64(rapid.IntRange(0, 2).Draw(rt, "generation"))
	resetFirst := rapid.Bool().Draw(rt, "reset_first")

	m := &crModel{
		cfg: cfg.WithDefaults(), pes: pes, starts: starts, gen: generation, committed: committed,
		next: committed + 1, pending: map[string]bool{}, exhausted: map[string]bool{}, trig: -1, dead: -1,
	}
	var h *harness
	h = newHarness(rt, func(o *Options) {
		o.Config, o.PEs, o.Starts = cfg, pes, starts
		o.Committed, o.Generation, o.ResetFirst = committed, generation, resetFirst
		o.HoldFinal = func() bool { return h.hold.Load() }
	})
	defer h.stop()
	if resetFirst {
		m.reset()
	} else {
		m.armTrigger()
	}
	hi := &history{pes: pes, max: cfg.MaxConsecutiveAttempts,
		drained: map[[2]uint64]map[string][]int{}, resetDone: map[uint64]map[string][]int{}}
	// now is the journal length when a report is posted: a report counts only for commands before it.
	now := func() int { return len(h.rec.cmds()) }

	peOrGhost := rapid.SampledFrom(append(slices.Clone(pes), "ghost"))
	// Mostly the right epoch or generation, sometimes one off either way.
	off := rapid.SampledFrom([]int{0, 0, 0, -1, 1})
	shift := func(v uint64, d int) uint64 { return uint64(int64(v) + int64(d)) }
	drained := func(pe string, epoch, gen uint64) {
		k := [2]uint64{epoch, gen}
		if hi.drained[k] == nil {
			hi.drained[k] = map[string][]int{}
		}
		hi.drained[k][pe] = append(hi.drained[k][pe], now())
		h.c.Drained(pe, epoch, gen, ref(pe, epoch, gen))
		m.drained(pe, epoch, gen)
	}
	resetDone := func(pe string, gen uint64) {
		if hi.resetDone[gen] == nil {
			hi.resetDone[gen] = map[string][]int{}
		}
		hi.resetDone[gen][pe] = append(hi.resetDone[gen][pe], now())
		h.c.ResetDone(pe, gen)
		m.resetDone(pe, gen)
	}

	rt.Repeat(map[string]func(*rapid.T){
		"Drained": func(t *rapid.T) {
			drained(peOrGhost.Draw(t, "pe"), shift(m.epoch, off.Draw(t, "epoch_off")), shift(m.gen, off.Draw(t, "gen_off")))
		},
		"DrainedAll": func(t *rapid.T) {
			for _, pe := range pes {
				drained(pe, m.epoch, m.gen)
			}
		},
		"ResetDone": func(t *rapid.T) {
			resetDone(peOrGhost.Draw(t, "pe"), shift(m.gen, off.Draw(t, "gen_off")))
		},
		"ResetDoneAll": func(t *rapid.T) {
			for _, pe := range pes {
				resetDone(pe, m.gen)
			}
		},
		"Exhausted": func(t *rapid.T) {
			pe, gen := peOrGhost.Draw(t, "pe"), shift(m.gen, off.Draw(t, "gen_off"))
			h.c.Exhausted(pe, gen)
			m.exhaust(pe, gen)
		},
		"Failed": func(t *rapid.T) {
			gen := shift(m.gen, off.Draw(t, "gen_off"))
			h.c.Failed(peOrGhost.Draw(t, "pe"), gen, errors.New("failure"))
			m.failed(gen)
		},
		"Trigger": func(t *rapid.T) {
			h.c.Trigger()
			m.trigger()
		},
		"Inject": func(t *rapid.T) {
			h.c.Inject("injected")
			m.inject()
		},
		"ForceReset": func(t *rapid.T) {
			h.c.ForceReset("forced reset")
			m.forceReset()
		},
		"Advance": func(t *rapid.T) {
			d := rapid.SampledFrom([]time.Duration{0, time.Second, cfg.Period / 2, cfg.Period, cfg.DrainTimeout,
				cfg.ResetTimeout, time.Hour}).Draw(t, "d")
			h.advance(d)
			m.advance(d)
		},
		"FireStale": func(t *rapid.T) {
			spent := h.clk.Spent()
			if len(spent) == 0 {
				t.Skip("no spent timer")
			}
			spent[rapid.IntRange(0, len(spent)-1).Draw(t, "timer")].f()
		},
		"ToggleHold": func(t *rapid.T) {
			m.hold = !m.hold
			h.hold.Store(m.hold)
		},
		"ToggleLedger": func(t *rapid.T) {
			m.failCommit = rapid.Float64Range(0, 1).Draw(t, "p_commit") < 0.3
			m.failNewGen = rapid.Float64Range(0, 1).Draw(t, "p_newgen") < 0.2
			h.rec.failAll(m.failCommit, m.failNewGen)
		},
		"": func(t *rapid.T) {
			h.sync()
			st := h.status()
			hi.statuses = append(hi.statuses, st)
			want := Status{
				Region: 3, State: m.state, Committed: m.committed, Epoch: m.epoch, Generation: m.gen,
				Attempts: m.attempts, Commits: m.commits, Resets: m.resets, Final: m.final,
				LastError: st.LastError,
			}
			if m.commits > 0 {
				want.LastCheckpoint = h.clk.epoch0.Add(m.lastCkpt)
			}
			if st != want {
				t.Fatalf("status\n got %+v\nwant %+v\njournal %v", st, want, h.rec.cmds())
			}
			if (st.LastError != "") != m.lastErr {
				t.Fatalf("LastError %q, model says set=%v", st.LastError, m.lastErr)
			}
			if got := h.rec.cmds(); !equalCmds(got, m.out) {
				t.Fatalf("journal\n got %v\nwant %v", got, m.out)
			}
			if got, want := h.clk.Pending(), m.armed(); fmt.Sprint(got) != fmt.Sprint(want) {
				t.Fatalf("armed timers %v, model %v (state %s)", got, want, m.state)
			}
			hi.check(t, h.rec.cmds())
		},
	})
	h.stop()
	if st := h.status(); (m.state == Finished) != (st.State == Finished) || (m.state != Finished && st.State != Stopped) {
		rt.Fatalf("after Stop: %s (model %s)", st.State, m.state)
	}
}
