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

// Release gives a permit back.
func (p *Permits) Release() {
	p.mu.Lock()
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
