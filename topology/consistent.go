package topology

import (
	"slices"
	"strings"
)

// ConsistentRegion is a consistent region as it runs: its configuration and every operator in it.
type ConsistentRegion struct {
	Index  int
	Config Consistent
	// Members are the region's operators in topological order.
	Members []string
}

// ConsistentRegions resolves the configured regions into their members: everything downstream of their
// start operators. Regions that reach a common operator are one region (their configurations must agree).
// An operator of a region may not read from an operator outside it: tuples from outside could not be
// replayed.
func (p *Plan) ConsistentRegions() ([]ConsistentRegion, error) {
	var ps Problems
	order, err := p.Order()
	if err != nil {
		return nil, err
	}
	readers := make(map[string][]string)
	for _, op := range p.Operators {
		for _, in := range op.Inputs {
			readers[in.From] = append(readers[in.From], op.Name)
		}
	}
	// owner maps an operator to the configured region that reached it first; merges records unions.
	owner := make(map[string]int)
	parent := make([]int, len(p.Consistent))
	for i := range parent {
		parent[i] = i
	}
	find := func(i int) int {
		for parent[i] != i {
			i = parent[i]
		}
		return i
	}
	for i, c := range p.Consistent {
		p.validateConsistent(&ps, c)
		stack := slices.Clone(c.Starts)
		for len(stack) > 0 {
			name := stack[len(stack)-1]
			stack = stack[:len(stack)-1]
			if j, ok := owner[name]; ok {
				if a, b := find(i), find(j); a != b {
					parent[a] = b
				}
				continue
			}
			owner[name] = i
			stack = append(stack, readers[name]...)
		}
	}
	roots := map[int]int{}
	var regions []ConsistentRegion
	for i, c := range p.Consistent {
		r := find(i)
		k, ok := roots[r]
		if !ok {
			k = len(regions)
			roots[r] = k
			regions = append(regions, ConsistentRegion{Index: k, Config: c.WithDefaults()})
			regions[k].Config.Starts = nil
		}
		merged := &regions[k].Config
		if !sameLimits(*merged, c.WithDefaults()) {
			ps.add(c.Where, "consistent regions starting at %s and %s overlap but are configured differently",
				strings.Join(c.Starts, ", "), strings.Join(merged.Starts, ", "))
		}
		merged.Starts = append(merged.Starts, c.Starts...)
	}
	for _, i := range order {
		op := &p.Operators[i]
		j, in := owner[op.Name]
		if !in {
			continue
		}
		k := roots[find(j)]
		regions[k].Members = append(regions[k].Members, op.Name)
		for _, input := range op.Inputs {
			if _, ok := owner[input.From]; !ok {
				ps.add(op.Where, "operator %s is in a consistent region but reads from %s, which is not: make %s's source a start of the region too",
					op.Name, input.From, input.From)
			}
		}
	}
	for k := range regions {
		slices.Sort(regions[k].Config.Starts)
	}
	if err := ps.err(); err != nil {
		return nil, err
	}
	return regions, nil
}

func sameLimits(a, b Consistent) bool {
	return a.Trigger == b.Trigger && a.Period == b.Period && a.DrainTimeout == b.DrainTimeout &&
		a.ResetTimeout == b.ResetTimeout && a.MaxConsecutiveAttempts == b.MaxConsecutiveAttempts
}

func (p *Plan) validateConsistent(ps *Problems, c Consistent) {
	if len(c.Starts) == 0 {
		ps.add(c.Where, "a consistent region needs at least one start operator")
	}
	for _, s := range c.Starts {
		op, ok := p.Operator(s)
		switch {
		case !ok:
			ps.add(c.Where, "consistent region starts at unknown operator %q", s)
		case len(op.Inputs) > 0:
			ps.add(c.Where, "consistent region starts at %s, which is not a source: start it at the sources upstream", s)
		}
	}
	switch c.Trigger {
	case "", TriggerPeriodic:
		if c.Period <= 0 {
			ps.add(c.Where, "a periodic consistent region needs a period above 0")
		}
	case TriggerOperatorDriven:
	default:
		ps.add(c.Where, "unknown consistent region trigger %q: use %s or %s", c.Trigger, TriggerPeriodic, TriggerOperatorDriven)
	}
	if c.DrainTimeout < 0 || c.ResetTimeout < 0 {
		ps.add(c.Where, "drain and reset timeouts must be positive")
	}
	if c.MaxConsecutiveAttempts < 0 {
		ps.add(c.Where, "max_consecutive_attempts must be at least 1")
	}
}
