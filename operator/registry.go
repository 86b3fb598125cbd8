package operator

import (
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/weirstream/weir/value"
)

// Role says where an operator kind sits in a graph.
type Role string

// Roles.
const (
	RoleSource    Role = "source"
	RoleTransform Role = "transform"
	RoleSink      Role = "sink"
)

// ParamType is the type of an operator parameter in a job file.
type ParamType string

// Parameter types. Values arrive as canonical values (package value) and are converted: ParamInt to int,
// ParamFloat to float64 (ints accepted), ParamString and ParamExpr to string, ParamBool to bool,
// ParamDuration to time.Duration (from strings like "500ms"), ParamStrings to []string (a single string is
// a list of one), ParamAny as it is.
const (
	ParamInt      ParamType = "int"
	ParamFloat    ParamType = "number"
	ParamString   ParamType = "string"
	ParamExpr     ParamType = "expression"
	ParamBool     ParamType = "bool"
	ParamDuration ParamType = "duration"
	ParamStrings  ParamType = "list of strings"
	ParamAny      ParamType = "any"
)

// Param declares one parameter of an operator kind.
type Param struct {
	Name     string
	Type     ParamType
	Required bool
	// Default applies when the parameter is absent (already of the converted type).
	Default any
	Doc     string
}

// Spec declares an operator kind that job files name.
type Spec struct {
	Kind    string
	Role    Role
	Summary string
	Params  []Param
	// Primary names the parameter that a job file's shorthand sets: in `map: "it * 2"` the value of the kind
	// key is the map's "expr" parameter.
	Primary string
	// Build makes the kind's factory from a configuration made by Configure. It reports bad values (an
	// expression that does not compile, say) with the parameter's name.
	Build func(cfg Config) (Factory, error)
}

// Config is an operator's configuration: declared parameters only, defaults applied, values converted.
type Config struct {
	Kind   string
	values map[string]any
}

// Has reports whether name was given or has a default.
func (c Config) Has(name string) bool { _, ok := c.values[name]; return ok }

// Value returns name's converted value, or nil.
func (c Config) Value(name string) any { return c.values[name] }

// Int returns an int parameter (0 when absent).
func (c Config) Int(name string) int { v, _ := c.values[name].(int); return v }

// Float returns a number parameter.
func (c Config) Float(name string) float64 { v, _ := c.values[name].(float64); return v }

// String returns a string or expression parameter.
func (c Config) String(name string) string { v, _ := c.values[name].(string); return v }

// Bool returns a bool parameter.
func (c Config) Bool(name string) bool { v, _ := c.values[name].(bool); return v }

// Duration returns a duration parameter.
func (c Config) Duration(name string) time.Duration { v, _ := c.values[name].(time.Duration); return v }

// Strings returns a list-of-strings parameter.
func (c Config) Strings(name string) []string { v, _ := c.values[name].([]string); return v }

// NewConfig makes a configuration from already converted values (tests, Go callers).
func NewConfig(kind string, values map[string]any) Config { return Config{Kind: kind, values: values} }

// Configure checks raw parameters (canonical values) against the spec: every name must be declared and
// every required one given; values are converted to their declared types.
func (s *Spec) Configure(raw map[string]any) (Config, error) {
	cfg := Config{Kind: s.Kind, values: make(map[string]any, len(s.Params))}
	declared := make(map[string]*Param, len(s.Params))
	for i := range s.Params {
		declared[s.Params[i].Name] = &s.Params[i]
	}
	for _, name := range slices.Sorted(maps.Keys(raw)) {
		p, ok := declared[name]
		if !ok {
			return Config{}, fmt.Errorf("%s has no parameter %q (its parameters: %s)", s.Kind, name, s.paramNames())
		}
		v, err := convert(p.Type, raw[name])
		if err != nil {
			return Config{}, fmt.Errorf("%s parameter %s: %w", s.Kind, name, err)
		}
		cfg.values[name] = v
	}
	for _, p := range s.Params {
		if _, ok := cfg.values[p.Name]; ok {
			continue
		}
		if p.Required {
			return Config{}, fmt.Errorf("%s needs parameter %s (%s): %s", s.Kind, p.Name, p.Type, p.Doc)
		}
		if p.Default != nil {
			cfg.values[p.Name] = p.Default
		}
	}
	return cfg, nil
}

func (s *Spec) paramNames() string {
	if len(s.Params) == 0 {
		return "none"
	}
	names := make([]string, len(s.Params))
	for i, p := range s.Params {
		names[i] = p.Name
	}
	return strings.Join(names, ", ")
}

func convert(t ParamType, v any) (any, error) {
	switch t {
	case ParamInt:
		if n, ok := value.Int(v); ok {
			return n, nil
		}
	case ParamFloat:
		if f, ok := value.Float(v); ok {
			return f, nil
		}
	case ParamString, ParamExpr:
		switch x := v.(type) {
		case string:
			return x, nil
		case int, float64, bool:
			if t == ParamExpr {
				// A literal is an expression too ("key: 1").
				b, _ := value.AppendJSON(nil, x)
				return string(b), nil
			}
			return fmt.Sprint(x), nil
		}
	case ParamBool:
		if b, ok := v.(bool); ok {
			return b, nil
		}
	case ParamDuration:
		if s, ok := v.(string); ok {
			d, err := time.ParseDuration(s)
			if err != nil {
				return nil, fmt.Errorf("%q is not a duration (like 500ms, 2s or 1m)", s)
			}
			return d, nil
		}
		return nil, fmt.Errorf("%s is not a duration: write it like 500ms, 2s or 1m", value.TypeName(v))
	case ParamStrings:
		switch x := v.(type) {
		case string:
			return []string{x}, nil
		case []any:
			out := make([]string, len(x))
			for i, e := range x {
				s, ok := e.(string)
				if !ok {
					return nil, fmt.Errorf("element %d is a %s, not a string", i, value.TypeName(e))
				}
				out[i] = s
			}
			return out, nil
		}
	case ParamAny:
		return v, nil
	default:
		return nil, fmt.Errorf("unknown parameter type %q", t)
	}
	return nil, fmt.Errorf("expected %s, got %s", t, value.TypeName(v))
}

// Registry holds operator kinds by name. Build one per use (tests get isolated registries).
type Registry struct {
	specs map[string]*Spec
}

// NewRegistry makes an empty registry.
func NewRegistry() *Registry { return &Registry{specs: make(map[string]*Spec)} }

// Register adds a kind; a kind may be registered once per role (a file source and a file sink coexist).
func (r *Registry) Register(s Spec) error {
	if s.Kind == "" || s.Build == nil {
		return fmt.Errorf("register operator: kind and Build are required")
	}
	key := string(s.Role) + "/" + s.Kind
	if _, dup := r.specs[key]; dup {
		return fmt.Errorf("register %s operator %s: already registered", s.Role, s.Kind)
	}
	r.specs[key] = &s
	return nil
}

// Lookup returns the spec of kind with role; an unknown kind is refused with the list of known ones.
func (r *Registry) Lookup(role Role, kind string) (*Spec, error) {
	s, ok := r.specs[string(role)+"/"+kind]
	if !ok {
		return nil, fmt.Errorf("unknown %s operator %q (known %ss: %s)", role, kind, role, strings.Join(r.Kinds(role), ", "))
	}
	return s, nil
}

// Kinds lists the kinds of a role, sorted.
func (r *Registry) Kinds(role Role) []string {
	var out []string
	for _, s := range r.specs {
		if s.Role == role {
			out = append(out, s.Kind)
		}
	}
	slices.Sort(out)
	return out
}

// Specs lists every spec, sorted by role then kind.
func (r *Registry) Specs() []*Spec {
	out := slices.Collect(maps.Values(r.specs))
	slices.SortFunc(out, func(a, b *Spec) int {
		if c := strings.Compare(string(a.Role), string(b.Role)); c != 0 {
			return c
		}
		return strings.Compare(a.Kind, b.Kind)
	})
	return out
}
