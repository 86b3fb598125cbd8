package region

import (
	"errors"
	"sync"
)

// ErrStopped is returned by Acquire once the permits are stopped.
var ErrStopped = errors.New("permits stopped")

// Permits are a start operator's submission permits: any number of holders; Block waits until all are
// released and keeps new ones waiting until Unblock. A thread that holds a permit knows that no checkpoint
// or reset happens until it releases it.
type Permits struct {
	mu      sync.Mutex
	cond    sync.Cond
	holders int
	blocked bool
	stopped bool
	// overReleased counts releases without a held permit.
	overReleased int
}

// OverReleased counts the releases made without a held permit (an operator bug).
func (p *Permits) OverReleased() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.overReleased
}

// NewPermits makes permits, open.
func NewPermits() *Permits {
	p := &Permits{}
	p.cond.L = &p.mu
	return p
}

// Acquire takes a permit, waiting while blocked.
func (p *Permits) Acquire() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	for p.blocked && !p.stopped {
		p.cond.Wait()
	}
	if p.stopped {
		return ErrStopped
	}
	p.holders++
	return nil
}

// Release gives a permit back. Releasing a permit that is not held panics, as unlocking an unlocked mutex
// does: a count gone negative would let Block return while a permit is held. Once the permits are stopped
// nothing depends on the count, and an extra Release (after an Acquire that failed) is ignored.
func (p *Permits) Release() {
	p.mu.Lock()
	if p.holders <= 0 {
		// A release without an acquire is a bug in the operator that calls it, but an agent runs other
		// jobs too: count it instead of crashing, and keep the count from going negative, which would let
		// a drain start while a permit is held.
		p.overReleased++
		p.mu.Unlock()
		return
	}
	p.holders--
	if p.holders == 0 {
		p.cond.Broadcast()
	}
	p.mu.Unlock()
}

// Block keeps new permits waiting and waits until every held one is released. It returns false if the
// permits were stopped meanwhile.
func (p *Permits) Block() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.blocked = true
	for p.holders > 0 && !p.stopped {
		p.cond.Wait()
	}
	return !p.stopped
}

// Unblock lets permits be taken again.
func (p *Permits) Unblock() {
	p.mu.Lock()
	p.blocked = false
	p.cond.Broadcast()
	p.mu.Unlock()
}

// Stop fails every waiting and later Acquire, and releases Block.
func (p *Permits) Stop() {
	p.mu.Lock()
	p.stopped = true
	p.cond.Broadcast()
	p.mu.Unlock()
}
