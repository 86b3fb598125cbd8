package chaos

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/weirstream/weir/agent/api"
)

// ending is a fault under way: what ends it, and when.
type ending struct {
	due   time.Time
	fault int // index in runner.faults
	nodes []string
	kind  string // restart, resume, heal
	do    func() error
}

// affected lists the nodes that faults under way hold down, frozen or cut off.
func (r *runner) affected() []string {
	var out []string
	for _, e := range r.pending {
		out = append(out, e.nodes...)
	}
	return out
}

// eligible lists the nodes no fault holds, in order.
func (r *runner) eligible() []string {
	aff := r.affected()
	var out []string
	for _, n := range r.t.Names() {
		if !slices.Contains(aff, n) {
			out = append(out, n)
		}
	}
	return out
}

// choose picks a node among candidates with a step's pick.
func choose(candidates []string, pick uint64) string {
	if len(candidates) == 0 {
		return ""
	}
	return candidates[pick%uint64(len(candidates))]
}

// victim chooses a step's target: the leader when the step aims at it and it may be taken, else a node
// among the candidates (default: every node no fault holds).
func (r *runner) victim(s Step, leader string, candidates []string) (string, bool) {
	free := r.eligible()
	if s.Leader && leader != "" && slices.Contains(free, leader) {
		return leader, true
	}
	var pool []string
	for _, c := range candidates {
		if slices.Contains(free, c) {
			pool = append(pool, c)
		}
	}
	if len(pool) == 0 {
		pool = free
	}
	return choose(pool, s.Pick), false
}

// inject carries out one step of the schedule and records it as a fault.
func (r *runner) inject(ctx context.Context, s Step) {
	leader := leaderOf(ctx, r.t)
	f := Fault{N: len(r.faults) + 1, Kind: s.Kind, At: secs(s.At)}
	var err error
	var end *ending
	switch s.Kind {
	case StepKill:
		v, isLeader := r.victim(s, leader, nil)
		f.Nodes, f.Leader = []string{v}, isLeader
		f.Time = time.Now()
		err = r.t.Kill(v)
		end = &ending{due: f.Time.Add(s.Hold), nodes: f.Nodes, kind: "restart", do: func() error { return r.t.Start(v) }}
	case StepKillCommit, StepKillReset:
		v, isLeader := r.victim(s, leader, r.rec.nodesOfJob())
		f.Nodes, f.Leader = []string{v}, isLeader
		var landed bool
		landed, f.Detail = r.arm(ctx, s.Kind, leader)
		f.Landed = &landed
		f.Time = time.Now()
		err = r.t.Kill(v)
		end = &ending{due: f.Time.Add(s.Hold), nodes: f.Nodes, kind: "restart", do: func() error { return r.t.Start(v) }}
	case StepPause:
		v, isLeader := r.victim(s, leader, nil)
		f.Nodes, f.Leader = []string{v}, isLeader
		f.Time = time.Now()
		err = r.t.Pause(v)
		end = &ending{due: f.Time.Add(s.Hold), nodes: f.Nodes, kind: "resume", do: func() error { return r.t.Resume(v) }}
	case StepRestart:
		v, isLeader := r.victim(s, leader, nil)
		f.Nodes, f.Leader = []string{v}, isLeader
		f.Time = time.Now()
		if err = r.t.Kill(v); err == nil {
			err = r.t.Start(v)
		}
		f.End = time.Now()
	case StepRestartAll:
		f.Nodes = r.t.Names()
		f.Time = time.Now()
		var errs []error
		for _, n := range f.Nodes {
			errs = append(errs, r.t.Kill(n))
		}
		err = errors.Join(errs...)
		nodes := f.Nodes
		end = &ending{due: time.Now().Add(s.Hold), nodes: nodes, kind: "restart", do: func() error {
			var errs []error
			for _, n := range nodes {
				errs = append(errs, r.t.Start(n))
			}
			return errors.Join(errs...)
		}}
	case StepPartitionSource, StepPartitionLeader:
		var cut []string
		if s.Kind == StepPartitionLeader {
			v, isLeader := r.victim(s, leader, nil)
			cut, f.Leader = []string{v}, isLeader
		} else {
			src := r.rec.placed(sourcePE)
			free := r.eligible()
			if !slices.Contains(free, src) {
				src = choose(free, s.Pick)
				f.Detail = "the source's node is not free: cut a minority without it"
			}
			cut = append(cut, src)
			for i := 1; i < s.Size; i++ {
				var rest []string
				for _, n := range free {
					if !slices.Contains(cut, n) {
						rest = append(rest, n)
					}
				}
				if len(rest) == 0 {
					break
				}
				cut = append(cut, choose(rest, s.Pick>>(8*i)))
			}
			f.Leader = slices.Contains(cut, leader)
		}
		f.Nodes = cut
		f.Time = time.Now()
		err = r.t.Partition(cut...)
		end = &ending{due: f.Time.Add(s.Hold), nodes: cut, kind: "heal", do: r.t.Heal}
	default:
		err = fmt.Errorf("unknown step kind %q", s.Kind)
	}
	if len(f.Nodes) == 0 || (len(f.Nodes) == 1 && f.Nodes[0] == "") {
		r.note("step %s at %s skipped: no node may be taken now", s.Kind, secs(s.At))
		return
	}
	if err != nil {
		f.Detail = strings.TrimPrefix(f.Detail+"; ", "; ") + "error: " + err.Error()
		r.errorf("fault %d (%s of %s): %v", f.N, f.Kind, strings.Join(f.Nodes, ","), err)
	}
	r.faults = append(r.faults, f)
	detail := f.Detail
	if f.Leader {
		detail = strings.TrimSuffix("the leader; "+detail, "; ")
	}
	r.h.Add(Entry{Time: f.Time, Type: TypeFault, Kind: f.Kind, Fault: f.N, Nodes: f.Nodes, Detail: detail})
	r.progress("%7s  fault %d: %s %s%s", secs(time.Since(r.began)), f.N, f.Kind, strings.Join(f.Nodes, ","), map[bool]string{true: " (leader)"}[f.Leader])
	if end != nil {
		end.fault = len(r.faults) - 1
		r.pending = append(r.pending, *end)
	}
}

// arm waits for the moment a timed kill aims at, watching the leader's events closely, and returns whether
// the moment came (as far as the leader's events showed just before) and what it was:
//
//   - kill-commit: an epoch draining or committing. Epochs begin a period after the last commit, so the
//     watch sleeps until just before then and polls every millisecond from there.
//   - kill-reset: a reset, forced through the API. A healthy region resets in a few milliseconds, so the
//     kill follows the answer at once; if the events already show the region resumed, the reset is forced
//     again (three times at most).
func (r *runner) arm(ctx context.Context, kind, leader string) (bool, string) {
	if leader == "" {
		return false, "no leader to watch"
	}
	cl, ok := r.t.Client(leader)
	if !ok {
		return false, "the leader is out of reach"
	}
	w := &watch{r: r, cl: cl, since: r.rec.cursor(leader)}
	deadline := time.Now().Add(armTimeout)
	if kind == StepKillReset {
		for attempt := 0; attempt < 3 && time.Now().Before(deadline); attempt++ {
			rctx, cancel := context.WithTimeout(ctx, 2*time.Second)
			err := cl.ResetRegion(rctx, r.job, 0)
			cancel()
			if err != nil {
				return false, fmt.Sprintf("forcing a reset: %v", err)
			}
			reset, resumed := w.poll(ctx, api.EvRegionReset, api.EvRegionResumed)
			switch {
			case resumed != nil:
				continue // over already
			case reset != nil:
				return true, fmt.Sprintf("during the reset to epoch %d (generation %d)", reset.Epoch, reset.Gen)
			default:
				return true, "during a forced reset (not yet recorded)"
			}
		}
		return false, "every forced reset was over before the kill"
	}
	var lastCommit time.Time
	for time.Now().Before(deadline) && ctx.Err() == nil {
		r.endDue(time.Now()) // faults under way end on time meanwhile
		began, committed := w.poll(ctx, api.EvRegionDraining, api.EvEpochCommitted)
		if began != nil && (committed == nil || committed.Epoch < began.Epoch) {
			return true, fmt.Sprintf("during the drain of epoch %d", began.Epoch)
		}
		if committed != nil {
			lastCommit = committed.Time
		}
		// Sleep until just before the next epoch is due, then poll closely.
		wait := 20 * time.Millisecond
		if !lastCommit.IsZero() {
			if d := time.Until(lastCommit.Add(r.cfg.Period - 3*time.Millisecond)); d > 0 {
				wait = min(d, armTimeout)
			} else {
				wait = time.Millisecond
			}
		}
		select {
		case <-ctx.Done():
		case <-time.After(wait):
		}
	}
	return false, fmt.Sprintf("no epoch of the job was seen draining within %s", armTimeout)
}

// watch reads a node's new events closely.
type watch struct {
	r     *runner
	cl    *api.Client
	since uint64
}

// poll reads the events since the last poll and returns the last of the job's events of each kind asked
// for (nil when none).
func (w *watch) poll(ctx context.Context, kinds ...string) (first, second *api.Event) {
	qctx, cancel := context.WithTimeout(ctx, 500*time.Millisecond)
	evs, err := w.cl.Events(qctx, w.since)
	cancel()
	if err != nil {
		return nil, nil
	}
	for i, e := range evs {
		w.since = max(w.since, e.Seq)
		if e.Job != w.r.job {
			continue
		}
		switch e.Kind {
		case kinds[0]:
			first = &evs[i]
		case kinds[1]:
			second = &evs[i]
		}
	}
	return first, second
}

// end ends a fault under way.
func (r *runner) end(e ending) {
	err := e.do()
	now := time.Now()
	f := &r.faults[e.fault]
	if f.End.IsZero() {
		f.End = now
	}
	if err != nil {
		r.errorf("ending fault %d (%s of %s): %v", f.N, e.kind, strings.Join(e.nodes, ","), err)
	}
	r.h.Add(Entry{Time: now, Type: TypeRecover, Kind: e.kind, Fault: f.N, Nodes: e.nodes})
	r.progress("%7s  %s %s (fault %d)", secs(time.Since(r.began)), e.kind, strings.Join(e.nodes, ","), f.N)
}

// endDue ends, in order, the faults under way that are due by until.
func (r *runner) endDue(until time.Time) {
	for {
		i := r.nextEnding()
		if i < 0 || r.pending[i].due.After(until) {
			return
		}
		e := r.pending[i]
		r.pending = slices.Delete(r.pending, i, i+1)
		r.end(e)
	}
}

func (r *runner) nextEnding() int {
	best := -1
	for i, e := range r.pending {
		if best < 0 || e.due.Before(r.pending[best].due) {
			best = i
		}
	}
	return best
}

// waitUntil ends the faults that fall due meanwhile, and returns at t (false if ctx ended).
func (r *runner) waitUntil(ctx context.Context, t time.Time) bool {
	for {
		r.endDue(time.Now())
		d := time.Until(t)
		if d <= 0 {
			return true
		}
		if i := r.nextEnding(); i >= 0 {
			d = min(d, max(time.Until(r.pending[i].due), 0))
		}
		select {
		case <-ctx.Done():
			return false
		case <-time.After(d):
		}
	}
}

// healAll ends every fault under way at once.
func (r *runner) healAll() {
	for len(r.pending) > 0 {
		i := r.nextEnding()
		e := r.pending[i]
		r.pending = slices.Delete(r.pending, i, i+1)
		r.end(e)
	}
}
