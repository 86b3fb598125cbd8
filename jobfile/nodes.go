package jobfile

import (
	"errors"
	"fmt"
	"regexp"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/weirstream/weir/value"
)

// entry is one key of a mapping, with its nodes for line numbers.
type entry struct {
	key  string
	k, v *yaml.Node
}

// deref follows aliases to the node they name.
func deref(n *yaml.Node) *yaml.Node {
	for i := 0; n != nil && n.Kind == yaml.AliasNode && n.Alias != nil && i < 64; i++ {
		n = n.Alias
	}
	return n
}

// describe names a node's kind for messages.
func describe(n *yaml.Node) string {
	n = deref(n)
	switch {
	case n == nil:
		return "nothing"
	case n.Kind == yaml.MappingNode:
		return "a mapping"
	case n.Kind == yaml.SequenceNode:
		return "a list"
	case n.Kind == yaml.ScalarNode && isNull(n):
		return "empty"
	case n.Kind == yaml.ScalarNode:
		return fmt.Sprintf("the scalar %q", n.Value)
	}
	return "something else"
}

// isNull tells whether n is a YAML null (~, null or nothing).
func isNull(n *yaml.Node) bool {
	n = deref(n)
	return n == nil || n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null"
}

// isMerge tells whether a key node is the merge key <<.
func isMerge(k *yaml.Node) bool {
	return k.Kind == yaml.ScalarNode && k.ShortTag() == "!!merge"
}

// entries lists the keys of mapping n in order, merging `<<: *anchor` mappings (explicit keys win) and
// refusing keys that are not scalars or appear twice.
func (l *loader) entries(n *yaml.Node, st *step) []entry {
	n = deref(n)
	if n == nil || n.Kind != yaml.MappingNode {
		return nil
	}
	if !l.enter(n) {
		return nil
	}
	defer l.leave(n)
	var out []entry
	var merges []*yaml.Node
	first := make(map[string]int)
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := deref(n.Content[i]), n.Content[i+1]
		if k == nil {
			continue
		}
		if isMerge(k) {
			merges = append(merges, v)
			continue
		}
		if k.Kind != yaml.ScalarNode {
			l.problemAt(st, k.Line, "a key must be a plain name, not %s", describe(k))
			continue
		}
		if line, dup := first[k.Value]; dup {
			l.problemAt(st, k.Line, "duplicate key %q (first at line %d)", k.Value, line)
			continue
		}
		first[k.Value] = k.Line
		out = append(out, entry{key: k.Value, k: k, v: v})
	}
	for _, m := range merges {
		srcs := []*yaml.Node{deref(m)}
		if s := deref(m); s != nil && s.Kind == yaml.SequenceNode {
			srcs = s.Content
		}
		for _, src := range srcs {
			src = deref(src)
			if src == nil || src.Kind != yaml.MappingNode {
				l.problemAt(st, m.Line, "a merge (<<) takes a mapping or a list of mappings, not %s", describe(src))
				continue
			}
			for _, e := range l.entries(src, st) {
				if _, ok := first[e.key]; ok {
					continue
				}
				first[e.key] = e.k.Line
				out = append(out, e)
			}
		}
	}
	return out
}

// enter marks an alias target as being expanded and spends budget; false when the node contains itself or
// the file expands too far.
func (l *loader) enter(n *yaml.Node) bool {
	if l.active[n] {
		l.problemAt(nil, n.Line, "this value contains itself through an alias")
		return false
	}
	if l.budget--; l.budget < 0 {
		if !l.exhausted {
			l.exhausted = true
			l.problem(l.name, "the file expands to more than %d values (aliases?)", maxNodes)
		}
		return false
	}
	l.active[n] = true
	return true
}

func (l *loader) leave(n *yaml.Node) { delete(l.active, n) }

// toValue converts a node into a canonical value, substituting params in its scalars.
func (l *loader) toValue(n *yaml.Node, st *step, depth int) (any, bool) {
	line := n.Line
	n = deref(n)
	if n == nil {
		return nil, true
	}
	if depth > value.MaxDepth {
		l.problemAt(st, line, "the value nests deeper than %d lists or mappings", value.MaxDepth)
		return nil, false
	}
	switch n.Kind {
	case yaml.ScalarNode:
		if l.budget--; l.budget < 0 {
			l.enter(n) // reports
			return nil, false
		}
		return l.scalar(n, st)
	case yaml.SequenceNode:
		if !l.enter(n) {
			return nil, false
		}
		defer l.leave(n)
		out := make([]any, 0, len(n.Content))
		ok := true
		for _, c := range n.Content {
			v, good := l.toValue(c, st, depth+1)
			ok = ok && good
			out = append(out, v)
		}
		return out, ok
	case yaml.MappingNode:
		es := l.entries(n, st)
		if !l.enter(n) {
			return nil, false
		}
		defer l.leave(n)
		out := make(map[string]any, len(es))
		ok := true
		for _, e := range es {
			v, good := l.toValue(e.v, st, depth+1)
			ok = ok && good
			out[e.key] = v
		}
		return out, ok
	}
	l.problemAt(st, line, "unexpected YAML node")
	return nil, false
}

// scalar converts a scalar node: params substituted, typed as YAML reads it. A plain scalar that is exactly
// ${name} takes the param's value with its type; a quoted one, or a reference inside a longer text, gives
// text.
func (l *loader) scalar(n *yaml.Node, st *step) (any, bool) {
	text, whole, changed, err := l.expand(n.Value)
	if err != nil {
		l.expandProblem(st, n.Line, err)
		return nil, false
	}
	tagged := n.Style&yaml.TaggedStyle != 0
	quoted := n.Style&(yaml.DoubleQuotedStyle|yaml.SingleQuotedStyle|yaml.LiteralStyle|yaml.FoldedStyle) != 0
	switch {
	case !changed || tagged:
		c := &yaml.Node{Kind: yaml.ScalarNode, Tag: n.Tag, Style: n.Style, Value: text, Line: n.Line}
		return l.decodeScalar(c, st)
	case whole != nil && !quoted:
		return whole.value, true
	default:
		return text, true
	}
}

// decodeScalar reads a scalar as YAML does and normalizes it.
func (l *loader) decodeScalar(n *yaml.Node, st *step) (any, bool) {
	v, err := readScalar(n)
	if err != nil {
		l.problemAt(st, n.Line, "%v", err)
		return nil, false
	}
	return v, true
}

// readScalar reads a scalar node as YAML does, as a canonical value. An untagged date or time stays the
// text it was written as.
func readScalar(n *yaml.Node) (any, error) {
	if n.Style&yaml.TaggedStyle == 0 && n.ShortTag() == "!!timestamp" {
		return n.Value, nil
	}
	var v any
	if err := n.Decode(&v); err != nil {
		return nil, errors.New(cleanYAMLError(err))
	}
	c, err := value.Normalize(v)
	if err != nil {
		return nil, fmt.Errorf("%q: %v", n.Value, strings.TrimPrefix(err.Error(), "value: normalize: "))
	}
	return c, nil
}

var yamlLineRE = regexp.MustCompile(`line \d+: `)

// cleanYAMLError strips the decoder's prefixes: the caller adds the location.
func cleanYAMLError(err error) string {
	msg := strings.TrimPrefix(err.Error(), "yaml: ")
	msg = strings.TrimPrefix(msg, "unmarshal errors:\n")
	msg = yamlLineRE.ReplaceAllString(msg, "")
	return strings.TrimSpace(msg)
}

// text reads a scalar as text, params substituted (a reference to a number gives its digits). what names
// the value for messages.
func (l *loader) text(n *yaml.Node, st *step, what string) (string, bool) {
	line := n.Line
	n = deref(n)
	if n == nil || n.Kind != yaml.ScalarNode {
		l.problemAt(st, line, "%s must be a scalar, not %s", what, describe(n))
		return "", false
	}
	if isNull(n) {
		l.problemAt(st, line, "%s has no value", what)
		return "", false
	}
	text, _, _, err := l.expand(n.Value)
	if err != nil {
		l.expandProblem(st, line, err)
		return "", false
	}
	return text, true
}

// expandProblem reports a substitution error; a param without value was reported where it is declared.
func (l *loader) expandProblem(st *step, line int, err error) {
	if errors.Is(err, errUnset) {
		if st != nil {
			st.bad = true
		}
		return
	}
	l.problemAt(st, line, "%v", err)
}
