package controller

import (
	"fmt"
	"github.com/weirstream/weir/agent/api"
	"slices"
	"sync"

	"github.com/weirstream/weir/fsm"
	"github.com/weirstream/weir/region"
	"github.com/weirstream/weir/topology"
)

// jobCtl is the leader's soft state about one running job.
type jobCtl struct {
	id   string
	plan *topology.Plan
	ph   *region.Physical

	mu     sync.Mutex
	coords []*region.Coordinator
	last   map[int]region.Status // the last status of each region, for events
	fin    map[string]bool
}

// newJobCtl expands a plan and checks that this binary has the code of every operator.
func (ctl *Controller) newJobCtl(plan *topology.Plan) (*jobCtl, error) {
	ph, err := region.Expand(plan)
	if err != nil {
		return nil, &UserError{err}
	}
	if err := checkBinding(plan, ctl.c.Jobs, ctl.c.Registry); err != nil {
		return nil, &UserError{err}
	}
	return &jobCtl{plan: plan, ph: ph, fin: map[string]bool{}}, nil
}

// start starts a coordinator per region. Taking over (regions from the FSM), each resumes from its last
// committed epoch with a reset; a fresh job's regions start processing.
func (j *jobCtl) start(ctl *Controller, regions []fsm.Region, takeover bool) {
	j.mu.Lock()
	defer j.mu.Unlock()
	j.coords = make([]*region.Coordinator, len(j.ph.Regions))
	for r := range j.ph.Regions {
		reg := &j.ph.Regions[r]
		var st fsm.Region
		if r < len(regions) {
			st = regions[r]
		}
		if takeover && j.finishedLocked(r, st) {
			// The final epoch committed. Announced again: a PE the previous leader's announcement did not
			// reach yet finishes now (a transactional sink publishes); those that finished ignore it.
			(&actuator{ctl: ctl, job: j, region: r}).Committed(st.Generation, st.Committed, true)
			continue
		}
		o := region.Options{
			Region: r, Config: reg.Config,
			PEs: peIDs(j.ph, reg.PEs), Starts: peIDs(j.ph, reg.Starts),
			Actuator: &actuator{ctl: ctl, job: j, region: r},
			Ledger:   &ledger{ctl: ctl, job: j.id, region: r},
			Logger:   ctl.log.With("job", j.id),
			OnChange: func(s region.Status) {
				j.noteTransition(ctl.c.Events, s)
				ctl.regionChanged(j.id, s)
			},
		}
		if takeover {
			o.Committed, o.Generation, o.NextEpoch = st.Committed, st.Generation, st.Started+1
			o.ResetFirst, o.Announce = true, true
		}
		j.coords[r] = region.Start(o)
	}
}

// finishedLocked reports whether region r has finished, as a new leader can tell: the FSM says so, or a PE
// of the region finished (a PE of a consistent region ends only once told that its final epoch committed;
// the final commit may have been recorded without the finished state, which is recorded after it).
func (j *jobCtl) finishedLocked(r int, st fsm.Region) bool {
	if st.State == region.Finished.String() {
		return true
	}
	if st.Committed == 0 {
		return false
	}
	for _, k := range j.ph.Regions[r].PEs {
		if j.fin[j.ph.PEs[k].ID] {
			return true
		}
	}
	return false
}

// settled reports whether no region of the job has work left: every PE will end by itself (or has), so
// only lost reports of their end could keep the job running.
func (j *jobCtl) settled() bool {
	j.mu.Lock()
	defer j.mu.Unlock()
	for _, c := range j.coords {
		if c != nil && c.Status().State != region.Finished {
			return false
		}
	}
	return true
}

func peIDs(ph *region.Physical, idx []int) []string {
	out := make([]string, len(idx))
	for i, k := range idx {
		out[i] = ph.PEs[k].ID
	}
	return out
}

func (j *jobCtl) coordinator(r int) *region.Coordinator {
	j.mu.Lock()
	defer j.mu.Unlock()
	if r < 0 || r >= len(j.coords) {
		return nil
	}
	return j.coords[r]
}

func (j *jobCtl) statuses() []region.Status {
	j.mu.Lock()
	defer j.mu.Unlock()
	out := make([]region.Status, 0, len(j.coords))
	for r, c := range j.coords {
		if c == nil {
			out = append(out, region.Status{Region: r, State: region.Finished})
			continue
		}
		out = append(out, c.Status())
	}
	return out
}

func (j *jobCtl) stop() {
	j.mu.Lock()
	coords := j.coords
	j.coords = nil
	j.mu.Unlock()
	for _, c := range coords {
		if c != nil {
			c.Stop()
		}
	}
}

// finish records that a PE ended normally; it reports whether every PE has.
func (j *jobCtl) finish(pe string) bool {
	j.mu.Lock()
	defer j.mu.Unlock()
	j.fin[pe] = true
	return len(j.fin) >= len(j.ph.PEs)
}

func (j *jobCtl) done() bool {
	j.mu.Lock()
	defer j.mu.Unlock()
	return len(j.fin) >= len(j.ph.PEs)
}

func (j *jobCtl) isFinished(pe string) bool {
	j.mu.Lock()
	defer j.mu.Unlock()
	return j.fin[pe]
}

// regionsOf lists the consistent regions that hold any of the PEs.
func (j *jobCtl) regionsOf(pes []string) []int {
	var out []int
	for _, id := range pes {
		if pe, ok := j.ph.PEByID(id); ok && pe.Region >= 0 && !slices.Contains(out, pe.Region) {
			out = append(out, pe.Region)
		}
	}
	slices.Sort(out)
	return out
}

// regionChanged records the states users must see from any node (resetting, stopped on its attempts,
// finished) in Raft; the quick cycle of processing, draining and checkpointing stays soft. Each state is
// compared with the last one this controller sent to be recorded, not with the replica: records are
// applied off this goroutine, so the replica lags, and a reset that completed before its "resetting" was
// applied looked like "processing" again, which left "resetting" in the FSM for good.
func (ctl *Controller) regionChanged(job string, s region.Status) {
	switch s.State {
	case region.Resetting, region.MaxAttemptsReached, region.Finished, region.Processing:
	default:
		return
	}
	rs := fsm.RegionState{Job: job, Region: s.Region, State: s.State.String(), Attempts: s.Attempts, LastError: s.LastError}
	k := regionKey{job: job, region: s.Region}
	ctl.mu.Lock()
	defer ctl.mu.Unlock()
	prev, ok := ctl.recorded[k]
	if !ok {
		r, _ := ctl.c.State.Region(job, s.Region)
		prev = fsm.RegionState{Job: job, Region: s.Region, State: r.State, Attempts: r.Attempts, LastError: r.LastError}
	}
	if prev == rs || (s.State == region.Processing && prev.State == region.Processing.String()) {
		return
	}
	// Off the coordinator's goroutine (a Raft round trip must not hold it), in order.
	select {
	case ctl.records <- rs:
		ctl.recorded[k] = rs
	default:
		ctl.log.Warn("region state not recorded: too many pending", "job", job, "region", s.Region, "state", s.State)
	}
}

// regionKey names a region of a job.
type regionKey struct {
	job    string
	region int
}

// record writes region states to Raft, one at a time.
func (ctl *Controller) record() {
	defer ctl.wg.Done()
	for {
		select {
		case <-ctl.ctx.Done():
			return
		case rs := <-ctl.records:
			if err := ctl.apply(fsm.RegionStateType, rs); err != nil {
				ctl.log.Debug("record region state", "job", rs.Job, "region", rs.Region, "err", err)
				// Not recorded: the next state is compared with the replica's again.
				ctl.mu.Lock()
				if ctl.recorded[regionKey{rs.Job, rs.Region}] == rs {
					delete(ctl.recorded, regionKey{rs.Job, rs.Region})
				}
				ctl.mu.Unlock()
			}
		}
	}
}

// noteTransition records a region's status change as events: epochs beginning and committing, resets,
// resumes, the end and a stop on maximum attempts. It runs on the region's coordinator goroutine.
func (j *jobCtl) noteTransition(log *api.EventLog, s region.Status) {
	if log == nil {
		return
	}
	j.mu.Lock()
	if j.last == nil {
		j.last = map[int]region.Status{}
	}
	prev, seen := j.last[s.Region]
	j.last[s.Region] = s
	j.mu.Unlock()
	ev := func(kind string, epoch uint64, detail string) {
		log.Add(api.Event{Kind: kind, Job: j.id, Region: s.Region, Epoch: epoch, Gen: s.Generation, Detail: detail})
	}
	if s.Commits > prev.Commits || (!seen && s.Commits > 0) {
		ev(api.EvEpochCommitted, s.Committed, "")
	}
	if s.State == prev.State && s.Generation == prev.Generation {
		return
	}
	switch s.State {
	case region.Draining:
		ev(api.EvRegionDraining, s.Epoch, "")
	case region.Checkpointing:
		ev(api.EvRegionCheckpointing, s.Epoch, "")
	case region.Resetting:
		ev(api.EvRegionReset, s.Committed, s.LastError)
	case region.Processing:
		if prev.State == region.Resetting {
			ev(api.EvRegionResumed, s.Committed, "")
		}
	case region.Finished:
		ev(api.EvRegionFinished, s.Committed, "")
	case region.MaxAttemptsReached:
		ev(api.EvRegionMaxed, s.Committed, s.LastError)
	}
}

func (j *jobCtl) String() string { return fmt.Sprintf("job %s", j.id) }
