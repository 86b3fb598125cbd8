package region

import (
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/weirstream/weir/topology"
)

// Actuator carries a coordinator's commands to the PEs of its region. Its methods must return quickly: they
// deliver or enqueue, and PEs answer through the coordinator's report methods (Drained, ResetDone, ...).
type Actuator interface {
	// Drain asks the region's start PEs to drain and checkpoint epoch in generation gen. final says that the
	// sources are exhausted: the epoch ends the stream.
	Drain(epoch, gen uint64, final bool)
	// Reset asks every PE of the region to go back to epoch (0: the initial state) and adopt generation gen,
	// dropping whatever an older generation sent. Sources then wait for Resume.
	Reset(gen, epoch uint64)
	// Resume lets the PEs of generation gen process again: sources replay from the reset epoch.
	Resume(gen uint64)
	// Committed announces that epoch committed: PEs retire older checkpoints and transactional sinks
	// publish. final: the region is finished and its PEs may close.
	Committed(gen, epoch uint64, final bool)
}

// Ledger makes a region's decisions durable before they take effect (in a cluster: through Raft).
type Ledger interface {
	// Commit records that epoch is complete, with each PE's checkpoint reference. The epoch is committed
	// only once Commit returns nil.
	Commit(epoch, gen uint64, refs map[string]string) error
	// NewGeneration records generation gen before a reset uses it, with the attempt it makes and why.
	NewGeneration(gen uint64, attempts int, reason string) error
	// Begin records that epoch starts in generation gen, before any PE is asked to drain it: a coordinator
	// that takes over starts above every epoch ever begun, so markers of an abandoned epoch can never be
	// mistaken for its own.
	Begin(epoch, gen uint64) error
}

// Options configure a coordinator.
type Options struct {
	Region int
	Config topology.Consistent
	// PEs are the IDs of every PE of the region; Starts those of its start operators.
	PEs, Starts []string
	Actuator    Actuator
	Ledger      Ledger
	// Committed and Generation are where the region stands (a coordinator taking over continues from the
	// ledger); NextEpoch is the first epoch to start (default Committed+1).
	Committed, Generation, NextEpoch uint64
	// ResetFirst starts with a reset to Committed instead of processing.
	ResetFirst bool
	// Announce starts by announcing Committed to the PEs again (a coordinator taking over: the previous one
	// may have committed an epoch without announcing it, and transactional sinks publish on the
	// announcement). PEs treat announcements idempotently.
	Announce bool
	// HoldFinal, when it returns true, keeps the final epoch from starting: the region keeps taking regular
	// epochs after its sources are exhausted (reset injection uses it).
	HoldFinal func() bool
	// OnChange is called, on the coordinator's goroutine, after every change of Status.
	OnChange func(Status)
	Logger   *slog.Logger

	// clock, when set, replaces real time (tests fire the coordinator's timers deterministically).
	clock clock
}

// clock is the coordinator's source of time and timers.
type clock interface {
	Now() time.Time
	// AfterFunc calls f in its own goroutine after d; the returned func cancels it.
	AfterFunc(d time.Duration, f func()) (stop func() bool)
}

type realClock struct{}

func (realClock) Now() time.Time { return time.Now() }
func (realClock) AfterFunc(d time.Duration, f func()) func() bool {
	return time.AfterFunc(d, f).Stop
}

// Coordinator drives one consistent region: it starts epochs, collects the PEs' reports, commits, and
// resets the region on any failure. Its report methods may be called from any goroutine and never block.
type Coordinator struct {
	o     Options
	cfg   topology.Consistent
	log   *slog.Logger
	clock clock

	mu     sync.Mutex
	queue  []event
	notify chan struct{}
	stop   chan struct{}
	done   chan struct{}
	status Status

	// loop state
	state     State
	committed uint64
	gen       uint64
	epoch     uint64
	nextEpoch uint64
	final     bool
	pending   map[string]bool
	refs      map[string]string
	exhausted map[string]bool
	attempts  int
	commits   int
	resets    int
	lastErr   string
	lastCkpt  time.Time
	// periodStart is when the period to the next periodic epoch began: the last commit, the end of the last
	// reset, or the start (IBM: "the interval begins counting after the end of the previously successful
	// consistent state, or a reset to a previously completed consistent state").
	periodStart time.Time
	// trigger and deadline cancel the armed timers; triggerTok and deadlineTok identify them (0: none armed),
	// so that an event from a timer that was stopped too late, or re-armed since, is recognised and dropped.
	trigger, deadline       func() bool
	triggerTok, deadlineTok uint64
	tokens                  uint64
}

type eventKind int

const (
	evDrained eventKind = iota
	evExhausted
	evResetDone
	evFailed
	evTrigger
	evForceReset
	evInject
	evTimeout
	evTick
	evSync
)

type event struct {
	kind  eventKind
	pe    string
	epoch uint64
	gen   uint64
	ref   string
	err   error
	// timer events carry the token of the timer that posted them, so a late one is recognised.
	armed uint64
	// synced is closed when an evSync is handled.
	synced chan struct{}
}

// Start starts a coordinator.
func Start(o Options) *Coordinator {
	c := &Coordinator{
		o:         o,
		cfg:       o.Config.WithDefaults(),
		log:       o.Logger,
		notify:    make(chan struct{}, 1),
		stop:      make(chan struct{}),
		done:      make(chan struct{}),
		committed: o.Committed,
		gen:       o.Generation,
		nextEpoch: o.NextEpoch,
		exhausted: map[string]bool{},
		clock:     o.clock,
	}
	if c.clock == nil {
		c.clock = realClock{}
	}
	if c.log == nil {
		c.log = slog.New(slog.DiscardHandler)
	}
	c.log = c.log.With("region", o.Region)
	if c.nextEpoch <= c.committed {
		c.nextEpoch = c.committed + 1
	}
	c.periodStart = c.clock.Now()
	// The first status is set here, so that Status is meaningful at once; OnChange runs only on the
	// coordinator's goroutine.
	c.status = c.snapshot()
	go c.run()
	return c
}

// Drained reports that PE pe drained and checkpointed epoch in generation gen; ref locates its checkpoint.
func (c *Coordinator) Drained(pe string, epoch, gen uint64, ref string) {
	c.post(event{kind: evDrained, pe: pe, epoch: epoch, gen: gen, ref: ref})
}

// Exhausted reports that start PE pe's source has nothing more to emit in generation gen.
func (c *Coordinator) Exhausted(pe string, gen uint64) {
	c.post(event{kind: evExhausted, pe: pe, gen: gen})
}

// ResetDone reports that PE pe finished resetting into generation gen.
func (c *Coordinator) ResetDone(pe string, gen uint64) {
	c.post(event{kind: evResetDone, pe: pe, gen: gen})
}

// Failed reports a failure of PE pe in generation gen: the region resets.
func (c *Coordinator) Failed(pe string, gen uint64, err error) {
	c.post(event{kind: evFailed, pe: pe, gen: gen, err: err})
}

// Trigger asks for an epoch now (the operator-driven trigger).
func (c *Coordinator) Trigger() { c.post(event{kind: evTrigger}) }

// ForceReset resets the region with a fresh set of attempts, whatever its state, saying why: the way out of
// MaxAttemptsReached.
func (c *Coordinator) ForceReset(reason string) {
	c.post(event{kind: evForceReset, err: fmt.Errorf("%s", reason)})
}

// Inject makes the region fail now, as if an operator had (fault injection). It does nothing while the
// region is resetting, stopped on its attempts, or finished.
func (c *Coordinator) Inject(reason string) {
	c.post(event{kind: evInject, err: fmt.Errorf("%s", reason)})
}

// Status returns the region's current status.
func (c *Coordinator) Status() Status {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.status
}

// Stop stops the coordinator and waits for its goroutine.
func (c *Coordinator) Stop() {
	c.mu.Lock()
	select {
	case <-c.stop:
	default:
		close(c.stop)
	}
	c.mu.Unlock()
	<-c.done
}

// Done is closed when the coordinator has stopped.
func (c *Coordinator) Done() <-chan struct{} { return c.done }

// sync waits until the coordinator has handled every event posted before it (a test hook). It returns false
// if the coordinator stopped first.
func (c *Coordinator) sync() bool {
	ch := make(chan struct{})
	c.post(event{kind: evSync, synced: ch})
	select {
	case <-ch:
		return true
	case <-c.done:
		return false
	}
}

func (c *Coordinator) post(e event) {
	c.mu.Lock()
	c.queue = append(c.queue, e)
	c.mu.Unlock()
	select {
	case c.notify <- struct{}{}:
	default:
	}
}

func (c *Coordinator) run() {
	defer close(c.done)
	defer c.stopTimers()
	if c.o.Announce && c.committed > 0 {
		c.o.Actuator.Committed(c.gen, c.committed, false)
	}
	if c.o.ResetFirst {
		c.reset("taking over")
	} else {
		c.armTrigger()
	}
	c.publish()
	for {
		select {
		case <-c.stop:
			if c.state != Finished {
				c.state = Stopped
			}
			c.publish()
			return
		case <-c.notify:
		}
		c.mu.Lock()
		events := c.queue
		c.queue = nil
		c.mu.Unlock()
		for _, e := range events {
			c.handle(e)
			c.publish()
		}
	}
}

func (c *Coordinator) handle(e event) {
	switch e.kind {
	case evDrained:
		if c.state != Draining || e.gen != c.gen || e.epoch != c.epoch || !c.pending[e.pe] {
			return
		}
		delete(c.pending, e.pe)
		c.refs[e.pe] = e.ref
		if len(c.pending) == 0 {
			c.commit()
		}
	case evExhausted:
		if e.gen != c.gen || !slices.Contains(c.o.Starts, e.pe) {
			return
		}
		c.exhausted[e.pe] = true
		if c.state == Processing && c.allExhausted() {
			c.armTrigger()
		}
	case evResetDone:
		if c.state != Resetting || e.gen != c.gen || !c.pending[e.pe] {
			return
		}
		delete(c.pending, e.pe)
		if len(c.pending) == 0 {
			c.stopDeadline()
			c.state = Processing
			c.periodStart = c.clock.Now()
			c.o.Actuator.Resume(c.gen)
			c.log.Info("region reset", "generation", c.gen, "epoch", c.committed)
			c.armTrigger()
		}
	case evFailed:
		if e.gen != c.gen {
			return
		}
		c.fail(fmt.Sprintf("PE %s failed: %v", e.pe, e.err))
	case evTrigger:
		if c.state == Processing {
			c.startDrain()
		}
	case evTick:
		if e.armed == 0 || e.armed != c.triggerTok {
			return
		}
		c.trigger, c.triggerTok = nil, 0
		if c.state == Processing {
			c.startDrain()
		}
	case evSync:
		close(e.synced)
	case evForceReset:
		if c.state == Finished || c.state == Stopped {
			return
		}
		c.attempts = 0
		c.lastErr = e.err.Error()
		c.reset(c.lastErr)
	case evInject:
		if c.state == Processing || c.state == Draining {
			c.fail(e.err.Error())
		}
	case evTimeout:
		if e.armed == 0 || e.armed != c.deadlineTok {
			return
		}
		c.deadline, c.deadlineTok = nil, 0
		switch {
		case c.state == Draining && e.epoch == c.epoch && e.gen == c.gen:
			c.fail(fmt.Sprintf("drain of epoch %d timed out after %s waiting for %s", c.epoch, c.cfg.DrainTimeout, c.pendingList()))
		case c.state == Resetting && e.gen == c.gen:
			waiting := c.pendingList()
			if waiting == "" {
				waiting = fmt.Sprintf("generation %d to be recorded", c.gen)
			}
			c.fail(fmt.Sprintf("reset to epoch %d timed out after %s waiting for %s", c.committed, c.cfg.ResetTimeout, waiting))
		}
	}
}

// allExhausted reports whether every start PE reported its source exhausted in this generation. A region
// without start PEs has nothing that could report it: it never is.
func (c *Coordinator) allExhausted() bool {
	if len(c.o.Starts) == 0 {
		return false
	}
	for _, s := range c.o.Starts {
		if !c.exhausted[s] {
			return false
		}
	}
	return true
}

func (c *Coordinator) holding() bool { return c.o.HoldFinal != nil && c.o.HoldFinal() }

func (c *Coordinator) startDrain() {
	c.stopTrigger()
	c.epoch = c.nextEpoch
	c.nextEpoch++
	c.final = c.allExhausted() && !c.holding()
	c.pending = make(map[string]bool, len(c.o.PEs))
	for _, pe := range c.o.PEs {
		c.pending[pe] = true
	}
	c.refs = make(map[string]string, len(c.o.PEs))
	c.state = Draining
	c.armDeadline(c.cfg.DrainTimeout, event{kind: evTimeout, epoch: c.epoch, gen: c.gen})
	if err := c.o.Ledger.Begin(c.epoch, c.gen); err != nil {
		c.fail(fmt.Sprintf("begin epoch %d: %v", c.epoch, err))
		return
	}
	c.o.Actuator.Drain(c.epoch, c.gen, c.final)
}

func (c *Coordinator) commit() {
	c.stopDeadline()
	c.state = Checkpointing
	c.publish()
	if err := c.o.Ledger.Commit(c.epoch, c.gen, c.refs); err != nil {
		c.fail(fmt.Sprintf("commit of epoch %d: %v", c.epoch, err))
		return
	}
	c.committed = c.epoch
	c.attempts = 0
	c.commits++
	c.lastCkpt = c.clock.Now()
	c.o.Actuator.Committed(c.gen, c.epoch, c.final)
	c.epoch = 0
	if c.final {
		c.state = Finished
		c.log.Info("region finished", "epoch", c.committed)
		return
	}
	c.state = Processing
	c.periodStart = c.lastCkpt
	c.armTrigger()
}

// fail resets the region, unless it has used up its attempts.
func (c *Coordinator) fail(reason string) {
	switch c.state {
	case MaxAttemptsReached, Finished, Stopped:
		return
	}
	c.lastErr = reason
	if c.attempts >= c.cfg.MaxConsecutiveAttempts {
		c.log.Error("region stopped: maximum reset attempts reached", "attempts", c.attempts, "reason", reason)
		c.stopTimers()
		c.state = MaxAttemptsReached
		c.epoch = 0
		c.final = false
		clear(c.exhausted)
		clear(c.pending)
		// A last reset without a resume parks every PE at the committed epoch: nothing is processed until a
		// forced reset. Like any reset, it needs its generation recorded first.
		c.gen++
		if err := c.o.Ledger.NewGeneration(c.gen, c.attempts, "maximum attempts reached: "+reason); err != nil {
			c.lastErr = fmt.Sprintf("%s; record generation %d: %v", reason, c.gen, err)
			return
		}
		c.o.Actuator.Reset(c.gen, c.committed)
		return
	}
	c.attempts++
	c.reset(reason)
}

func (c *Coordinator) reset(reason string) {
	c.stopTimers()
	c.resets++
	c.gen++
	c.epoch = 0
	c.final = false
	clear(c.exhausted)
	c.state = Resetting
	c.pending = make(map[string]bool, len(c.o.PEs))
	for _, pe := range c.o.PEs {
		c.pending[pe] = true
	}
	c.log.Warn("resetting region", "to_epoch", c.committed, "generation", c.gen, "attempt", c.attempts, "reason", reason)
	c.armDeadline(c.cfg.ResetTimeout, event{kind: evTimeout, gen: c.gen})
	if err := c.o.Ledger.NewGeneration(c.gen, c.attempts, reason); err != nil {
		// Nothing was told to the PEs, so no report of this generation can be genuine: wait for none, and let
		// the reset timeout make another attempt.
		c.lastErr = fmt.Sprintf("record generation %d: %v", c.gen, err)
		clear(c.pending)
		return
	}
	c.o.Actuator.Reset(c.gen, c.committed)
}

func (c *Coordinator) pendingList() string {
	return strings.Join(slices.Sorted(maps.Keys(c.pending)), ", ")
}

// armTrigger schedules the next epoch: a period after the last commit or completed reset, or now when the
// sources are exhausted and the final epoch may start.
func (c *Coordinator) armTrigger() {
	c.stopTrigger()
	var d time.Duration
	switch {
	case c.allExhausted() && !c.holding():
		d = 0
	case c.cfg.Trigger == topology.TriggerPeriodic:
		d = max(c.cfg.Period-c.clock.Now().Sub(c.periodStart), 0)
	case c.allExhausted():
		d = max(c.cfg.Period, time.Second) // operator-driven, holding the final epoch: keep committing
	default:
		return
	}
	c.tokens++
	tok := c.tokens
	c.triggerTok = tok
	c.trigger = c.clock.AfterFunc(d, func() { c.post(event{kind: evTick, armed: tok}) })
}

func (c *Coordinator) armDeadline(d time.Duration, e event) {
	c.stopDeadline()
	c.tokens++
	e.armed = c.tokens
	c.deadlineTok = e.armed
	c.deadline = c.clock.AfterFunc(d, func() { c.post(e) })
}

func (c *Coordinator) stopTrigger() {
	if c.trigger != nil {
		c.trigger()
	}
	c.trigger, c.triggerTok = nil, 0
}

func (c *Coordinator) stopDeadline() {
	if c.deadline != nil {
		c.deadline()
	}
	c.deadline, c.deadlineTok = nil, 0
}

func (c *Coordinator) stopTimers() {
	c.stopTrigger()
	c.stopDeadline()
}

func (c *Coordinator) snapshot() Status {
	return Status{
		Region:         c.o.Region,
		State:          c.state,
		Committed:      c.committed,
		Epoch:          c.epoch,
		Generation:     c.gen,
		Attempts:       c.attempts,
		Commits:        c.commits,
		Resets:         c.resets,
		LastCheckpoint: c.lastCkpt,
		LastError:      c.lastErr,
		Final:          c.final,
	}
}

// publish makes the loop's state the visible Status and tells OnChange if it changed.
func (c *Coordinator) publish() {
	s := c.snapshot()
	c.mu.Lock()
	changed := s != c.status
	c.status = s
	c.mu.Unlock()
	if changed && c.o.OnChange != nil {
		c.o.OnChange(s)
	}
}
