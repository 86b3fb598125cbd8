package topology

import (
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Builder builds a Go job's topology from its parameters. It must be deterministic: every node of a cluster
// calls it to find the code behind the plan, and checks that it got the same plan.
type Builder func(p *Params) *Topology

// Jobs is a registry of Go jobs by name.
type Jobs struct {
	builders map[string]Builder
	internal map[string]bool
}

// NewJobs makes an empty registry.
func NewJobs() *Jobs {
	return &Jobs{builders: make(map[string]Builder), internal: make(map[string]bool)}
}

// Register adds a job. Registering a name twice replaces the first.
func (j *Jobs) Register(name string, b Builder) {
	j.builders[name] = b
	delete(j.internal, name)
}

// RegisterInternal adds a job that Weir's own tools submit (the verification job of `weir chaos`): every
// node can build it by name, but it is not one of the binary's jobs: Names leaves it out, so that a user
// binary with one job still runs that one by default.
func (j *Jobs) RegisterInternal(name string, b Builder) {
	j.builders[name] = b
	j.internal[name] = true
}

// Names lists the registered jobs, sorted, without the internal ones.
func (j *Jobs) Names() []string {
	var out []string
	for _, n := range slices.Sorted(maps.Keys(j.builders)) {
		if !j.internal[n] {
			out = append(out, n)
		}
	}
	return out
}

// Has reports whether a job is registered.
func (j *Jobs) Has(name string) bool { _, ok := j.builders[name]; return ok }

// Build builds job name with the given parameters and returns its topology (the plan's binding) and its
// validated plan.
func (j *Jobs) Build(name string, params map[string]string) (*Topology, *Plan, error) {
	b, ok := j.builders[name]
	if !ok {
		known := strings.Join(j.Names(), ", ")
		if known == "" {
			known = "none"
		}
		return nil, nil, fmt.Errorf("no Go job %q in this binary (it has: %s)", name, known)
	}
	p := &Params{values: params, read: make(map[string]bool)}
	t := b(p)
	if err := p.Err(); err != nil {
		return nil, nil, fmt.Errorf("job %s: %w", name, err)
	}
	if t == nil {
		return nil, nil, fmt.Errorf("job %s: its builder returned no topology", name)
	}
	t.plan.Origin = Origin{Kind: OriginGo, Job: name}
	t.plan.Params = params
	plan, err := t.Plan()
	if err != nil {
		return nil, nil, err
	}
	return t, plan, nil
}

// Params are a job's submission parameters (-P name=value). Getters return the default when a parameter is
// not given; a value that does not parse, or a parameter the job never reads, is reported by Err.
type Params struct {
	values map[string]string
	read   map[string]bool
	probs  Problems
}

// NewParams wraps values (for tests and direct builds).
func NewParams(values map[string]string) *Params {
	return &Params{values: values, read: make(map[string]bool)}
}

func (p *Params) get(name string) (string, bool) {
	p.read[name] = true
	v, ok := p.values[name]
	return v, ok
}

// String returns parameter name, or def.
func (p *Params) String(name, def string) string {
	if v, ok := p.get(name); ok {
		return v
	}
	return def
}

// Int returns parameter name as an integer, or def.
func (p *Params) Int(name string, def int) int {
	v, ok := p.get(name)
	if !ok {
		return def
	}
	n, err := strconv.Atoi(strings.TrimSpace(v))
	if err != nil {
		p.probs.add("", "parameter %s=%q is not an integer", name, v)
		return def
	}
	return n
}

// Float returns parameter name as a number, or def.
func (p *Params) Float(name string, def float64) float64 {
	v, ok := p.get(name)
	if !ok {
		return def
	}
	f, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
	if err != nil {
		p.probs.add("", "parameter %s=%q is not a number", name, v)
		return def
	}
	return f
}

// Duration returns parameter name as a duration ("500ms", "2s"), or def.
func (p *Params) Duration(name string, def time.Duration) time.Duration {
	v, ok := p.get(name)
	if !ok {
		return def
	}
	d, err := time.ParseDuration(strings.TrimSpace(v))
	if err != nil {
		p.probs.add("", "parameter %s=%q is not a duration (like 500ms or 2s)", name, v)
		return def
	}
	return d
}

// Bool returns parameter name as a boolean, or def.
func (p *Params) Bool(name string, def bool) bool {
	v, ok := p.get(name)
	if !ok {
		return def
	}
	b, err := strconv.ParseBool(strings.TrimSpace(v))
	if err != nil {
		p.probs.add("", "parameter %s=%q is not true or false", name, v)
		return def
	}
	return b
}

// Err reports values that did not parse and parameters the job does not read.
func (p *Params) Err() error {
	probs := slices.Clone(p.probs)
	var unknown []string
	for name := range p.values {
		if !p.read[name] {
			unknown = append(unknown, name)
		}
	}
	if len(unknown) > 0 {
		slices.Sort(unknown)
		known := slices.Sorted(maps.Keys(p.read))
		list := strings.Join(known, ", ")
		if list == "" {
			list = "none"
		}
		probs.add("", "unknown parameter %s (the job reads: %s)", strings.Join(unknown, ", "), list)
	}
	return probs.err()
}
