package jobfile

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/weirstream/weir/operator"
	"github.com/weirstream/weir/topology"
	"github.com/weirstream/weir/value"
)

// Kind keys other than the transform kinds, and the reserved keys of operator steps.
const (
	keySource      = "source"
	keySink        = "sink"
	keyParallel    = "parallel"
	keyEndParallel = "end_parallel"
	keyRouting     = "routing"
	keyKey         = "key"
	keyID          = "id"
	keyFrom        = "from"
	keyIsolate     = "isolate"
)

var idRE = regexp.MustCompile(`^[A-Za-z0-9_-]+$`)

// step is one entry of steps:, as read from the file.
type step struct {
	n    int // 1-based position in steps:
	line int
	// kindKey is the key that gives the step its kind: source, sink, parallel, end_parallel or a transform.
	kindKey string
	// role is the operator's role; "" for parallel, end_parallel and steps without a kind.
	role operator.Role
	// kind is the operator kind (or "parallel", "end_parallel") for messages and the plan.
	kind string
	spec *operator.Spec

	id       string
	idLine   int
	from     []ref
	fromLine int
	hasFrom  bool
	isolate  bool
	raw      map[string]any
	lines    map[string]int

	// bad is set once a problem is reported for the step; the plan's own checks of it are then left out, as
	// they would mostly echo that problem.
	bad bool
	// badParams is set when a parameter's value could not be read: Configure would only echo that.
	badParams bool
	// name is the operator's name; outs its number of output ports; planWhere its Where in the plan.
	name      string
	outs      int
	planWhere string

	// Parallel steps.
	width   int
	routing string
	key     string
	keyLine int
	region  int
}

// ref is one stream named by from: an operator and one of its output ports.
type ref struct {
	text     string
	name     string
	port     int
	explicit bool // the port was written (id.N)
	line     int
}

func (st *step) op() bool { return st.role != "" }

// where locates line (the step's own line when 0) inside the step: "file:line (step n: kind)".
func (st *step) where(l *loader, line int) string {
	if line <= 0 {
		line = st.line
	}
	if st.kind == "" {
		return fmt.Sprintf("%s (step %d)", l.at(line), st.n)
	}
	return fmt.Sprintf("%s (step %d: %s)", l.at(line), st.n, st.kind)
}

// parseSteps reads steps:.
func (l *loader) parseSteps(e entry) []*step {
	n := deref(e.v)
	if isNull(n) || n.Kind == yaml.SequenceNode && len(n.Content) == 0 {
		l.problemAt(nil, e.k.Line, "the job has no steps: add at least a source")
		return nil
	}
	if n.Kind != yaml.SequenceNode {
		l.problemAt(nil, e.v.Line, "steps must be a list (- source: …), not %s", describe(n))
		return nil
	}
	steps := make([]*step, 0, len(n.Content))
	for i, c := range n.Content {
		st := &step{n: i + 1, line: c.Line, region: -1}
		l.parseStep(st, c)
		steps = append(steps, st)
	}
	return steps
}

func (l *loader) parseStep(st *step, c *yaml.Node) {
	n := deref(c)
	switch {
	case isNull(n):
		l.problemAt(st, st.line, "the step is empty")
	case n.Kind == yaml.ScalarNode && n.Value == keyEndParallel:
		st.kindKey, st.kind = keyEndParallel, keyEndParallel
	case n.Kind == yaml.ScalarNode && l.transforms[n.Value]:
		// A bare transform kind: the transform without parameters.
		l.operatorStep(st, entry{key: n.Value, k: n, v: nil}, nil)
	case n.Kind == yaml.ScalarNode:
		l.problemAt(st, st.line, "%q is not a step: a step is a mapping such as `source: <kind>`, `map: <expr>` or `parallel: <width>`, or the word end_parallel", n.Value)
	case n.Kind == yaml.SequenceNode:
		l.problemAt(st, st.line, "a step is a mapping such as `map: <expr>`, not a list")
	case n.Kind == yaml.MappingNode:
		l.mappingStep(st, n)
	default:
		l.problemAt(st, st.line, "unexpected YAML node")
	}
}

func (l *loader) isKindKey(k string) bool {
	switch k {
	case keySource, keySink, keyParallel, keyEndParallel:
		return true
	}
	return l.transforms[k]
}

func isReserved(k string) bool { return k == keyID || k == keyFrom || k == keyIsolate }

func (l *loader) mappingStep(st *step, n *yaml.Node) {
	st.kind = l.guessKind(n)
	es := l.entries(n, st)
	var kinds []entry
	var others []string
	for _, e := range es {
		if l.isKindKey(e.key) {
			kinds = append(kinds, e)
		} else if !isReserved(e.key) {
			others = append(others, e.key)
		}
	}
	switch {
	case len(kinds) == 0 && len(others) == 1:
		// Most likely a misspelt or missing transform kind.
		k := others[0]
		_, err := l.opts.Registry.Lookup(operator.RoleTransform, k)
		l.problemAt(st, lineOf(es, k), "%v; a step's kind is one of source, sink, parallel, end_parallel or a transform", err)
		return
	case len(kinds) == 0:
		keys := make([]string, len(es))
		for i, e := range es {
			keys[i] = e.key
		}
		l.problemAt(st, st.line, "the step has no kind key (its keys: %s): a step has exactly one of source, sink, parallel, end_parallel or a transform (%s)",
			orNone(keys), orNone(l.opts.Registry.Kinds(operator.RoleTransform)))
		return
	case len(kinds) > 1:
		k, ok := l.pickKind(kinds)
		if !ok {
			names := make([]string, len(kinds))
			for i, e := range kinds {
				names[i] = e.key
			}
			l.problemAt(st, st.line, "the step has %d kind keys: %s; a step has exactly one", len(kinds), strings.Join(names, ", "))
			return
		}
		kinds = []entry{k}
	}
	kind := kinds[0]
	var rest []entry
	for _, e := range es {
		if e.k != kind.k {
			rest = append(rest, e)
		}
	}
	switch kind.key {
	case keyParallel:
		l.parallelStep(st, kind, rest)
	case keyEndParallel:
		st.kindKey, st.kind = keyEndParallel, keyEndParallel
		if !isNull(kind.v) {
			l.problemAt(st, kind.v.Line, "end_parallel takes no value")
		}
		for _, e := range rest {
			l.problemAt(st, e.k.Line, "end_parallel takes no keys; %q is one", e.key)
		}
	default:
		l.operatorStep(st, kind, rest)
	}
}

// guessKind labels a step for the messages about its keys, before they are read: the kind when the step has
// exactly one kind key.
func (l *loader) guessKind(n *yaml.Node) string {
	kind, found := "", 0
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := deref(n.Content[i]), deref(n.Content[i+1])
		if k == nil || k.Kind != yaml.ScalarNode || !l.isKindKey(k.Value) {
			continue
		}
		found++
		kind = k.Value
		if (kind == keySource || kind == keySink) && v != nil && v.Kind == yaml.ScalarNode && idRE.MatchString(v.Value) {
			kind = v.Value
		}
	}
	if found != 1 {
		return ""
	}
	return kind
}

// pickKind settles a step with several kind keys when exactly one of them declares all the others as its
// parameters (a transform with a parameter named like another transform).
func (l *loader) pickKind(kinds []entry) (entry, bool) {
	var picked []entry
	for _, c := range kinds {
		accepts := l.accepts(c)
		all := true
		for _, o := range kinds {
			if o.k != c.k && !accepts[o.key] {
				all = false
				break
			}
		}
		if all {
			picked = append(picked, c)
		}
	}
	if len(picked) != 1 {
		return entry{}, false
	}
	return picked[0], true
}

// accepts lists the keys a step with kind key e takes besides the reserved ones.
func (l *loader) accepts(e entry) map[string]bool {
	var spec *operator.Spec
	switch e.key {
	case keyParallel:
		return map[string]bool{keyRouting: true, keyKey: true}
	case keyEndParallel:
		return nil
	case keySource, keySink:
		if v := deref(e.v); v != nil && v.Kind == yaml.ScalarNode {
			spec, _ = l.opts.Registry.Lookup(operator.Role(e.key), v.Value)
		}
	default:
		spec, _ = l.opts.Registry.Lookup(operator.RoleTransform, e.key)
	}
	if spec == nil {
		return nil
	}
	out := make(map[string]bool, len(spec.Params))
	for _, p := range spec.Params {
		out[p.Name] = true
	}
	return out
}

// operatorStep reads a source, sink or transform step.
func (l *loader) operatorStep(st *step, kind entry, rest []entry) {
	st.kindKey = kind.key
	st.raw = make(map[string]any)
	st.lines = make(map[string]int)
	switch kind.key {
	case keySource, keySink:
		st.role = operator.Role(kind.key)
		st.kind = kind.key // until the kind is known
		if k, ok := l.text(kind.v, st, kind.key+" kind"); ok {
			st.kind = k
			spec, err := l.opts.Registry.Lookup(st.role, k)
			if err != nil {
				l.problemAt(st, kind.v.Line, "%v", err)
			}
			st.spec = spec
		}
	default:
		st.role = operator.RoleTransform
		st.kind = kind.key
		spec, err := l.opts.Registry.Lookup(operator.RoleTransform, kind.key)
		if err != nil { // cannot happen: kind keys are registered kinds
			l.problemAt(st, kind.k.Line, "%v", err)
			return
		}
		st.spec = spec
		v := deref(kind.v)
		switch {
		case isNull(v):
		case v.Kind == yaml.MappingNode:
			for _, pe := range l.entries(v, st) {
				l.setParam(st, pe.key, pe.k.Line, pe.v)
			}
		case spec.Primary == "":
			l.problemAt(st, kind.k.Line, "%s takes no shorthand value: write its parameters as keys of the step, or as a mapping (its parameters: %s)",
				spec.Kind, paramNames(spec))
		default:
			l.setParam(st, spec.Primary, kind.k.Line, kind.v)
		}
	}
	for _, e := range rest {
		switch e.key {
		case keyID:
			st.idLine = e.k.Line
			if id, ok := l.text(e.v, st, "id"); ok {
				if idRE.MatchString(id) {
					st.id = id
				} else {
					l.problemAt(st, e.k.Line, "id %q may hold only letters, digits, '_' and '-'", id)
				}
			}
		case keyFrom:
			st.hasFrom, st.fromLine = true, e.k.Line
			l.parseFrom(st, e)
		case keyIsolate:
			v, ok := l.toValue(e.v, st, 0)
			if b, isBool := v.(bool); isBool {
				st.isolate = b
			} else if ok {
				l.problemAt(st, e.k.Line, "isolate must be true or false, not %s", value.TypeName(v))
			}
		default:
			l.setParam(st, e.key, e.k.Line, e.v)
		}
	}
}

// setParam records a parameter of an operator step.
func (l *loader) setParam(st *step, name string, line int, n *yaml.Node) {
	if first, dup := st.lines[name]; dup {
		l.problemAt(st, line, "parameter %s is given twice (also at line %d)", name, first)
		return
	}
	st.lines[name] = line
	v, ok := l.toValue(n, st, 0)
	if !ok {
		st.badParams = true
	}
	st.raw[name] = v
}

// parseFrom reads from: an id, id.N, or a list of those.
func (l *loader) parseFrom(st *step, e entry) {
	n := deref(e.v)
	items := []*yaml.Node{e.v}
	if n != nil && n.Kind == yaml.SequenceNode {
		items = n.Content
		if len(items) == 0 {
			l.problemAt(st, e.k.Line, "from: lists no stream")
		}
	}
	for _, it := range items {
		t, ok := l.text(it, st, "from")
		if !ok {
			continue
		}
		r := ref{text: t, name: t, line: it.Line}
		if i := strings.LastIndexByte(t, '.'); i > 0 && i < len(t)-1 && allDigits(t[i+1:]) {
			port, err := strconv.Atoi(t[i+1:])
			if err != nil || port > 1<<20 {
				l.problemAt(st, it.Line, "from: %q: port %s is out of range", t, t[i+1:])
				continue
			}
			r.name, r.port, r.explicit = t[:i], port, true
		}
		st.from = append(st.from, r)
	}
}

func allDigits(s string) bool {
	for _, c := range s {
		if c < '0' || c > '9' {
			return false
		}
	}
	return s != ""
}

// parallelStep reads `parallel: N` with its routing and key.
func (l *loader) parallelStep(st *step, kind entry, rest []entry) {
	st.kindKey, st.kind = keyParallel, keyParallel
	st.width, st.routing = 1, topology.RoutingRoundRobin
	if v, ok := l.toValue(kind.v, st, 0); ok {
		switch w, isInt := value.Int(v); {
		case !isInt:
			l.problemAt(st, kind.k.Line, "parallel takes the region's width, a whole number, not %s", value.TypeName(v))
		case w < 1:
			l.problemAt(st, kind.k.Line, "parallel width must be at least 1, not %d", w)
		default:
			st.width = w
		}
	}
	for _, e := range rest {
		switch e.key {
		case keyRouting:
			r, ok := l.text(e.v, st, "routing")
			if !ok {
				continue
			}
			switch r {
			case topology.RoutingRoundRobin, topology.RoutingHash, topology.RoutingBroadcast:
				st.routing = r
			default:
				l.problemAt(st, e.k.Line, "unknown routing %q: use %s, %s or %s", r,
					topology.RoutingRoundRobin, topology.RoutingHash, topology.RoutingBroadcast)
			}
		case keyKey:
			st.keyLine = e.k.Line
			if k, ok := l.text(e.v, st, "key"); ok {
				st.key = k
			}
		default:
			l.problemAt(st, e.k.Line, "a parallel step takes parallel, routing and key; not %s", e.key)
		}
	}
	switch {
	case st.routing == topology.RoutingHash && st.key == "":
		l.problemAt(st, max(st.keyLine, st.line), "hash routing needs a key: an expression over the tuple `it` (key: \"it.user\")")
		st.key = "it" // keeps the plan valid; the problem is reported
	case st.routing != topology.RoutingHash && st.keyLine != 0:
		l.problemAt(st, st.keyLine, "key applies only to routing: hash (this region's routing is %s)", st.routing)
		st.key = ""
	case st.key != "" && l.opts.CheckKey != nil:
		if err := l.opts.CheckKey(st.key); err != nil {
			l.problemAt(st, st.keyLine, "hash key %q: %v", st.key, err)
		}
	}
}

// nameSteps names the operators: the id when given, else the kind, suffixed _2, _3… as needed so that no
// two operators share a name.
func (l *loader) nameSteps(steps []*step) {
	taken := make(map[string]bool)
	byID := make(map[string]*step)
	for _, st := range steps {
		if !st.op() || st.id == "" {
			continue
		}
		if first, dup := byID[st.id]; dup {
			l.problemAt(st, st.idLine, "id %q is already used by step %d (line %d)", st.id, first.n, first.line)
			st.id = ""
			continue
		}
		byID[st.id] = st
		taken[st.id] = true
	}
	for _, st := range steps {
		if !st.op() {
			continue
		}
		if st.id != "" {
			st.name = st.id
			continue
		}
		base := st.kind
		if !idRE.MatchString(base) {
			base = string(st.role)
		}
		name := base
		for i := 2; taken[name]; i++ {
			name = fmt.Sprintf("%s_%d", base, i)
		}
		taken[name] = true
		st.name = name
	}
}

func lineOf(es []entry, key string) int {
	for _, e := range es {
		if e.key == key {
			return e.k.Line
		}
	}
	return 0
}

func orNone(xs []string) string {
	if len(xs) == 0 {
		return "none"
	}
	return strings.Join(xs, ", ")
}

func paramNames(s *operator.Spec) string {
	names := make([]string, len(s.Params))
	for i, p := range s.Params {
		names[i] = p.Name
	}
	return orNone(names)
}
