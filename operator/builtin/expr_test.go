package builtin

import (
	"errors"
	"sync"
	"testing"

	"github.com/weirstream/weir/value"
)

func TestCompileErrors(t *testing.T) {
	for src, want := range map[string]string{
		"it *":      `expression "it *": unexpected token EOF (1:4)`,
		"foo + 1":   `expression "foo + 1": unknown name foo (1:1)`,
		"acc + it":  `expression "acc + it": unknown name acc (1:1)`,
		"  ":        `expression "  ": empty expression`,
		"it.x +\n(": `(2:1)`,
	} {
		_, err := Compile(src)
		wantErr(t, err, want)
		var xe *ExprError
		if !errors.As(err, &xe) || xe.Expr != src {
			t.Errorf("%q: not an *ExprError: %#v", src, err)
		}
	}
	if _, err := CompileReduce("acc + it"); err != nil {
		t.Error(err)
	}
	_, err := Compile("it *")
	var xe *ExprError
	if errors.As(err, &xe); xe.Line != 1 || xe.Column != 4 || xe.Msg != "unexpected token EOF" {
		t.Errorf("position: %+v", xe)
	}
}

func TestEvalNormalizes(t *testing.T) {
	m := NewMachine()
	for src, want := range map[string]any{
		"it * 2":                   6,
		"it / 2":                   1.5,
		"[it, {'a': it}]":          []any{3, map[string]any{"a": 3}},
		"it > 2":                   true,
		"string(it) + 'x'":         "3x",
		"it":                       3,
		"nil":                      nil,
		"map([1, 2], # * it)":      []any{3, 6},
		"{'d': duration('1s')}.d":  int(1e9), // a time.Duration becomes nanoseconds
		"len([1, 2, 3]) == it":     true,
		"it in [1, 3]":             true,
		"it == 3 ? 'yes' : 'no'":   "yes",
		"sum([1.5, 2.5]) + it":     7.0,
		"[it][0]":                  3,
		"{'k': [it, it]}['k'][1]":  3,
		"it ?? 7":                  3,
		"upper('a') + lower('B')":  "Ab",
		"trim('  x ')":             "x",
		"max(it, 10)":              10,
		"int(it * 1.9)":            5,
		"float(it)":                3.0,
		"abs(-it)":                 3,
		"filter([1, 2, 3], # > 1)": []any{2, 3},
	} {
		e, err := Compile(src)
		if err != nil {
			t.Errorf("%q: %v", src, err)
			continue
		}
		got, err := m.Eval(e, 3)
		if err != nil {
			t.Errorf("%q: %v", src, err)
			continue
		}
		if !value.Equal(got, want) {
			t.Errorf("%q = %#v, want %#v", src, got, want)
		}
	}
}

func TestEvalRuntimeError(t *testing.T) {
	e, _ := Compile("it.x * 2")
	_, err := NewMachine().Eval(e, 3)
	wantErr(t, err, `expression "it.x * 2": cannot fetch x from int (1:4)`)
	var xe *ExprError
	if !errors.As(err, &xe) {
		t.Errorf("not an *ExprError: %v", err)
	}
	// A missing field of a map is null, not an error.
	e, _ = Compile("it.missing")
	if v, err := NewMachine().Eval(e, map[string]any{}); err != nil || v != nil {
		t.Errorf("missing field: %v %v", v, err)
	}
}

func TestReduce(t *testing.T) {
	e, _ := CompileReduce("concat(acc, [it])")
	m := NewMachine()
	acc := any([]any{})
	for i := range 3 {
		var err error
		if acc, err = m.EvalReduce(e, acc, i); err != nil {
			t.Fatal(err)
		}
	}
	if !value.Equal(acc, []any{0, 1, 2}) {
		t.Errorf("got %v", acc)
	}
}

func TestCompileKey(t *testing.T) {
	h, err := CompileKey("it.k")
	if err != nil {
		t.Fatal(err)
	}
	tuple := map[string]any{"k": []any{"a", 1}}
	if h(tuple) != value.Hash([]any{"a", 1}) {
		t.Error("hash of the key's value")
	}
	if h(5) != value.Hash(nil) {
		t.Error("a failing key hashes as null")
	}
	whole, _ := CompileKey(" it ")
	if whole(tuple) != value.Hash(tuple) {
		t.Error("it")
	}
	_, err = CompileKey("it.")
	wantErr(t, err, `expression "it."`)

	// Safe for concurrent use (run with -race).
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 200 {
				k := map[string]any{"k": g*1000 + i}
				if h(k) != value.Hash(g*1000+i) {
					t.Error("concurrent hash differs")
					return
				}
			}
		}()
	}
	wg.Wait()
}
