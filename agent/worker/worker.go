package worker

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/weirstream/weir/agent/api"
	"github.com/weirstream/weir/checkpoint"
	"github.com/weirstream/weir/executor"
	"github.com/weirstream/weir/fsm"
	"github.com/weirstream/weir/operator"
	"github.com/weirstream/weir/operator/builtin"
	"github.com/weirstream/weir/topology"
	"github.com/weirstream/weir/transport"
)

// Config configures a worker.
type Config struct {
	// Node is this node's name.
	Node  string
	State *fsm.State
	// Streams carries links to and from PEs on other nodes.
	Streams *transport.Streams
	Store   *ReplicatedStore
	// Jobs and Registry are this binary's Go jobs and operator kinds.
	Jobs     *topology.Jobs
	Registry *operator.Registry
	// Report delivers a report to the leader; it must not block.
	Report             func(api.Report)
	BatchSize, Credits int
	Logger             *slog.Logger
	// Events records the PEs this node starts and stops (nil records nothing).
	Events *api.EventLog
	// Ready, when set, holds the worker back until it closes: the replicated state may be old (a node
	// restarting on its data directory) and name this node for PEs that have moved since.
	Ready <-chan struct{}
}

// Worker runs this node's PEs.
type Worker struct {
	c   Config
	log *slog.Logger

	// gcDone remembers, by job and region, the committed epoch below which checkpoints were last retired
	// (only the reconcile goroutine touches it).
	gcDone    map[string]map[int]uint64
	gcDeleted map[string]bool

	mu      sync.Mutex
	jobs    map[string]*job
	stopped bool
	done    chan struct{}
	quit    chan struct{}
}

// New makes a worker; Run starts it.
func New(c Config) *Worker {
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return &Worker{c: c, log: c.Logger.With("component", "worker"), jobs: map[string]*job{}, gcDone: map[string]map[int]uint64{}, gcDeleted: map[string]bool{}, done: make(chan struct{}), quit: make(chan struct{})}
}

// Run reconciles the PEs placed on this node with those running, at every change of the replicated state,
// until Stop.
func (w *Worker) Run() {
	defer close(w.done)
	if w.c.Ready != nil {
		select {
		case <-w.c.Ready:
		case <-w.quit:
			w.stopAll()
			return
		}
	}
	for {
		watch := w.c.State.Watch()
		w.reconcile()
		select {
		case <-w.quit:
			w.stopAll()
			return
		case <-watch:
		}
	}
}

// Stop stops every PE and waits for Run to end.
func (w *Worker) Stop() {
	w.mu.Lock()
	if !w.stopped {
		w.stopped = true
		close(w.quit)
	}
	w.mu.Unlock()
	<-w.done
}

func (w *Worker) stopAll() {
	w.mu.Lock()
	jobs := w.jobs
	w.jobs = map[string]*job{}
	w.mu.Unlock()
	for _, j := range jobs {
		j.stop()
	}
}

// reconcile starts the PEs placed here that do not run, stops those no longer placed here, and collects
// checkpoint garbage below each region's committed epoch.
func (w *Worker) reconcile() {
	st := w.c.State
	live := map[string]bool{}
	for _, fj := range st.Jobs() {
		if fj.State.Terminal() {
			continue
		}
		mine := map[string]bool{}
		for pe, node := range st.Placements(fj.ID) {
			if node == w.c.Node {
				mine[pe] = true
			}
		}
		w.mu.Lock()
		j := w.jobs[fj.ID]
		w.mu.Unlock()
		if len(mine) == 0 && j == nil {
			continue
		}
		live[fj.ID] = true
		if j == nil || !j.ready() {
			var err error
			if j, err = newJob(w, fj); err != nil {
				w.log.Error("cannot run job", "job", fj.ID, "err", err)
				w.c.Report(api.Report{Kind: api.RepCrashed, Node: w.c.Node, Job: fj.ID, Region: -1, Error: err.Error()})
				continue
			}
		}
		j.reconcile(fj, mine)
	}
	w.mu.Lock()
	var gone []*job
	for id, j := range w.jobs {
		if live[id] {
			continue
		}
		// Commands may come before the replica knows their job (its submission not applied here yet): keep
		// them a while for the PEs that will start.
		if _, known := st.Job(id); !known && !j.ready() && time.Since(j.since) < pendingGrace {
			continue
		}
		gone = append(gone, j)
		delete(w.jobs, id)
	}
	w.mu.Unlock()
	for _, j := range gone {
		j.stop()
	}
	w.collect()
}

// commandWait bounds how long a command waits for this node's replicated state to reach its generation.
const commandWait = 3 * time.Second

// collect removes the checkpoints no reset will ever need, on this node (its own and the replicas it holds
// for others, whatever runs here): epochs below each region's committed one, and everything of jobs that
// ended. It acts only on what changed since it last did.
func (w *Worker) collect() {
	ctx := context.Background()
	for _, fj := range w.c.State.Jobs() {
		if fj.State.Terminal() {
			if !w.gcDeleted[fj.ID] {
				if err := w.c.Store.Local().DeleteJob(ctx, fj.ID); err != nil {
					w.log.Warn("delete checkpoints", "job", fj.ID, "err", err)
					continue
				}
				w.gcDeleted[fj.ID] = true
				delete(w.gcDone, fj.ID)
			}
			continue
		}
		done := w.gcDone[fj.ID]
		if done == nil {
			done = map[int]uint64{}
			w.gcDone[fj.ID] = done
		}
		for _, r := range w.c.State.Regions(fj.ID) {
			if r.Committed == 0 || done[r.Index] == r.Committed {
				continue
			}
			if err := w.c.Store.Local().Retire(ctx, fj.ID, r.Index, r.Committed); err != nil {
				w.log.Warn("retire checkpoints", "job", fj.ID, "region", r.Index, "err", err)
				continue
			}
			done[r.Index] = r.Committed
		}
	}
}

// Command hands a leader's command to the PEs of its region placed here. The leader records a command's
// generation in Raft before it sends the command, so a node whose replicated state has not reached that
// generation lags behind the leader: typically a node back from a partition, still running PEs that were
// placed elsewhere meanwhile (zombies). Such a command waits (a while) for the state to catch up; then the
// zombies are known as such and get nothing — a reset would otherwise make them members of the new
// generation, beside their replacements — and the worker stops them. A command that times out waiting is
// refused: the leader sends it again.
func (w *Worker) Command(c api.Command) error {
	if err := w.awaitGeneration(c.Job, c.Region, c.Gen); err != nil {
		return err
	}
	w.mu.Lock()
	j := w.jobs[c.Job]
	w.mu.Unlock()
	if j == nil {
		// The placement that puts the region's PEs here may not be applied yet: remember the command so
		// that PEs started later get it.
		j = w.pending(c.Job)
	}
	return j.command(c)
}

// awaitGeneration waits until the replicated state holds generation gen (or a later one) of a region.
func (w *Worker) awaitGeneration(job string, region int, gen uint64) error {
	timeout := time.NewTimer(commandWait)
	defer timeout.Stop()
	for {
		watch := w.c.State.Watch()
		if r, _ := w.c.State.Region(job, region); r.Generation >= gen {
			return nil
		}
		select {
		case <-watch:
		case <-w.quit:
			return fmt.Errorf("node %s is stopping", w.c.Node)
		case <-timeout.C:
			r, _ := w.c.State.Region(job, region)
			return fmt.Errorf("node %s has generation %d of job %s region %d, not yet %d: retry", w.c.Node, r.Generation, job, region, gen)
		}
	}
}

// pending returns the job record that holds commands for a job whose PEs have not started here.
func (w *Worker) pending(id string) *job {
	w.mu.Lock()
	defer w.mu.Unlock()
	if j, ok := w.jobs[id]; ok {
		return j
	}
	j := &job{w: w, id: id, since: time.Now(), last: map[int]map[string]api.Command{}, pes: map[int]*peRun{}, hub: newHub()}
	w.jobs[id] = j
	return j
}

// pendingGrace is how long commands for a job the replica does not know are kept.
const pendingGrace = 30 * time.Second

// PEs lists what runs here and what finished.
func (w *Worker) PEs() api.NodePEs {
	out := api.NodePEs{Node: w.c.Node, Running: map[string][]string{}, Finished: map[string][]string{}, Stats: map[string][]api.PEStats{}}
	w.mu.Lock()
	defer w.mu.Unlock()
	for id, j := range w.jobs {
		run, fin := j.list()
		if len(run) > 0 {
			out.Running[id] = run
		}
		if len(fin) > 0 {
			out.Finished[id] = fin
		}
		if st := j.stats(); len(st) > 0 {
			out.Stats[id] = st
		}
	}
	return out
}

// binding finds the code of a job in this binary; a Go job's plan must be the very one submitted.
func (w *Worker) binding(fj fsm.Job) (*topology.Plan, topology.Binding, error) {
	plan, err := topology.DecodePlan(fj.Plan)
	if err != nil {
		return nil, nil, err
	}
	switch plan.Origin.Kind {
	case topology.OriginGo:
		topo, rebuilt, err := w.c.Jobs.Build(plan.Origin.Job, plan.Params)
		if err != nil {
			return nil, nil, fmt.Errorf("node %s cannot build Go job %s: %w", w.c.Node, plan.Origin.Job, err)
		}
		fp, err := rebuilt.Fingerprint()
		if err != nil {
			return nil, nil, err
		}
		if fp != fj.Fingerprint {
			return nil, nil, fmt.Errorf("node %s builds Go job %s with fingerprint %s, but the submitted plan has %s: every node must run the same binary",
				w.c.Node, plan.Origin.Job, fp, fj.Fingerprint)
		}
		return rebuilt, topo, nil
	default:
		if err := plan.Validate(); err != nil {
			return nil, nil, err
		}
		return plan, builtin.Binding(w.c.Registry), nil
	}
}

// reporter turns a PE executor's reports into reports to the leader.
type reporter struct {
	w   *Worker
	job *job
}

func (r reporter) send(rep api.Report) {
	rep.Node, rep.Job = r.w.c.Node, r.job.id
	r.w.c.Report(rep)
}

func (r reporter) Drained(reg int, pe string, epoch, gen uint64, ref string) {
	r.send(api.Report{Kind: api.RepDrained, Region: reg, PE: pe, Epoch: epoch, Gen: gen, Ref: ref})
}
func (r reporter) Exhausted(reg int, pe string, gen uint64) {
	r.send(api.Report{Kind: api.RepExhausted, Region: reg, PE: pe, Gen: gen})
}
func (r reporter) ResetDone(reg int, pe string, gen uint64) {
	r.send(api.Report{Kind: api.RepResetDone, Region: reg, PE: pe, Gen: gen})
}
func (r reporter) Failed(reg int, pe string, gen uint64, err error) {
	r.send(api.Report{Kind: api.RepFailed, Region: reg, PE: pe, Gen: gen, Error: err.Error()})
}
func (r reporter) Trigger(reg int) { r.send(api.Report{Kind: api.RepTrigger, Region: reg}) }
func (r reporter) Finished(pe string) {
	r.job.finished(pe)
	r.send(api.Report{Kind: api.RepFinished, Region: -1, PE: pe})
}
func (r reporter) Crashed(pe string, err error) {
	r.send(api.Report{Kind: api.RepCrashed, Region: -1, PE: pe, Error: err.Error()})
}

var _ executor.Reporter = reporter{}
var _ checkpoint.Store = (*ReplicatedStore)(nil)

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}
