package jobfile

import (
	"errors"
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strings"

	"go.yaml.in/yaml/v3"
)

// param is a declared job parameter and its effective value.
type param struct {
	name string
	line int
	// text is the value as written (the default's scalar text, or the -P value); value is its typed form.
	text  string
	value any
	// set is false for a param declared without a default and not given.
	set bool
	// broken marks a default that could not be read (reported already).
	broken bool
}

// errUnset stands for a reference to a param that has no value; that is reported once, at its declaration.
var errUnset = errors.New("parameter without a value")

var paramNameRE = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_-]*$`)

// declareParams reads the params: mapping of defaults.
func (l *loader) declareParams(n *yaml.Node) {
	if isNull(n) {
		return
	}
	if deref(n).Kind != yaml.MappingNode {
		l.problemAt(nil, n.Line, "params must be a mapping of name: default, not %s", describe(n))
		return
	}
	for _, e := range l.entries(n, nil) {
		if !paramNameRE.MatchString(e.key) {
			l.problemAt(nil, e.k.Line, "parameter name %q: use letters, digits, '_' and '-', starting with a letter or '_'", e.key)
			continue
		}
		p := &param{name: e.key, line: e.k.Line}
		v := deref(e.v)
		switch {
		case isNull(v):
			// Declared without a default: it must be given.
		case v.Kind != yaml.ScalarNode:
			l.problemAt(nil, e.v.Line, "the default of parameter %s must be a scalar, not %s", e.key, describe(v))
			p.broken = true
		default:
			// Defaults are taken as written: no substitution inside them.
			typed, ok := l.decodeScalar(&yaml.Node{Kind: yaml.ScalarNode, Tag: v.Tag, Style: v.Style, Value: v.Value, Line: e.v.Line}, nil)
			if !ok {
				p.broken = true
				break
			}
			p.text, p.value, p.set = v.Value, typed, true
		}
		l.params[e.key] = p
	}
	l.declared = slices.Sorted(maps.Keys(l.params))
}

// applyOverrides applies Options.Params over the defaults and returns the effective params as text.
func (l *loader) applyOverrides() map[string]string {
	for _, name := range slices.Sorted(maps.Keys(l.opts.Params)) {
		p, ok := l.params[name]
		if !ok {
			l.problem(l.name, "unknown parameter %s (%s)", name, l.declaredList())
			continue
		}
		raw := l.opts.Params[name]
		typed, err := plainScalar(raw)
		if err != nil {
			l.problem(l.name, "parameter %s=%q: %v", name, raw, err)
			continue
		}
		p.text, p.value, p.set = raw, typed, true
	}
	if len(l.params) == 0 {
		return nil
	}
	eff := make(map[string]string, len(l.params))
	for _, name := range l.declared {
		p := l.params[name]
		if !p.set {
			if p.broken {
				continue
			}
			l.problemAt(nil, p.line, "parameter %s has no default: give it a value (-P %s=…)", name, name)
			continue
		}
		eff[name] = p.text
	}
	return eff
}

// plainScalar reads s as an unquoted YAML scalar: "5" is an int, "true" a bool, "" and anything else text.
func plainScalar(s string) (any, error) {
	if s == "" {
		return "", nil
	}
	return readScalar(&yaml.Node{Kind: yaml.ScalarNode, Value: s})
}

func (l *loader) declaredList() string {
	if len(l.declared) == 0 {
		return "the job declares no parameters"
	}
	return "the job declares: " + strings.Join(l.declared, ", ")
}

// expand substitutes ${name} references in s; $${ stands for a literal ${. whole is the param when s is
// exactly one reference; changed tells whether s held a reference or an escape.
func (l *loader) expand(s string) (text string, whole *param, changed bool, err error) {
	if !strings.Contains(s, "${") {
		return s, nil, false, nil
	}
	var b strings.Builder
	for i := 0; i < len(s); {
		switch {
		case strings.HasPrefix(s[i:], "$${"):
			b.WriteString("${")
			i += 3
			changed = true
		case strings.HasPrefix(s[i:], "${"):
			end := strings.IndexByte(s[i+2:], '}')
			if end < 0 {
				return "", nil, false, fmt.Errorf("unterminated ${ in %q (write $${ for a literal ${)", s)
			}
			name := s[i+2 : i+2+end]
			if !paramNameRE.MatchString(name) {
				return "", nil, false, fmt.Errorf("${%s} is not a parameter reference: use ${name}, or $${ for a literal ${", name)
			}
			p, ok := l.params[name]
			if !ok {
				return "", nil, false, fmt.Errorf("unknown parameter ${%s} (%s)", name, l.declaredList())
			}
			if !p.set {
				return "", nil, false, errUnset
			}
			if i == 0 && i+3+end == len(s) {
				whole = p
			}
			b.WriteString(p.text)
			i += 3 + end
			changed = true
		default:
			b.WriteByte(s[i])
			i++
		}
	}
	return b.String(), whole, changed, nil
}
