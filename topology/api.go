package topology

import (
	"fmt"
	"reflect"
	"runtime"
	"strings"

	"github.com/weirstream/weir/flow"
	"github.com/weirstream/weir/operator"
)

// Topology builds a job's Plan from typed Go code, and keeps the code behind the plan's names.
// Its methods never fail on the spot: problems are collected, with the file and line of the call that made
// them, and Plan reports them all.
type Topology struct {
	plan      Plan
	factories map[string]operator.Factory
	keys      map[int]any
	probs     Problems
}

// New starts a topology.
func New(name string) *Topology {
	return &Topology{
		plan:      Plan{Name: name, Origin: Origin{Kind: OriginGo}},
		factories: make(map[string]operator.Factory),
		keys:      make(map[int]any),
	}
}

// Stream is a typed stream: an output of an operator, as the operators that read it will see it.
type Stream[T any] struct {
	t    *Topology
	from string
	port int
	par  int // parallel region of the stream's readers
}

// Topology returns the topology the stream belongs to.
func (s Stream[T]) Topology() *Topology { return s.t }

// Operator is the name of the operator that emits the stream.
func (s Stream[T]) Operator() string { return s.from }

// Option adjusts one operator.
type Option func(*opOptions)

type opOptions struct {
	name    string
	isolate bool
}

// Name sets the operator's name. Names key checkpointed state: name operators explicitly to keep their state
// across changes to the job.
func Name(name string) Option { return func(o *opOptions) { o.name = name } }

// Isolate runs the operator in a PE of its own.
func Isolate() Option { return func(o *opOptions) { o.isolate = true } }

// caller locates the user's call into this package.
func caller() string {
	pcs := make([]uintptr, 16)
	n := runtime.Callers(2, pcs)
	frames := runtime.CallersFrames(pcs[:n])
	for {
		f, more := frames.Next()
		if !strings.HasPrefix(f.Function, "github.com/weirstream/weir/topology.") {
			return fmt.Sprintf("%s:%d", shortFile(f.File), f.Line)
		}
		if !more {
			return ""
		}
	}
}

func shortFile(path string) string {
	if i := strings.LastIndex(path, "/"); i >= 0 {
		if j := strings.LastIndex(path[:i], "/"); j >= 0 {
			return path[j+1:]
		}
	}
	return path
}

// funcName is the name of a named function or method ("convertToKelvin"); "" for closures.
func funcName(fn any) string {
	rv := reflect.ValueOf(fn)
	if rv.Kind() != reflect.Func || rv.IsNil() {
		return ""
	}
	f := runtime.FuncForPC(rv.Pointer())
	if f == nil {
		return ""
	}
	full := strings.TrimSuffix(f.Name(), "-fm")
	name := full[strings.LastIndex(full, ".")+1:]
	if strings.HasPrefix(name, "func") && strings.Trim(name[4:], "0123456789") == "" {
		return ""
	}
	return name
}

// typeName is the name of a struct operator's type ("TimeCounter").
func typeName(v any) string {
	t := reflect.TypeOf(v)
	for t != nil && t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t == nil {
		return ""
	}
	return t.Name()
}

// spec is what every operator-making call hands to add.
type spec struct {
	kind    string // default name and plan kind description ("map")
	fn      string // function or type name
	inputs  []Input
	par     int
	factory operator.Factory
	opts    []Option
}

func (t *Topology) problem(where, format string, args ...any) {
	t.probs.add(where, format, args...)
}

func (t *Topology) add(s spec) string {
	var o opOptions
	for _, f := range s.opts {
		f(&o)
	}
	name := o.name
	if name == "" {
		name = s.fn
	}
	if name == "" {
		name = s.kind
	}
	if o.name == "" {
		name = t.unique(name)
	}
	where := caller()
	op := Operator{
		Name:     name,
		Kind:     "go",
		Func:     s.fn,
		Inputs:   s.inputs,
		Parallel: s.par,
		Isolate:  o.isolate,
		Where:    where,
	}
	if in := s.factory.In(); in != nil {
		op.In = in.String()
	}
	for _, out := range s.factory.Outs() {
		op.Out = append(op.Out, out.String())
	}
	if _, dup := t.factories[name]; dup {
		t.problem(where, "operator name %q is used twice", name)
	}
	t.plan.Operators = append(t.plan.Operators, op)
	t.factories[name] = s.factory
	return name
}

func (t *Topology) unique(name string) string {
	if _, taken := t.factories[name]; !taken {
		return name
	}
	for i := 2; ; i++ {
		n := fmt.Sprintf("%s_%d", name, i)
		if _, taken := t.factories[n]; !taken {
			return n
		}
	}
}

func (s Stream[T]) input() []Input { return []Input{{From: s.from, Port: s.port}} }

func stream[U any](t *Topology, name string, par int) Stream[U] {
	return Stream[U]{t: t, from: name, port: 0, par: par}
}

// Source adds a source that emits what fn yields (an iter.Seq). A plain function cannot replay, so it cannot
// start a consistent region; use SourceOf with a stateful Iterator for that.
func Source[T any](t *Topology, fn func(yield func(T) bool), opts ...Option) Stream[T] {
	name := t.add(spec{kind: "source", fn: funcName(fn), par: -1, factory: operator.SeqFunc(fn), opts: opts})
	return stream[T](t, name, -1)
}

// SourceOf adds a source that calls it.Next; each instance runs a copy of it (see operator.Clone).
func SourceOf[T any](t *Topology, it operator.Iterator[T], opts ...Option) Stream[T] {
	name := t.add(spec{kind: "source", fn: typeName(it), par: -1, factory: operator.IteratorOf(it), opts: opts})
	return stream[T](t, name, -1)
}

// Generate adds a source that emits from goroutines of its own, under explicit permits.
func Generate[T any](t *Topology, g operator.Generator[T], opts ...Option) Stream[T] {
	name := t.add(spec{kind: "source", fn: typeName(g), par: -1, factory: operator.GeneratorOf(g), opts: opts})
	return stream[T](t, name, -1)
}

// Map adds an operator that emits fn(t) for each tuple t.
func Map[T, U any](s Stream[T], fn func(T) U, opts ...Option) Stream[U] {
	return transform[T, U](s, "map", funcName(fn), operator.MapFunc(fn), opts)
}

// MapOf adds a stateful map operator.
func MapOf[T, U any](s Stream[T], m operator.Mapper[T, U], opts ...Option) Stream[U] {
	return transform[T, U](s, "map", typeName(m), operator.MapOf(m), opts)
}

// FlatMap adds an operator that emits every element of fn(t).
func FlatMap[T, U any](s Stream[T], fn func(T) []U, opts ...Option) Stream[U] {
	return transform[T, U](s, "flat_map", funcName(fn), operator.FlatMapFunc(fn), opts)
}

// FlatMapOf adds a stateful flat-map operator.
func FlatMapOf[T, U any](s Stream[T], f operator.FlatMapper[T, U], opts ...Option) Stream[U] {
	return transform[T, U](s, "flat_map", typeName(f), operator.FlatMapOf(f), opts)
}

// Filter keeps the tuples for which fn is true.
func (s Stream[T]) Filter(fn func(T) bool, opts ...Option) Stream[T] {
	return transform[T, T](s, "filter", funcName(fn), operator.FilterFunc(fn), opts)
}

// FilterOf keeps the tuples a stateful Filterer accepts.
func (s Stream[T]) FilterOf(f operator.Filterer[T], opts ...Option) Stream[T] {
	return transform[T, T](s, "filter", typeName(f), operator.FilterOf(f), opts)
}

// ForEach ends the stream in a sink that calls fn on every tuple.
func (s Stream[T]) ForEach(fn func(T), opts ...Option) {
	transform[T, T](s, "for_each", funcName(fn), operator.ForEachFunc(fn), opts)
}

// Sink ends the stream in a stateful Consumer.
func (s Stream[T]) Sink(c operator.Consumer[T], opts ...Option) {
	transform[T, T](s, "sink", typeName(c), operator.ConsumerOf(c), opts)
}

// SinkTo ends the stream in a sink made by any factory whose input is T (a built-in sink from Go, say:
// builtin.Factory(operator.RoleSink, "file", ...) on a stream of any).
func (s Stream[T]) SinkTo(kind string, f operator.Factory, opts ...Option) {
	if s.t == nil {
		return
	}
	if in := f.In(); in == nil || in.String() != flow.TypeOf[T]().String() || len(f.Outs()) != 0 {
		s.t.problem(caller(), "%s is not a sink of %s", kind, flow.TypeOf[T]())
		return
	}
	s.t.add(spec{kind: kind, inputs: s.input(), par: s.par, factory: f, opts: opts})
}

// Apply adds an operator made by any factory whose input is T and whose single output is U (built-in
// operators from Go, say).
func Apply[T, U any](s Stream[T], kind string, f operator.Factory, opts ...Option) Stream[U] {
	if in := f.In(); in == nil || in.String() != flow.TypeOf[T]().String() {
		s.t.problem(caller(), "%s takes %v, the stream carries %s", kind, f.In(), flow.TypeOf[T]())
	}
	return transform[T, U](s, kind, "", f, opts)
}

func transform[T, U any](s Stream[T], kind, fn string, f operator.Factory, opts []Option) Stream[U] {
	if s.t == nil {
		return Stream[U]{}
	}
	name := s.t.add(spec{kind: kind, fn: fn, inputs: s.input(), par: s.par, factory: f, opts: opts})
	return stream[U](s.t, name, s.par)
}

// Union merges s and others into one stream.
func (s Stream[T]) Union(others ...Stream[T]) Stream[T] {
	inputs := s.input()
	for _, o := range others {
		if o.t != s.t {
			s.t.problem(caller(), "union of streams from different topologies")
			continue
		}
		if o.par != s.par {
			s.t.problem(caller(), "union of streams in different parallel regions (%s and %s)", s.from, o.from)
		}
		inputs = append(inputs, o.input()...)
	}
	name := s.t.add(spec{kind: "union", inputs: inputs, par: s.par, factory: operator.Union[T]()})
	return stream[T](s.t, name, s.par)
}

// Split sends each tuple t to the stream fn(t) mod ways, or drops it when fn(t) is negative.
func (s Stream[T]) Split(ways int, fn func(T) int, opts ...Option) []Stream[T] {
	if ways < 1 {
		s.t.problem(caller(), "split into %d ways: it needs at least 1", ways)
		ways = 1
	}
	name := s.t.add(spec{kind: "split", fn: funcName(fn), inputs: s.input(), par: s.par, factory: operator.Split(ways, fn), opts: opts})
	out := make([]Stream[T], ways)
	for i := range out {
		out[i] = Stream[T]{t: s.t, from: name, port: i, par: s.par}
	}
	return out
}
