package jobfile

import (
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/weirstream/weir/operator"
	"github.com/weirstream/weir/topology"
	"github.com/weirstream/weir/value"
)

// Type names of job-file streams: every tuple is a dynamic value.
const anyType = "any"

// waysParam is the parameter that gives a transform (split) several output ports.
const waysParam = "ways"

// wire turns the steps into the plan's operators and parallel regions.
func (l *loader) wire(plan *topology.Plan, steps []*step) {
	byName := make(map[string]*step)
	for _, st := range steps {
		if st.op() {
			byName[st.name] = st
		}
	}
	defined := make(map[string]*step)
	var order []string // names defined so far, for messages
	var open []*step   // open parallel regions, innermost last
	var prev *step     // the last operator step
	for _, st := range steps {
		switch {
		case st.kindKey == keyParallel:
			st.region = len(plan.Parallel)
			st.planWhere = st.where(l, st.line)
			parent := -1
			if len(open) > 0 {
				parent = open[len(open)-1].region
			}
			plan.Parallel = append(plan.Parallel, topology.Parallel{
				ID: st.region, Parent: parent, Width: st.width, Routing: st.routing, Key: st.key, Where: st.planWhere,
			})
			open = append(open, st)
		case st.kindKey == keyEndParallel:
			if len(open) == 0 {
				l.problemAt(st, st.line, "end_parallel closes no parallel region: there is none open")
				continue
			}
			open = open[:len(open)-1]
		case st.op():
			region := -1
			if len(open) > 0 {
				region = open[len(open)-1].region
				if st.role == operator.RoleSource {
					l.problemAt(st, st.line, "a source cannot be inside a parallel region (opened at line %d): put the parallel step after the source",
						open[len(open)-1].line)
				}
			}
			inputs := l.inputs(st, prev, defined, byName, order)
			l.configure(st)
			st.planWhere = st.where(l, st.line)
			op := topology.Operator{
				Name:     st.name,
				Kind:     st.kind,
				Inputs:   inputs,
				Parallel: region,
				Isolate:  st.isolate,
				Where:    st.planWhere,
			}
			if len(st.raw) > 0 {
				op.Config = st.raw
			}
			switch st.role {
			case operator.RoleSource:
				op.Out = []string{anyType}
			case operator.RoleTransform:
				op.In = anyType
				op.Out = slices.Repeat([]string{anyType}, st.outs)
			case operator.RoleSink:
				op.In = anyType
			}
			plan.Operators = append(plan.Operators, op)
			defined[st.name] = st
			order = append(order, st.name)
			prev = st
		}
	}
	for _, st := range open {
		l.problemAt(st, st.line, "this parallel region is never closed: add end_parallel after its last step")
	}
}

// inputs resolves the streams an operator step reads: its from:, or the previous operator's output.
func (l *loader) inputs(st, prev *step, defined, byName map[string]*step, order []string) []topology.Input {
	if st.role == operator.RoleSource {
		if st.hasFrom {
			l.problemAt(st, st.fromLine, "a source reads no stream: remove from")
		}
		return nil
	}
	if !st.hasFrom {
		switch {
		case prev != nil && prev.bad && prev.outs != 1:
			st.bad = true // prev's outputs are unknown after its own problem
		case prev == nil:
			l.problemAt(st, st.line, "there is no stream to read: put a source before this step, or name one with from: <id>")
		case prev.outs == 0:
			l.problemAt(st, st.line, "the previous step (%s %s) has no output: say which stream this step reads with from: <id>", prev.role, prev.name)
		case prev.outs > 1:
			l.problemAt(st, st.line, "the previous step, %s, has %d outputs: say which one this step reads with from: (%s)", prev.name, prev.outs, ports(prev))
		default:
			return []topology.Input{{From: prev.name}}
		}
		return nil
	}
	var ins []topology.Input
	for _, r := range st.from {
		src, ok := defined[r.name]
		if !ok {
			if later, ok := byName[r.name]; ok {
				l.problemAt(st, r.line, "from: %s is step %d, which comes later: a step reads only from steps above it", r.name, later.n)
			} else {
				l.problemAt(st, r.line, "from: no step above is called %q (names so far: %s)", r.name, orNone(order))
			}
			continue
		}
		if src.bad && (src.outs == 0 || r.port >= src.outs || !r.explicit && src.outs > 1) {
			// src's outputs are unknown after its own problem: leave this input out, without an echo.
			st.bad = true
			continue
		}
		switch {
		case src.outs == 0:
			l.problemAt(st, r.line, "from: %s is a sink: it has no output to read", r.name)
			continue
		case r.explicit && r.port >= src.outs:
			l.problemAt(st, r.line, "from: %s has no output %d (its outputs: %s)", r.name, r.port, ports(src))
			continue
		case !r.explicit && src.outs > 1:
			l.problemAt(st, r.line, "from: %s has %d outputs: name one (%s)", r.name, src.outs, ports(src))
			continue
		}
		in := topology.Input{From: src.name, Port: r.port}
		if slices.Contains(ins, in) {
			l.problemAt(st, r.line, "from: %s is named twice", r.text)
			continue
		}
		ins = append(ins, in)
	}
	return ins
}

// ports lists an operator's outputs as from: references.
func ports(st *step) string {
	ps := make([]string, st.outs)
	for i := range ps {
		ps[i] = fmt.Sprintf("%s.%d", st.name, i)
	}
	return strings.Join(ps, ", ")
}

// configure checks the step's parameters with its spec (Configure, then Build) and counts its outputs.
func (l *loader) configure(st *step) {
	st.outs = l.fallbackOuts(st)
	if st.spec == nil || st.badParams {
		return
	}
	cfg, err := st.spec.Configure(st.raw)
	if err != nil {
		l.problemAt(st, l.paramLine(st, err.Error(), false), "%v", err)
		return
	}
	if err := build(st.spec, cfg); err != nil {
		l.problemAt(st, l.paramLine(st, err.Error(), true), "%v", err)
	}
	if st.role == operator.RoleTransform && declares(st.spec, waysParam) {
		if w := cfg.Int(waysParam); w >= 1 {
			st.outs = w
		}
	}
}

// fallbackOuts counts a step's outputs from its role and raw parameters.
func (l *loader) fallbackOuts(st *step) int {
	switch st.role {
	case operator.RoleSink:
		return 0
	case operator.RoleTransform:
		if st.spec != nil && declares(st.spec, waysParam) {
			if w, ok := value.Int(st.raw[waysParam]); ok && w >= 1 {
				return w
			}
			for _, p := range st.spec.Params {
				if w, ok := p.Default.(int); ok && p.Name == waysParam && w >= 1 {
					return w
				}
			}
		}
	}
	return 1
}

func declares(s *operator.Spec, name string) bool {
	return slices.ContainsFunc(s.Params, func(p operator.Param) bool { return p.Name == name })
}

// build runs the spec's Build to validate the configuration; a panic is a problem like any other.
func build(spec *operator.Spec, cfg operator.Config) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("%s: building the operator failed: %v", spec.Kind, r)
		}
	}()
	_, err = spec.Build(cfg)
	return err
}

// paramLine finds the line of the parameter an error message is about, or the step's line. Configure's
// messages say `parameter "x"` or `parameter x`; a Build message (loose) may name the parameter alone.
func (l *loader) paramLine(st *step, msg string, loose bool) int {
	names := slices.Sorted(maps.Keys(st.lines))
	if strings.Contains(msg, " needs parameter ") {
		return st.line
	}
	for _, k := range names {
		if hasWord(msg, fmt.Sprintf("parameter %q", k)) || hasWord(msg, "parameter "+k) {
			return st.lines[k]
		}
	}
	if loose {
		// The longest parameter name the message mentions.
		slices.SortStableFunc(names, func(a, b string) int { return len(b) - len(a) })
		for _, k := range names {
			if hasWord(msg, k) {
				return st.lines[k]
			}
		}
	}
	return st.line
}

// hasWord tells whether s holds w with no letter, digit or '_' right before or after it.
func hasWord(s, w string) bool {
	for i := 0; ; {
		j := strings.Index(s[i:], w)
		if j < 0 {
			return false
		}
		j += i
		end := j + len(w)
		if (j == 0 || !wordByte(s[j-1])) && (end == len(s) || !wordByte(s[end])) {
			return true
		}
		i = j + 1
	}
}

func wordByte(c byte) bool {
	return c == '_' || c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z'
}
