package builtin

import (
	"testing"

	"github.com/weirstream/weir/operator"
	"github.com/weirstream/weir/value"
)

func TestMap(t *testing.T) {
	e := newEnv()
	in := start(t, e.build(t, operator.RoleTransform, "map", map[string]any{"expr": `{"id": it, "sq": it * it, "half": it / 2}`}), operator.Info{}).open()
	in.send(1, 4)
	want := []any{
		map[string]any{"id": 1, "sq": 1, "half": 0.5},
		map[string]any{"id": 4, "sq": 16, "half": 2.0},
	}
	if got := in.out(); !value.Equal(got, want) {
		t.Errorf("got %v", got)
	}
	err := in.sendErr("x")
	wantErr(t, err, `map: expression "{\"id\": it, \"sq\": it * it`, `(it = "x")`)
}

func TestFilter(t *testing.T) {
	e := newEnv()
	in := start(t, e.build(t, operator.RoleTransform, "filter", map[string]any{"expr": "it % 2 == 0"}), operator.Info{}).open()
	in.send(1, 2, 3, 4)
	if got := in.out(); !value.Equal(got, []any{2, 4}) {
		t.Errorf("got %v", got)
	}
	in = start(t, e.build(t, operator.RoleTransform, "filter", map[string]any{"expr": "it + 1"}), operator.Info{}).open()
	wantErr(t, in.sendErr(1), `filter: expression "it + 1" gave int 2, not true or false (it = 1)`)
}

func TestFlatMap(t *testing.T) {
	e := newEnv()
	in := start(t, e.build(t, operator.RoleTransform, "flat_map", map[string]any{"expr": `split(it, " ")`}), operator.Info{}).open()
	in.send("a b", "", "c")
	if got := in.out(); !value.Equal(got, []any{"a", "b", "", "c"}) {
		t.Errorf("got %#v", got)
	}
	in = start(t, e.build(t, operator.RoleTransform, "flat_map", map[string]any{"expr": "it"}), operator.Info{}).open()
	wantErr(t, in.sendErr("x"), `flat_map: expression "it" gave string "x", not a list`)
}

func TestSplit(t *testing.T) {
	e := newEnv()
	f := e.build(t, operator.RoleTransform, "split", map[string]any{"expr": "it.n", "ways": 3})
	if len(f.Outs()) != 3 {
		t.Fatalf("%d outputs", len(f.Outs()))
	}
	in := start(t, f, operator.Info{}).open()
	if len(in.outs) != 3 {
		t.Fatalf("connected %d outputs", len(in.outs))
	}
	for _, n := range []int{0, 1, 2, 4, -1} {
		in.send(map[string]any{"n": n})
	}
	count := func(p int) int { return len(in.outs[p]) }
	if count(0) != 1 || count(1) != 2 || count(2) != 1 {
		t.Errorf("outputs %v", in.outs)
	}
	wantErr(t, in.sendErr(map[string]any{"n": 1.5}), `split: expression "it.n" gave float 1.5, not an output number`)
}

func TestBadTransformParams(t *testing.T) {
	e := newEnv()
	for _, c := range []struct {
		kind  string
		raw   map[string]any
		parts []string
	}{
		{"map", map[string]any{"expr": "it *"}, []string{`map parameter expr: expression "it *": unexpected token EOF (1:4)`}},
		{"map", map[string]any{}, []string{"map needs parameter expr"}},
		{"map", map[string]any{"expr": "it", "extra": 1}, []string{`map has no parameter "extra"`}},
		{"filter", map[string]any{"expr": "it >"}, []string{"filter parameter expr", `"it >"`}},
		{"flat_map", map[string]any{"expr": "bogus(it)"}, []string{"flat_map parameter expr", "bogus"}},
		{"split", map[string]any{"expr": "0", "ways": 0}, []string{"split parameter ways: 0"}},
		{"split", map[string]any{"expr": "0"}, []string{"split needs parameter ways"}},
		{"dedup", map[string]any{"window": -1}, []string{"dedup parameter window: -1"}},
		{"dedup", map[string]any{"window": 0}, []string{"dedup parameter window: 0", "forever"}},
		{"dedup", map[string]any{"ttl": "-1s"}, []string{"dedup parameter ttl: -1s"}},
		{"dedup", map[string]any{"ttl": "soon"}, []string{"dedup parameter ttl", `"soon" is not a duration`}},
		{"dedup", map[string]any{"key": "it."}, []string{"dedup parameter key"}},
	} {
		_, err := e.buildErr(operator.RoleTransform, c.kind, c.raw)
		wantErr(t, err, c.parts...)
	}
}
