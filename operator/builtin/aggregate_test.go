package builtin

import (
	"math"
	"testing"
	"time"

	"github.com/weirstream/weir/operator"
	"github.com/weirstream/weir/value"
	"pgregory.net/rapid"
)

func rec(k string, v any, id int) map[string]any { return map[string]any{"k": k, "v": v, "id": id} }

var allFunctions = map[string]any{
	"n": "count", "total": "sum(it.v)", "lo": "min(it.v)", "hi": "max(it.v)", "avg": "mean(it.v)",
	"ids": map[string]any{"reduce": "concat(acc, [it.id])", "initial": []any{}},
}

func TestAggregateCount(t *testing.T) {
	e := newEnv()
	f := e.build(t, operator.RoleTransform, "aggregate", map[string]any{"size": 2, "key": "it.k", "functions": allFunctions})
	if f.In() != anyType || len(f.Outs()) != 1 || f.Outs()[0] != anyType {
		t.Errorf("types %v %v", f.In(), f.Outs())
	}
	in := start(t, f, operator.Info{}).open()
	in.send(rec("a", 1, 1), rec("b", 2.5, 2), rec("a", 3, 3), rec("a", nil, 4))
	want := []any{map[string]any{"key": "a", "start": 0, "end": 2, "n": 2, "total": 4, "lo": 1, "hi": 3, "avg": 2.0, "ids": []any{1, 3}}}
	if got := in.out(); !value.Equal(got, want) {
		t.Fatalf("got %v", got)
	}
	if err := in.node.Finish(); err != nil {
		t.Fatal(err)
	}
	// Null values are skipped: a's second window has a count but no sum, min, max or mean.
	want = []any{
		map[string]any{"key": "a", "start": 2, "end": 3, "n": 1, "total": 0, "lo": nil, "hi": nil, "avg": nil, "ids": []any{4}},
		map[string]any{"key": "b", "start": 0, "end": 1, "n": 1, "total": 2.5, "lo": 2.5, "hi": 2.5, "avg": 2.5, "ids": []any{2}},
	}
	if got := in.out(); !value.Equal(got, want) {
		t.Fatalf("finish: got %v", got)
	}
}

func TestAggregateTime(t *testing.T) {
	e := newEnv()
	f := e.build(t, operator.RoleTransform, "aggregate", map[string]any{
		"window": "sliding", "duration": "2s", "every": "1s", "functions": map[string]any{"n": "count()"},
	})
	in := start(t, f, operator.Info{}).open()
	e.clock.Set(time.Unix(1000, 5e8))
	in.send(1, 2)
	e.clock.Set(time.Unix(1001, 5e8))
	in.send(3)
	if got := in.out(); !value.Equal(got, []any{map[string]any{"start": "1970-01-01T00:16:39Z", "end": "1970-01-01T00:16:41Z", "n": 2}}) {
		t.Fatalf("got %v", got)
	}
	if err := in.node.(operator.Ticker).Tick(time.Unix(1002, 0)); err != nil {
		t.Fatal(err)
	}
	if got := in.out(); !value.Equal(got, []any{map[string]any{"start": "1970-01-01T00:16:40Z", "end": "1970-01-01T00:16:42Z", "n": 3}}) {
		t.Fatalf("tick: got %v", got)
	}
}

func TestAggregateKeys(t *testing.T) {
	e := newEnv()
	f := e.build(t, operator.RoleTransform, "aggregate", map[string]any{"size": 2, "key": "it", "functions": map[string]any{"n": "count"}})
	in := start(t, f, operator.Info{}).open()
	negZero := math.Copysign(0, -1)
	in.send([]any{"a", 1}, negZero, math.NaN(), 0.0, []any{"a", 1}, math.NaN(),
		map[string]any{"x": []any{negZero, math.NaN()}}, map[string]any{"x": []any{0.0, -math.NaN()}})
	got := in.out()
	if len(got) != 4 {
		t.Fatalf("got %v", got)
	}
	keys := []any{negZero, []any{"a", 1}, math.NaN(), map[string]any{"x": []any{0.0, math.NaN()}}}
	for i, k := range keys {
		if g := got[i].(map[string]any)["key"]; !value.Equal(g, k) {
			t.Errorf("key %d: got %v, want %v", i, g, k)
		}
	}
}

func TestAggregateSumOverflow(t *testing.T) {
	e := newEnv()
	in := start(t, e.build(t, operator.RoleTransform, "aggregate", map[string]any{
		"window": "sliding", "size": 3, "slide": 3, "functions": map[string]any{"s": "sum(it)"},
	}), operator.Info{}).open()
	in.send(math.MaxInt, 1, -1, 2, 3, 4)
	got := in.out()
	if len(got) != 2 || got[0].(map[string]any)["s"] != float64(math.MaxInt) || got[1].(map[string]any)["s"] != 9 {
		t.Errorf("got %v", got)
	}
}

func TestAggregateErrors(t *testing.T) {
	e := newEnv()
	in := start(t, e.build(t, operator.RoleTransform, "aggregate", map[string]any{"size": 5, "functions": map[string]any{"total": "sum(it)"}}), operator.Info{}).open()
	wantErr(t, in.sendErr("x"), `aggregate function total: sum(it) gave string "x", not a number (it = "x")`)
	in = start(t, e.build(t, operator.RoleTransform, "aggregate", map[string]any{"size": 5, "functions": map[string]any{"lo": "min(it)"}}), operator.Info{}).open()
	in.send(1)
	wantErr(t, in.sendErr("x"), "aggregate function lo: min(it): value: compare:")
	in = start(t, e.build(t, operator.RoleTransform, "aggregate", map[string]any{"size": 5, "key": "it.k", "functions": map[string]any{"n": "count"}}), operator.Info{}).open()
	wantErr(t, in.sendErr(3), `aggregate key: expression "it.k": cannot fetch k from int`)

	fn := map[string]any{"n": "count"}
	for _, c := range []struct {
		raw   map[string]any
		parts []string
	}{
		{map[string]any{"functions": fn}, []string{"aggregate window: give size", "or duration"}},
		{map[string]any{"size": 3, "duration": "1s", "functions": fn}, []string{"aggregate window: give size"}},
		{map[string]any{"size": 0, "functions": fn}, []string{"aggregate window: a window needs a size"}},
		{map[string]any{"window": "hopping", "size": 3, "functions": fn}, []string{`aggregate window: window: "hopping", use tumbling or sliding`}},
		{map[string]any{"size": 3, "slide": 1, "functions": fn}, []string{"a tumbling window does not slide"}},
		{map[string]any{"window": "sliding", "size": 3, "functions": fn}, []string{"a sliding count window needs slide"}},
		{map[string]any{"window": "sliding", "duration": "1m", "functions": fn}, []string{"a sliding time window needs every"}},
		{map[string]any{"window": "sliding", "size": 3, "every": "1s", "functions": fn}, []string{"every is for time windows"}},
		{map[string]any{"window": "sliding", "duration": "1s", "slide": 2, "functions": fn}, []string{"slide is for count windows"}},
		{map[string]any{"size": 3, "duration": "soon", "functions": fn}, []string{"aggregate parameter duration", `"soon" is not a duration`}},
		{map[string]any{"size": 3}, []string{"aggregate needs parameter functions"}},
		{map[string]any{"size": 3, "functions": "count"}, []string{"aggregate parameter functions: a map from output field to function is needed, got string"}},
		{map[string]any{"size": 3, "functions": map[string]any{}}, []string{"aggregate parameter functions: no functions"}},
		{map[string]any{"size": 3, "functions": map[string]any{"end": "count"}}, []string{`output field "end" is reserved`}},
		{map[string]any{"size": 3, "functions": map[string]any{"x": "median(it)"}}, []string{`x: "median(it)": unknown function median`}},
		{map[string]any{"size": 3, "functions": map[string]any{"x": "total"}}, []string{`x: "total" is not a function`, "sum(EXPR)"}},
		{map[string]any{"size": 3, "functions": map[string]any{"x": "count(it)"}}, []string{`count takes no argument`}},
		{map[string]any{"size": 3, "functions": map[string]any{"x": "sum(it +)"}}, []string{`x: sum(it +): expression "it +": unexpected token EOF`}},
		{map[string]any{"size": 3, "functions": map[string]any{"x": 3}}, []string{"x: a int is not a function"}},
		{map[string]any{"size": 3, "functions": map[string]any{"x": map[string]any{"initial": 0}}}, []string{"x: a reduce function needs reduce"}},
		{map[string]any{"size": 3, "functions": map[string]any{"x": map[string]any{"reduce": "acc +", "initial": 0}}}, []string{`x: reduce: expression "acc +"`}},
		{map[string]any{"size": 3, "functions": map[string]any{"x": map[string]any{"reduce": "acc", "start": 0}}}, []string{`x: unknown key "start"`}},
		{map[string]any{"size": 3, "key": "it.", "functions": fn}, []string{"aggregate parameter key", `"it."`}},
		{map[string]any{"window": "sliding", "duration": "1h", "every": "1ms", "functions": map[string]any{"x": map[string]any{"reduce": "acc"}}}, []string{"aggregate: window sliding(1h0m0s, every 1ms)", "cannot merge"}},
	} {
		_, err := e.buildErr(operator.RoleTransform, "aggregate", c.raw)
		wantErr(t, err, c.parts...)
	}
}

// genRecord draws a tuple with a key and a value that is an int, a float or null.
func genRecord(t *rapid.T, id int) map[string]any {
	var v any
	switch rapid.IntRange(0, 2).Draw(t, "kind") {
	case 0:
		v = rapid.IntRange(-50, 50).Draw(t, "int")
	case 1:
		v = float64(rapid.IntRange(-100, 100).Draw(t, "float")) / 4
	}
	return rec(rapid.SampledFrom([]string{"a", "b", "c"}).Draw(t, "key"), v, id)
}

// Panes merged (no reduce) and one accumulator per window (with a reduce) agree, and a restore mid-way
// changes nothing.
func TestAggregateProperty(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		e := newEnv()
		size := rapid.IntRange(1, 8).Draw(t, "size")
		raw := map[string]any{"key": "it.k", "size": size}
		if rapid.Bool().Draw(t, "sliding") {
			raw["window"], raw["slide"] = "sliding", rapid.IntRange(1, 8).Draw(t, "slide")
		}
		mergeable := map[string]any{"n": "count", "total": "sum(it.v)", "lo": "min(it.v)", "hi": "max(it.v)", "avg": "mean(it.v)"}
		withReduce := map[string]any{"ids": map[string]any{"reduce": "concat(acc, [it.id])", "initial": []any{}}}
		for k, v := range mergeable {
			withReduce[k] = v
		}
		build := func(fns map[string]any) operator.Factory {
			r := map[string]any{"functions": fns}
			for k, v := range raw {
				r[k] = v
			}
			return e.build(t, operator.RoleTransform, "aggregate", r)
		}
		panes, slots := build(mergeable), build(withReduce)
		a, b := start(t, panes, operator.Info{}).open(), start(t, slots, operator.Info{}).open()
		var restored *inst
		var before []any // what b emitted before the checkpoint
		n := rapid.IntRange(0, 60).Draw(t, "n")
		cut := rapid.IntRange(0, n).Draw(t, "cut")
		for i := range n {
			if i == cut {
				before = b.out()
				restored = start(t, slots, operator.Info{}).open()
				restored.restore(5, b.checkpoint(5))
			}
			r := genRecord(t, i)
			a.send(r)
			b.send(r)
			if restored != nil {
				restored.send(r)
			}
		}
		for _, in := range []*inst{a, b, restored} {
			if in != nil {
				if err := in.node.Finish(); err != nil {
					t.Fatal(err)
				}
			}
		}
		ga, gb := a.out(), append(before, b.out()...)
		if restored != nil {
			if got := append(before, restored.out()...); !value.Equal(got, gb) {
				t.Fatalf("restored:\n got %v\nwant %v", got, gb)
			}
		}
		if len(ga) != len(gb) {
			t.Fatalf("panes %v\nslots %v", ga, gb)
		}
		for i := range ga {
			m := gb[i].(map[string]any)
			delete(m, "ids")
			if !value.Equal(ga[i], m) {
				t.Fatalf("result %d: panes %v, slots %v", i, ga[i], m)
			}
		}
	})
}
