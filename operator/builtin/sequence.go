package builtin

import (
	"fmt"

	"github.com/weirstream/weir/operator"
)

// sequence emits start, start+1, …, start+count-1. Its state is Pos, the number of values emitted: after a
// restore it goes on from there.
type sequence struct {
	Pos int

	start, count int
	every        int // trigger_every: ask for a consistent state every this many tuples
	ctx          operator.Context
	warned       bool
}

func buildSequence(cfg operator.Config) (operator.Factory, error) {
	count, start, every, rate := cfg.Int("count"), cfg.Int("start"), cfg.Int("trigger_every"), cfg.Float("rate")
	switch {
	case count < 0:
		return nil, fmt.Errorf("sequence parameter count: %d is negative (0 emits nothing)", count)
	case rate < 0:
		return nil, fmt.Errorf("sequence parameter rate: %g tuples per second is negative (0 means as fast as possible)", rate)
	case every < 0:
		return nil, fmt.Errorf("sequence parameter trigger_every: %d is negative (0 never triggers)", every)
	}
	return sourceFactory("sequence", rate, func() operator.Iterator[any] {
		return &sequence{start: start, count: count, every: every}
	}), nil
}

func (s *sequence) Open(ctx operator.Context) error {
	s.ctx = ctx
	return nil
}

func (s *sequence) Next() (any, bool, error) {
	if s.Pos >= s.count {
		return nil, false, nil
	}
	v := s.start + s.Pos
	s.Pos++
	if s.every > 0 && s.Pos%s.every == 0 && s.ctx != nil {
		// MakeConsistent does not wait: the drain comes after this tuple is emitted.
		if !s.ctx.MakeConsistent() && !s.warned {
			s.warned = true
			s.ctx.Logger().Warn("sequence: trigger_every is set, but this sequence does not start an operator-driven consistent region; ignoring it")
		}
	}
	return v, true, nil
}
