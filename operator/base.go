package operator

import (
	"fmt"

	"github.com/weirstream/weir/flow"
)

type flowType = flow.Type

func typeOf[T any]() flowType { return flow.TypeOf[T]() }

// base is the lifecycle half of every Node built from a user operator value: it dispatches the optional
// callbacks and keeps the state that Restore(0, nil) goes back to.
type base struct {
	g       *Guard
	id      int
	user    any
	state   State
	initial []byte
}

func (b *base) init(user any) error {
	b.user = user
	b.state = StateOf(user)
	initial, err := b.state.Snapshot()
	if err != nil {
		return fmt.Errorf("initial state: %w", err)
	}
	b.initial = initial
	return nil
}

func (b *base) Bind(g *Guard, id int) { b.g, b.id = g, id }

// fail records a failure of this operator's user code.
func (b *base) fail(err error) { b.g.Fail(b.id, err) }

func (b *base) Open(ctx Context) error {
	if o, ok := b.user.(Opener); ok {
		return o.Open(ctx)
	}
	return nil
}

func (b *base) Close() error {
	if c, ok := b.user.(Closer); ok {
		return c.Close()
	}
	return nil
}

func (b *base) Drain() error {
	if d, ok := b.user.(Drainer); ok {
		return d.Drain()
	}
	return nil
}

func (b *base) Checkpoint(epoch uint64) ([]byte, error) {
	if c, ok := b.user.(Checkpointer); ok {
		if err := c.Checkpoint(epoch); err != nil {
			return nil, err
		}
	}
	return b.state.Snapshot()
}

func (b *base) Restore(epoch uint64, data []byte) error {
	if epoch == 0 {
		if err := b.state.Restore(b.initial); err != nil {
			return err
		}
		if r, ok := b.user.(InitialResetter); ok {
			return r.ResetToInitialState()
		}
		return nil
	}
	if b.state.Stateful() {
		if data == nil {
			return fmt.Errorf("no state saved for epoch %d", epoch)
		}
		if err := b.state.Restore(data); err != nil {
			return err
		}
	}
	if r, ok := b.user.(Resetter); ok {
		return r.Reset(epoch)
	}
	return nil
}

func (b *base) RetireCheckpoint(epoch uint64) error {
	if r, ok := b.user.(Retirer); ok {
		return r.RetireCheckpoint(epoch)
	}
	return nil
}

func (b *base) RegionCheckpointed(epoch uint64) error {
	if r, ok := b.user.(RegionCheckpointer); ok {
		return r.RegionCheckpointed(epoch)
	}
	return nil
}

// Finish is the default: nothing is held back.
func (b *base) Finish() error { return nil }

// finishWith calls the user's Finisher, if it has one.
func finishWith[U any](b *base, emit func(U)) error {
	if f, ok := b.user.(Finisher[U]); ok {
		return f.Finish(emit)
	}
	return nil
}

// factory is a Factory from a constructor.
type factory struct {
	in   flowType
	outs []flowType
	make func(Info) (Node, error)
}

func (f *factory) In() flowType                { return f.in }
func (f *factory) Outs() []flowType            { return f.outs }
func (f *factory) New(info Info) (Node, error) { return f.make(info) }

// NewFactory makes a Factory from a constructor; in is nil for a source.
func NewFactory(in flowType, outs []flowType, make func(Info) (Node, error)) Factory {
	return &factory{in: in, outs: outs, make: make}
}

// cloneAs clones a template and checks that the clone still implements I.
func cloneAs[I any](template I) (I, error) {
	c, err := Clone(template)
	if err != nil {
		var zero I
		return zero, err
	}
	return c.(I), nil
}
