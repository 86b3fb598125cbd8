package builtin

import (
	"errors"
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strings"

	"github.com/weirstream/weir/value"
)

// Aggregate functions of job files.
const (
	fnCount  = "count"
	fnSum    = "sum"
	fnMin    = "min"
	fnMax    = "max"
	fnMean   = "mean"
	fnReduce = "reduce"
)

// aggFunc is one output field of an aggregate: a function over the window's tuples.
type aggFunc struct {
	name    string
	op      string
	e       *Expr // the argument (sum, min, max, mean) or the reduce expression; nil for count
	initial any   // reduce
}

const functionsHelp = `write each as count, sum(EXPR), min(EXPR), max(EXPR), mean(EXPR) or {reduce: EXPR over acc and it, initial: VALUE}`

var callRE = regexp.MustCompile(`(?s)^(\w+)\s*\((.*)\)$`)

// parseFunctions reads the functions parameter: a map from output field to function, sorted by field.
func parseFunctions(raw any) ([]aggFunc, error) {
	m, ok := raw.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("a map from output field to function is needed, got %s (%s)", value.TypeName(raw), functionsHelp)
	}
	if len(m) == 0 {
		return nil, fmt.Errorf("no functions: name at least one, like {n: count} (%s)", functionsHelp)
	}
	var fs []aggFunc
	for _, name := range slices.Sorted(maps.Keys(m)) {
		switch name {
		case "", "key", "start", "end":
			return nil, fmt.Errorf("output field %q is reserved for the window's key and bounds: name the function otherwise", name)
		}
		f, err := parseFunction(name, m[name])
		if err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		fs = append(fs, f)
	}
	return fs, nil
}

func parseFunction(name string, spec any) (aggFunc, error) {
	f := aggFunc{name: name}
	switch x := spec.(type) {
	case string:
		src := strings.TrimSpace(x)
		if src == fnCount || src == fnCount+"()" {
			f.op = fnCount
			return f, nil
		}
		call := callRE.FindStringSubmatch(src)
		if call == nil {
			return f, fmt.Errorf("%q is not a function: %s", x, functionsHelp)
		}
		switch f.op = call[1]; f.op {
		case fnSum, fnMin, fnMax, fnMean:
		case fnCount:
			return f, fmt.Errorf("%q: count takes no argument, it counts the tuples", x)
		default:
			return f, fmt.Errorf("%q: unknown function %s: %s", x, f.op, functionsHelp)
		}
		e, err := Compile(call[2])
		if err != nil {
			return f, fmt.Errorf("%s: %w", x, err)
		}
		f.e = e
		return f, nil
	case map[string]any:
		for k := range x {
			if k != fnReduce && k != "initial" {
				return f, fmt.Errorf("unknown key %q: a reduce function has reduce and initial", k)
			}
		}
		src, ok := x[fnReduce].(string)
		if !ok {
			return f, errors.New(`a reduce function needs reduce: an expression over acc and it, like "acc + it"`)
		}
		e, err := CompileReduce(src)
		if err != nil {
			return f, fmt.Errorf("reduce: %w", err)
		}
		f.op, f.e, f.initial = fnReduce, e, x["initial"]
		return f, nil
	}
	return f, fmt.Errorf("a %s is not a function: %s", value.TypeName(spec), functionsHelp)
}

// cell is the accumulator of one function: count uses n; sum n (integers, exactly), f (floats) and float
// (whether any float was added); min, max and reduce v; mean n and f. Kept unboxed, so that adding a tuple
// allocates nothing.
type cell struct {
	n     int
	f     float64
	v     any
	float bool
}

// funcs is the window.Aggregation of an aggregate's functions, evaluating with the instance's Machine.
type funcs struct {
	fs []aggFunc
	m  *Machine
}

// mergeableFuncs is funcs without reduce functions, which can merge panes.
type mergeableFuncs struct{ *funcs }

func (a *funcs) Zero() []cell {
	acc := make([]cell, len(a.fs))
	for i := range a.fs {
		if a.fs[i].op == fnReduce {
			acc[i].v = a.fs[i].initial
		}
	}
	return acc
}

func (a *funcs) Add(acc []cell, t any) ([]cell, error) {
	for i := range a.fs {
		if err := a.add(&a.fs[i], &acc[i], t); err != nil {
			return acc, fmt.Errorf("aggregate function %s: %w", a.fs[i].name, err)
		}
	}
	return acc, nil
}

func (a *funcs) add(f *aggFunc, c *cell, t any) error {
	if f.op == fnCount {
		c.n++
		return nil
	}
	if f.op == fnReduce {
		v, err := a.m.EvalReduce(f.e, c.v, t)
		if err != nil {
			return fmt.Errorf("%w (it = %s, acc = %s)", err, preview(t), preview(c.v))
		}
		c.v = v
		return nil
	}
	v, err := a.m.Eval(f.e, t)
	if err != nil {
		return fmt.Errorf("%s: %w (it = %s)", f.op, err, preview(t))
	}
	switch {
	case v == nil:
		return nil // missing values are skipped, as SQL skips NULL
	case f.op == fnMin || f.op == fnMax:
		return pick(f, c, v)
	}
	switch x := v.(type) {
	case int:
		if f.op == fnMean {
			c.n, c.f = c.n+1, c.f+float64(x)
		} else {
			addInt(c, x)
		}
	case float64:
		if f.op == fnMean {
			c.n, c.f = c.n+1, c.f+x
		} else {
			c.f, c.float = c.f+x, true
		}
	default:
		return fmt.Errorf("%s(%s) gave %s %s, not a number (it = %s)", f.op, f.e, value.TypeName(v), preview(v), preview(t))
	}
	return nil
}

// addInt adds to a sum's exact integer part, going on in floating point if it overflows.
func addInt(c *cell, n int) {
	s := c.n + n
	if (n > 0 && s < c.n) || (n < 0 && s > c.n) {
		c.f, c.n, c.float = c.f+float64(c.n)+float64(n), 0, true
		return
	}
	c.n = s
}

// pick keeps the least (min) or greatest (max) of c.v and v.
func pick(f *aggFunc, c *cell, v any) error {
	if c.v == nil {
		c.v = v
		return nil
	}
	cmp, err := value.Compare(v, c.v)
	if err != nil {
		return fmt.Errorf("%s(%s): %w", f.op, f.e, err)
	}
	if (f.op == fnMin && cmp < 0) || (f.op == fnMax && cmp > 0) {
		c.v = v
	}
	return nil
}

// merge folds cell x, which comes after c, into c.
func merge(f *aggFunc, c, x *cell) error {
	switch f.op {
	case fnCount:
		c.n += x.n
	case fnSum:
		addInt(c, x.n)
		c.f, c.float = c.f+x.f, c.float || x.float
	case fnMean:
		c.n, c.f = c.n+x.n, c.f+x.f
	case fnMin, fnMax:
		if x.v != nil {
			return pick(f, c, x.v)
		}
	}
	return nil
}

func (a mergeableFuncs) Merge(older, newer []cell) ([]cell, error) {
	out := slices.Clone(older)
	for i := range a.fs {
		if err := merge(&a.fs[i], &out[i], &newer[i]); err != nil {
			return nil, fmt.Errorf("aggregate function %s: %w", a.fs[i].name, err)
		}
	}
	return out, nil
}

func (a *funcs) Result(acc []cell) []any {
	out := make([]any, len(a.fs))
	for i, f := range a.fs {
		c := acc[i]
		switch f.op {
		case fnCount:
			out[i] = c.n
		case fnSum:
			out[i] = c.n
			if c.float {
				out[i] = float64(c.n) + c.f
			}
		case fnMean:
			if c.n > 0 {
				out[i] = c.f / float64(c.n)
			}
		default:
			out[i] = c.v
		}
	}
	return out
}

// The canonical form of an accumulator in checkpoints: a list [n, f, v, float, …] of every cell.
func encodeCells(dst []byte, acc []cell) ([]byte, error) {
	list := make([]any, 0, 4*len(acc))
	for _, c := range acc {
		list = append(list, c.n, c.f, c.v, c.float)
	}
	return value.AppendBinary(dst, list)
}

func decodeCells(data []byte, want int) ([]cell, error) {
	v, n, err := value.DecodeBinary(data)
	if err != nil {
		return nil, err
	}
	list, ok := v.([]any)
	if !ok || n != len(data) || len(list) != 4*want {
		return nil, fmt.Errorf("the saved accumulator does not hold the %d functions of this aggregate", want)
	}
	acc := make([]cell, want)
	for i := range acc {
		c := &acc[i]
		var ok1, ok2, ok3 bool
		c.n, ok1 = list[4*i].(int)
		c.f, ok2 = list[4*i+1].(float64)
		c.v = list[4*i+2]
		c.float, ok3 = list[4*i+3].(bool)
		if !ok1 || !ok2 || !ok3 {
			return nil, errors.New("bad accumulator")
		}
	}
	return acc, nil
}
