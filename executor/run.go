package executor

import (
	"github.com/weirstream/weir/flow"
	"github.com/weirstream/weir/operator"
)

func (p *pe) run() {
	defer close(p.done)
	defer p.shutdown()
	if err := p.open(); err != nil {
		p.x.o.Reporter.Crashed(p.id, err)
		return
	}
	p.parked = p.x.o.AwaitReset && p.region >= 0
	switch {
	case p.src == nil:
		p.runInbox()
	case p.explicit():
		p.runGenerator()
	default:
		p.runIterator()
	}
	if p.finished {
		p.x.o.Reporter.Finished(p.id)
	}
}

func (p *pe) context(k int) operator.Context {
	return &opContext{p: p, info: p.infos[k], log: p.log.With("operator", p.infos[k].Instance)}
}

// open opens the nodes, sinks first, so that nothing is emitted into a node that is not open yet.
func (p *pe) open() error {
	for k := len(p.nodes) - 1; k >= 0; k-- {
		n, ctx := p.nodes[k], p.context(k)
		if !p.call(k, func() error { return n.Open(ctx) }) {
			err, _ := p.guard.Err()
			return &openError{op: p.infos[k].Instance, err: err}
		}
		p.opened++
	}
	return nil
}

type openError struct {
	op  string
	err error
}

func (e *openError) Error() string { return "open " + e.op + ": " + e.err.Error() }
func (e *openError) Unwrap() error { return e.err }

func (p *pe) shutdown() {
	close(p.quit)
	if p.permits != nil {
		p.permits.Stop()
	}
	if p.running {
		p.curRun.cancel()
		<-p.curRun.ended
		p.running = false
	}
	for k := len(p.nodes) - 1; k >= len(p.nodes)-p.opened; k-- {
		n := p.nodes[k]
		if !p.call(k, n.Close) {
			err, _ := p.guard.Err()
			p.log.Warn("close failed", "operator", p.infos[k].Instance, "err", err)
		}
	}
	if p.saves != nil {
		close(p.saves)
		<-p.saved
	}
	p.publishLocked()
}

// runInbox is the loop of a PE fed by other PEs.
func (p *pe) runInbox() {
	for !p.stopping {
		if (p.guard.Pending.Load() || p.parked) && !p.control() {
			return
		}
		took, in, ctl := p.poll()
		if took {
			if ctl.Kind != flow.CtlNone && !p.guard.Halt.IsSet() {
				p.onControl(in, ctl)
			}
			continue
		}
		p.flush()
		p.publishLocked()
		<-p.wake
	}
}

func (p *pe) poll() (took bool, in int, ctl flow.Control) {
	defer func() {
		if r := recover(); r != nil {
			p.guard.Fail(p.guard.Cur, panicError(r))
			took = true
		}
	}()
	return p.inbox.Poll()
}

// runIterator is the loop of a source that emits on this goroutine: it calls control between emissions
// (the implicit permit).
func (p *pe) runIterator() {
	// A reset handled at a safe point restores the source's state in place: Run goes on from there, so it
	// must not be called again once it returns.
	safePoint := func() bool {
		ok := p.control()
		p.rerun = false
		return ok
	}
	loop := &operator.SourceLoop{SafePoint: safePoint, Context: p.context(0), Done: p.stopCh}
	for {
		if (p.failed || p.parked) && !p.control() {
			return
		}
		p.rerun = false
		err := p.runSource(loop)
		if p.stopping || !p.notStopped() {
			// A source also returns when loop.Done closes (a paced one stops sleeping): the PE was told to
			// stop, and the source is not exhausted. Going on would send the final marker downstream (or
			// report the region's source exhausted) for a PE that is only being stopped or moved.
			return
		}
		if err != nil {
			p.guard.Fail(0, err)
		} else if !p.guard.Halt.IsSet() {
			p.sourceDone()
		}
		if !p.waitRerun() {
			return
		}
	}
}

func (p *pe) runSource(loop *operator.SourceLoop) (err error) {
	defer func() {
		if r := recover(); r != nil {
			p.guard.Fail(p.guard.Cur, panicError(r))
			err = nil
		}
	}()
	p.guard.Cur = 0
	return p.src.Run(loop)
}

// waitRerun waits, handling control work, until the source must run again (after a reset) or stop.
func (p *pe) waitRerun() bool {
	for {
		if !p.control() {
			return false
		}
		if p.rerun {
			return true
		}
		<-p.wake
	}
}

// sourceDone: the source is exhausted. In a consistent region the coordinator is told, and ends the stream
// with the final epoch; elsewhere the final marker goes out now.
func (p *pe) sourceDone() {
	p.flush()
	if p.region >= 0 {
		p.x.o.Reporter.Exhausted(p.region, p.id, p.gen)
		return
	}
	p.checkpoint(flow.Control{Kind: flow.CtlFinal})
}
