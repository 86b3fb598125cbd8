package flow

import (
	"fmt"
	"reflect"
	"sync"
)

// AnyEdge is the type-erased view of an *Edge[T].
type AnyEdge interface {
	Type() Type
	Len() int
	Cap() int
	Attach(wake chan struct{})
}

// Sender is the type-erased view of an *Outbox[T].
type Sender interface {
	Func() any // the func(T) that emits into the outbox
	Flush()
	SendControl(Control)
	Discard()
	SetGen(uint64)
	Sent() uint64
	Pending() int
	SetBatchSize(n int)
	SetLossy(keep func() bool)
}

// Receiver is the type-erased view of an *Inbox[T].
type Receiver interface {
	Poll() (took bool, input int, ctl Control)
	Ready() bool
	Block(i int)
	Blocked(i int) bool
	UnblockAll()
	SetGen(uint64)
	Inputs() int
	Received() uint64
	Dropped() uint64
}

// Type describes a tuple type and builds the typed machinery that moves it. Operators declare their input
// and output types with it; the executor wires them without knowing T.
type Type interface {
	// String is the Go type, as in a plan ("float64", "main.Reading", "any").
	String() string
	// Reflect is the reflect.Type of T.
	Reflect() reflect.Type
	NewEdge(capacity, batchSize int) AnyEdge
	// NewOutbox makes an outbox on a local edge made by this Type (or any Link[T]).
	NewOutbox(link any, halt *Halt, abort <-chan struct{}) (Sender, error)
	// NewInbox makes an inbox over edges made by this Type, delivering to deliver, a func(T).
	NewInbox(inputs []AnyEdge, deliver any, halt *Halt, wake chan struct{}) (Receiver, error)
	// Fanout, RoundRobin and HashRoute combine targets (each a func(T)) into one func(T).
	Fanout(targets []any) (any, error)
	RoundRobin(targets []any) (any, error)
	// HashRoute's hash is a func(T) uint64.
	HashRoute(targets []any, hash any) (any, error)
	// Nop is a func(T) that drops its tuple: the emit of an output nobody reads.
	Nop() any
	// Wire returns the codec that moves batches of T between nodes.
	Wire() Wire
	// Counted wraps target, a func(T), to add one to *n per tuple. *n belongs to the goroutine that calls
	// the function; publish it elsewhere with an atomic.
	Counted(target any, n *uint64) (any, error)
}

var types sync.Map // reflect.Type -> Type

// TypeOf returns the descriptor of T. Descriptors are interned, so equal types yield equal descriptors.
func TypeOf[T any]() Type {
	rt := reflect.TypeFor[T]()
	if t, ok := types.Load(rt); ok {
		return t.(Type)
	}
	t, _ := types.LoadOrStore(rt, typ[T]{rt: rt})
	return t.(Type)
}

type typ[T any] struct{ rt reflect.Type }

func (t typ[T]) String() string {
	if t.rt.Kind() == reflect.Interface && t.rt.NumMethod() == 0 {
		return "any"
	}
	return t.rt.String()
}

func (t typ[T]) Reflect() reflect.Type { return t.rt }

func (t typ[T]) NewEdge(capacity, batchSize int) AnyEdge { return NewEdge[T](capacity, batchSize) }

func (t typ[T]) NewOutbox(link any, halt *Halt, abort <-chan struct{}) (Sender, error) {
	l, ok := link.(Link[T])
	if !ok {
		return nil, fmt.Errorf("outbox of %s: link is a %T", t, link)
	}
	return NewOutbox(l, halt, abort), nil
}

func (t typ[T]) NewInbox(inputs []AnyEdge, deliver any, halt *Halt, wake chan struct{}) (Receiver, error) {
	d, ok := deliver.(func(T))
	if !ok {
		return nil, fmt.Errorf("inbox of %s: deliver is a %T", t, deliver)
	}
	edges := make([]*Edge[T], len(inputs))
	for i, e := range inputs {
		te, ok := e.(*Edge[T])
		if !ok {
			return nil, fmt.Errorf("inbox of %s: input %d carries %s", t, i, e.Type())
		}
		edges[i] = te
	}
	return NewInbox(edges, d, halt, wake), nil
}

func (t typ[T]) funcs(targets []any) ([]func(T), error) {
	fs := make([]func(T), len(targets))
	for i, a := range targets {
		f, ok := a.(func(T))
		if !ok {
			return nil, fmt.Errorf("target %d of a %s stream takes %s", i, t, describeFunc(a))
		}
		fs[i] = f
	}
	return fs, nil
}

func (t typ[T]) Fanout(targets []any) (any, error) {
	fs, err := t.funcs(targets)
	if err != nil {
		return nil, err
	}
	return Fanout(fs), nil
}

func (t typ[T]) RoundRobin(targets []any) (any, error) {
	fs, err := t.funcs(targets)
	if err != nil {
		return nil, err
	}
	if len(fs) == 0 {
		return nil, fmt.Errorf("round-robin over no targets")
	}
	return RoundRobin(fs), nil
}

func (t typ[T]) HashRoute(targets []any, hash any) (any, error) {
	fs, err := t.funcs(targets)
	if err != nil {
		return nil, err
	}
	if len(fs) == 0 {
		return nil, fmt.Errorf("hash routing over no targets")
	}
	h, ok := hash.(func(T) uint64)
	if !ok {
		return nil, fmt.Errorf("hash routing of a %s stream: key hash is %s", t, describeFunc(hash))
	}
	return HashRoute(fs, h), nil
}

func (t typ[T]) Nop() any { return func(T) {} }

func (t typ[T]) Counted(target any, n *uint64) (any, error) {
	fs, err := t.funcs([]any{target})
	if err != nil {
		return nil, err
	}
	f := fs[0]
	return func(v T) {
		*n++
		f(v)
	}, nil
}

func describeFunc(f any) string {
	rt := reflect.TypeOf(f)
	if rt == nil {
		return "nil"
	}
	if rt.Kind() == reflect.Func && rt.NumIn() == 1 {
		return rt.In(0).String()
	}
	return rt.String()
}
