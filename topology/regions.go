package topology

import (
	"fmt"
	"time"

	"github.com/weirstream/weir/value"
)

// Routing says how tuples enter a parallel region's channels. The default is round-robin.
type Routing interface {
	routingKind() string
}

type simpleRouting string

func (r simpleRouting) routingKind() string { return string(r) }

// Broadcast sends every tuple to every channel.
var Broadcast Routing = simpleRouting(RoutingBroadcast)

// RoundRobin sends tuples to the channels in turn.
var RoundRobin Routing = simpleRouting(RoutingRoundRobin)

type hashRouting[T any] struct {
	name string
	hash func(T) uint64
}

func (hashRouting[T]) routingKind() string { return RoutingHash }

// HashBy sends each tuple to the channel its key hashes to: the same key always reaches the same channel, so
// state kept per key in a channel is complete. The hash is stable across processes and runs.
func HashBy[T any, K comparable](key func(T) K) Routing {
	name := funcName(key)
	if name == "" {
		name = "key"
	}
	return hashRouting[T]{name: name, hash: func(t T) uint64 { return value.Hash(key(t)) }}
}

// Parallel makes the operators that read the returned stream, up to EndParallel, run in width channels.
func (s Stream[T]) Parallel(width int, routing ...Routing) Stream[T] {
	if s.t == nil {
		return s
	}
	where := caller()
	r := Parallel{ID: len(s.t.plan.Parallel), Parent: s.par, Width: width, Routing: RoutingRoundRobin, Where: where}
	if len(routing) > 1 {
		s.t.problem(where, "Parallel takes one routing, got %d", len(routing))
	}
	if len(routing) > 0 && routing[0] != nil {
		r.Routing = routing[0].routingKind()
		if r.Routing == RoutingHash {
			h, ok := routing[0].(hashRouting[T])
			if !ok {
				s.t.problem(where, "hash key function does not take the stream's %T tuples", *new(T))
			} else {
				r.Key = h.name
				s.t.keys[r.ID] = h.hash
			}
		}
	}
	s.t.plan.Parallel = append(s.t.plan.Parallel, r)
	return Stream[T]{t: s.t, from: s.from, port: s.port, par: r.ID}
}

// EndParallel merges the channels of the innermost parallel region back into one stream.
func (s Stream[T]) EndParallel() Stream[T] {
	if s.t == nil {
		return s
	}
	if s.par < 0 {
		s.t.problem(caller(), "EndParallel outside a parallel region")
		return s
	}
	return Stream[T]{t: s.t, from: s.from, port: s.port, par: s.t.plan.Parallel[s.par].Parent}
}

// Periodic configures a consistent region that makes itself consistent every period, with IBM's default
// limits.
func Periodic(period time.Duration) Consistent {
	return Consistent{Trigger: TriggerPeriodic, Period: period}.WithDefaults()
}

// OperatorDriven configures a consistent region whose start operators decide when to make it consistent
// (operator.Context.MakeConsistent).
func OperatorDriven() Consistent {
	return Consistent{Trigger: TriggerOperatorDriven}.WithDefaults()
}

// SetConsistent makes the stream's source the start of a consistent region configured by c: the region is
// everything downstream of it.
func (s Stream[T]) SetConsistent(c Consistent) Stream[T] {
	if s.t == nil {
		return s
	}
	c.Starts = []string{s.from}
	c.Where = caller()
	s.t.plan.Consistent = append(s.t.plan.Consistent, c)
	return s
}

// Plan validates the topology and returns its plan.
func (t *Topology) Plan() (*Plan, error) {
	if len(t.probs) > 0 {
		return nil, fmt.Errorf("job %s: %w", t.plan.Name, t.probs)
	}
	p := t.plan
	if err := p.Validate(); err != nil {
		return nil, fmt.Errorf("job %s: %w", p.Name, err)
	}
	return &p, nil
}
