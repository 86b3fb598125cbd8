package executor

import (
	"sync"

	"github.com/weirstream/weir/operator"
	"github.com/weirstream/weir/region"
)

// A Generator source runs on goroutines of its own. Each call of its Run is a genRun. A reset ends the run
// before the state is restored: its permits fail and its Done closes, the PE waits for Run to return, restores
// the state, and calls Run again when the region resumes (operator.Generator's contract). Restoring the state
// under a Run that keeps going would race with it, and a Run that keeps its position in a local variable would
// replay from the wrong place.
type genRun struct {
	id    uint64
	stop  chan struct{} // closed when the run must end: a reset or the PE's stop
	once  sync.Once
	ended chan struct{} // closed when Run has returned
}

func (r *genRun) cancel() { r.once.Do(func() { close(r.stop) }) }

// runPermits are the permits of one run: they fail once the run must end.
type runPermits struct {
	p    *region.Permits
	stop <-chan struct{}
}

func (rp *runPermits) Acquire() error {
	select {
	case <-rp.stop:
		return operator.ErrStopped
	default:
	}
	if err := rp.p.Acquire(); err != nil {
		return operator.ErrStopped
	}
	select {
	case <-rp.stop:
		rp.p.Release()
		return operator.ErrStopped
	default:
		return nil
	}
}

func (rp *runPermits) Release() { rp.p.Release() }

// runGenerator runs a source that emits from goroutines of its own; this goroutine does the control work,
// taking every permit for drains and resets.
func (p *pe) runGenerator() {
	if p.parked {
		p.permits.Block()
	} else {
		p.startGenerator()
	}
	for {
		if !p.control() {
			return
		}
		if p.rerun && !p.running {
			p.rerun = false
			p.startGenerator()
		}
		<-p.wake
	}
}

func (p *pe) startGenerator() {
	p.runs++
	r := &genRun{id: p.runs, stop: make(chan struct{}), ended: make(chan struct{})}
	p.mu.Lock()
	p.curRun = r
	p.mu.Unlock()
	select {
	case <-p.stopCh:
		r.cancel()
	default:
	}
	p.running = true
	loop := &operator.SourceLoop{
		SafePoint: func() bool { return false }, // a Generator has no safe points: it holds permits
		Permits:   &runPermits{p: p.permits, stop: r.stop},
		EmitLock:  &p.emitMu,
		Done:      r.stop,
		Context:   p.context(0),
	}
	go func() {
		defer close(r.ended)
		var err error
		func() {
			defer func() {
				if rec := recover(); rec != nil {
					err = panicError(rec)
				}
			}()
			err = p.src.Run(loop)
		}()
		p.post(msg{kind: mRunDone, err: err, run: r.id})
	}()
}

// endRun ends the current run of a Generator and waits for its Run to return. A worker blocked on credit
// was interrupted by the reset or stop that asked for this. It returns false if the PE stopped meanwhile.
func (p *pe) endRun() bool {
	if !p.running {
		return true
	}
	r := p.curRun
	r.cancel()
	select {
	case <-r.ended:
		p.running = false
		return true
	case <-p.stopCh:
		return false
	}
}

// runDone handles the end of a Generator's run: an error fails the PE; a run that ends normally, in the
// generation it ran in, has exhausted the source.
func (p *pe) runDone(m msg) {
	if !p.running || m.run != p.curRun.id {
		return // a run that a reset ended: its end means nothing
	}
	p.running = false
	if p.stopping {
		return
	}
	p.lockEmit()
	defer p.unlockEmit()
	switch {
	case m.err != nil:
		p.guard.Fail(0, m.err)
	case !p.failed && !p.parked && !p.guard.Halt.IsSet():
		p.sourceDone()
	}
}
