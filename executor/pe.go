package executor

import (
	"context"
	"fmt"
	"log/slog"
	"runtime/debug"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/weirstream/weir/checkpoint"
	"github.com/weirstream/weir/flow"
	"github.com/weirstream/weir/operator"
	"github.com/weirstream/weir/region"
)

type msgKind int

const (
	mDrain msgKind = iota
	mReset
	mResume
	mCommitted
	mStop
	mTick
	mRunDone
)

type msg struct {
	kind       msgKind
	epoch, gen uint64
	final      bool
	err        error
	run        uint64 // mRunDone: the Generator run that ended
}

// pe is one running PE. Fields below "owned by the PE goroutine" are touched only there (for a Generator
// source, also by its emitting goroutines, always under emitMu).
type pe struct {
	x       *Executor
	def     *region.PE
	id      string
	region  int
	isStart bool
	log     *slog.Logger

	nodes   []operator.Node
	infos   []operator.Info
	guard   operator.Guard
	inbox   flow.Receiver
	outs    []flow.Sender
	aligner *region.Aligner
	src     operator.SourceNode
	permits *region.Permits
	emitMu  sync.Mutex
	tickers []int

	wake   chan struct{}
	abort  chan struct{}
	stopCh chan struct{}
	// stopped ends with stopCh: what waits outside the mailbox (a reset's checkpoint load) ends with it.
	stopped    context.Context
	stopCancel context.CancelFunc
	stopOnce   sync.Once
	quit       chan struct{}
	done       chan struct{}
	saves      chan save
	saved      chan struct{}
	tickSent   atomic.Bool

	mu     sync.Mutex
	mail   []msg
	curRun *genRun // the Generator's current run; written by the PE goroutine under mu

	// owned by the PE goroutine
	gen           uint64
	opened        int
	failed        bool
	parked        bool
	rerun         bool
	running       bool   // a Generator's curRun has not returned yet
	runs          uint64 // Generator runs started
	stopping      bool
	finished      bool
	lastCommitted uint64
	lastDrained   uint64
	lastEmitted   uint64
	eager         bool

	pubEmitted, pubConsumed, pubGen atomic.Uint64
}

type save struct {
	epoch, gen uint64
	data       []byte
}

func newPE(x *Executor, def *region.PE) *pe {
	p := &pe{
		x: x, def: def, id: def.ID, region: def.Region,
		log:    x.log.With("pe", def.ID),
		wake:   make(chan struct{}, 1),
		abort:  make(chan struct{}, 1),
		stopCh: make(chan struct{}),
		quit:   make(chan struct{}),
		done:   make(chan struct{}),
	}
	p.stopped, p.stopCancel = context.WithCancel(context.Background())
	if p.region >= 0 {
		p.isStart = slices.Contains(x.ph.Regions[p.region].Starts, def.Index)
		p.gen = x.o.Generations[p.region]
	}
	p.guard.Wake = p.wake
	return p
}

func (p *pe) start() {
	for _, o := range p.outs {
		o.SetGen(p.gen)
	}
	if p.inbox != nil {
		p.inbox.SetGen(p.gen)
	}
	if p.src != nil && p.src.Explicit() {
		p.permits = region.NewPermits()
	}
	every := time.Duration(0)
	if p.src != nil {
		every = 5 * time.Millisecond // sources flush on a clock; other PEs flush when idle
	}
	for k, n := range p.nodes {
		if t, ok := n.(operator.Ticker); ok && t.TickEvery() > 0 {
			p.tickers = append(p.tickers, k)
			if every == 0 || t.TickEvery() < every {
				every = t.TickEvery()
			}
		}
	}
	if p.region >= 0 {
		p.saves = make(chan save, 16)
		p.saved = make(chan struct{})
		go p.saver()
	}
	if every > 0 {
		go p.ticker(every)
	}
	p.pubGen.Store(p.gen)
	go p.run()
}

// post delivers a command to the PE.
func (p *pe) post(m msg) {
	p.mu.Lock()
	p.mail = append(p.mail, m)
	p.mu.Unlock()
	if m.kind == mStop {
		// stopCh closes before the abort below interrupts a send: a lossy outbox (outside consistent
		// regions) halts on an aborted send only once it sees the PE stopping.
		p.stopOnce.Do(func() {
			close(p.stopCh)
			p.stopCancel()
			if p.permits != nil {
				p.permits.Stop()
			}
			p.mu.Lock()
			if p.curRun != nil {
				p.curRun.cancel()
			}
			p.mu.Unlock()
		})
	}
	switch m.kind {
	case mReset, mStop:
		// Interrupt a send blocked on credit: what it holds belongs to an older generation.
		signal(p.abort)
	}
	p.guard.Pending.Store(true)
	signal(p.wake)
}

// notStopped reports whether the PE has not been told to stop.
func (p *pe) notStopped() bool {
	select {
	case <-p.stopCh:
		return false
	default:
		return true
	}
}

func signal(c chan struct{}) {
	select {
	case c <- struct{}{}:
	default:
	}
}

func (p *pe) take() []msg {
	p.mu.Lock()
	defer p.mu.Unlock()
	m := p.mail
	p.mail = nil
	return m
}

func (p *pe) explicit() bool { return p.permits != nil }

func (p *pe) lockEmit() {
	if p.explicit() {
		p.emitMu.Lock()
	}
}

func (p *pe) unlockEmit() {
	if p.explicit() {
		p.emitMu.Unlock()
	}
}

// call runs one node callback, turning an error or a panic into the node's failure.
func (p *pe) call(k int, f func() error) bool {
	p.guard.Cur = k
	err := func() (err error) {
		defer func() {
			if r := recover(); r != nil {
				err = panicError(r)
			}
		}()
		return f()
	}()
	if err != nil {
		p.guard.Fail(k, err)
		return false
	}
	return true
}

func panicError(r any) error {
	return fmt.Errorf("panic: %v\n%s", r, debug.Stack())
}

// nodeName names node k for messages.
func (p *pe) nodeName(k int) string {
	if k >= 0 && k < len(p.infos) {
		return p.infos[k].Instance
	}
	return p.id
}

// checkFailure reports a failure recorded in the guard, once.
func (p *pe) checkFailure() {
	p.lockEmit()
	err, k := p.guard.Err()
	p.unlockEmit()
	if err == nil || p.failed {
		return
	}
	p.failed = true
	err = fmt.Errorf("operator %s: %w", p.nodeName(k), err)
	if p.region >= 0 {
		p.log.Warn("PE failed", "generation", p.gen, "err", err)
		p.x.o.Reporter.Failed(p.region, p.id, p.gen, err)
		return
	}
	p.x.o.Reporter.Crashed(p.id, err)
	p.stopping = true
}

// control runs the PE's pending control work on its goroutine. It returns false when the PE must stop. It
// blocks while the PE is failed (until a reset) or parked (between a reset and its region's resume).
func (p *pe) control() bool {
	for {
		p.guard.Pending.Store(false)
		p.checkFailure()
		for _, m := range p.take() {
			p.handle(m)
		}
		p.checkFailure()
		p.publish()
		if p.stopping {
			return false
		}
		if !p.failed && !p.parked {
			return true
		}
		<-p.wake
	}
}

func (p *pe) handle(m msg) {
	switch m.kind {
	case mDrain:
		// A drain the leader repeats (it resends until delivered) must not checkpoint the epoch twice:
		// downstream PEs would see its marker twice on one input.
		if p.src == nil || p.failed || p.parked || m.gen != p.gen || m.epoch <= p.lastDrained {
			if p.src != nil {
				p.log.Debug("drain ignored", "epoch", m.epoch, "gen", m.gen, "pe_gen", p.gen, "failed", p.failed, "parked", p.parked, "last_drained", p.lastDrained)
			}
			return
		}
		p.lastDrained = m.epoch
		ctl := flow.Control{Kind: flow.CtlMarker, Epoch: m.epoch}
		if m.final {
			ctl.Kind = flow.CtlFinal
		}
		if p.explicit() && !p.permits.Block() {
			return
		}
		p.lockEmit()
		if !p.guard.Halt.IsSet() {
			p.checkpoint(ctl)
		}
		p.unlockEmit()
		if p.explicit() {
			p.permits.Unblock()
		}
	case mReset:
		if m.gen <= p.gen {
			p.log.Debug("stale reset ignored", "gen", m.gen, "pe_gen", p.gen)
			// A stale reset (a duplicate, or one a takeover repeats): its abort must not interrupt a later
			// send, which would silently halt the PE.
			p.rearmAbort()
			return
		}
		if p.explicit() && (!p.endRun() || !p.permits.Block()) {
			return
		}
		p.lockEmit()
		p.reset(m.gen, m.epoch)
		p.unlockEmit()
	case mResume:
		if m.gen != p.gen || !p.parked || p.failed {
			p.log.Debug("resume ignored", "gen", m.gen, "pe_gen", p.gen, "parked", p.parked, "failed", p.failed)
			return
		}
		p.parked = false
		p.rerun = true
		if p.explicit() {
			p.permits.Unblock()
		}
	case mCommitted:
		p.lockEmit()
		p.commit(m.epoch, m.final)
		p.unlockEmit()
	case mStop:
		p.stopping = true
	case mTick:
		p.tickSent.Store(false)
		p.lockEmit()
		p.tick()
		p.unlockEmit()
	case mRunDone:
		p.runDone(m)
	}
}

// onControl handles a control item that arrived on input in: markers align across inputs.
func (p *pe) onControl(in int, ctl flow.Control) {
	complete, err := p.aligner.Mark(in, ctl)
	if err != nil {
		p.guard.Fail(-1, err)
		return
	}
	if !complete {
		p.inbox.Block(in)
		return
	}
	p.checkpoint(ctl)
	p.inbox.UnblockAll()
}

// checkpoint passes the aligned control item ctl through the PE: at the final one every node finishes
// (emits what it holds back); in a consistent region every node drains and checkpoints; then ctl goes out
// on every output, and the PE's checkpoint is saved and reported in the background.
func (p *pe) checkpoint(ctl flow.Control) {
	final := ctl.Kind == flow.CtlFinal
	inRegion := p.region >= 0
	for k, n := range p.nodes {
		if final && !p.call(k, n.Finish) {
			return
		}
		if inRegion && !p.call(k, n.Drain) {
			return
		}
	}
	var states map[string][]byte
	if inRegion {
		states = make(map[string][]byte)
		for k, n := range p.nodes {
			var data []byte
			if !p.call(k, func() (err error) { data, err = n.Checkpoint(ctl.Epoch); return }) {
				return
			}
			if data != nil {
				states[p.infos[k].Instance] = data
			}
		}
	}
	if p.guard.Halt.IsSet() {
		return
	}
	for _, o := range p.outs {
		o.SendControl(ctl)
	}
	if inRegion {
		p.saves <- save{epoch: ctl.Epoch, gen: p.gen, data: encodeBlob(states)}
		return
	}
	if final {
		p.finished = true
		p.stopping = true
	}
}

func (p *pe) key(epoch uint64) checkpoint.Key {
	return checkpoint.Key{Job: p.x.o.Job, Region: p.region, Epoch: epoch, PE: p.id}
}

// saver makes checkpoints durable, in order, and reports them.
func (p *pe) saver() {
	defer close(p.saved)
	for s := range p.saves {
		k := p.key(s.epoch)
		if err := p.x.o.Store.Save(context.Background(), k, s.data); err != nil {
			p.x.o.Reporter.Failed(p.region, p.id, s.gen, fmt.Errorf("save checkpoint %s: %w", k, err))
			continue
		}
		p.x.o.Reporter.Drained(p.region, p.id, s.epoch, s.gen, k.String())
	}
}

// reset brings the PE back to epoch (0: initial state) in generation gen.
func (p *pe) reset(gen, epoch uint64) {
	p.gen = gen
	p.rearmAbort()
	p.guard.Halt.Clear()
	p.guard.ClearErr()
	p.failed = false
	if p.inbox != nil {
		p.inbox.SetGen(gen)
		p.inbox.UnblockAll()
		p.aligner.Clear()
	}
	for _, o := range p.outs {
		o.Discard()
		o.SetGen(gen)
	}
	var states map[string][]byte
	if epoch > 0 {
		// The load may wait for a node that holds a copy; a stop ends the wait. A newer reset waits for the
		// load: it restores the same committed epoch, or a later one whose checkpoint has just been saved.
		data, err := p.x.o.Store.Load(p.stopped, p.key(epoch))
		if err == nil {
			states, err = decodeBlob(data)
		}
		if err != nil {
			p.guard.Fail(-1, fmt.Errorf("load checkpoint of epoch %d: %w", epoch, err))
			return
		}
	}
	for k, n := range p.nodes {
		if !p.call(k, func() error { return n.Restore(epoch, states[p.infos[k].Instance]) }) {
			return
		}
	}
	p.lastCommitted = epoch
	// Every PE of the region, not only its sources, waits for the resume: a PE that processed before it (a
	// time-driven node emitting what it restored, say) could reach a PE that has not reset yet, which would
	// take tuples of the new generation and then wipe them with its own restore.
	p.parked = true
	p.pubGen.Store(gen)
	p.log.Debug("reset", "gen", gen, "epoch", epoch)
	p.x.o.Reporter.ResetDone(p.region, p.id, gen)
}

// rearmAbort consumes the abort signal of a reset being handled, keeping it only if another reset or a stop
// is still waiting in the mailbox.
func (p *pe) rearmAbort() {
	select {
	case <-p.abort:
	default:
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, m := range p.mail {
		if m.kind == mReset || m.kind == mStop {
			signal(p.abort)
			return
		}
	}
}

// commit tells the nodes that epoch committed.
func (p *pe) commit(epoch uint64, final bool) {
	if epoch > p.lastCommitted {
		prev := p.lastCommitted
		for k, n := range p.nodes {
			ok := p.call(k, func() error { return n.RegionCheckpointed(epoch) }) &&
				(prev == 0 || p.call(k, func() error { return n.RetireCheckpoint(prev) }))
			if ok {
				continue
			}
			if final {
				// The region has finished: no reset can follow, so waiting for one would hang the job.
				err, k := p.guard.Err()
				p.failed = true
				p.stopping = true
				p.x.o.Reporter.Crashed(p.id, fmt.Errorf("operator %s, at the final epoch %d of its region: %w", p.nodeName(k), epoch, err))
			}
			return
		}
		p.lastCommitted = epoch
	}
	if final && epoch == p.lastCommitted {
		p.finished = true
		p.stopping = true
	}
}

// tick flushes outputs and drives time-based nodes. A source whose output trickles switches its outboxes
// to one-tuple batches so that no tuple waits for a full batch.
func (p *pe) tick() {
	if p.src != nil {
		n := p.guard.Emitted - p.lastEmitted
		p.lastEmitted = p.guard.Emitted
		size := p.x.o.BatchSize
		switch {
		case !p.eager && n < uint64(size):
			p.eager = true
			for _, o := range p.outs {
				o.SetBatchSize(1)
			}
		case p.eager && n >= uint64(size):
			p.eager = false
			for _, o := range p.outs {
				o.SetBatchSize(size)
			}
		}
	}
	if !p.failed && !p.parked {
		p.flush()
		now := time.Now()
		for _, k := range p.tickers {
			t := p.nodes[k].(operator.Ticker)
			if !p.call(k, func() error { return t.Tick(now) }) {
				return
			}
		}
	}
	p.publishLocked()
}

func (p *pe) ticker(every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-p.quit:
			return
		case <-t.C:
			if p.tickSent.CompareAndSwap(false, true) {
				p.post(msg{kind: mTick})
			}
		}
	}
}

func (p *pe) flush() {
	if p.guard.Halt.IsSet() {
		return
	}
	for _, o := range p.outs {
		o.Flush()
	}
}

func (p *pe) publish() {
	p.lockEmit()
	p.publishLocked()
	p.unlockEmit()
}

func (p *pe) publishLocked() {
	p.pubEmitted.Store(p.guard.Emitted)
	p.pubConsumed.Store(p.guard.Consumed)
}

func (p *pe) stats() PEStats {
	s := PEStats{ID: p.id, Region: p.region, Emitted: p.pubEmitted.Load(), Consumed: p.pubConsumed.Load(), Gen: p.pubGen.Load()}
	if p.inbox != nil {
		s.In = p.inbox.Received()
		s.Dropped = p.inbox.Dropped()
	}
	for _, o := range p.outs {
		s.Out += o.Sent()
	}
	return s
}
