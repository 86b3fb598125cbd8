package bench

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/weirstream/weir/agent/api"
)

// analyze finds the trial's milestones in the survivors' events (merged, any order): those of the reset
// whose generation brought the first new tuple (GenAfter), and before it the placement and the failure
// verdict that led to it. The first new tuple was seen at firstAt.
func (t *RecoveryTrial) analyze(evs []api.Event, job string, kill, firstAt time.Time) {
	evs = slices.Clone(evs)
	slices.SortStableFunc(evs, func(a, b api.Event) int { return a.Time.Compare(b.Time) })
	since := func(e api.Event) time.Duration { return e.Time.Sub(kill) }
	var reset, resumed, placed, failed *api.Event
	for i := range evs {
		e := &evs[i]
		if !e.Time.After(kill) {
			continue
		}
		switch {
		case e.Kind == api.EvLeaderElected:
			if t.Elected == 0 {
				t.Elected = since(*e)
			}
		case e.Job != job && e.Kind != api.EvNodeFailed:
		case e.Kind == api.EvRegionReset && e.Gen <= t.GenAfter:
			t.Resets++
			if e.Gen == t.GenAfter {
				reset = e
			}
		case e.Kind == api.EvRegionResumed && e.Gen == t.GenAfter:
			if resumed == nil || !e.Time.After(firstAt) {
				resumed = e
			}
		}
	}
	// The placement and the verdict behind the reset: the last ones before it.
	bound := firstAt
	if reset != nil {
		bound = reset.Time
	}
	for i := range evs {
		e := &evs[i]
		if !e.Time.After(kill) || e.Time.After(bound) {
			continue
		}
		if e.Kind == api.EvPlaced && e.Job == job {
			placed = e
		}
	}
	if placed != nil {
		bound = placed.Time
	}
	for i := range evs {
		e := &evs[i]
		if !e.Time.After(kill) || e.Time.After(bound) {
			continue
		}
		if e.Kind == api.EvNodeFailed && e.Subject == t.Victim {
			failed = e
		}
	}
	if failed != nil {
		t.Failed, t.FailedWhy = since(*failed), failed.Detail
	}
	if placed != nil {
		t.Placed = since(*placed)
	}
	if reset != nil {
		t.Reset = since(*reset)
	}
	after := firstAt
	if resumed != nil {
		t.Resumed = since(*resumed)
		after = resumed.Time
	}
	for _, e := range evs {
		if e.Kind == api.EvEpochCommitted && e.Job == job && e.Gen >= t.GenAfter && !e.Time.Before(after) {
			t.Committed = since(e)
			break
		}
	}
}

// phase is one step of a recovery: its name, the milestone that ends it, and where a trial keeps it.
type phase struct {
	name, until string
	at          func(*RecoveryTrial) time.Duration
}

// phasesOf lists the phases of a kind of kill, in order. A leader's death is detected by the election;
// the new leader then declares the old one failed before it places its PEs.
func phasesOf(kind string) []phase {
	var out []phase
	if kind == KillLeader {
		out = append(out,
			phase{"election", "the new leader's leader_elected", func(t *RecoveryTrial) time.Duration { return t.Elected }},
			phase{"detection", "its node_failed for the old leader", func(t *RecoveryTrial) time.Duration { return t.Failed }})
	} else {
		out = append(out, phase{"detection", "the leader's node_failed for the victim", func(t *RecoveryTrial) time.Duration { return t.Failed }})
	}
	return append(out,
		phase{"placement", "placed (lost PEs on live nodes, in Raft)", func(t *RecoveryTrial) time.Duration { return t.Placed }},
		phase{"reset", "region_resumed (every PE restored)", func(t *RecoveryTrial) time.Duration { return t.Resumed }},
		phase{"replay", "first new tuple at the sink", func(t *RecoveryTrial) time.Duration { return t.FirstTuple }},
	)
}

// RecoveryPhases names the phases of a kind of kill, in order: those of RecoveryTrial.Phases and
// RecoverySeries.Phases.
func RecoveryPhases(kind string) []string {
	var out []string
	for _, p := range phasesOf(kind) {
		out = append(out, p.name)
	}
	return out
}

// Phases returns the trial's phase durations in the order of phasesOf(t.Kill), 0 for a phase whose
// milestone was not seen (the next phase then starts at the last milestone seen).
func (t RecoveryTrial) Phases() []time.Duration {
	ps := phasesOf(t.Kill)
	out := make([]time.Duration, len(ps))
	var last time.Duration
	for i, p := range ps {
		if at := p.at(&t); at > 0 {
			out[i] = at - last
			last = at
		}
	}
	return out
}

// summarize computes the series' phase figures, totals and verdict.
func (s *RecoverySeries) summarize() {
	ps := phasesOf(s.Kill)
	s.Phases = nil
	for i, p := range ps {
		var own, at []time.Duration
		for k := range s.Trials {
			t := &s.Trials[k]
			if t.FirstTuple == 0 {
				continue
			}
			if a := p.at(t); a > 0 {
				own = append(own, t.Phases()[i])
				at = append(at, a)
			}
		}
		s.Phases = append(s.Phases, stats(p.name, p.until, own, at))
	}
	var total, commit []time.Duration
	ok := len(s.Trials) > 0
	for _, t := range s.Trials {
		if t.FirstTuple > 0 {
			total = append(total, t.FirstTuple)
		}
		if t.Committed > 0 {
			commit = append(commit, t.Committed)
		}
		ok = ok && t.Error == "" && t.FirstTuple > 0
	}
	s.Total = stats("total", "kill → first new tuple at the sink", total, total)
	s.Commit = stats("commit", "kill → next committed epoch", commit, commit)
	s.Pass = ok && s.Total.Max <= s.Target
}

func stats(name, until string, own, at []time.Duration) PhaseStats {
	return PhaseStats{Name: name, Until: until, N: len(own), Median: median(own), Max: maxOf(own),
		SinceKillMedian: median(at), SinceKillMax: maxOf(at)}
}

func median(ds []time.Duration) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

func maxOf(ds []time.Duration) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	return slices.Max(ds)
}

// poll calls cond every 50 ms until it holds, fails, or d passes.
func poll(ctx context.Context, d time.Duration, what string, cond func() (bool, error)) error {
	deadline := time.Now().Add(d)
	for {
		ok, err := cond()
		if err != nil {
			return err
		}
		if ok {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("bench: timed out after %s waiting for %s", d, what)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
}
