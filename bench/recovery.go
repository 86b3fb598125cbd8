package bench

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"time"

	"github.com/weirstream/weir/agent/api"
	"github.com/weirstream/weir/cluster"
	"github.com/weirstream/weir/region"
)

// Recovery targets: after kill -9 of a node, the sink receives new tuples within this time.
const (
	TargetWorkerRecovery = 5 * time.Second
	TargetLeaderRecovery = 8 * time.Second
)

// Kill kinds.
const (
	KillWorker = "worker"
	KillLeader = "leader"
)

// Profiles: the agents' timings.
const (
	ProfileDefault = "default"
	ProfileFast    = "fast"
)

// Defaults of RecoveryOptions.
const (
	RecoveryTrials = 5
	RecoveryRate   = 5000
	RecoveryWidth  = 3
	RecoveryPeriod = 300 * time.Millisecond
	RecoveryPoll   = 10 * time.Millisecond
)

// RecoveryOptions configures Recovery.
type RecoveryOptions struct {
	// Binary is the weir binary the agents run: `weir bench recovery` passes its own executable, tests
	// build one. Required.
	Binary string
	// Fast runs the agents with --fast (gossip verdicts in about a second, Raft elections in a fraction of
	// one); false runs them with the timings an operator gets (memberlist's LAN defaults, Raft's 1 s).
	Fast bool
	// Trials is the number of kills of each kind (default RecoveryTrials).
	Trials int
	// Kinds lists the kills to measure, KillWorker and KillLeader (default both, workers first).
	Kinds []string
	// Rate is the source's tuples per second, Width the parallel region's channels, Period the consistent
	// region's period (defaults RecoveryRate, RecoveryWidth, RecoveryPeriod).
	Rate, Width int
	Period      time.Duration
	// Poll is how often the sink's counters are read during a recovery (default RecoveryPoll): the first
	// new tuple is seen at most one poll (plus an HTTP round trip) late.
	Poll time.Duration
	// Dir holds the cluster's data directories, logs and the sink's output. Empty: a temporary directory,
	// removed at the end. A given Dir is kept (it must not hold a cluster already).
	Dir string
	// Log receives progress lines (nil: none).
	Log func(format string, args ...any)
	// Context ends the run early; every agent is stopped all the same.
	Context context.Context
}

// RecoveryResult is what Recovery measured with one timing profile.
type RecoveryResult struct {
	Profile string        `json:"profile"`
	Rate    int           `json:"rate"`
	Width   int           `json:"width"`
	Period  time.Duration `json:"period_ns"`
	Poll    time.Duration `json:"poll_ns"`
	// Dir is where the cluster's logs are, when kept.
	Dir   string           `json:"dir,omitempty"`
	Kills []RecoverySeries `json:"kills"`
}

// Pass reports whether every series met its target.
func (r RecoveryResult) Pass() bool {
	for _, k := range r.Kills {
		if !k.Pass {
			return false
		}
	}
	return len(r.Kills) > 0
}

// RecoverySeries is the trials of one kind of kill and their summary.
type RecoverySeries struct {
	Kill   string          `json:"kill"`
	Target time.Duration   `json:"target_ns"`
	Trials []RecoveryTrial `json:"trials"`
	// Phases split the time from the kill to the first new sink tuple, in order; each one's figures are
	// over the trials that saw its milestone.
	Phases []PhaseStats `json:"phases"`
	// Total is kill → first new sink tuple; Commit kill → the next committed epoch.
	Total  PhaseStats `json:"total"`
	Commit PhaseStats `json:"commit"`
	// Pass: every trial recovered, the slowest within Target.
	Pass bool `json:"pass"`
}

// PhaseStats summarizes one phase over the trials.
type PhaseStats struct {
	Name string `json:"name"`
	// Until names the milestone that ends the phase.
	Until string `json:"until"`
	// Median and Max are the phase's own duration; SinceKillMedian and SinceKillMax the time from the kill
	// to its milestone.
	Median          time.Duration `json:"median_ns"`
	Max             time.Duration `json:"max_ns"`
	SinceKillMedian time.Duration `json:"since_kill_median_ns"`
	SinceKillMax    time.Duration `json:"since_kill_max_ns"`
	// N is the number of trials that saw the milestone.
	N int `json:"n"`
}

// RecoveryTrial is one kill. Every milestone is the time from the kill, 0 when it was not seen.
type RecoveryTrial struct {
	Kill   string `json:"kill"`
	Victim string `json:"victim"`
	// Leader led when the node was killed; NewLeader after (the same one when a worker was killed).
	Leader    string `json:"leader"`
	NewLeader string `json:"new_leader,omitempty"`
	// SinkBefore and SinkAfter are the nodes that ran the sink at the kill and at its first new tuple.
	SinkBefore string `json:"sink_before"`
	SinkAfter  string `json:"sink_after,omitempty"`
	// Elected: the new leader's leader_elected (leader kills). Failed: the leader's node_failed for the
	// victim (FailedWhy its reason). Placed: the placement of the lost PEs. Reset and Resumed: the
	// region_reset and region_resumed of the generation that brought the first new tuple. FirstTuple: the
	// sink's counter grew in that generation. Committed: the next committed epoch.
	Elected    time.Duration `json:"elected_ns,omitempty"`
	Failed     time.Duration `json:"failed_ns,omitempty"`
	FailedWhy  string        `json:"failed_why,omitempty"`
	Placed     time.Duration `json:"placed_ns,omitempty"`
	Reset      time.Duration `json:"reset_ns,omitempty"`
	Resumed    time.Duration `json:"resumed_ns,omitempty"`
	FirstTuple time.Duration `json:"first_tuple_ns,omitempty"`
	Committed  time.Duration `json:"committed_ns,omitempty"`
	// Resets counts the region's resets from the kill to the one that brought the first new tuple; Gen is
	// the region's generation at the kill and GenAfter that one's.
	Resets   int    `json:"resets"`
	Gen      uint64 `json:"generation"`
	GenAfter uint64 `json:"generation_after,omitempty"`
	Error    string `json:"error,omitempty"`
}

// recoveryJob is the steady job: a paced sequence, a hash-partitioned parallel region and an exactly-once
// file sink, all in one periodic consistent region. The sink's Consumed counter counts the tuples reaching
// it (not what it publishes), so it shows the first tuple after a recovery.
const recoveryJob = `name: recovery
params:
  rate: 5000
  width: 3
  period: 300ms
  out: out
consistent:
  period: ${period}
steps:
  - source: sequence
    count: 2000000000
    rate: ${rate}
  - parallel: ${width}
    routing: hash
    key: "it % 101"
  - map: "it * 2"
  - end_parallel
  - sink: file
    path: ${out}
    exactly_once: true
`

func (o *RecoveryOptions) defaults() error {
	if o.Binary == "" {
		return errors.New("bench: recovery needs the weir binary the agents run")
	}
	if o.Trials <= 0 {
		o.Trials = RecoveryTrials
	}
	if len(o.Kinds) == 0 {
		o.Kinds = []string{KillWorker, KillLeader}
	}
	for _, k := range o.Kinds {
		if k != KillWorker && k != KillLeader {
			return fmt.Errorf("bench: no kill kind %q (%s, %s)", k, KillWorker, KillLeader)
		}
	}
	o.Rate = orDefault(o.Rate, RecoveryRate)
	o.Width = orDefault(o.Width, RecoveryWidth)
	if o.Period <= 0 {
		o.Period = RecoveryPeriod
	}
	if o.Poll <= 0 {
		o.Poll = RecoveryPoll
	}
	if o.Log == nil {
		o.Log = func(string, ...any) {}
	}
	if o.Context == nil {
		o.Context = context.Background()
	}
	return nil
}

// Recovery measures how long a cluster takes to deliver new tuples to a sink after kill -9 of a node. It
// starts a local cluster of three weir agent processes (with the default timings, or --fast), submits a
// steady job (recoveryJob) and waits for a few committed epochs. Then, Trials times for each kind: it
// kills a node (a worker running PEs of the job, or the leader), polls the sink's PE counters until the
// sink takes a tuple of a newer generation, waits for the next committed epoch, reads the survivors'
// event logs to split the time into phases, restarts the victim on its data directory and waits until the
// cluster is whole and steady again. Every agent is stopped on return, whatever happened.
func Recovery(o RecoveryOptions) (RecoveryResult, error) {
	if err := o.defaults(); err != nil {
		return RecoveryResult{}, err
	}
	res := RecoveryResult{Profile: ProfileDefault, Rate: o.Rate, Width: o.Width, Period: o.Period, Poll: o.Poll}
	if o.Fast {
		res.Profile = ProfileFast
	}
	dir := o.Dir
	if dir == "" {
		tmp, err := os.MkdirTemp("", "weir-recovery-")
		if err != nil {
			return res, err
		}
		defer os.RemoveAll(tmp)
		dir = tmp
	} else {
		res.Dir = dir
	}
	ctx := o.Context
	upCtx, cancel := context.WithTimeout(ctx, 90*time.Second)
	defer cancel()
	o.Log("recovery (%s): starting 3 agents in %s", res.Profile, dir)
	c, err := cluster.Up(upCtx, cluster.Spec{Nodes: 3, Dir: filepath.Join(dir, "cluster"), Binary: o.Binary, Fast: o.Fast})
	if err != nil {
		return res, err
	}
	hc := &http.Client{Timeout: 3 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 4}}
	defer hc.CloseIdleConnections()
	// Down kills every agent on every path out of here. Every wait below ends with the context, so an
	// interrupted bench comes here too.
	defer c.Down()
	r := &recoveryRun{o: o, c: c, hc: hc, cursor: map[string]uint64{}, pids: map[string]int{}}
	if err := r.submit(filepath.Join(dir, "out")); err != nil {
		return res, err
	}
	for _, kind := range o.Kinds {
		s := RecoverySeries{Kill: kind, Target: TargetWorkerRecovery}
		if kind == KillLeader {
			s.Target = TargetLeaderRecovery
		}
		for i := range o.Trials {
			if err := ctx.Err(); err != nil {
				return res, err
			}
			t := r.trial(kind, i)
			s.Trials = append(s.Trials, t)
			if t.Error != "" {
				o.Log("recovery (%s): %s kill %d/%d: %s", res.Profile, kind, i+1, o.Trials, t.Error)
			} else {
				o.Log("recovery (%s): %s kill %d/%d: %s killed, first new sink tuple after %s, next commit after %s",
					res.Profile, kind, i+1, o.Trials, t.Victim, t.FirstTuple.Round(time.Millisecond), t.Committed.Round(time.Millisecond))
			}
			if err := r.restore(t.Victim); err != nil {
				s.summarize()
				res.Kills = append(res.Kills, s)
				return res, fmt.Errorf("after the %s kill %d: %w", kind, i+1, err)
			}
		}
		s.summarize()
		res.Kills = append(res.Kills, s)
	}
	return res, nil
}

// recoveryRun is the state of one profile's run.
type recoveryRun struct {
	o      RecoveryOptions
	c      *cluster.Cluster
	hc     *http.Client
	job    string
	sinkPE string
	// cursor is the last event number read from each node; pids tells a restarted node (its log starts
	// over).
	cursor map[string]uint64
	pids   map[string]int
}

func (r *recoveryRun) client(n *cluster.Node) *api.Client {
	return &api.Client{Addr: n.HTTP, HTTP: r.hc}
}

func (r *recoveryRun) node(name string) *cluster.Node {
	n, _ := r.c.Node(name)
	return n
}

// submit submits the job, waits for its first commits and finds its sink PE (the one PE whose sink counts).
func (r *recoveryRun) submit(out string) error {
	ctx := r.o.Context
	live := r.c.Live()
	if len(live) == 0 {
		return errors.New("bench: no agent runs")
	}
	cl := r.client(live[0])
	cl.RetryNoLeader = 15 * time.Second
	id, err := cl.Submit(ctx, api.SubmitRequest{JobFile: recoveryJob, FileName: "recovery.yaml", Params: map[string]string{
		"rate": strconv.Itoa(r.o.Rate), "width": strconv.Itoa(r.o.Width), "period": r.o.Period.String(), "out": out}})
	if err != nil {
		return fmt.Errorf("bench: submit the recovery job: %w", err)
	}
	r.job = id
	if _, err := r.waitSteady(); err != nil {
		return err
	}
	return poll(ctx, 30*time.Second, "the sink's counters", func() (bool, error) {
		for _, n := range r.c.Live() {
			pes, err := r.pes(ctx, n)
			if err != nil {
				continue
			}
			for _, s := range pes.Stats[r.job] {
				if s.Consumed > 0 {
					r.sinkPE = s.ID
					return true, nil
				}
			}
		}
		return false, nil
	})
}

func (r *recoveryRun) pes(ctx context.Context, n *cluster.Node) (api.NodePEs, error) {
	qctx, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	return r.client(n).PEs(qctx)
}

// status reads the job's status from a live node other than skip (its replica; the leader's is freshest).
func (r *recoveryRun) status(ctx context.Context, prefer, skip string) (api.Job, error) {
	nodes := r.c.Live()
	slices.SortStableFunc(nodes, func(a, b *cluster.Node) int {
		switch {
		case a.Name == prefer:
			return -1
		case b.Name == prefer:
			return 1
		}
		return 0
	})
	err := errors.New("no live node")
	for _, n := range nodes {
		if n.Name == skip {
			continue
		}
		qctx, cancel := context.WithTimeout(ctx, time.Second)
		var j api.Job
		j, err = r.client(n).Job(qctx, r.job, false)
		cancel()
		if err == nil {
			return j, nil
		}
	}
	return api.Job{}, err
}

func placement(j api.Job, pe string) string {
	for _, p := range j.PEs {
		if p.ID == pe {
			return p.Node
		}
	}
	return ""
}

// waitSteady waits until every node is alive and a voter, as the leader knows it, and the job's region has
// committed three epochs in one generation (no reset in between) and is not resetting. It returns the
// leader.
func (r *recoveryRun) waitSteady() (string, error) {
	ctx := r.o.Context
	var leader string
	err := poll(ctx, 60*time.Second, "all three nodes alive and voters", func() (bool, error) {
		wctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		l, err := r.c.WaitLeader(wctx)
		cancel()
		if err != nil {
			return false, nil
		}
		qctx, cancel := context.WithTimeout(ctx, time.Second)
		ms, err := r.client(r.node(l)).Members(qctx)
		cancel()
		if err != nil || len(ms) != len(r.c.Nodes) {
			return false, nil
		}
		for _, m := range ms {
			if m.Status != "alive" || m.Role != "voter" {
				return false, nil
			}
		}
		leader = l
		return true, nil
	})
	if err != nil {
		return "", err
	}
	var first api.Region
	seen := false
	err = poll(ctx, 60*time.Second, "three committed epochs in one generation", func() (bool, error) {
		j, err := r.status(ctx, leader, "")
		if err != nil || len(j.Regions) == 0 {
			return false, nil
		}
		if j.State != "running" {
			return false, fmt.Errorf("bench: the recovery job is %s: %s", j.State, j.Error)
		}
		reg := j.Regions[0]
		if reg.State == region.MaxAttemptsReached.String() {
			return false, fmt.Errorf("bench: the recovery job's region stopped: %s", reg.LastError)
		}
		if !seen || reg.Generation != first.Generation {
			first, seen = reg, true
			return false, nil
		}
		return reg.Committed >= first.Committed+3 && reg.State != region.Resetting.String(), nil
	})
	return leader, err
}

// restore brings a killed node back on its data directory and waits until the cluster is steady again.
func (r *recoveryRun) restore(victim string) error {
	if n := r.node(victim); victim != "" && n != nil && !n.Alive() {
		if err := r.c.Restart(victim); err != nil {
			return err
		}
	}
	_, err := r.waitSteady()
	return err
}

// readEvents returns the node's events since the last read and moves its cursor.
func (r *recoveryRun) readEvents(ctx context.Context, n *cluster.Node) ([]api.Event, error) {
	if r.pids[n.Name] != n.PID {
		r.pids[n.Name], r.cursor[n.Name] = n.PID, 0 // restarted: its log starts over
	}
	qctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	evs, err := r.client(n).Events(qctx, r.cursor[n.Name])
	if err != nil {
		return nil, err
	}
	if len(evs) > 0 {
		r.cursor[n.Name] = evs[len(evs)-1].Seq
	}
	return evs, nil
}

// sinkSample is one reading of the sink PE's counters.
type sinkSample struct {
	at       time.Time
	node     string
	gen      uint64
	consumed uint64
}

// newTuple reports whether s shows a tuple the sink took in a generation after gen: its counter grew over
// the previous reading of the same PE instance taken in such a generation too, or, for an instance started
// since (on another node), it took anything at all in one. A survivor's first reading in the new generation
// may still count tuples of the old one taken before its reset, so it serves as the base only.
func newTuple(prev, s sinkSample, gen uint64) bool {
	if s.gen <= gen {
		return false
	}
	if s.node != prev.node {
		return s.consumed > 0
	}
	return prev.gen > gen && s.consumed > prev.consumed
}

// trial kills one node and measures the recovery. It never returns with the victim's fate unknown: the
// victim is named even when the trial failed, so that restore brings it back.
func (r *recoveryRun) trial(kind string, i int) (t RecoveryTrial) {
	ctx := r.o.Context
	t.Kill = kind
	leader, err := r.waitSteady()
	if err != nil {
		t.Error = err.Error()
		return t
	}
	t.Leader = leader
	j, err := r.status(ctx, leader, "")
	if err != nil {
		t.Error = err.Error()
		return t
	}
	t.SinkBefore = placement(j, r.sinkPE)
	switch kind {
	case KillLeader:
		t.Victim = leader
	default:
		// A worker that runs PEs of the job: on even trials the sink's node if a worker runs it (the sink
		// dies and starts elsewhere), on odd ones another (the sink survives and resets), when there is a
		// choice.
		var cands []string
		for _, p := range j.PEs {
			if p.Node != leader && !slices.Contains(cands, p.Node) {
				cands = append(cands, p.Node)
			}
		}
		if len(cands) == 0 {
			t.Error = "no node but the leader runs PEs of the job"
			return t
		}
		slices.Sort(cands)
		slices.SortStableFunc(cands, func(a, b string) int {
			return boolRank(a == t.SinkBefore) - boolRank(b == t.SinkBefore)
		})
		if i%2 == 0 {
			slices.Reverse(cands)
		}
		t.Victim = cands[0]
	}
	// The survivors' logs are read up to now, so that what follows is what the kill caused.
	for _, n := range r.c.Live() {
		if n.Name != t.Victim {
			if _, err := r.readEvents(ctx, n); err != nil {
				t.Error = fmt.Sprintf("read the events of %s: %v", n.Name, err)
				return t
			}
		}
	}
	sinkNode := r.node(t.SinkBefore)
	var prev sinkSample
	found := false
	for _, s := range r.mustPEs(ctx, sinkNode) {
		if s.ID == r.sinkPE {
			prev, found = sinkSample{at: time.Now(), node: sinkNode.Name, gen: s.Gen, consumed: s.Consumed}, true
		}
	}
	if !found {
		t.Error = fmt.Sprintf("the sink PE %s does not run on %s", r.sinkPE, t.SinkBefore)
		return t
	}
	t.Gen = prev.gen

	kill := time.Now()
	if err := r.c.Kill(t.Victim); err != nil {
		t.Error = err.Error()
		return t
	}
	first, err := r.watchSink(ctx, t.Victim, prev, kill)
	if err != nil {
		t.Error = err.Error()
		return t
	}
	t.FirstTuple = first.at.Sub(kill)
	t.SinkAfter, t.GenAfter = first.node, first.gen
	if kind == KillLeader {
		wctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		t.NewLeader, _ = r.c.WaitLeaderExcept(wctx, t.Victim)
		cancel()
	} else {
		t.NewLeader = leader
	}
	// The next commit, then every survivor's events.
	var evs []api.Event
	err = poll(ctx, 30*time.Second, "a commit after the recovery", func() (bool, error) {
		for _, n := range r.c.Live() {
			got, err := r.readEvents(ctx, n)
			if err != nil {
				continue
			}
			evs = append(evs, got...)
		}
		for _, e := range evs {
			if e.Kind == api.EvEpochCommitted && e.Job == r.job && e.Gen >= first.gen && e.Time.After(first.at) {
				return true, nil
			}
		}
		return false, nil
	})
	t.analyze(evs, r.job, kill, first.at)
	if err != nil {
		t.Error = err.Error()
	}
	return t
}

func boolRank(b bool) int {
	if b {
		return 1
	}
	return 0
}

func (r *recoveryRun) mustPEs(ctx context.Context, n *cluster.Node) []api.PEStats {
	if n == nil {
		return nil
	}
	pes, err := r.pes(ctx, n)
	if err != nil {
		return nil
	}
	return pes.Stats[r.job]
}

// recoveryTimeout bounds one recovery: far above any target, so a miss is measured rather than cut off.
const recoveryTimeout = 60 * time.Second

// watchSink polls the sink PE's counters, wherever it is placed, until it takes a tuple of a generation
// newer than prev's.
func (r *recoveryRun) watchSink(ctx context.Context, victim string, prev sinkSample, kill time.Time) (sinkSample, error) {
	node, gen := prev.node, prev.gen
	nextLookup := time.Time{}
	tick := time.NewTicker(r.o.Poll)
	defer tick.Stop()
	for {
		now := time.Now()
		if now.Sub(kill) > recoveryTimeout {
			return sinkSample{}, fmt.Errorf("no new tuple at the sink %s after the kill of %s (logs in %s)", recoveryTimeout, victim, r.c.Dir)
		}
		if now.After(nextLookup) {
			if j, err := r.status(ctx, "", victim); err == nil {
				node = placement(j, r.sinkPE)
			}
			// Often while the sink is placed on the dead node (it will move), rarely once it is not.
			nextLookup = now.Add(100 * time.Millisecond)
			if node == victim || node == "" {
				nextLookup = now.Add(20 * time.Millisecond)
			}
		}
		if n := r.node(node); n != nil && node != victim {
			running := false
			for _, st := range r.mustPEs(ctx, n) {
				if st.ID != r.sinkPE {
					continue
				}
				running = true
				s := sinkSample{at: time.Now(), node: node, gen: st.Gen, consumed: st.Consumed}
				if newTuple(prev, s, gen) {
					return s, nil
				}
				prev = s
			}
			if !running {
				nextLookup = time.Time{} // placed elsewhere, or not started yet: look again
			}
		}
		select {
		case <-ctx.Done():
			return sinkSample{}, ctx.Err()
		case <-tick.C:
		}
	}
}
