package executor

import (
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"

	"github.com/weirstream/weir/checkpoint"
	"github.com/weirstream/weir/flow"
	"github.com/weirstream/weir/operator"
	"github.com/weirstream/weir/region"
	"github.com/weirstream/weir/topology"
)

// Reporter receives what PEs report. Its methods must return quickly; they are called from PE goroutines.
type Reporter interface {
	// Drained: PE pe of region drained and checkpointed epoch in generation gen; ref locates the checkpoint.
	Drained(region int, pe string, epoch, gen uint64, ref string)
	// Exhausted: start PE pe's source has nothing more to emit in generation gen.
	Exhausted(region int, pe string, gen uint64)
	// ResetDone: PE pe reset into generation gen.
	ResetDone(region int, pe string, gen uint64)
	// Failed: PE pe of region failed in generation gen; the region must reset.
	Failed(region int, pe string, gen uint64, err error)
	// Trigger: an operator asked its operator-driven region for an epoch.
	Trigger(region int)
	// Finished: PE pe ended normally (end of stream, or its region's final epoch committed).
	Finished(pe string)
	// Crashed: PE pe failed in a way no reset repairs — outside any consistent region (nothing can replay its
	// input), while opening its operators, or at the final epoch of its region: the job fails.
	Crashed(pe string, err error)
}

// Remote carries the links that cross nodes (nil when every PE runs here).
type Remote interface {
	// Outgoing returns the sending side (a flow.Link[T] for t) of link l, whose reader runs elsewhere.
	// fail records a failure of the sending PE (a tuple its codec cannot encode); call it only from the
	// link's Send.
	Outgoing(l *region.Link, t flow.Type, fail func(error)) (any, error)
	// Incoming returns the local edge, of tuple type t, from which the reader of link l (its writer runs
	// elsewhere) reads. The remote side owns it: it may be shared with a writer in another executor of the
	// same node, or fed by a network stream.
	Incoming(l *region.Link, t flow.Type) (flow.AnyEdge, error)
}

// Options configure an executor.
type Options struct {
	// Job is the job's ID (it keys checkpoints).
	Job      string
	Physical *region.Physical
	Binding  topology.Binding
	// Run lists the PEs to run here, by index; nil runs them all.
	Run      []int
	Remote   Remote
	Store    checkpoint.Store
	Reporter Reporter
	// BatchSize is the number of tuples per batch between PEs (default 256); Credits the number of batches
	// an edge holds (default 8).
	BatchSize, Credits int
	// Generations are the regions' starting generations (default 0).
	Generations map[int]uint64
	// AwaitReset parks the PEs of consistent regions until their first Reset (PEs placed to recover).
	AwaitReset bool
	Logger     *slog.Logger
}

// Executor runs PEs.
type Executor struct {
	o    Options
	ph   *region.Physical
	log  *slog.Logger
	pes  []*pe // by PE index; nil when not run here
	run  []*pe
	done chan struct{}
	stop sync.Once

	metricsMu sync.Mutex
	metrics   map[string]*operator.Metric // "instance/name"
}

func (x *Executor) metric(instance, name, description string) *operator.Metric {
	x.metricsMu.Lock()
	defer x.metricsMu.Unlock()
	if x.metrics == nil {
		x.metrics = make(map[string]*operator.Metric)
	}
	k := instance + "/" + name
	m, ok := x.metrics[k]
	if !ok {
		m = &operator.Metric{Name: name, Description: description}
		x.metrics[k] = m
	}
	return m
}

// Metrics returns the operators' custom metrics by "instance/name".
func (x *Executor) Metrics() map[string]int64 {
	x.metricsMu.Lock()
	defer x.metricsMu.Unlock()
	out := make(map[string]int64, len(x.metrics))
	for k, m := range x.metrics {
		out[k] = m.Value()
	}
	return out
}

// New binds and wires the PEs to run. A plan naming code this binary lacks is refused here.
func New(o Options) (*Executor, error) {
	if o.Physical == nil || o.Binding == nil || o.Reporter == nil {
		return nil, errors.New("executor: Physical, Binding and Reporter are required")
	}
	if o.Store == nil {
		o.Store = checkpoint.NewMemStore()
	}
	if o.BatchSize <= 0 {
		o.BatchSize = 256
	}
	if o.Credits <= 0 {
		o.Credits = 8
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	x := &Executor{o: o, ph: o.Physical, log: o.Logger, pes: make([]*pe, len(o.Physical.PEs)), done: make(chan struct{})}
	run := o.Run
	if run == nil {
		for i := range x.ph.PEs {
			run = append(run, i)
		}
	}
	w, err := newWiring(x)
	if err != nil {
		return nil, err
	}
	for _, i := range run {
		if i < 0 || i >= len(x.ph.PEs) {
			return nil, fmt.Errorf("executor: no PE %d", i)
		}
		p, err := w.build(i)
		if err != nil {
			return nil, fmt.Errorf("job %s: PE %s: %w", o.Job, x.ph.PEs[i].ID, err)
		}
		x.pes[i] = p
		x.run = append(x.run, p)
	}
	return x, nil
}

// Start starts every PE.
func (x *Executor) Start() {
	for _, p := range x.run {
		p.start()
	}
	go func() {
		for _, p := range x.run {
			<-p.done
		}
		close(x.done)
	}()
}

// Done is closed when every PE has ended.
func (x *Executor) Done() <-chan struct{} { return x.done }

// Stop stops every PE and waits for them.
func (x *Executor) Stop() {
	x.stop.Do(func() {
		for _, p := range x.run {
			p.post(msg{kind: mStop})
		}
	})
	<-x.done
}

// regionPEs returns the PEs of region r that run here.
func (x *Executor) regionPEs(r int, startsOnly bool) []*pe {
	var out []*pe
	for _, p := range x.run {
		if p.region == r && (!startsOnly || p.isStart) {
			out = append(out, p)
		}
	}
	return out
}

// Drain asks region r's start PEs here to drain and checkpoint epoch in generation gen.
func (x *Executor) Drain(r int, epoch, gen uint64, final bool) {
	for _, p := range x.regionPEs(r, true) {
		p.post(msg{kind: mDrain, epoch: epoch, gen: gen, final: final})
	}
}

// Reset asks region r's PEs here to reset to epoch (0: initial state) in generation gen.
func (x *Executor) Reset(r int, gen, epoch uint64) {
	for _, p := range x.regionPEs(r, false) {
		p.post(msg{kind: mReset, epoch: epoch, gen: gen})
	}
}

// Resume lets region r's PEs here process again in generation gen.
func (x *Executor) Resume(r int, gen uint64) {
	for _, p := range x.regionPEs(r, false) {
		p.post(msg{kind: mResume, gen: gen})
	}
}

// Committed announces that region r committed epoch (final: the region is finished).
func (x *Executor) Committed(r int, gen, epoch uint64, final bool) {
	for _, p := range x.regionPEs(r, false) {
		p.post(msg{kind: mCommitted, epoch: epoch, gen: gen, final: final})
	}
}

// PEStats describes one PE.
type PEStats struct {
	ID     string `json:"id"`
	Region int    `json:"region"`
	// In counts tuples delivered from other PEs; Out tuples sent to other PEs; Dropped tuples of an older
	// generation dropped on arrival.
	In      uint64 `json:"in"`
	Out     uint64 `json:"out"`
	Dropped uint64 `json:"dropped"`
	// Emitted counts tuples its sources emitted; Consumed tuples its sinks took.
	Emitted  uint64 `json:"emitted"`
	Consumed uint64 `json:"consumed"`
	Gen      uint64 `json:"generation"`
}

// Stats returns counters of every PE run here.
func (x *Executor) Stats() []PEStats {
	out := make([]PEStats, 0, len(x.run))
	for _, p := range x.run {
		out = append(out, p.stats())
	}
	slices.SortFunc(out, func(a, b PEStats) int {
		if a.ID < b.ID {
			return -1
		}
		if a.ID > b.ID {
			return 1
		}
		return 0
	})
	return out
}
