package chaos

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/weirstream/weir/agent/api"
)

// pollEvery is how often the recorder reads the nodes' events, the leader's committed epochs and the
// sink's counters: the resolution of recovery times.
const pollEvery = 150 * time.Millisecond

// recorder polls the cluster into a history: every reachable node's new events, the job's committed epochs
// as the leader's replica holds them (consistent reads), and the exactly-once sink PE's counters.
type recorder struct {
	h      *History
	t      target
	sinkPE string

	mu      sync.Mutex
	job     string
	cursors map[string]cursor
	// what the last status read showed
	status    api.Job
	statusOK  bool
	lastRead  time.Time // start of the last successful status read
	answered  string    // the node that answered it
	committed map[int]uint64
	sink      sinkSeen
	lost      int // events known lost to a full ring
}

type cursor struct {
	inc int
	seq uint64
}

type sinkSeen struct {
	node     string
	gen      uint64
	consumed uint64
}

func newRecorder(h *History, t target, sinkPE string) *recorder {
	return &recorder{h: h, t: t, sinkPE: sinkPE, cursors: map[string]cursor{}, committed: map[int]uint64{}}
}

// setJob tells the recorder which job to follow.
func (r *recorder) setJob(id string) {
	r.mu.Lock()
	r.job = id
	r.mu.Unlock()
}

// run polls until ctx ends: the events, the status and the sink each on a loop of its own, and every node's
// events at once, so that a node that is slow to answer delays nothing else.
func (r *recorder) run(ctx context.Context) {
	var wg sync.WaitGroup
	for _, poll := range []func(context.Context){r.pollAllEvents, r.pollStatus, r.pollSink} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			tick := time.NewTicker(pollEvery)
			defer tick.Stop()
			for {
				poll(ctx)
				select {
				case <-ctx.Done():
					return
				case <-tick.C:
				}
			}
		}()
	}
	wg.Wait()
}

// poll reads everything once.
func (r *recorder) poll(ctx context.Context) {
	r.pollAllEvents(ctx)
	r.pollStatus(ctx)
	r.pollSink(ctx)
}

// pollAllEvents reads the new events of every reachable node, all at once.
func (r *recorder) pollAllEvents(ctx context.Context) {
	var wg sync.WaitGroup
	for _, name := range r.t.Names() {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r.pollEvents(ctx, name)
		}()
	}
	wg.Wait()
}

// pollEvents reads a node's events since the last one recorded (from the start after the node restarted).
func (r *recorder) pollEvents(ctx context.Context, name string) {
	cl, ok := r.t.Client(name)
	if !ok {
		return
	}
	inc := r.t.Incarnation(name)
	r.mu.Lock()
	cur := r.cursors[name]
	if cur.inc != inc {
		cur = cursor{inc: inc}
	}
	r.mu.Unlock()
	qctx, cancel := context.WithTimeout(ctx, time.Second)
	evs, err := cl.Events(qctx, cur.seq)
	cancel()
	if err != nil {
		return
	}
	if len(evs) > 0 && evs[0].Seq > cur.seq+1 && cur.seq > 0 {
		r.mu.Lock()
		r.lost += int(evs[0].Seq - cur.seq - 1)
		r.mu.Unlock()
		r.h.Add(Entry{Type: TypeNote, Node: name, Detail: fmt.Sprintf("events %d..%d of %s were lost (its log is full)", cur.seq+1, evs[0].Seq-1, name)})
	}
	for _, e := range evs {
		if e.Seq <= cur.seq {
			continue
		}
		cur.seq = e.Seq
		r.h.Add(Entry{Time: e.Time, Type: TypeEvent, Kind: e.Kind, Node: e.Node, Job: e.Job, Region: e.Region, Epoch: e.Epoch,
			Gen: e.Gen, Seq: e.Seq, Detail: joinDetail(e.Subject, e.Detail)})
		if e.Kind == api.EvLeaderElected {
			r.h.Add(Entry{Time: e.Time, Type: TypeLeader, Node: e.Node})
		}
	}
	r.mu.Lock()
	if r.t.Incarnation(name) == inc {
		r.cursors[name] = cur
	}
	r.mu.Unlock()
}

func joinDetail(subject, detail string) string {
	switch {
	case subject == "":
		return detail
	case detail == "":
		return subject
	}
	return subject + ": " + detail
}

// cursor returns the last event number recorded of a node in its current incarnation.
func (r *recorder) cursor(name string) uint64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	if c, ok := r.cursors[name]; ok && c.inc == r.t.Incarnation(name) {
		return c.seq
	}
	return 0
}

// pollStatus reads the job's status from the leader, through the first reachable node that answers.
func (r *recorder) pollStatus(ctx context.Context) {
	r.mu.Lock()
	job := r.job
	r.mu.Unlock()
	if job == "" {
		return
	}
	// The node that answered last is asked first: one that forwards to a frozen leader costs a timeout.
	names := r.t.Names()
	r.mu.Lock()
	if i := slices.Index(names, r.answered); i > 0 {
		names = append(names[i:], names[:i]...)
	}
	r.mu.Unlock()
	for _, name := range names {
		cl, ok := r.t.Client(name)
		if !ok {
			continue
		}
		start := time.Now()
		qctx, cancel := context.WithTimeout(ctx, time.Second)
		j, err := cl.Job(qctx, job, true)
		cancel()
		if err != nil {
			continue
		}
		now := time.Now()
		r.mu.Lock()
		since := r.lastRead
		r.status, r.statusOK, r.lastRead, r.answered = j, true, start, name
		var changed []api.Region
		for _, reg := range j.Regions {
			if reg.Committed != r.committed[reg.Index] {
				r.committed[reg.Index] = reg.Committed
				changed = append(changed, reg)
			}
		}
		r.mu.Unlock()
		for _, reg := range changed {
			r.h.Add(Entry{Time: now, Type: TypeCommitted, Job: job, Region: reg.Index, Epoch: reg.Committed, Gen: reg.Generation,
				Since: since, Detail: reg.State})
		}
		return
	}
}

// lastStatus returns the job's status as last read.
func (r *recorder) lastStatus() (api.Job, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.status, r.statusOK
}

// placed returns the node a PE of the job is placed on, as last read.
func (r *recorder) placed(pe string) string {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, p := range r.status.PEs {
		if p.ID == pe {
			return p.Node
		}
	}
	return ""
}

// nodesOfJob lists the nodes the job's PEs are placed on, as last read.
func (r *recorder) nodesOfJob() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []string
	seen := map[string]bool{}
	for _, p := range r.status.PEs {
		if !seen[p.Node] {
			seen[p.Node] = true
			out = append(out, p.Node)
		}
	}
	return out
}

// pollSink reads the counters of the exactly-once sink's PE on the node it is placed on, and records an
// observation when it consumed more in the same generation than when last read.
func (r *recorder) pollSink(ctx context.Context) {
	r.mu.Lock()
	job := r.job
	r.mu.Unlock()
	node := r.placed(r.sinkPE)
	if job == "" || node == "" {
		return
	}
	cl, ok := r.t.Client(node)
	if !ok {
		return
	}
	qctx, cancel := context.WithTimeout(ctx, time.Second)
	pes, err := cl.PEs(qctx)
	cancel()
	if err != nil {
		return
	}
	now := time.Now()
	for _, st := range pes.Stats[job] {
		if st.ID != r.sinkPE {
			continue
		}
		r.mu.Lock()
		prev := r.sink
		r.sink = sinkSeen{node: node, gen: st.Gen, consumed: st.Consumed}
		r.mu.Unlock()
		if prev.node == node && prev.gen == st.Gen && st.Consumed > prev.consumed {
			r.h.Add(Entry{Time: now, Type: TypeOutput, Node: node, Job: job, Gen: st.Gen, Consumed: st.Consumed})
		}
		return
	}
}
