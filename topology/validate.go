package topology

import (
	"errors"
	"fmt"
	"slices"
	"strings"
)

// Problems collects everything wrong with a plan, so that a user fixes them in one round.
type Problems []string

func (ps Problems) Error() string {
	if len(ps) == 1 {
		return ps[0]
	}
	return fmt.Sprintf("%d problems:\n  %s", len(ps), strings.Join(ps, "\n  "))
}

func (ps *Problems) add(where, format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	if where != "" {
		msg = where + ": " + msg
	}
	*ps = append(*ps, msg)
}

func (ps Problems) err() error {
	if len(ps) == 0 {
		return nil
	}
	return ps
}

// Validate checks the plan's structure: names, connections, types, acyclicity, parallel and consistent
// regions. It does not check that the operators exist in this binary; binding does that.
func (p *Plan) Validate() error {
	var ps Problems
	if p.Name == "" {
		ps.add("", "the job has no name")
	}
	index := make(map[string]int, len(p.Operators))
	for i, op := range p.Operators {
		switch {
		case op.Name == "":
			ps.add(op.Where, "operator %d has no name", i)
		case strings.ContainsAny(op.Name, "[]/\\ \t\n"):
			ps.add(op.Where, "operator name %q may not contain brackets, slashes or spaces", op.Name)
		}
		if j, dup := index[op.Name]; dup {
			ps.add(op.Where, "operator name %q is used twice (also at %s)", op.Name, p.Operators[j].Where)
		}
		index[op.Name] = i
	}
	for _, op := range p.Operators {
		p.validateInputs(&ps, &op, index)
	}
	p.validateParallel(&ps)
	if len(ps) == 0 {
		if _, err := p.Order(); err != nil {
			ps.add("", "%v", err)
		}
	}
	if len(ps) == 0 {
		for _, op := range p.Operators {
			for _, in := range op.Inputs {
				if err := p.checkEdge(in.From, op.Name); err != nil {
					ps.add(op.Where, "%v", err)
				}
			}
		}
	}
	if len(ps) == 0 {
		if _, err := p.ConsistentRegions(); err != nil {
			var more Problems
			if errors.As(err, &more) {
				ps = append(ps, more...)
			} else {
				ps.add("", "%v", err)
			}
		}
	}
	return ps.err()
}

func (p *Plan) validateInputs(ps *Problems, op *Operator, index map[string]int) {
	if len(op.Inputs) == 0 && op.In != "" {
		ps.add(op.Where, "operator %s takes %s but has no input", op.Name, op.In)
	}
	if len(op.Inputs) > 0 && op.In == "" {
		ps.add(op.Where, "operator %s is a source but has inputs", op.Name)
	}
	if len(op.Out) == 0 && len(op.Inputs) == 0 {
		ps.add(op.Where, "operator %s has neither inputs nor outputs", op.Name)
	}
	for _, in := range op.Inputs {
		j, ok := index[in.From]
		if !ok {
			ps.add(op.Where, "operator %s: input from unknown operator %q", op.Name, in.From)
			continue
		}
		from := &p.Operators[j]
		if in.Port < 0 || in.Port >= len(from.Out) {
			ps.add(op.Where, "operator %s: %s has no output %d", op.Name, from.Name, in.Port)
			continue
		}
		if from.Out[in.Port] != op.In {
			ps.add(op.Where, "operator %s takes %s but %s emits %s", op.Name, op.In, from.Name, from.Out[in.Port])
		}
	}
	if op.Parallel < -1 || op.Parallel >= len(p.Parallel) {
		ps.add(op.Where, "operator %s is in unknown parallel region %d", op.Name, op.Parallel)
	}
}

func (p *Plan) validateParallel(ps *Problems) {
	used := make([]bool, len(p.Parallel))
	for _, op := range p.Operators {
		if op.Parallel >= 0 && op.Parallel < len(used) {
			used[op.Parallel] = true
		}
	}
	for i, r := range p.Parallel {
		if r.ID != i {
			ps.add(r.Where, "parallel region %d has ID %d", i, r.ID)
		}
		if r.Parent < -1 || r.Parent >= i {
			ps.add(r.Where, "parallel region %d has parent %d, which must be defined before it", i, r.Parent)
		}
		if r.Width < 1 {
			ps.add(r.Where, "parallel width %d: it must be at least 1", r.Width)
		}
		switch r.Routing {
		case RoutingRoundRobin, RoutingBroadcast:
		case RoutingHash:
			if r.Key == "" {
				ps.add(r.Where, "hash routing needs a key")
			}
		default:
			ps.add(r.Where, "unknown routing %q: use %s, %s or %s", r.Routing, RoutingRoundRobin, RoutingHash, RoutingBroadcast)
		}
		if !used[i] {
			ps.add(r.Where, "parallel region %d holds no operator", i)
		}
	}
}

// Order returns the operators' indices in a topological order (inputs before the operators reading them),
// stable with respect to the plan's order.
func (p *Plan) Order() ([]int, error) {
	index := make(map[string]int, len(p.Operators))
	for i, op := range p.Operators {
		index[op.Name] = i
	}
	indeg := make([]int, len(p.Operators))
	next := make([][]int, len(p.Operators))
	for i, op := range p.Operators {
		for _, in := range op.Inputs {
			j, ok := index[in.From]
			if !ok {
				return nil, fmt.Errorf("operator %s: input from unknown operator %q", op.Name, in.From)
			}
			indeg[i]++
			next[j] = append(next[j], i)
		}
	}
	var order, ready []int
	for i := range p.Operators {
		if indeg[i] == 0 {
			ready = append(ready, i)
		}
	}
	for len(ready) > 0 {
		slices.Sort(ready)
		i := ready[0]
		ready = ready[1:]
		order = append(order, i)
		for _, j := range next[i] {
			if indeg[j]--; indeg[j] == 0 {
				ready = append(ready, j)
			}
		}
	}
	if len(order) != len(p.Operators) {
		var cyc []string
		for i, d := range indeg {
			if d > 0 {
				cyc = append(cyc, p.Operators[i].Name)
			}
		}
		return nil, fmt.Errorf("the graph has a cycle through %s", strings.Join(cyc, ", "))
	}
	return order, nil
}

// Ancestry returns the chain of parallel regions holding region r, outermost first, r last ([] for -1).
func (p *Plan) Ancestry(r int) []int {
	var chain []int
	for r >= 0 {
		chain = append(chain, r)
		r = p.Parallel[r].Parent
	}
	slices.Reverse(chain)
	return chain
}

// EdgeShape says how a connection crosses parallel regions.
type EdgeShape struct {
	// Common is the number of parallel regions the two ends share (their common ancestry).
	Common int
	// Routed is true when the reader sits in a region one level below the common ancestry: tuples are routed
	// into its channels. Otherwise each writer instance sends to the one reader instance with its channel
	// path up to the common ancestry (a forward when both are at that level, a merge when the writer is
	// deeper).
	Routed bool
	// Region is the parallel region entered when Routed.
	Region int
}

// Shape returns the shape of the connection from operator from to operator to.
func (p *Plan) Shape(from, to string) (EdgeShape, error) {
	a, ok1 := p.Operator(from)
	b, ok2 := p.Operator(to)
	if !ok1 || !ok2 {
		return EdgeShape{}, fmt.Errorf("no connection %s → %s", from, to)
	}
	ca, cb := p.Ancestry(a.Parallel), p.Ancestry(b.Parallel)
	common := 0
	for common < len(ca) && common < len(cb) && ca[common] == cb[common] {
		common++
	}
	switch len(cb) - common {
	case 0:
		return EdgeShape{Common: common}, nil
	case 1:
		return EdgeShape{Common: common, Routed: true, Region: cb[common]}, nil
	}
	return EdgeShape{}, fmt.Errorf("%s enters two parallel regions at once from %s: put an operator between the two Parallel calls", to, from)
}

func (p *Plan) checkEdge(from, to string) error {
	_, err := p.Shape(from, to)
	return err
}
