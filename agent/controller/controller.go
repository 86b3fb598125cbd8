package controller

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"sync"
	"time"

	"github.com/weirstream/weir/agent/api"
	"github.com/weirstream/weir/fsm"
	"github.com/weirstream/weir/operator"
	"github.com/weirstream/weir/region"
	"github.com/weirstream/weir/topology"
)

// Raft is what the controller needs of the consensus layer.
type Raft interface {
	// Apply commits an encoded command and returns the FSM's answer (nil or an *fsm.ApplyError) or the
	// Raft error (not leader, timeout).
	Apply(cmd []byte, timeout time.Duration) error
}

// Messenger carries the controller's messages to nodes.
type Messenger interface {
	// Command delivers a command to a node; errors are worth retrying while the node lives.
	Command(ctx context.Context, node string, c api.Command) error
	// NodePEs asks a node what it runs and what finished.
	NodePEs(ctx context.Context, node string) (api.NodePEs, error)
	// Ping checks that a node answers.
	Ping(ctx context.Context, node string) error
}

// Config configures a controller.
type Config struct {
	State    *fsm.State
	Raft     Raft
	Send     Messenger
	Jobs     *topology.Jobs
	Registry *operator.Registry
	// Alive lists the nodes that may run PEs now (gossip alive and not failed in the FSM), sorted.
	Alive  func() []string
	Logger *slog.Logger
	// ApplyTimeout bounds each Raft command (default 10 s).
	ApplyTimeout time.Duration
	// Events records what the controller decides and sees (nil records nothing).
	Events *api.EventLog
}

// Controller is the leader's brain. Start makes one when a node becomes leader; Stop ends it when the node
// loses leadership.
type Controller struct {
	c   Config
	log *slog.Logger

	failMu sync.Mutex // serializes NodeFailed

	mu   sync.Mutex
	jobs map[string]*jobCtl
	// submitting holds the reports about jobs being submitted: the job's PEs start as soon as Raft applies
	// it, before its coordinators run, and a PE that fails at once must not have its report dropped (its
	// region would never reset, nor stop on its attempts).
	submitting map[string][]api.Report
	outbox     map[string]*outbox // node -> commands in flight
	probes     map[string]bool
	records    chan fsm.RegionState
	// recorded is the last region state sent to be recorded, by region.
	recorded map[regionKey]fsm.RegionState
	ctx      context.Context
	cancel   context.CancelFunc
	wg       sync.WaitGroup
}

// Start takes over: every running job of the FSM gets its coordinators back, PEs on nodes that are gone are
// placed again, and every region resets to its last committed epoch.
func Start(c Config) *Controller {
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.ApplyTimeout == 0 {
		c.ApplyTimeout = 10 * time.Second
	}
	ctx, cancel := context.WithCancel(context.Background())
	ctl := &Controller{c: c, log: c.Logger.With("component", "controller"), jobs: map[string]*jobCtl{}, submitting: map[string][]api.Report{},
		outbox: map[string]*outbox{}, probes: map[string]bool{}, recorded: map[regionKey]fsm.RegionState{}, records: make(chan fsm.RegionState, 4096), ctx: ctx, cancel: cancel}
	ctl.wg.Add(2)
	go ctl.record()
	ctl.takeOver()
	go ctl.sweep()
	return ctl
}

// sweepEvery is how often the controller looks for jobs whose end it was not told of.
const sweepEvery = 3 * time.Second

// sweep finds jobs whose PEs all ended without the controller hearing of it: a PE's report that it
// finished is soft, and one that went to a leader on its way out (it took the report, and could no longer
// record the job's end) or that waited too long for a leader is lost. For each job with no region left
// to drive, it asks the nodes what finished, as a takeover does.
func (ctl *Controller) sweep() {
	defer ctl.wg.Done()
	tick := time.NewTicker(sweepEvery)
	defer tick.Stop()
	for {
		select {
		case <-ctl.ctx.Done():
			return
		case <-tick.C:
		}
		ctl.mu.Lock()
		jobs := make([]*jobCtl, 0, len(ctl.jobs))
		for _, j := range ctl.jobs {
			jobs = append(jobs, j)
		}
		ctl.mu.Unlock()
		var settled []*jobCtl
		for _, j := range jobs {
			if j.settled() {
				settled = append(settled, j)
			}
		}
		if len(settled) == 0 {
			continue
		}
		finished := ctl.finishedPEs(ctl.c.Alive())
		for _, j := range settled {
			done := false
			for _, pe := range finished[j.id] {
				done = j.finish(pe)
			}
			if done {
				ctl.log.Info("job found finished", "job", j.id)
				ctl.endJob(j.id, fsm.JobFinished, "")
			}
		}
	}
}

// Stop stops every coordinator and sender.
func (ctl *Controller) Stop() {
	ctl.cancel()
	ctl.mu.Lock()
	jobs := ctl.jobs
	ctl.jobs = map[string]*jobCtl{}
	ctl.mu.Unlock()
	for _, j := range jobs {
		j.stop()
	}
	ctl.wg.Wait()
}

// apply encodes and commits a command.
func (ctl *Controller) apply(t fsm.CommandType, body any) error {
	b, err := fsm.Encode(t, body)
	if err != nil {
		return err
	}
	if err := ctl.c.Raft.Apply(b, ctl.c.ApplyTimeout); err != nil {
		return fmt.Errorf("%s: %w", t, err)
	}
	return nil
}

func newID(name string) string {
	var b [4]byte
	_, _ = rand.Read(b[:])
	return name + "-" + hex.EncodeToString(b[:])
}

// Submit accepts a job: it builds and validates the plan, checks that this binary has its code, places its
// PEs and records it all in Raft, then starts its regions.
func (ctl *Controller) Submit(ctx context.Context, req api.SubmitRequest) (string, error) {
	plan, err := ctl.planOf(req)
	if err != nil {
		return "", err
	}
	j, err := ctl.newJobCtl(plan)
	if err != nil {
		return "", err
	}
	enc, err := plan.Encode()
	if err != nil {
		return "", err
	}
	fp, err := plan.Fingerprint()
	if err != nil {
		return "", err
	}
	placements, err := ctl.place(j.ph, nil, nil)
	if err != nil {
		return "", err
	}
	id := newID(plan.Name)
	j.id = id
	fj := fsm.Job{ID: id, Name: plan.Name, Plan: enc, Fingerprint: fp, Origin: plan.Origin.Kind, GoJob: plan.Origin.Job,
		Params: plan.Params, State: fsm.JobRunning, Submitted: time.Now()}
	ctl.mu.Lock()
	ctl.submitting[id] = nil
	ctl.mu.Unlock()
	if err := ctl.apply(fsm.SubmitJobType, fsm.SubmitJob{Job: fj, Placements: placements}); err != nil {
		ctl.mu.Lock()
		delete(ctl.submitting, id)
		ctl.mu.Unlock()
		return "", fmt.Errorf("submit job %s: %w", plan.Name, err)
	}
	ctl.mu.Lock()
	ctl.jobs[id] = j
	ctl.mu.Unlock()
	j.start(ctl, nil, false)
	ctl.mu.Lock()
	early := ctl.submitting[id]
	delete(ctl.submitting, id)
	ctl.mu.Unlock()
	for _, r := range early {
		ctl.Report(r)
	}
	ctl.c.Events.Add(api.Event{Kind: api.EvJobSubmitted, Job: id, Region: -1, Detail: fmt.Sprint(placements)})
	ctl.log.Info("job submitted", "job", id, "pes", len(j.ph.PEs), "regions", len(j.ph.Regions))
	return id, nil
}

// planOf turns a submission into a validated plan whose code this binary has.
func (ctl *Controller) planOf(req api.SubmitRequest) (*topology.Plan, error) {
	n := 0
	for _, set := range []bool{req.JobFile != "", req.GoJob != "", len(req.Plan) > 0} {
		if set {
			n++
		}
	}
	if n != 1 {
		return nil, &UserError{errors.New("submit exactly one of a job file, a Go job's name or a plan")}
	}
	var plan *topology.Plan
	var err error
	switch {
	case req.JobFile != "":
		plan, err = parseJobFile(req, ctl.c.Registry)
	case req.GoJob != "":
		_, plan, err = ctl.c.Jobs.Build(req.GoJob, req.Params)
	default:
		plan, err = topology.DecodePlan(req.Plan)
		if err == nil {
			plan, err = ctl.checkPlan(plan)
		}
	}
	if err != nil {
		return nil, &UserError{err}
	}
	return plan, nil
}

// checkPlan validates a submitted plan; a Go plan must be the one this binary builds from its job.
func (ctl *Controller) checkPlan(p *topology.Plan) (*topology.Plan, error) {
	if err := p.Validate(); err != nil {
		return nil, err
	}
	if p.Origin.Kind != topology.OriginGo {
		return p, nil
	}
	_, rebuilt, err := ctl.c.Jobs.Build(p.Origin.Job, p.Params)
	if err != nil {
		return nil, err
	}
	want, _ := p.Fingerprint()
	got, _ := rebuilt.Fingerprint()
	if want != got {
		return nil, fmt.Errorf("plan of Go job %s has fingerprint %s, but this binary builds %s: submit from the binary the cluster runs", p.Origin.Job, want, got)
	}
	return rebuilt, nil
}

// UserError is a submission the user must fix (as opposed to a cluster failure).
type UserError struct{ Err error }

func (e *UserError) Error() string   { return e.Err.Error() }
func (e *UserError) Unwrap() error   { return e.Err }
func (e *UserError) HTTPStatus() int { return http.StatusBadRequest }

// NotFoundError names a job that does not exist (or does not run).
type NotFoundError struct{ Job string }

func (e *NotFoundError) Error() string   { return fmt.Sprintf("no job %s", e.Job) }
func (e *NotFoundError) HTTPStatus() int { return http.StatusNotFound }

// Cancel cancels a running job.
func (ctl *Controller) Cancel(id string) error {
	fj, ok := ctl.c.State.Job(id)
	if !ok {
		return &NotFoundError{Job: id}
	}
	if fj.State.Terminal() {
		return &UserError{fmt.Errorf("job %s is already %s", id, fj.State)}
	}
	ctl.endJob(id, fsm.JobCancelled, "")
	return nil
}

// ResetRegion forces a reset of a region of a job.
func (ctl *Controller) ResetRegion(id string, r int) error {
	ctl.mu.Lock()
	j := ctl.jobs[id]
	ctl.mu.Unlock()
	if j == nil {
		return &NotFoundError{Job: id + " running"}
	}
	c := j.coordinator(r)
	if c == nil {
		if r >= 0 && r < len(j.ph.Regions) {
			return &UserError{fmt.Errorf("region %d of job %s has finished", r, id)}
		}
		return &UserError{fmt.Errorf("job %s has no consistent region %d", id, r)}
	}
	c.ForceReset("forced reset")
	return nil
}

// Regions returns the live status of a job's regions (the leader's view is newer than the FSM's).
func (ctl *Controller) Regions(id string) ([]region.Status, bool) {
	ctl.mu.Lock()
	j := ctl.jobs[id]
	ctl.mu.Unlock()
	if j == nil {
		return nil, false
	}
	return j.statuses(), true
}

// endJob records a job's end and stops its coordinators.
func (ctl *Controller) endJob(id string, state fsm.JobState, msg string) {
	ctl.mu.Lock()
	j := ctl.jobs[id]
	delete(ctl.jobs, id)
	for k := range ctl.recorded {
		if k.job == id {
			delete(ctl.recorded, k)
		}
	}
	ctl.mu.Unlock()
	if j != nil {
		j.stop()
	}
	if err := ctl.apply(fsm.JobStateType, fsm.SetJobState{ID: id, State: state, Error: msg, At: time.Now()}); err != nil {
		ctl.log.Error("record job end", "job", id, "state", state, "err", err)
		return
	}
	ctl.log.Info("job ended", "job", id, "state", state, "error", msg)
	ctl.c.Events.Add(api.Event{Kind: api.EvJobEnded, Job: id, Region: -1, Subject: string(state), Detail: msg})
}

// takeOver rebuilds the controller from the FSM when this node becomes leader.
func (ctl *Controller) takeOver() {
	alive := ctl.aliveSet()
	var running []fsm.Job
	for _, fj := range ctl.c.State.Jobs() {
		if !fj.State.Terminal() {
			running = append(running, fj)
		}
	}
	if len(running) == 0 {
		return
	}
	finished := ctl.finishedPEs(ctl.c.Alive())
	for _, fj := range running {
		plan, err := topology.DecodePlan(fj.Plan)
		if err == nil && plan.Origin.Kind == topology.OriginGo {
			plan, err = ctl.checkPlan(plan)
		}
		var j *jobCtl
		if err == nil {
			j, err = ctl.newJobCtl(plan)
		}
		if err != nil {
			ctl.endJob(fj.ID, fsm.JobFailed, fmt.Sprintf("the new leader cannot run the job: %v", err))
			continue
		}
		j.id = fj.ID
		for _, pe := range finished[fj.ID] {
			j.fin[pe] = true
		}
		// PEs on nodes that are gone are placed again before anything starts, and so are PEs never placed:
		// the previous leader recorded the job, then lost its leadership before it recorded the placement.
		cur := ctl.c.State.Placements(fj.ID)
		var lost []string
		for _, pe := range j.ph.PEs {
			if node := cur[pe.ID]; (node == "" || !alive[node]) && !j.fin[pe.ID] {
				lost = append(lost, pe.ID)
			}
		}
		if len(lost) > 0 {
			if err := ctl.replace(fj.ID, j, lost); err != nil {
				ctl.log.Error("place lost PEs", "job", fj.ID, "err", err)
			}
		}
		ctl.mu.Lock()
		ctl.jobs[fj.ID] = j
		ctl.mu.Unlock()
		j.start(ctl, ctl.c.State.Regions(fj.ID), true)
		// Regions that keep running reset, which covers their moved PEs; finished ones cannot.
		for _, r := range j.regionsOf(lost) {
			if j.coordinator(r) == nil {
				ctl.refinish(j, r, lost)
			}
		}
		if j.done() {
			ctl.endJob(fj.ID, fsm.JobFinished, "")
		}
	}
}

// nodePEsTimeout bounds a takeover's questions to the nodes.
const nodePEsTimeout = 2 * time.Second

// finishedPEs asks the nodes which PEs finished, by job: every node at once, once for all jobs, within one
// bound. A node that does not answer (the old leader, dead but not yet declared so by gossip, is one)
// costs the takeover that bound once, not once per node and per job while the cluster has no controller.
func (ctl *Controller) finishedPEs(nodes []string) map[string][]string {
	ctx, cancel := context.WithTimeout(ctl.ctx, nodePEsTimeout)
	defer cancel()
	type answer struct {
		node string
		pes  api.NodePEs
		err  error
	}
	answers := make(chan answer, len(nodes))
	for _, node := range nodes {
		go func() {
			pes, err := ctl.c.Send.NodePEs(ctx, node)
			answers <- answer{node, pes, err}
		}()
	}
	out := map[string][]string{}
	for range nodes {
		a := <-answers
		if a.err != nil {
			ctl.log.Warn("taking over: a node did not say what it finished", "node", a.node, "err", a.err)
			continue
		}
		for job, pes := range a.pes.Finished {
			out[job] = append(out[job], pes...)
		}
	}
	return out
}

func (ctl *Controller) aliveSet() map[string]bool {
	set := map[string]bool{}
	for _, n := range ctl.c.Alive() {
		set[n] = true
	}
	return set
}

// Report handles a node's report.
func (ctl *Controller) Report(r api.Report) {
	if _, known := ctl.c.State.Node(r.Peer); known {
		ctl.probe(r.Peer)
	}
	ctl.mu.Lock()
	j := ctl.jobs[r.Job]
	early, submitting := ctl.submitting[r.Job]
	if submitting {
		ctl.submitting[r.Job] = append(early, r)
	}
	ctl.mu.Unlock()
	if j == nil || submitting {
		return
	}
	// A PE reports from the node it is placed on. An instance elsewhere is a zombie (a node that restarted
	// on a stale replica started it before learning that it moved, or a node cut off from the cluster):
	// its reset, drain, failure or end says nothing of the PE that counts, and taking its reset for the
	// real one's let a region resume while the real PE had not reset (found by `weir chaos --seed 302`).
	if r.PE != "" && r.Node != "" {
		if at := ctl.c.State.Placements(r.Job)[r.PE]; at != "" && at != r.Node {
			ctl.log.Debug("report from a node the PE is not placed on, ignored", "job", r.Job, "pe", r.PE, "from", r.Node, "placed_on", at, "kind", r.Kind)
			return
		}
	}
	switch r.Kind {
	case api.RepCrashed:
		msg := r.Error
		if r.PE != "" {
			msg = fmt.Sprintf("PE %s on %s: %s", r.PE, r.Node, r.Error)
		}
		ctl.endJob(r.Job, fsm.JobFailed, msg)
	case api.RepFinished:
		if j.finish(r.PE) {
			ctl.endJob(r.Job, fsm.JobFinished, "")
		}
	case api.RepTrigger:
		if c := j.coordinator(r.Region); c != nil {
			c.Trigger()
		}
	case api.RepAwaiting, api.RepBroken:
		// A PE that started without its region's state needs a reset, and so does a region whose stream
		// broke, unless a reset is under way: every placement change is followed by one, whose commands
		// reach the new PE, and a reset breaks streams itself (a sender aborted inside a frame). Taking
		// either for a failure reset the region a second time, and counted an attempt. A node that died
		// during a reset is caught by the probe above or by gossip, which place its PEs again and reset.
		c := j.coordinator(r.Region)
		if c == nil {
			return
		}
		if st := c.Status(); st.State == region.Resetting && st.Generation >= r.Gen {
			if r.Kind == api.RepAwaiting && r.Node != "" {
				// The reset's command may have missed the PE: sent while its node was down, it was
				// dropped. Sent again, it is a repeat for the PEs that have it (they ignore it), and the
				// one this PE waits for (found by `weir chaos --docker --seed 21 --nodes 5`: the reset
				// waited out its timeout for the PEs of a node that restarted just after it began).
				ctl.sendTo(r.Node, api.Command{Kind: api.CmdReset, Job: r.Job, Region: r.Region, Epoch: st.Committed, Gen: st.Generation})
			}
			return
		}
		c.Failed(r.PE, r.Gen, errors.New(r.Error))
	default:
		c := j.coordinator(r.Region)
		if c == nil {
			return
		}
		switch r.Kind {
		case api.RepDrained:
			c.Drained(r.PE, r.Epoch, r.Gen, r.Ref)
		case api.RepExhausted:
			c.Exhausted(r.PE, r.Gen)
		case api.RepResetDone:
			c.ResetDone(r.PE, r.Gen)
		case api.RepFailed:
			c.Failed(r.PE, r.Gen, errors.New(r.Error))
		}
	}
}

// probe checks a node named by a broken connection; a node that does not answer is failed now, without
// waiting for gossip's verdict. Either verdict is safe: generations fence whatever a node thought dead
// still runs.
func (ctl *Controller) probe(node string) {
	ctl.mu.Lock()
	if ctl.probes[node] {
		ctl.mu.Unlock()
		return
	}
	ctl.probes[node] = true
	ctl.mu.Unlock()
	ctl.wg.Add(1)
	go func() {
		defer ctl.wg.Done()
		defer func() {
			ctl.mu.Lock()
			delete(ctl.probes, node)
			ctl.mu.Unlock()
		}()
		// Three chances of half a second, spaced out: a node busy with its PEs on a loaded machine must not
		// be taken for dead (a dead one refuses at once, and costs well under a second).
		for i := 0; i < 3; i++ {
			ctx, cancel := context.WithTimeout(ctl.ctx, 500*time.Millisecond)
			err := ctl.c.Send.Ping(ctx, node)
			cancel()
			if err == nil || ctl.ctx.Err() != nil {
				return
			}
			select {
			case <-ctl.ctx.Done():
				return
			case <-time.After(200 * time.Millisecond):
			}
		}
		ctl.NodeFailed(node, "it does not answer")
	}()
}

// NodeFailed handles the loss of a node: it is recorded, its PEs are placed on live nodes, and every region
// it touched resets (regions it did not touch keep running). PEs outside consistent regions start again
// from their initial state.
func (ctl *Controller) NodeFailed(node, why string) {
	// One loss at a time: gossip, a probe and reconciliation may report the same node together, and two
	// handlings would both place its PEs (differently) and reset their regions twice.
	ctl.failMu.Lock()
	defer ctl.failMu.Unlock()
	if n, ok := ctl.c.State.Node(node); ok && n.Status == fsm.NodeAlive {
		if err := ctl.apply(fsm.NodeStatusType, fsm.SetNodeStatus{Name: node, Status: fsm.NodeFailed, Since: time.Now()}); err != nil {
			ctl.log.Error("record node failure", "node", node, "err", err)
		}
	}
	ctl.log.Warn("node lost", "node", node, "why", why)
	ctl.c.Events.Add(api.Event{Kind: api.EvNodeFailed, Region: -1, Subject: node, Detail: why})
	ctl.mu.Lock()
	jobs := make([]*jobCtl, 0, len(ctl.jobs))
	for _, j := range ctl.jobs {
		jobs = append(jobs, j)
	}
	ctl.mu.Unlock()
	for _, j := range jobs {
		var lost []string
		for pe, n := range ctl.c.State.Placements(j.id) {
			if n == node && !j.isFinished(pe) {
				lost = append(lost, pe)
			}
		}
		if len(lost) == 0 {
			continue
		}
		slices.Sort(lost)
		if err := ctl.replace(j.id, j, lost); err != nil {
			ctl.log.Error("place lost PEs", "job", j.id, "node", node, "err", err)
			continue
		}
		for _, r := range j.regionsOf(lost) {
			c := j.coordinator(r)
			if c == nil || c.Status().State == region.Finished {
				ctl.refinish(j, r, lost)
				continue
			}
			c.ForceReset(fmt.Sprintf("node %s lost (%s)", node, why))
		}
	}
}

// refinish brings back PEs of a region that finished, lost before they learnt it: restored from the final
// epoch (a transactional sink publishes what it staged) and told the final epoch committed, they end, and
// the job with them. The rest of the region has ended and cannot reset, so this addresses the lost PEs
// only, under a new generation that fences their predecessors.
func (ctl *Controller) refinish(j *jobCtl, r int, lost []string) {
	reg, ok := ctl.c.State.Region(j.id, r)
	if !ok || reg.Committed == 0 {
		return
	}
	gen := reg.Generation + 1
	reason := "PEs lost after the final commit finish again"
	if err := ctl.apply(fsm.NewGenerationType, fsm.NewGeneration{Job: j.id, Region: r, Generation: gen, Reason: reason}); err != nil {
		ctl.log.Error("refinish: record generation", "job", j.id, "region", r, "err", err)
		return
	}
	place := ctl.c.State.Placements(j.id)
	nodes := map[string]bool{}
	for _, pe := range lost {
		if p, ok := j.ph.PEByID(pe); ok && p.Region == r {
			nodes[place[pe]] = true
		}
	}
	for _, n := range sortedNodes(nodes) {
		ctl.sendTo(n, api.Command{Kind: api.CmdReset, Job: j.id, Region: r, Epoch: reg.Committed, Gen: gen})
		ctl.sendTo(n, api.Command{Kind: api.CmdCommitted, Job: j.id, Region: r, Epoch: reg.Committed, Gen: gen, Final: true})
	}
	ctl.log.Info("finishing lost PEs of a finished region", "job", j.id, "region", r, "epoch", reg.Committed, "generation", gen)
}

func sortedNodes(set map[string]bool) []string {
	out := make([]string, 0, len(set))
	for n := range set {
		if n != "" {
			out = append(out, n)
		}
	}
	slices.Sort(out)
	return out
}

// replace places the given PEs of a job again, on live nodes, through Raft.
func (ctl *Controller) replace(id string, j *jobCtl, lost []string) error {
	cur := ctl.c.State.Placements(id)
	if cur == nil {
		cur = map[string]string{}
	}
	moved, err := ctl.place(j.ph, cur, lost)
	if err != nil {
		return err
	}
	for pe, n := range moved {
		cur[pe] = n
	}
	if err := ctl.apply(fsm.PlaceType, fsm.Place{Job: id, Placements: cur}); err != nil {
		return err
	}
	ctl.log.Info("PEs placed again", "job", id, "moved", moved)
	ctl.c.Events.Add(api.Event{Kind: api.EvPlaced, Job: id, Region: -1, Detail: fmt.Sprint(moved)})
	return nil
}
