package operator

import (
	"errors"
	"fmt"
	"runtime/debug"
)

// SeqFunc is the source of a plain iterator function (an iter.Seq). It cannot replay, so it cannot start a
// consistent region.
func SeqFunc[T any](fn func(yield func(T) bool)) Factory {
	return NewFactory(nil, []flowType{typeOf[T]()}, func(Info) (Node, error) {
		n := &seqSource[T]{fn: fn}
		return n, n.init(nil)
	})
}

type seqSource[T any] struct {
	one1[T]
	fn func(yield func(T) bool)
}

func (n *seqSource[T]) Input() any       { return nil }
func (n *seqSource[T]) Replayable() bool { return false }
func (n *seqSource[T]) Explicit() bool   { return false }

func (n *seqSource[T]) SelfCounting() {}

func (n *seqSource[T]) Run(loop *SourceLoop) error {
	g := n.g
	g.Cur = n.id
	n.fn(func(t T) bool {
		if g.Pending.Load() && !loop.SafePoint() {
			return false
		}
		g.Emitted++
		n.out(t)
		g.Cur = n.id
		return true
	})
	return nil
}

// IteratorOf is the source of an Iterator; each instance runs a Clone of it. It can replay when it has
// state.
func IteratorOf[T any](it Iterator[T]) Factory {
	return NewFactory(nil, []flowType{typeOf[T]()}, func(Info) (Node, error) {
		c, err := cloneAs(it)
		if err != nil {
			return nil, err
		}
		n := &iterSource[T]{it: c}
		return n, n.init(c)
	})
}

type iterSource[T any] struct {
	one1[T]
	it Iterator[T]
}

func (n *iterSource[T]) Input() any       { return nil }
func (n *iterSource[T]) Replayable() bool { return n.state.Stateful() }
func (n *iterSource[T]) Explicit() bool   { return false }

func (n *iterSource[T]) SelfCounting() {}

func (n *iterSource[T]) Run(loop *SourceLoop) error {
	g := n.g
	for {
		if g.Pending.Load() && !loop.SafePoint() {
			return nil
		}
		g.Cur = n.id
		t, ok, err := n.it.Next()
		if err != nil {
			return err
		}
		if !ok {
			return nil
		}
		g.Emitted++
		n.out(t)
	}
}

// GeneratorOf is the source of a Generator; each instance runs a Clone of it. It can replay when it has
// state.
func GeneratorOf[T any](gen Generator[T]) Factory {
	return NewFactory(nil, []flowType{typeOf[T]()}, func(Info) (Node, error) {
		c, err := cloneAs(gen)
		if err != nil {
			return nil, err
		}
		n := &genSource[T]{gen: c}
		return n, n.init(c)
	})
}

type genSource[T any] struct {
	one1[T]
	gen Generator[T]
}

func (n *genSource[T]) Input() any       { return nil }
func (n *genSource[T]) Replayable() bool { return n.state.Stateful() }
func (n *genSource[T]) Explicit() bool   { return true }
func (n *genSource[T]) SelfCounting()    {}

func (n *genSource[T]) Run(loop *SourceLoop) error {
	if loop.Permits == nil || loop.EmitLock == nil {
		return errors.New("generator source run without permits")
	}
	return n.gen.Run(&genContext[T]{n: n, loop: loop})
}

// ErrStopped is returned by SourceContext methods once the source must stop.
var ErrStopped = errors.New("source stopped")

type genContext[T any] struct {
	n    *genSource[T]
	loop *SourceLoop
}

func (c *genContext[T]) Acquire() error        { return c.loop.Permits.Acquire() }
func (c *genContext[T]) Release()              { c.loop.Permits.Release() }
func (c *genContext[T]) Done() <-chan struct{} { return c.loop.Done }
func (c *genContext[T]) Context() Context      { return c.loop.Context }

func (c *genContext[T]) Emit(t T) (err error) {
	// Once the source must stop (or this run of it ended for a reset) nothing more is emitted: a send could
	// wait for credit that never comes.
	select {
	case <-c.loop.Done:
		return ErrStopped
	default:
	}
	c.loop.EmitLock.Lock()
	defer c.loop.EmitLock.Unlock()
	g := c.n.g
	if g.Halt.IsSet() {
		return nil // dropped: the region is about to reset
	}
	// A panic downstream happens on the generator's goroutine: turn it into the failure of the operator
	// that raised it instead of crashing the process.
	defer func() {
		if r := recover(); r != nil {
			g.Fail(g.Cur, fmt.Errorf("panic: %v\n%s", r, debug.Stack()))
		}
	}()
	g.Emitted++
	c.n.out(t)
	return nil
}
