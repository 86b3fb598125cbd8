package builtin

import (
	"fmt"
	"time"

	"github.com/weirstream/weir/flow"
	"github.com/weirstream/weir/operator"
)

// source is the node of the built-in sources: it runs an operator.Iterator[any] whose exported fields are
// its position (operator.StateOf), so it replays exactly after a restore, and paces it to a rate between
// calls of Next, never inside one, so that drains and stops are not held up by a slow rate.
type source struct {
	nodeBase
	kind    string
	it      operator.Iterator[any]
	state   operator.State
	initial []byte
	out     func(any)
	pace    pacer
	timer   *time.Timer
}

func sourceFactory(kind string, rate float64, make func() operator.Iterator[any]) operator.Factory {
	return operator.NewFactory(nil, []flow.Type{anyType}, func(operator.Info) (operator.Node, error) {
		it := make()
		s := &source{kind: kind, it: it, state: operator.StateOf(it), out: func(any) {}, pace: newPacer(rate)}
		initial, err := s.state.Snapshot()
		if err != nil {
			return nil, fmt.Errorf("%s: initial state: %w", kind, err)
		}
		s.initial = initial
		return s, nil
	})
}

var _ operator.SourceNode = (*source)(nil)

func (s *source) Input() any       { return nil }
func (s *source) Replayable() bool { return true }
func (s *source) Explicit() bool   { return false }

func (s *source) Connect(port int, emit any) error {
	if port != 0 {
		return fmt.Errorf("%s has one output, not %d", s.kind, port+1)
	}
	f, err := operator.CheckOut[any](port, emit)
	if err != nil {
		return err
	}
	s.out = f
	return nil
}

func (s *source) Open(ctx operator.Context) error {
	if o, ok := s.it.(operator.Opener); ok {
		return o.Open(ctx)
	}
	return nil
}

func (s *source) Close() error {
	if s.timer != nil {
		s.timer.Stop()
	}
	if c, ok := s.it.(operator.Closer); ok {
		return c.Close()
	}
	return nil
}

func (s *source) Checkpoint(uint64) ([]byte, error) { return s.state.Snapshot() }

// Restore sets the position saved at epoch (epoch 0: the start).
func (s *source) Restore(epoch uint64, data []byte) error {
	if epoch == 0 {
		data = s.initial
	} else if data == nil {
		return fmt.Errorf("%s: no state saved for epoch %d", s.kind, epoch)
	}
	if err := s.state.Restore(data); err != nil {
		return fmt.Errorf("%s: %w", s.kind, err)
	}
	s.pace.restart()
	return nil
}

// Run emits until the iterator is exhausted or the loop says stop.
func (s *source) Run(loop *operator.SourceLoop) error {
	g := s.g
	for {
		if g.Pending.Load() && !loop.SafePoint() {
			return nil
		}
		// Only a paced source reads the clock: time.Now costs a third of a fast pipeline's tuple.
		if s.pace.interval > 0 {
			if d := s.pace.wait(time.Now()); d > 0 {
				if !s.sleep(d, loop.Done) {
					return nil
				}
				continue
			}
		}
		g.Cur = s.id
		t, ok, err := s.it.Next()
		if err != nil {
			return err
		}
		if !ok {
			return nil
		}
		s.out(t)
		s.pace.sent()
	}
}

// maxSleep bounds one sleep, so that control work (Pending) is seen soon at low rates.
const maxSleep = 20 * time.Millisecond

// sleep waits d (at most maxSleep); false when the source must stop.
func (s *source) sleep(d time.Duration, done <-chan struct{}) bool {
	d = min(d, maxSleep)
	if s.timer == nil {
		s.timer = time.NewTimer(d)
	} else {
		s.timer.Reset(d)
	}
	select {
	case <-s.timer.C:
		return true
	case <-done:
		s.timer.Stop()
		return false
	}
}

// pacer spaces tuples 1/rate apart on average. It only asks for a wait of at least a millisecond, so high
// rates go out in small bursts rather than one sleep per tuple, and it forgets a backlog of more than
// maxBacklog (after a pause) instead of catching up in one burst.
type pacer struct {
	interval time.Duration // 0: as fast as possible
	due      time.Time     // when the next tuple is due
}

const (
	minWait    = time.Millisecond
	maxBacklog = 100 * time.Millisecond
)

func newPacer(rate float64) pacer {
	if rate <= 0 {
		return pacer{}
	}
	return pacer{interval: time.Duration(float64(time.Second) / rate)}
}

func (p *pacer) wait(now time.Time) time.Duration {
	if p.interval <= 0 {
		return 0
	}
	if p.due.IsZero() || now.Sub(p.due) > maxBacklog {
		p.due = now
	}
	if d := p.due.Sub(now); d >= minWait {
		return d
	}
	return 0
}

func (p *pacer) sent() {
	if p.interval > 0 {
		p.due = p.due.Add(p.interval)
	}
}

func (p *pacer) restart() { p.due = time.Time{} }
