package operator

import (
	"fmt"

	"github.com/weirstream/weir/flow"
)

// one1 is the wiring shared by operators with one output port.
type one1[U any] struct {
	base
	out func(U)
}

func (n *one1[U]) Connect(port int, emit any) error {
	if port != 0 {
		return fmt.Errorf("no output port %d", port)
	}
	f, err := CheckOut[U](port, emit)
	if err != nil {
		return err
	}
	n.out = f
	return nil
}

func (n *one1[U]) Finish() error { return finishWith(&n.base, n.out) }

func types[T, U any]() (flowType, []flowType) {
	return flow.TypeOf[T](), []flowType{flow.TypeOf[U]()}
}

// MapFunc is the operator of a plain function: one tuple in, one out.
func MapFunc[T, U any](fn func(T) U) Factory {
	in, outs := types[T, U]()
	return NewFactory(in, outs, func(Info) (Node, error) {
		n := &mapFunc[T, U]{fn: fn}
		return n, n.init(nil)
	})
}

type mapFunc[T, U any] struct {
	one1[U]
	fn func(T) U
}

func (n *mapFunc[T, U]) Input() any {
	g, id, fn := n.g, n.id, n.fn
	return func(t T) {
		g.Cur = id
		n.out(fn(t))
	}
}

// MapOf is the operator of a stateful Mapper; each instance runs a Clone of m.
func MapOf[T, U any](m Mapper[T, U]) Factory {
	in, outs := types[T, U]()
	return NewFactory(in, outs, func(Info) (Node, error) {
		c, err := cloneAs(m)
		if err != nil {
			return nil, err
		}
		n := &mapOp[T, U]{m: c}
		return n, n.init(c)
	})
}

type mapOp[T, U any] struct {
	one1[U]
	m Mapper[T, U]
}

func (n *mapOp[T, U]) Input() any {
	return func(t T) {
		n.g.Cur = n.id
		u, err := n.m.Map(t)
		if err != nil {
			n.fail(err)
			return
		}
		n.out(u)
	}
}

// FilterFunc keeps the tuples for which fn is true.
func FilterFunc[T any](fn func(T) bool) Factory {
	in, outs := types[T, T]()
	return NewFactory(in, outs, func(Info) (Node, error) {
		n := &filterFunc[T]{fn: fn}
		return n, n.init(nil)
	})
}

type filterFunc[T any] struct {
	one1[T]
	fn func(T) bool
}

func (n *filterFunc[T]) Input() any {
	g, id, fn := n.g, n.id, n.fn
	return func(t T) {
		g.Cur = id
		if fn(t) {
			n.out(t)
		}
	}
}

// FilterOf is the operator of a stateful Filterer.
func FilterOf[T any](f Filterer[T]) Factory {
	in, outs := types[T, T]()
	return NewFactory(in, outs, func(Info) (Node, error) {
		c, err := cloneAs(f)
		if err != nil {
			return nil, err
		}
		n := &filterOp[T]{f: c}
		return n, n.init(c)
	})
}

type filterOp[T any] struct {
	one1[T]
	f Filterer[T]
}

func (n *filterOp[T]) Input() any {
	return func(t T) {
		n.g.Cur = n.id
		keep, err := n.f.Filter(t)
		if err != nil {
			n.fail(err)
			return
		}
		if keep {
			n.out(t)
		}
	}
}

// FlatMapFunc emits every element of fn's result.
func FlatMapFunc[T, U any](fn func(T) []U) Factory {
	in, outs := types[T, U]()
	return NewFactory(in, outs, func(Info) (Node, error) {
		n := &flatMapFunc[T, U]{fn: fn}
		return n, n.init(nil)
	})
}

type flatMapFunc[T, U any] struct {
	one1[U]
	fn func(T) []U
}

func (n *flatMapFunc[T, U]) Input() any {
	return func(t T) {
		n.g.Cur = n.id
		for _, u := range n.fn(t) {
			n.out(u)
		}
	}
}

// FlatMapOf is the operator of a stateful FlatMapper.
func FlatMapOf[T, U any](f FlatMapper[T, U]) Factory {
	in, outs := types[T, U]()
	return NewFactory(in, outs, func(Info) (Node, error) {
		c, err := cloneAs(f)
		if err != nil {
			return nil, err
		}
		n := &flatMapOp[T, U]{f: c}
		n.emit = func(u U) {
			n.out(u)
			n.g.Cur = n.id // back in the user's code
		}
		return n, n.init(c)
	})
}

type flatMapOp[T, U any] struct {
	one1[U]
	f    FlatMapper[T, U]
	emit func(U)
}

func (n *flatMapOp[T, U]) Input() any {
	return func(t T) {
		n.g.Cur = n.id
		if err := n.f.FlatMap(t, n.emit); err != nil {
			n.fail(err)
		}
	}
}

// sink0 is the wiring of operators without outputs.
type sink0 struct{ base }

func (n *sink0) Connect(port int, emit any) error {
	return fmt.Errorf("a sink has no output port %d", port)
}

// ForEachFunc is a sink that calls fn on every tuple.
func ForEachFunc[T any](fn func(T)) Factory {
	return NewFactory(flow.TypeOf[T](), nil, func(Info) (Node, error) {
		n := &forEachFunc[T]{fn: fn}
		return n, n.init(nil)
	})
}

type forEachFunc[T any] struct {
	sink0
	fn func(T)
}

func (n *forEachFunc[T]) SelfCounting() {}

func (n *forEachFunc[T]) Input() any {
	g, id, fn := n.g, n.id, n.fn
	return func(t T) {
		g.Cur = id
		g.Consumed++
		fn(t)
	}
}

// ConsumerOf is the sink of a stateful Consumer.
func ConsumerOf[T any](c Consumer[T]) Factory {
	return NewFactory(flow.TypeOf[T](), nil, func(Info) (Node, error) {
		cc, err := cloneAs(c)
		if err != nil {
			return nil, err
		}
		n := &consumerOp[T]{c: cc}
		return n, n.init(cc)
	})
}

type consumerOp[T any] struct {
	sink0
	c Consumer[T]
}

func (n *consumerOp[T]) SelfCounting() {}

func (n *consumerOp[T]) Input() any {
	return func(t T) {
		g := n.g
		g.Cur = n.id
		g.Consumed++
		if err := n.c.Consume(t); err != nil {
			n.fail(err)
		}
	}
}

// Union passes on every tuple of each of its inputs.
func Union[T any]() Factory {
	in, outs := types[T, T]()
	return NewFactory(in, outs, func(Info) (Node, error) {
		n := &union[T]{}
		return n, n.init(nil)
	})
}

type union[T any] struct{ one1[T] }

func (n *union[T]) Input() any { return func(t T) { n.out(t) } }

// Split sends each tuple to output fn(t) mod ways; a negative index drops the tuple.
func Split[T any](ways int, fn func(T) int) Factory {
	in := flow.TypeOf[T]()
	outs := make([]flowType, ways)
	for i := range outs {
		outs[i] = in
	}
	return NewFactory(in, outs, func(Info) (Node, error) {
		n := &split[T]{fn: fn, outs: make([]func(T), ways)}
		for i := range n.outs {
			n.outs[i] = func(T) {}
		}
		return n, n.init(nil)
	})
}

type split[T any] struct {
	base
	fn   func(T) int
	outs []func(T)
}

func (n *split[T]) Connect(port int, emit any) error {
	if port < 0 || port >= len(n.outs) {
		return fmt.Errorf("split has %d outputs, not %d", len(n.outs), port+1)
	}
	f, err := CheckOut[T](port, emit)
	if err != nil {
		return err
	}
	n.outs[port] = f
	return nil
}

func (n *split[T]) Input() any {
	ways := len(n.outs)
	return func(t T) {
		n.g.Cur = n.id
		i := n.fn(t)
		if i < 0 {
			return
		}
		n.outs[i%ways](t)
	}
}
