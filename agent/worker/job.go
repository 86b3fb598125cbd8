package worker

import (
	"fmt"
	"maps"
	"slices"
	"sync"
	"time"

	"github.com/weirstream/weir/agent/api"
	"github.com/weirstream/weir/executor"
	"github.com/weirstream/weir/flow"
	"github.com/weirstream/weir/fsm"
	"github.com/weirstream/weir/region"
	"github.com/weirstream/weir/topology"
	"github.com/weirstream/weir/transport"
)

// job is what one job runs on this node.
type job struct {
	w     *Worker
	id    string
	since time.Time // when the record was made

	// Set once the job's plan is known here (a job record may exist earlier, holding commands).
	plan    *topology.Plan
	ph      *region.Physical
	binding topology.Binding

	mu   sync.Mutex
	pes  map[int]*peRun
	last map[int]map[string]api.Command // region -> command kind -> latest
	fin  map[string]bool
	hub  *hub
}

type peRun struct {
	id      string
	region  int
	x       *executor.Executor
	cancels []func()
	// local are the readers this PE feeds in-process (the hub), as the placements put them on its node
	// when it started. Written while the executor is built, before the run is published under j.mu.
	local []string
}

func newJob(w *Worker, fj fsm.Job) (*job, error) {
	plan, binding, err := w.binding(fj)
	if err != nil {
		return nil, err
	}
	ph, err := region.Expand(plan)
	if err != nil {
		return nil, fmt.Errorf("job %s: %w", fj.ID, err)
	}
	j := w.pending(fj.ID)
	j.mu.Lock()
	j.plan, j.ph, j.binding = plan, ph, binding
	if j.fin == nil {
		j.fin = map[string]bool{}
	}
	j.mu.Unlock()
	return j, nil
}

func (j *job) ready() bool {
	j.mu.Lock()
	defer j.mu.Unlock()
	return j.ph != nil
}

// reconcile starts the PEs placed here that do not run and stops those placed elsewhere now.
func (j *job) reconcile(fj fsm.Job, mine map[string]bool) {
	for _, id := range sortedKeys(mine) {
		pe, ok := j.ph.PEByID(id)
		if !ok {
			j.w.log.Error("placement names an unknown PE", "job", j.id, "pe", id)
			continue
		}
		j.mu.Lock()
		running := j.pes[pe.Index] != nil
		finished := j.fin[id]
		j.mu.Unlock()
		if !running && !finished {
			j.start(fj, pe.Index)
		}
	}
	j.mu.Lock()
	var gone []*peRun
	rewire := map[int]string{} // PE index -> a reader it fed in-process that runs elsewhere now
	for idx, run := range j.pes {
		if !mine[j.ph.PEs[idx].ID] {
			gone = append(gone, run)
			delete(j.pes, idx)
			continue
		}
		for _, reader := range run.local {
			if !mine[reader] {
				rewire[idx] = reader
				gone = append(gone, run)
				delete(j.pes, idx)
				break
			}
		}
	}
	j.mu.Unlock()
	for _, run := range gone {
		run.stop()
		if !mine[run.id] {
			j.w.c.Events.Add(api.Event{Kind: api.EvPEStopped, Job: j.id, Region: run.region, Subject: run.id, Detail: "placed elsewhere"})
		}
	}
	// A PE wired in-process to a reader that now runs on another node would write into an edge nobody
	// reads, and block its region until it restarted: started again, it streams to the reader's node. This
	// happens when a node restarts on a stale replica, which puts both ends here for a moment, and starts
	// them (found by `weir chaos --seed 7 --nodes 5 --duration 30m`: after a restart of every node the
	// source fed a stopped reader in-process; no reset could help, and the region made no progress for
	// tens of seconds, until the source's node restarted again).
	for _, idx := range slices.Sorted(maps.Keys(rewire)) {
		j.w.log.Info("PE restarted: a reader it fed in-process runs on another node now", "job", j.id, "pe", j.ph.PEs[idx].ID, "reader", rewire[idx])
		j.start(fj, idx)
	}
}

// start runs PE idx. A PE of a consistent region that is not part of a fresh job (nothing begun,
// nothing reset, first placement) waits for a reset, and says so (RepAwaiting): it starts without the state
// the rest of its region has. It starts one generation below the replica's, unless this node saw the reset
// of that generation complete (its resume): the generation may be that of the reset under way, which the
// PE must take part in (a PE ignores a reset of its own generation as a repeat), and the replica may hold
// it before its reset command arrives, or even before the worker sees the placement.
func (j *job) start(fj fsm.Job, idx int) {
	w, def := j.w, &j.ph.PEs[idx]
	gens := map[int]uint64{}
	st := w.c.State
	for _, r := range st.Regions(j.id) {
		gens[r.Index] = r.Generation
	}
	await := false
	var reg fsm.Region
	if def.Region >= 0 {
		reg, _ = st.Region(j.id, def.Region)
		fresh := fj.PlacementVersion <= 1 && reg.Generation == 0 && reg.Started == 0 && reg.Committed == 0
		await = !fresh
		j.mu.Lock()
		resumed, ok := j.last[def.Region][api.CmdResume]
		j.mu.Unlock()
		if await && reg.Generation > 0 && !(ok && resumed.Gen >= reg.Generation) {
			gens[def.Region] = reg.Generation - 1
		}
	}
	run := &peRun{id: def.ID, region: def.Region}
	x, err := executor.New(executor.Options{
		Job: j.id, Physical: j.ph, Binding: j.binding, Run: []int{idx},
		Remote: &remote{j: j, run: run}, Store: w.c.Store, Reporter: reporter{w: w, job: j},
		Generations: gens, AwaitReset: await,
		BatchSize: w.c.BatchSize, Credits: w.c.Credits, Logger: w.c.Logger.With("job", j.id),
	})
	if err != nil {
		w.log.Error("cannot start PE", "job", j.id, "pe", def.ID, "err", err)
		w.c.Report(api.Report{Kind: api.RepCrashed, Node: w.c.Node, Job: j.id, Region: -1, PE: def.ID, Error: err.Error()})
		return
	}
	run.x = x
	j.mu.Lock()
	j.pes[idx] = run
	// The latest commands for the region, in the order the leader sends them: a drain that came before the
	// PE must not cost a drain timeout. Commands of a generation older than the replica's belong to resets
	// that are over: a resume of the PE's starting generation would let it process without its state.
	// They are posted before j.mu is released: a command that arrives meanwhile, which command() posts
	// once it holds j.mu, must come after them. A resume posted before the replayed reset of its generation
	// is ignored (the PE is not in that generation yet), and the PE would wait for it after its reset.
	resetSeen := false
	for _, kind := range []string{api.CmdCommitted, api.CmdReset, api.CmdResume, api.CmdDrain} {
		if c, ok := j.last[def.Region][kind]; ok && c.Gen >= reg.Generation {
			if kind == api.CmdResume && c.Gen <= gens[def.Region] {
				// The resume of the generation the PE starts in: that reset is over without it, and the
				// resume would let it process without its state. It waits for the next reset.
				continue
			}
			deliver(x, c)
			if c.Kind == api.CmdReset && c.Gen > gens[def.Region] {
				resetSeen = true
			}
		}
	}
	j.mu.Unlock()
	x.Start()
	w.log.Info("PE started", "job", j.id, "pe", def.ID, "awaiting_reset", await)
	w.c.Events.Add(api.Event{Kind: api.EvPEStarted, Job: j.id, Region: def.Region, Subject: def.ID})
	if await && !resetSeen {
		w.c.Report(api.Report{Kind: api.RepAwaiting, Node: w.c.Node, Job: j.id, Region: def.Region, PE: def.ID, Gen: reg.Generation,
			Error: fmt.Sprintf("PE %s started on node %s without its region's state", def.ID, w.c.Node)})
	}
}

func deliver(x *executor.Executor, c api.Command) {
	switch c.Kind {
	case api.CmdDrain:
		x.Drain(c.Region, c.Epoch, c.Gen, c.Final)
	case api.CmdReset:
		x.Reset(c.Region, c.Gen, c.Epoch)
	case api.CmdResume:
		x.Resume(c.Region, c.Gen)
	case api.CmdCommitted:
		x.Committed(c.Region, c.Gen, c.Epoch, c.Final)
	}
}

// command passes a leader's command to the region's PEs placed here, and keeps it for PEs that start later.
func (j *job) command(c api.Command) error {
	switch c.Kind {
	case api.CmdDrain, api.CmdReset, api.CmdResume, api.CmdCommitted:
	default:
		return fmt.Errorf("unknown command %q", c.Kind)
	}
	j.mu.Lock()
	if j.last[c.Region] == nil {
		j.last[c.Region] = map[string]api.Command{}
	}
	prev, ok := j.last[c.Region][c.Kind]
	if !ok || c.Gen > prev.Gen || (c.Gen == prev.Gen && c.Epoch >= prev.Epoch) {
		j.last[c.Region][c.Kind] = c
	}
	// Only PEs still placed here: one placed elsewhere is a zombie the worker is about to stop.
	place := j.w.c.State.Placements(j.id)
	var xs []*executor.Executor
	for idx, run := range j.pes {
		if j.ph != nil && j.ph.PEs[idx].Region == c.Region && place[j.ph.PEs[idx].ID] == j.w.c.Node {
			xs = append(xs, run.x)
		}
	}
	j.mu.Unlock()
	for _, x := range xs {
		deliver(x, c)
	}
	return nil
}

func (j *job) finished(pe string) {
	j.mu.Lock()
	if j.fin == nil {
		j.fin = map[string]bool{}
	}
	j.fin[pe] = true
	j.mu.Unlock()
}

// stats returns the counters of the PEs running here.
func (j *job) stats() []api.PEStats {
	j.mu.Lock()
	runs := make([]*peRun, 0, len(j.pes))
	for _, run := range j.pes {
		runs = append(runs, run)
	}
	j.mu.Unlock()
	var out []api.PEStats
	for _, run := range runs {
		if run.x == nil {
			continue
		}
		for _, s := range run.x.Stats() {
			out = append(out, api.PEStats{ID: s.ID, Region: s.Region, In: s.In, Out: s.Out, Dropped: s.Dropped,
				Emitted: s.Emitted, Consumed: s.Consumed, Gen: s.Gen})
		}
	}
	return out
}

func (j *job) list() (running, finished []string) {
	j.mu.Lock()
	defer j.mu.Unlock()
	for idx := range j.pes {
		if id := j.ph.PEs[idx].ID; !j.fin[id] {
			running = append(running, id)
		}
	}
	for id := range j.fin {
		finished = append(finished, id)
	}
	return running, finished
}

// regionOfLink is the consistent region a link belongs to (-1 for none): its two PEs share it.
func (j *job) regionOfLink(link int) (int, string) {
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.ph == nil || link < 0 || link >= len(j.ph.Links) {
		return -1, ""
	}
	l := j.ph.Links[link]
	for _, idx := range []int{l.FromPE, l.ToPE} {
		if j.pes[idx] != nil {
			return j.ph.PEs[idx].Region, j.ph.PEs[idx].ID
		}
	}
	return j.ph.PEs[l.FromPE].Region, ""
}

func (j *job) stop() {
	j.mu.Lock()
	runs := j.pes
	j.pes = map[int]*peRun{}
	j.mu.Unlock()
	for _, run := range runs {
		run.stop()
	}
	// Links have no Close: the job's outgoing streams end here (with a goodbye, so readers see no break).
	j.w.c.Streams.CloseJob(j.id)
}

func (r *peRun) stop() {
	if r.x != nil {
		r.x.Stop()
	}
	for _, c := range r.cancels {
		c()
	}
}

// hub holds the edges of the links whose reader runs on this node: a local writer sends straight into
// one, a remote writer's stream delivers into the same one.
type hub struct {
	mu    sync.Mutex
	edges map[int]flow.AnyEdge
}

func newHub() *hub { return &hub{edges: map[int]flow.AnyEdge{}} }

func (h *hub) edge(link int, t flow.Type, credits, batch int) (flow.AnyEdge, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if e, ok := h.edges[link]; ok {
		if e.Type() != t {
			return nil, fmt.Errorf("link %d carries %s, not %s", link, e.Type(), t)
		}
		return e, nil
	}
	if credits <= 0 {
		credits = 8
	}
	if batch <= 0 {
		batch = 256
	}
	e := t.NewEdge(credits, batch)
	h.edges[link] = e
	return e, nil
}

// remote implements executor.Remote for one PE of a job.
type remote struct {
	j   *job
	run *peRun
}

func (r *remote) key(l *region.Link) transport.StreamKey {
	return transport.StreamKey{Job: r.j.id, Link: l.Index}
}

// Incoming gives the reader the hub's edge of the link, into which both a local writer and a remote
// writer's stream deliver (the writer may move between the two).
func (r *remote) Incoming(l *region.Link, t flow.Type) (flow.AnyEdge, error) {
	w := r.j.w
	e, err := r.j.hub.edge(l.Index, t, w.c.Credits, w.c.BatchSize)
	if err != nil {
		return nil, err
	}
	r.run.cancels = append(r.run.cancels, w.c.Streams.Expect(r.key(l), e))
	return e, nil
}

// Outgoing gives the writer the hub's edge when the reader runs here, else a stream that finds the
// reader's node through the current placement at every (re)connection.
func (r *remote) Outgoing(l *region.Link, t flow.Type, fail func(error)) (any, error) {
	w := r.j.w
	reader := r.j.ph.PEs[l.ToPE].ID
	if w.c.State.Placements(r.j.id)[reader] == w.c.Node {
		r.run.local = append(r.run.local, reader)
		return r.j.hub.edge(l.Index, t, w.c.Credits, w.c.BatchSize)
	}
	target := func() (string, error) {
		node := w.c.State.Placements(r.j.id)[reader]
		n, ok := w.c.State.Node(node)
		if !ok || n.RPCAddr == "" {
			return "", fmt.Errorf("PE %s is placed on %q, which has no address", reader, node)
		}
		return n.RPCAddr, nil
	}
	batch := w.c.BatchSize
	if batch <= 0 {
		batch = 256
	}
	return w.c.Streams.Link(r.key(l), t, batch, target, fail)
}

// peerOfLink names the node that runs the other end of a link, by the replica's placements: "" when both
// ends run here, or neither.
func (j *job) peerOfLink(link int) string {
	j.mu.Lock()
	if j.ph == nil || link < 0 || link >= len(j.ph.Links) {
		j.mu.Unlock()
		return ""
	}
	l := j.ph.Links[link]
	other := ""
	switch from, to := j.pes[l.FromPE] != nil, j.pes[l.ToPE] != nil; {
	case to && !from:
		other = j.ph.PEs[l.FromPE].ID
	case from && !to:
		other = j.ph.PEs[l.ToPE].ID
	}
	j.mu.Unlock()
	if other == "" {
		return ""
	}
	if node := j.w.c.State.Placements(j.id)[other]; node != j.w.c.Node {
		return node
	}
	return ""
}

// Broken turns a broken stream (the fast failure signal) into a failure of the link's region. The peer
// is named so that the leader probes it at once. The reading side of a stream sees only the writer's
// ephemeral port, which names no node (the writer dialled): it names the node that the placements put the
// writer on. Left unnamed, a node whose streams all went out of it (a source's, say) was found dead only by
// gossip, 5 to 8 s after it died with the default timings, where a probe takes well under a second.
func (w *Worker) Broken(key transport.StreamKey, peer string, err error) {
	w.mu.Lock()
	j := w.jobs[key.Job]
	w.mu.Unlock()
	if j == nil || !j.ready() {
		return
	}
	if peer == "" {
		peer = j.peerOfLink(key.Link)
	}
	reg, pe := j.regionOfLink(key.Link)
	if reg < 0 {
		// Outside consistent regions nothing replays: the stream reconnects when the reader is placed again.
		// The leader still hears of it, to check the peer at once.
		w.log.Warn("stream broke", "job", key.Job, "link", key.Link, "peer", peer, "err", err)
	}
	var gen uint64
	if reg >= 0 {
		r, _ := w.c.State.Region(key.Job, reg)
		gen = r.Generation
	}
	w.c.Report(api.Report{Kind: api.RepBroken, Node: w.c.Node, Job: key.Job, Region: reg, PE: pe, Gen: gen, Peer: peer,
		Error: fmt.Sprintf("stream of link %d with %s broke: %v", key.Link, peer, err)})
}
