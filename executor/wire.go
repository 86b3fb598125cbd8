package executor

import (
	"fmt"
	"strings"

	"github.com/weirstream/weir/flow"
	"github.com/weirstream/weir/operator"
	"github.com/weirstream/weir/region"
	"github.com/weirstream/weir/topology"
)

// wiring binds a physical plan to code and builds PEs.
type wiring struct {
	x         *Executor
	ph        *region.Physical
	factories []operator.Factory
	connsOf   map[int][]int // instance -> its connections
	edges     map[int]flow.AnyEdge
	here      map[int]bool // PE index -> runs on this executor
	keys      map[int]any  // parallel region -> key hash
}

func newWiring(x *Executor) (*wiring, error) {
	ph := x.ph
	w := &wiring{x: x, ph: ph, connsOf: map[int][]int{}, edges: map[int]flow.AnyEdge{}, here: map[int]bool{}, keys: map[int]any{}}
	if x.o.Run == nil {
		for i := range ph.PEs {
			w.here[i] = true
		}
	}
	for _, i := range x.o.Run {
		w.here[i] = true
	}
	for i := range ph.Conns {
		w.connsOf[ph.Conns[i].From] = append(w.connsOf[ph.Conns[i].From], i)
	}
	// Bind every operator, not only those run here: a binary that lacks part of the job refuses all of it.
	w.factories = make([]operator.Factory, len(ph.Plan.Operators))
	for i := range ph.Plan.Operators {
		op := &ph.Plan.Operators[i]
		f, err := x.o.Binding.Factory(op)
		if err != nil {
			if op.Where != "" && strings.Contains(err.Error(), op.Where) {
				return nil, fmt.Errorf("job %s: %w", x.o.Job, err)
			}
			return nil, fmt.Errorf("job %s: %s: %w", x.o.Job, where(op.Where, op.Name), err)
		}
		if err := checkTypes(op.In, op.Out, f); err != nil {
			return nil, fmt.Errorf("job %s: %s: operator %s: %w", x.o.Job, where(op.Where, op.Name), op.Name, err)
		}
		w.factories[i] = f
	}
	return w, nil
}

func where(w, name string) string {
	if w == "" {
		return name
	}
	return w
}

func checkTypes(in string, outs []string, f operator.Factory) error {
	got := ""
	if f.In() != nil {
		got = f.In().String()
	}
	if got != in {
		return fmt.Errorf("the plan says it takes %q, this binary's takes %q", in, got)
	}
	if len(f.Outs()) != len(outs) {
		return fmt.Errorf("the plan says it has %d outputs, this binary's has %d", len(outs), len(f.Outs()))
	}
	for i, t := range f.Outs() {
		if t.String() != outs[i] {
			return fmt.Errorf("the plan says output %d emits %q, this binary's emits %q", i, outs[i], t)
		}
	}
	return nil
}

// edge returns the local edge of link l, making it on first use.
func (w *wiring) edge(l int) flow.AnyEdge {
	if e, ok := w.edges[l]; ok {
		return e
	}
	e := w.linkType(l).NewEdge(w.x.o.Credits, w.x.o.BatchSize)
	w.edges[l] = e
	return e
}

// linkType is the tuple type link l carries: its writer's output type.
func (w *wiring) linkType(l int) flow.Type {
	link := &w.ph.Links[l]
	return w.factories[w.ph.Instances[link.From].Op].Outs()[w.ph.Conns[link.Conn].Port]
}

// build makes PE i: its nodes, inbox, outboxes and the calls between them.
func (w *wiring) build(i int) (*pe, error) {
	def := &w.ph.PEs[i]
	p := newPE(w.x, def)
	local := make(map[int]int, len(def.Instances)) // instance -> node index
	for k, inst := range def.Instances {
		in := &w.ph.Instances[inst]
		op := &w.ph.Plan.Operators[in.Op]
		info := operator.Info{
			Operator: op.Name, Instance: in.ID, Channel: in.Channel, Width: in.Width,
			Path: in.Path, InRegion: in.Region >= 0,
		}
		f := w.factories[in.Op]
		if v, ok := f.(operator.Validator); ok {
			if err := v.Validate(info); err != nil {
				return nil, fmt.Errorf("%s: %w", where(op.Where, op.Name), err)
			}
		}
		n, err := f.New(info)
		if err != nil {
			return nil, fmt.Errorf("%s: operator %s: %w", where(op.Where, op.Name), in.ID, err)
		}
		n.Bind(&p.guard, k)
		p.nodes = append(p.nodes, n)
		p.infos = append(p.infos, info)
		local[inst] = k
	}
	if def.Source {
		src, ok := p.nodes[0].(operator.SourceNode)
		if !ok {
			return nil, fmt.Errorf("operator %s has no inputs but is not a source", def.ID)
		}
		if p.region >= 0 && p.isStart && !src.Replayable() {
			return nil, fmt.Errorf("source %s starts a consistent region but cannot replay: give it state (an operator.Iterator or Generator with exported fields or Snapshot/Restore)", def.ID)
		}
		p.src = src
	}
	// inputs calls node k's input, counting tuples that reach a sink (unless the sink counts them itself:
	// the wrapper costs a call per tuple).
	inputs := make(map[int]any)
	input := func(k int) (any, error) {
		if f, ok := inputs[k]; ok {
			return f, nil
		}
		f := p.nodes[k].Input()
		inst := def.Instances[k]
		op := w.ph.Instances[inst].Op
		if _, self := p.nodes[k].(operator.SelfCounting); !self && len(w.ph.Plan.Operators[op].Out) == 0 {
			var err error
			if f, err = w.factories[op].In().Counted(f, &p.guard.Consumed); err != nil {
				return nil, err
			}
		}
		inputs[k] = f
		return f, nil
	}
	for k, inst := range def.Instances {
		f := w.factories[w.ph.Instances[inst].Op]
		for port, t := range f.Outs() {
			var emits []any
			for _, ci := range w.connsOf[inst] {
				c := &w.ph.Conns[ci]
				if c.Port != port {
					continue
				}
				e, err := w.connEmit(p, c, t, local, input)
				if err != nil {
					return nil, fmt.Errorf("%s output %d: %w", w.ph.Instances[inst].ID, port, err)
				}
				emits = append(emits, e)
			}
			var emit any = t.Nop()
			if len(emits) > 0 {
				var err error
				if emit, err = t.Fanout(emits); err != nil {
					return nil, err
				}
			}
			if _, self := p.nodes[k].(operator.SelfCounting); !self && k == 0 && def.Source && port == 0 {
				var err error
				if emit, err = t.Counted(emit, &p.guard.Emitted); err != nil {
					return nil, err
				}
			}
			if err := p.nodes[k].Connect(port, emit); err != nil {
				return nil, fmt.Errorf("%s: %w", w.ph.Instances[inst].ID, err)
			}
		}
	}
	if !def.Source {
		edges := make([]flow.AnyEdge, len(def.Inputs))
		for j, l := range def.Inputs {
			link := &w.ph.Links[l]
			if w.here[link.FromPE] {
				edges[j] = w.edge(l)
				continue
			}
			if w.x.o.Remote == nil {
				return nil, fmt.Errorf("input from %s runs elsewhere and there is no transport", w.ph.PEs[link.FromPE].ID)
			}
			e, err := w.x.o.Remote.Incoming(link, w.linkType(l))
			if err != nil {
				return nil, fmt.Errorf("input from %s: %w", w.ph.PEs[link.FromPE].ID, err)
			}
			edges[j] = e
		}
		deliver, err := input(0)
		if err != nil {
			return nil, err
		}
		t := w.factories[w.ph.Instances[def.Instances[0]].Op].In()
		if p.inbox, err = t.NewInbox(edges, deliver, &p.guard.Halt, p.wake); err != nil {
			return nil, err
		}
		p.aligner = region.NewAligner(len(edges))
	}
	return p, nil
}

// connEmit returns the func(T) that feeds connection c: a fused reader's input, or outboxes to other PEs,
// combined by the connection's routing.
func (w *wiring) connEmit(p *pe, c *region.Conn, t flow.Type, local map[int]int, input func(int) (any, error)) (any, error) {
	targets := make([]any, len(c.To))
	for j, to := range c.To {
		if c.Links[j] < 0 {
			f, err := input(local[to])
			if err != nil {
				return nil, err
			}
			targets[j] = f
			continue
		}
		link := &w.ph.Links[c.Links[j]]
		var l any = w.edge(link.Index)
		if !w.here[link.ToPE] {
			if w.x.o.Remote == nil {
				return nil, fmt.Errorf("reader %s runs elsewhere and there is no transport", w.ph.PEs[link.ToPE].ID)
			}
			var err error
			if l, err = w.x.o.Remote.Outgoing(link, t, func(err error) { p.guard.Fail(0, fmt.Errorf("link to %s: %w", w.ph.PEs[link.ToPE].ID, err)) }); err != nil {
				return nil, err
			}
		}
		s, err := t.NewOutbox(l, &p.guard.Halt, p.abort)
		if err != nil {
			return nil, err
		}
		if p.region < 0 {
			// Outside consistent regions no reset would ever clear a halt: a batch lost on a broken stream
			// is lost, and the PE goes on (until it stops).
			s.SetLossy(p.notStopped)
		}
		p.outs = append(p.outs, s)
		targets[j] = s.Func()
	}
	switch c.Routing {
	case region.Forward:
		if len(targets) != 1 {
			return nil, fmt.Errorf("forward connection with %d readers", len(targets))
		}
		return targets[0], nil
	case topology.RoutingRoundRobin:
		return t.RoundRobin(targets)
	case topology.RoutingBroadcast:
		return t.Fanout(targets)
	case topology.RoutingHash:
		h, ok := w.keys[c.Parallel]
		if !ok {
			var err error
			if h, err = w.x.o.Binding.KeyHash(w.ph.Plan.ParallelRegion(c.Parallel)); err != nil {
				return nil, fmt.Errorf("hash key of parallel region %d: %w", c.Parallel, err)
			}
			w.keys[c.Parallel] = h
		}
		return t.HashRoute(targets, h)
	}
	return nil, fmt.Errorf("unknown routing %q", c.Routing)
}
