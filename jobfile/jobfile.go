package jobfile

import (
	"bytes"
	"cmp"
	"errors"
	"fmt"
	"io"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/weirstream/weir/operator"
	"github.com/weirstream/weir/topology"
)

// Options for loading a job file.
type Options struct {
	// Params are the -P name=value overrides of the file's declared params. Each value is read as a YAML
	// scalar ("5" is the int 5, "true" the bool true, anything else text).
	Params map[string]string
	// Registry holds the operator kinds the file may name. Required.
	Registry *operator.Registry
	// CheckKey validates a hash-routing key expression; nil leaves keys unchecked.
	CheckKey func(expr string) error
}

// Load reads the job file at path and turns it into a validated plan. Messages name the path.
func Load(path string, o Options) (*topology.Plan, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read job file: %w", err)
	}
	return Parse(path, data, o)
}

// Parse turns the job file data into a validated plan; name stands for the file in messages. Every problem
// found is reported in one error (a topology.Problems), each located as "name:line".
func Parse(name string, data []byte, o Options) (*topology.Plan, error) {
	if o.Registry == nil {
		return nil, fmt.Errorf("%s: no operator registry to look kinds up in", name)
	}
	l := newLoader(name, o)
	plan := l.load(data)
	if len(l.probs) > 0 {
		return nil, l.sorted()
	}
	return plan, nil
}

// Top-level keys of a job file.
const (
	keyName        = "name"
	keyDescription = "description"
	keyParams      = "params"
	keyConsistent  = "consistent"
	keySteps       = "steps"
)

var topKeys = []string{keyName, keyDescription, keyParams, keyConsistent, keySteps}

var (
	jobNameRE = regexp.MustCompile(`^[A-Za-z0-9_.-]+$`)
	yamlErrRE = regexp.MustCompile(`(?s)^yaml: line (\d+): (.*)$`)
)

// loader holds the state of one Parse.
type loader struct {
	name   string
	opts   Options
	probs  topology.Problems
	seen   map[string]bool
	params map[string]*param
	// declared lists the params' names, sorted, for messages.
	declared []string
	// transforms is the set of registered transform kinds: the keys that make a step a transform.
	transforms map[string]bool
	// budget bounds the nodes visited while converting values, against alias bombs.
	budget    int
	exhausted bool
	// active holds the alias targets being expanded, against self-referencing anchors.
	active map[*yaml.Node]bool
}

// maxNodes bounds the YAML nodes (aliases expanded) a job file may hold.
const maxNodes = 1 << 18

func newLoader(name string, o Options) *loader {
	l := &loader{
		name:       name,
		opts:       o,
		seen:       make(map[string]bool),
		params:     make(map[string]*param),
		transforms: make(map[string]bool),
		budget:     maxNodes,
		active:     make(map[*yaml.Node]bool),
	}
	for _, k := range o.Registry.Kinds(operator.RoleTransform) {
		l.transforms[k] = true
	}
	return l
}

// at locates a line of the file.
func (l *loader) at(line int) string {
	if line <= 0 {
		return l.name
	}
	return fmt.Sprintf("%s:%d", l.name, line)
}

// problem records a problem at where (already formatted), once.
func (l *loader) problem(where, format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	if where != "" {
		msg = where + ": " + msg
	}
	if l.seen[msg] {
		return
	}
	l.seen[msg] = true
	l.probs = append(l.probs, msg)
}

// problemAt records a problem at a line, inside step st when it is not nil.
func (l *loader) problemAt(st *step, line int, format string, args ...any) {
	if st != nil {
		st.bad = true
		l.problem(st.where(l, line), format, args...)
		return
	}
	l.problem(l.at(line), format, args...)
}

// sorted orders the problems by line, those without a line first, keeping the order of finding otherwise.
func (l *loader) sorted() topology.Problems {
	line := func(msg string) int {
		rest, ok := strings.CutPrefix(msg, l.name+":")
		if !ok {
			return 0
		}
		end := 0
		for end < len(rest) && rest[end] >= '0' && rest[end] <= '9' {
			end++
		}
		n, err := strconv.Atoi(rest[:end])
		if err != nil {
			return 0
		}
		return n
	}
	ps := slices.Clone(l.probs)
	slices.SortStableFunc(ps, func(a, b string) int { return cmp.Compare(line(a), line(b)) })
	return ps
}

func (l *loader) load(data []byte) *topology.Plan {
	root := l.parseYAML(data)
	if root == nil {
		return nil
	}
	root = deref(root)
	if root.Kind != yaml.MappingNode {
		l.problemAt(nil, root.Line, "a job file is a mapping with the keys %s; this one is %s",
			strings.Join(topKeys, ", "), describe(root))
		return nil
	}
	top := make(map[string]entry)
	for _, e := range l.entries(root, nil) {
		switch e.key {
		case keyName, keyDescription, keyParams, keyConsistent, keySteps:
			top[e.key] = e
		default:
			l.problemAt(nil, e.k.Line, "unknown key %q (a job file has: %s)", e.key, strings.Join(topKeys, ", "))
		}
	}

	plan := &topology.Plan{Origin: topology.Origin{Kind: topology.OriginFile, File: l.name}}
	if e, ok := top[keyParams]; ok {
		l.declareParams(e.v)
	}
	plan.Params = l.applyOverrides()

	if e, ok := top[keyName]; ok {
		if s, ok := l.text(e.v, nil, "name"); ok {
			if jobNameRE.MatchString(s) {
				plan.Name = s
			} else {
				l.problemAt(nil, e.v.Line, "job name %q may hold only letters, digits, '_', '.' and '-'", s)
			}
		}
	} else {
		l.problemAt(nil, root.Line, "the job needs a name (name: <letters, digits, _ . ->)")
	}
	if e, ok := top[keyDescription]; ok {
		l.text(e.v, nil, "description")
	}

	var steps []*step
	if e, ok := top[keySteps]; ok {
		steps = l.parseSteps(e)
	} else {
		l.problemAt(nil, root.Line, "the job has no steps: add steps: with at least a source")
	}
	l.nameSteps(steps)
	l.wire(plan, steps)

	if e, ok := top[keyConsistent]; ok {
		if c, ok := l.consistent(e, plan); ok {
			plan.Consistent = append(plan.Consistent, c)
		}
	}
	l.validate(plan, steps)
	return plan
}

// parseYAML reads the single document of data and returns its root node, nil after a problem.
func (l *loader) parseYAML(data []byte) *yaml.Node {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			l.problem(l.name, "the job file is empty")
		} else {
			l.yamlProblem(err)
		}
		return nil
	}
	var extra yaml.Node
	switch err := dec.Decode(&extra); {
	case errors.Is(err, io.EOF):
	case err != nil:
		l.yamlProblem(err)
		return nil
	default:
		l.problemAt(nil, extra.Line, "a job file holds one YAML document; remove the second one (after ---)")
		return nil
	}
	if doc.Kind == yaml.DocumentNode {
		if len(doc.Content) == 0 {
			l.problem(l.name, "the job file is empty")
			return nil
		}
		return doc.Content[0]
	}
	return &doc
}

// yamlProblem reports a YAML syntax error, with its line when the parser gave one.
func (l *loader) yamlProblem(err error) {
	msg := err.Error()
	if m := yamlErrRE.FindStringSubmatch(msg); m != nil {
		l.problem(l.name+":"+m[1], "%s", m[2])
		return
	}
	l.problem(l.name, "%s", strings.TrimPrefix(msg, "yaml: "))
}

// validate ends the load with the plan's own checks. A problem of a step that already has one is left out:
// it is most likely a consequence.
func (l *loader) validate(plan *topology.Plan, steps []*step) {
	check := *plan
	if check.Name == "" {
		check.Name = "unnamed" // a missing or bad name is reported already
	}
	err := check.Validate()
	if err == nil {
		return
	}
	var ps topology.Problems
	if !errors.As(err, &ps) {
		l.problem(l.name, "%v", err)
		return
	}
	var bad []string
	for _, st := range steps {
		if st.bad && st.planWhere != "" {
			bad = append(bad, st.planWhere+": ")
		}
	}
next:
	for _, msg := range ps {
		for _, prefix := range bad {
			if strings.HasPrefix(msg, prefix) {
				continue next
			}
		}
		if !strings.HasPrefix(msg, l.name) {
			msg = l.name + ": " + msg
		}
		l.problem("", "%s", msg)
	}
}
