package standalone

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/weirstream/weir/executor"
	"github.com/weirstream/weir/internal/testutil"
	"github.com/weirstream/weir/operator"
	"github.com/weirstream/weir/region"
	"github.com/weirstream/weir/topology"
)

// ---- waiting ------------------------------------------------------------------------------------------------

var waitFor = testutil.Waiter(time.Millisecond)

// start builds topo's plan and starts it with o (Plan, Binding and Logger filled in).
func start(t testing.TB, topo *topology.Topology, o Options) *Job {
	t.Helper()
	plan, err := topo.Plan()
	if err != nil {
		t.Fatal(err)
	}
	o.Plan, o.Binding = plan, topo
	if o.Logger == nil {
		if tt, ok := t.(*testing.T); ok {
			o.Logger = testLogger(tt)
		}
	}
	j, err := Start(o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(j.Stop) // a test that fails half-way leaves no goroutine behind
	return j
}

// wait waits for j with a deadline; on a timeout it logs where the job stands.
func wait(t testing.TB, j *Job, d time.Duration) error {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	err := j.Wait(ctx)
	if errors.Is(err, context.DeadlineExceeded) {
		t.Logf("job timed out; regions %+v", j.Regions())
		for _, s := range j.Stats() {
			t.Logf("  %+v", s)
		}
	}
	return err
}

// run starts topo, waits for it and returns the job and its error.
func run(t testing.TB, topo *topology.Topology, o Options, d time.Duration) (*Job, error) {
	t.Helper()
	j := start(t, topo, o)
	return j, wait(t, j, d)
}

func mustRun(t testing.TB, topo *topology.Topology, o Options, d time.Duration) *Job {
	t.Helper()
	j, err := run(t, topo, o, d)
	if err != nil {
		t.Fatalf("job failed: %v", err)
	}
	return j
}

func totalDropped(stats []executor.PEStats) (n uint64) {
	for _, s := range stats {
		n += s.Dropped
	}
	return n
}

// ---- fault injection ----------------------------------------------------------------------------------------

// Point is where an operator consults the fault plan.
type Point string

const (
	AtOpen       Point = "open"
	AtNext       Point = "next"    // a source producing a tuple
	AtProcess    Point = "process" // a transform or sink taking a tuple
	AtDrain      Point = "drain"
	AtCheckpoint Point = "checkpoint"
	AtReset      Point = "reset"   // Reset or ResetToInitialState, after the state was restored
	AtPublish    Point = "publish" // RegionCheckpointed
)

// Action is what a rule does when it fires.
type Action int

const (
	Fail Action = iota
	Panic
	Block // wait until Faults.Release
	Delay // pause 20ms, then go on
)

// AnyGen matches every generation.
const AnyGen = -1

// Rule fires at the Nth call of At in operator Op ("" any) made in generation Gen (the number of resets its
// instance has seen; AnyGen for every one). It fires Times times (0: once; -1: every matching call from the
// Nth on). Calls are counted over all instances of the operator.
type Rule struct {
	Op    string
	At    Point
	Nth   int
	Gen   int
	Times int
	Do    Action

	calls, fired int
}

// Faults is a fault plan shared by the test operators of a job, safe for concurrent use.
type Faults struct {
	mu      sync.Mutex
	rules   []*Rule
	hits    []string
	blocked int
	release chan struct{}
}

func newFaults(rules ...Rule) *Faults {
	f := &Faults{release: make(chan struct{})}
	f.Add(rules...)
	return f
}

// Add adds rules.
func (f *Faults) Add(rules ...Rule) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, r := range rules {
		r := r
		if r.Nth < 1 {
			r.Nth = 1
		}
		f.rules = append(f.rules, &r)
	}
}

// Clear removes every rule (the operators stop failing).
func (f *Faults) Clear() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.rules = nil
}

// Release lets every blocked call, and every later Block, go on.
func (f *Faults) Release() {
	f.mu.Lock()
	defer f.mu.Unlock()
	select {
	case <-f.release:
	default:
		close(f.release)
	}
}

// Blocked is the number of calls blocked so far.
func (f *Faults) Blocked() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.blocked
}

// Hits lists the faults that fired.
func (f *Faults) Hits() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.hits)
}

func (f *Faults) check(op string, gen int, at Point) error {
	if f == nil {
		return nil
	}
	f.mu.Lock()
	var hit *Rule
	for _, r := range f.rules {
		if (r.Op != "" && r.Op != op) || r.At != at || (r.Gen != AnyGen && r.Gen != gen) {
			continue
		}
		r.calls++
		if r.calls < r.Nth || (r.Times >= 0 && r.fired >= max(r.Times, 1)) {
			continue
		}
		r.fired++
		hit = r
		break
	}
	if hit == nil {
		f.mu.Unlock()
		return nil
	}
	what := fmt.Sprintf("%s at %s, call %d, generation %d", op, at, hit.calls, gen)
	f.hits = append(f.hits, what)
	switch hit.Do {
	case Block:
		f.blocked++
		release := f.release
		f.mu.Unlock()
		<-release
		return nil
	case Panic:
		f.mu.Unlock()
		panic("injected panic: " + what)
	case Delay:
		f.mu.Unlock()
		time.Sleep(20 * time.Millisecond)
		return nil
	}
	f.mu.Unlock()
	return fmt.Errorf("injected failure: %s", what)
}

// probe is embedded by test operators: it consults the fault plan and counts the resets its instance saw
// (its generation). Its fields are unexported, so they are not state.
type probe struct {
	f    *Faults
	op   string
	inst string
	gen  int
}

func (p *probe) Open(ctx operator.Context) error {
	p.op, p.inst = ctx.Info().Operator, ctx.Info().Instance
	return p.f.check(p.op, p.gen, AtOpen)
}

func (p *probe) hit(at Point) error { return p.f.check(p.op, p.gen, at) }

func (p *probe) Drain() error                  { return p.hit(AtDrain) }
func (p *probe) Checkpoint(epoch uint64) error { return p.hit(AtCheckpoint) }

func (p *probe) Reset(epoch uint64) error {
	p.gen++
	return p.hit(AtReset)
}

func (p *probe) ResetToInitialState() error {
	p.gen++
	return p.hit(AtReset)
}

// ---- test operators -----------------------------------------------------------------------------------------

// rec is the tuple of the recovery tests: a value and the generation of the source instance that emitted it.
type rec struct {
	V int
	G int
}

// recSrc emits V = 0 … N-1; its position is its state. With Pace > 0 it pauses a millisecond every Pace
// tuples, so that a job lasts long enough for several epochs.
type recSrc struct {
	N, Pos, Pace int
	probe
}

func (s *recSrc) Next() (rec, bool, error) {
	if s.Pos >= s.N {
		return rec{}, false, nil
	}
	if err := s.hit(AtNext); err != nil {
		return rec{}, false, err
	}
	if s.Pace > 0 && s.Pos%s.Pace == 0 {
		time.Sleep(time.Millisecond)
	}
	r := rec{V: s.Pos, G: s.gen}
	s.Pos++
	return r, true, nil
}

// recGen emits V = 0 … N-1 from Workers goroutines under explicit permits; Next is its state.
type recGen struct {
	N, Next int
	Workers int
	Pace    int
	probe
	mu *sync.Mutex
}

func (g *recGen) Open(ctx operator.Context) error {
	g.mu = new(sync.Mutex)
	return g.probe.Open(ctx)
}

func (g *recGen) Run(ctx operator.SourceContext[rec]) error {
	var wg sync.WaitGroup
	var failed error // under g.mu: the first failure stops every worker
	for range g.Workers {
		wg.Go(func() {
			for {
				if err := ctx.Acquire(); err != nil {
					return
				}
				g.mu.Lock()
				if g.Next >= g.N || failed != nil {
					g.mu.Unlock()
					ctx.Release()
					return
				}
				if err := g.safeHit(); err != nil {
					failed = err
					g.mu.Unlock()
					ctx.Release()
					return
				}
				if g.Pace > 0 && g.Next%g.Pace == 0 {
					time.Sleep(time.Millisecond)
				}
				err := ctx.Emit(rec{V: g.Next, G: g.gen})
				g.Next++
				g.mu.Unlock()
				ctx.Release()
				if err != nil {
					return
				}
			}
		})
	}
	wg.Wait()
	return failed
}

// safeHit consults the fault plan, turning a panic into an error: a panic on a goroutine of the generator's own
// would crash the process, whatever the runtime does.
func (g *recGen) safeHit() (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("panic: %v", r)
		}
	}()
	return g.hit(AtNext)
}

// passMap passes tuples on, counting them (its state).
type passMap struct {
	Count int
	probe
}

func (m *passMap) Map(r rec) (rec, error) {
	if err := m.hit(AtProcess); err != nil {
		return rec{}, err
	}
	m.Count++
	return r, nil
}

// slowMap passes tuples on after a pause per tuple.
type slowMap struct {
	Count int
	Pause time.Duration
	probe
}

func (m *slowMap) Map(r rec) (rec, error) {
	if err := m.hit(AtProcess); err != nil {
		return rec{}, err
	}
	m.Count++
	time.Sleep(m.Pause)
	return r, nil
}

// sinkState is what verifySink keeps: for each key (V mod K) the next value it expects, the count and the sum;
// unordered, a bitmap of the values seen instead.
type sinkState struct {
	Next  []int
	Seen  []uint64
	Count int
	Sum   int
}

func (s sinkState) clone() sinkState {
	s.Next = slices.Clone(s.Next)
	s.Seen = slices.Clone(s.Seen)
	return s
}

// verifySink checks, tuple by tuple, that each key's values arrive in order without gap or duplicate and that
// every tuple comes from the sink's own generation; it stages its state at each checkpoint and publishes the
// staged state when the region commits the epoch (a transactional sink), so the test sees the committed
// state.
type verifySink struct {
	K  int
	St sinkState
	// AnyGen skips the generation check (tuples that an operator kept in its state carry the generation
	// that first emitted them).
	AnyGen bool
	// Pause pauses a millisecond every Pause tuples.
	Pause int
	// Unordered checks only that no value comes twice (routings that do not keep an order).
	Unordered bool
	probe
	v      *verdict
	staged map[uint64]sinkState
}

func newVerifySink(k int, f *Faults, v *verdict) *verifySink {
	next := make([]int, k)
	for i := range next {
		next[i] = i
	}
	return &verifySink{K: k, St: sinkState{Next: next}, probe: probe{f: f}, v: v}
}

func (s *verifySink) Open(ctx operator.Context) error {
	s.staged = map[uint64]sinkState{}
	return s.probe.Open(ctx)
}

func (s *verifySink) Consume(r rec) error {
	if err := s.hit(AtProcess); err != nil {
		return err
	}
	if s.Unordered {
		w, bit := r.V/64, uint64(1)<<(r.V%64)
		for len(s.St.Seen) <= w {
			s.St.Seen = append(s.St.Seen, 0)
		}
		if s.St.Seen[w]&bit != 0 {
			s.v.violation("%s (generation %d): %d twice", s.inst, s.gen, r.V)
		}
		s.St.Seen[w] |= bit
		s.St.Count++
		s.St.Sum += r.V
		return nil
	}
	k := r.V % s.K
	if r.V != s.St.Next[k] {
		s.v.violation("%s (generation %d): key %d expected %d, got %d", s.inst, s.gen, k, s.St.Next[k], r.V)
	}
	if s.Pause > 0 && s.St.Count%s.Pause == 0 {
		time.Sleep(time.Millisecond)
	}
	if r.G != s.gen && !s.AnyGen {
		s.v.violation("%s (generation %d): got %d from generation %d", s.inst, s.gen, r.V, r.G)
	}
	s.St.Next[k] = r.V + s.K
	s.St.Count++
	s.St.Sum += r.V
	return nil
}

func (s *verifySink) Checkpoint(epoch uint64) error {
	if err := s.probe.Checkpoint(epoch); err != nil {
		return err
	}
	s.staged[epoch] = s.St.clone()
	return nil
}

func (s *verifySink) RegionCheckpointed(epoch uint64) error {
	if err := s.hit(AtPublish); err != nil {
		return err
	}
	st, ok := s.staged[epoch]
	if !ok {
		s.v.violation("%s: epoch %d committed but never staged here", s.inst, epoch)
		return nil
	}
	for e := range s.staged {
		if e <= epoch {
			delete(s.staged, e)
		}
	}
	s.v.commit(s.inst, epoch, st)
	return nil
}

func (s *verifySink) Reset(epoch uint64) error {
	clear(s.staged)
	return s.probe.Reset(epoch)
}

func (s *verifySink) ResetToInitialState() error {
	clear(s.staged)
	return s.probe.ResetToInitialState()
}

// verdict collects what verifySinks saw and committed.
type verdict struct {
	mu         sync.Mutex
	violations []string
	nviol      int
	committed  map[string]sinkState
	epochs     map[string]uint64
}

func newVerdict() *verdict {
	return &verdict{committed: map[string]sinkState{}, epochs: map[string]uint64{}}
}

func (v *verdict) violation(format string, args ...any) {
	v.mu.Lock()
	defer v.mu.Unlock()
	v.nviol++
	if len(v.violations) < 20 {
		v.violations = append(v.violations, fmt.Sprintf(format, args...))
	}
}

func (v *verdict) commit(inst string, epoch uint64, st sinkState) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if epoch <= v.epochs[inst] {
		v.nviol++
		v.violations = append(v.violations, fmt.Sprintf("%s: epoch %d published after epoch %d", inst, epoch, v.epochs[inst]))
		return
	}
	v.epochs[inst] = epoch
	v.committed[inst] = st
}

// check verifies that the committed state of sink instance inst holds each of the values 0 … n-1 exactly once,
// in order per key, and that no tuple was ever seen out of order or from another generation.
func (v *verdict) check(t testing.TB, inst string, n, k int) {
	t.Helper()
	want := make([]int, n)
	for i := range want {
		want[i] = i
	}
	v.checkValues(t, inst, want, k)
}

// checkValues is check for any set of distinct values, each key's values arriving in increasing order.
func (v *verdict) checkValues(t testing.TB, inst string, values []int, k int) {
	t.Helper()
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.nviol > 0 {
		t.Fatalf("%d violations, first ones:\n%s", v.nviol, joinLines(v.violations))
	}
	st, ok := v.committed[inst]
	if !ok {
		t.Fatalf("sink %s committed nothing (committed: %v)", inst, v.epochs)
	}
	sum := 0
	next := make([]int, k)
	for i := range next {
		next[i] = i
	}
	for _, x := range values {
		sum += x
		next[x%k] = max(next[x%k], x+k)
	}
	if st.Count != len(values) || st.Sum != sum {
		t.Fatalf("sink %s committed %d tuples summing to %d at epoch %d, want %d summing to %d",
			inst, st.Count, st.Sum, v.epochs[inst], len(values), sum)
	}
	if st.Seen != nil {
		for _, x := range values {
			if w := x / 64; w >= len(st.Seen) || st.Seen[w]&(1<<(x%64)) == 0 {
				t.Fatalf("sink %s: value %d missing from the committed state", inst, x)
			}
		}
		return
	}
	for key := range k {
		if st.Next[key] != next[key] {
			t.Fatalf("sink %s: key %d committed up to %d, want %d", inst, key, st.Next[key]-k, next[key]-k)
		}
	}
}

func joinLines(ss []string) string {
	out := ""
	for _, s := range ss {
		out += "  " + s + "\n"
	}
	return out
}

// regionState returns region r's state.
func regionState(j *Job, r int) region.State { return j.Regions()[r].State }
