package region

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/weirstream/weir/topology"
)

// tb is what the helpers need of *testing.T and *rapid.T.
type tb interface {
	Helper()
	Fatalf(format string, args ...any)
}

// fakeClock is a manual clock: timers fire only when a test advances it, in the order of their due times.
// It remembers every timer it armed, so a test can also fire one that was stopped (or had fired) as if it had
// raced with its Stop: the coordinator must recognise such a late event.
type fakeClock struct {
	mu     sync.Mutex
	now    time.Time
	seq    int
	armed  []*fakeTimer
	spent  []*fakeTimer // stopped or fired
	epoch0 time.Time
}

type fakeTimer struct {
	at  time.Time
	seq int
	f   func()
}

func newFakeClock() *fakeClock {
	t0 := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	return &fakeClock{now: t0, epoch0: t0}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// Elapsed is the time since the clock started.
func (c *fakeClock) Elapsed() time.Duration { return c.Now().Sub(c.epoch0) }

func (c *fakeClock) AfterFunc(d time.Duration, f func()) func() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.seq++
	t := &fakeTimer{at: c.now.Add(d), seq: c.seq, f: f}
	c.armed = append(c.armed, t)
	return func() bool {
		c.mu.Lock()
		defer c.mu.Unlock()
		i := slices.Index(c.armed, t)
		if i < 0 {
			return false
		}
		c.armed = slices.Delete(c.armed, i, i+1)
		c.spent = append(c.spent, t)
		return true
	}
}

// Advance moves the clock on by d and fires, in order, every timer then due.
func (c *fakeClock) Advance(d time.Duration) int {
	c.mu.Lock()
	c.now = c.now.Add(d)
	var due []*fakeTimer
	c.armed = slices.DeleteFunc(c.armed, func(t *fakeTimer) bool {
		if t.at.After(c.now) {
			return false
		}
		due = append(due, t)
		return true
	})
	sort.Slice(due, func(i, j int) bool {
		if !due[i].at.Equal(due[j].at) {
			return due[i].at.Before(due[j].at)
		}
		return due[i].seq < due[j].seq
	})
	c.spent = append(c.spent, due...)
	c.mu.Unlock()
	for _, t := range due {
		t.f()
	}
	return len(due)
}

// Pending returns the delays until each armed timer is due, soonest first.
func (c *fakeClock) Pending() []time.Duration {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []time.Duration
	for _, t := range c.armed {
		out = append(out, t.at.Sub(c.now))
	}
	slices.Sort(out)
	return out
}

// Spent returns the timers that were stopped or fired, oldest first.
func (c *fakeClock) Spent() []*fakeTimer {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.spent)
}

// Command kinds in a recorder's journal.
const (
	kDrain     = "drain"
	kReset     = "reset"
	kResume    = "resume"
	kCommitted = "committed"
	kCommit    = "ledger.commit"
	kNewGen    = "ledger.new_generation"
)

// cmd is one call a coordinator made to its Actuator or Ledger.
type cmd struct {
	Kind  string
	Epoch uint64
	Gen   uint64
	Final bool
	Refs  map[string]string
	// Failed marks a Ledger call that returned an error.
	Failed bool
}

func (c cmd) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s(e%d g%d", c.Kind, c.Epoch, c.Gen)
	if c.Final {
		b.WriteString(" final")
	}
	if c.Refs != nil {
		fmt.Fprintf(&b, " refs=%v", c.Refs)
	}
	if c.Failed {
		b.WriteString(" FAILED")
	}
	b.WriteString(")")
	return b.String()
}

func (c cmd) equal(o cmd) bool {
	return c.Kind == o.Kind && c.Epoch == o.Epoch && c.Gen == o.Gen && c.Final == o.Final && c.Failed == o.Failed &&
		maps.Equal(c.Refs, o.Refs)
}

var errLedger = errors.New("ledger unavailable")

// recorder is a fake Actuator and Ledger: it journals every call, in order, in one list (so a test can see
// that a generation was recorded before the reset that uses it), and its ledger fails on demand.
type recorder struct {
	mu             sync.Mutex
	log            []cmd
	failCommits    int // the next n Commit calls fail
	failNewGens    int // the next n NewGeneration calls fail
	commitFailsAll bool
	newGenFailsAll bool
	// begun records Begin calls (epoch -> generation) outside the journal; drainUnbegun counts drains of
	// epochs that were not begun first; failBegins makes the next n Begin calls fail.
	begun        map[uint64]uint64
	drainUnbegun int
	failBegins   int
	// onDrain, when set, is called (outside the lock) after a Drain is journaled.
	onDrain func(epoch, gen uint64, final bool)
	onReset func(gen, epoch uint64)
}

func (r *recorder) add(c cmd) {
	r.mu.Lock()
	r.log = append(r.log, c)
	r.mu.Unlock()
}

func (r *recorder) Begin(epoch, gen uint64) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.failBegins > 0 {
		r.failBegins--
		return errLedger
	}
	if r.begun == nil {
		r.begun = map[uint64]uint64{}
	}
	r.begun[epoch] = gen
	return nil
}

func (r *recorder) Drain(epoch, gen uint64, final bool) {
	r.add(cmd{Kind: kDrain, Epoch: epoch, Gen: gen, Final: final})
	r.mu.Lock()
	if g, ok := r.begun[epoch]; !ok || g != gen {
		r.drainUnbegun++
	}
	f := r.onDrain
	r.mu.Unlock()
	if f != nil {
		f(epoch, gen, final)
	}
}

func (r *recorder) Reset(gen, epoch uint64) {
	r.add(cmd{Kind: kReset, Epoch: epoch, Gen: gen})
	r.mu.Lock()
	f := r.onReset
	r.mu.Unlock()
	if f != nil {
		f(gen, epoch)
	}
}

func (r *recorder) Resume(gen uint64) { r.add(cmd{Kind: kResume, Gen: gen}) }

func (r *recorder) Committed(gen, epoch uint64, final bool) {
	r.add(cmd{Kind: kCommitted, Epoch: epoch, Gen: gen, Final: final})
}

func (r *recorder) Commit(epoch, gen uint64, refs map[string]string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	c := cmd{Kind: kCommit, Epoch: epoch, Gen: gen, Refs: maps.Clone(refs)}
	if c.Refs == nil {
		c.Refs = map[string]string{}
	}
	var err error
	if r.commitFailsAll || r.failCommits > 0 {
		if r.failCommits > 0 {
			r.failCommits--
		}
		c.Failed, err = true, errLedger
	}
	r.log = append(r.log, c)
	return err
}

func (r *recorder) NewGeneration(gen uint64, attempts int, reason string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	c := cmd{Kind: kNewGen, Gen: gen}
	var err error
	if r.newGenFailsAll || r.failNewGens > 0 {
		if r.failNewGens > 0 {
			r.failNewGens--
		}
		c.Failed, err = true, errLedger
	}
	r.log = append(r.log, c)
	return err
}

func (r *recorder) setFailCommits(n int) {
	r.mu.Lock()
	r.failCommits = n
	r.mu.Unlock()
}

// failAll makes every Commit and NewGeneration fail, or none.
func (r *recorder) failAll(commits, newGens bool) {
	r.mu.Lock()
	r.commitFailsAll, r.newGenFailsAll = commits, newGens
	r.mu.Unlock()
}

func (r *recorder) setFailNewGens(n int) {
	r.mu.Lock()
	r.failNewGens = n
	r.mu.Unlock()
}

// cmds returns a copy of the journal.
func (r *recorder) cmds() []cmd {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.log)
}

// of returns the journaled calls of the given kinds.
func (r *recorder) of(kinds ...string) []cmd {
	var out []cmd
	for _, c := range r.cmds() {
		if slices.Contains(kinds, c.Kind) {
			out = append(out, c)
		}
	}
	return out
}

func (r *recorder) count(kind string) int { return len(r.of(kind)) }

// last returns the last journaled call of kind.
func (r *recorder) last(kind string) (cmd, bool) {
	cs := r.of(kind)
	if len(cs) == 0 {
		return cmd{}, false
	}
	return cs[len(cs)-1], true
}

// harness runs a coordinator on a fake clock with a recorder for actuator and ledger.
type harness struct {
	t    tb
	clk  *fakeClock
	rec  *recorder
	c    *Coordinator
	o    Options
	hold atomic.Bool

	mu      sync.Mutex
	changes []Status
}

// Default region of the harness: two sources feeding a sink.
var (
	defaultPEs    = []string{"src_a", "src_b", "sink"}
	defaultStarts = []string{"src_a", "src_b"}
)

const testPeriod = 10 * time.Second

// newHarness starts a coordinator. The config defaults to periodic every testPeriod with short limits; PEs
// and Starts default to defaultPEs and defaultStarts. mod adjusts the options before the start.
func newHarness(t tb, mod func(*Options)) *harness {
	t.Helper()
	h := &harness{t: t, clk: newFakeClock(), rec: &recorder{}}
	h.o = Options{
		Region: 3,
		Config: topology.Consistent{
			Starts: []string{"src_a", "src_b"}, Trigger: topology.TriggerPeriodic, Period: testPeriod,
			DrainTimeout: 5 * time.Second, ResetTimeout: 7 * time.Second, MaxConsecutiveAttempts: 3,
		},
		PEs:    slices.Clone(defaultPEs),
		Starts: slices.Clone(defaultStarts),
		OnChange: func(s Status) {
			h.mu.Lock()
			h.changes = append(h.changes, s)
			h.mu.Unlock()
		},
	}
	if mod != nil {
		mod(&h.o)
	}
	h.o.Actuator, h.o.Ledger, h.o.clock = h.rec, h.rec, h.clk
	h.c = Start(h.o)
	h.sync()
	return h
}

// stop stops the coordinator (idempotent).
func (h *harness) stop() { h.c.Stop() }

// sync waits until the coordinator handled everything posted so far.
func (h *harness) sync() {
	h.t.Helper()
	if !h.c.sync() {
		h.t.Fatalf("coordinator stopped")
	}
}

// advance moves the clock on and waits until the coordinator handled the timers that fired.
func (h *harness) advance(d time.Duration) {
	h.t.Helper()
	h.sync() // first let the coordinator arm the timers of what was posted before
	h.clk.Advance(d)
	h.sync()
}

func (h *harness) status() Status { return h.c.Status() }

func (h *harness) statusChanges() []Status {
	h.mu.Lock()
	defer h.mu.Unlock()
	return slices.Clone(h.changes)
}

func ref(pe string, epoch, gen uint64) string { return fmt.Sprintf("%s@e%d.g%d", pe, epoch, gen) }

// drainAll reports every PE drained for epoch in gen, and returns the refs it reported.
func (h *harness) drainAll(epoch, gen uint64) map[string]string {
	h.t.Helper()
	refs := map[string]string{}
	for _, pe := range h.o.PEs {
		h.c.Drained(pe, epoch, gen, ref(pe, epoch, gen))
		refs[pe] = ref(pe, epoch, gen)
	}
	h.sync()
	return refs
}

// resetAll reports every PE reset into gen.
func (h *harness) resetAll(gen uint64) {
	h.t.Helper()
	for _, pe := range h.o.PEs {
		h.c.ResetDone(pe, gen)
	}
	h.sync()
}

// exhaustAll reports every start PE exhausted in gen.
func (h *harness) exhaustAll(gen uint64) {
	h.t.Helper()
	for _, pe := range h.o.Starts {
		h.c.Exhausted(pe, gen)
	}
	h.sync()
}

// expectState fails unless the coordinator is in state s.
func (h *harness) expectState(s State) Status {
	h.t.Helper()
	st := h.status()
	if st.State != s {
		h.t.Fatalf("state %s, want %s (status %+v)\njournal: %v", st.State, s, st, h.rec.cmds())
	}
	return st
}

// expectDrain fails unless the last command journaled is a Drain of epoch in gen (final as given).
func (h *harness) expectDrain(epoch, gen uint64, final bool) {
	h.t.Helper()
	d, ok := h.rec.last(kDrain)
	if !ok || d.Epoch != epoch || d.Gen != gen || d.Final != final {
		h.t.Fatalf("last drain %v (ok %v), want drain(e%d g%d final=%v)\njournal: %v", d, ok, epoch, gen, final, h.rec.cmds())
	}
	st := h.expectState(Draining)
	if st.Epoch != epoch || st.Generation != gen || st.Final != final {
		h.t.Fatalf("draining status %+v, want epoch %d gen %d final %v", st, epoch, gen, final)
	}
}

// runEpoch waits out the period, drains, and commits one epoch; it returns the epoch.
func (h *harness) runEpoch() uint64 {
	h.t.Helper()
	st := h.expectState(Processing)
	drains := h.rec.count(kDrain)
	if p := h.clk.Pending(); len(p) != 1 {
		h.t.Fatalf("want exactly one armed trigger, have %v", p)
	} else {
		h.advance(p[0])
	}
	if h.rec.count(kDrain) != drains+1 {
		h.t.Fatalf("no drain after the period; journal: %v", h.rec.cmds())
	}
	d, _ := h.rec.last(kDrain)
	h.drainAll(d.Epoch, st.Generation)
	h.expectState(Processing)
	return d.Epoch
}
