package builtin

import (
	"testing"

	"github.com/expr-lang/expr"
	"github.com/expr-lang/expr/types"
	"github.com/expr-lang/expr/vm"
)

type senv struct {
	It any `expr:"it"`
}

func BenchmarkScratchMapEnv(b *testing.B) {
	p, err := expr.Compile("it * 2", expr.Env(types.Map{"it": types.Any}))
	if err != nil {
		b.Fatal(err)
	}
	var m vm.VM
	env := map[string]any{"it": nil}
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		env["it"] = i & 127
		if _, err := m.Run(p, env); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkScratchStructEnv(b *testing.B) {
	p, err := expr.Compile("it * 2", expr.Env(senv{}))
	if err != nil {
		b.Fatal(err)
	}
	var m vm.VM
	env := &senv{}
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		env.It = i & 127
		if _, err := m.Run(p, env); err != nil {
			b.Fatal(err)
		}
	}
}

func TestScratch(t *testing.T) {
	for _, src := range []string{"it *", "it.x + ", "foo + 1", "1 + 1", "it > 1"} {
		_, err := expr.Compile(src, expr.Env(types.Map{"it": types.Any}), expr.AsBool())
		t.Logf("%q: %v", src, err)
	}
	p, _ := expr.Compile("it.x * 2", expr.Env(types.Map{"it": types.Any}))
	_, err := expr.Run(p, map[string]any{"it": 3})
	t.Logf("run: %v", err)
	p, _ = expr.Compile("it / 2", expr.Env(types.Map{"it": types.Any}))
	v, err := expr.Run(p, map[string]any{"it": 3})
	t.Logf("run: %T %v %v", v, v, err)
	p, _ = expr.Compile("[it, {'a': it}]", expr.Env(types.Map{"it": types.Any}))
	v, err = expr.Run(p, map[string]any{"it": 3})
	t.Logf("run: %T %#v %v", v, v, err)
	p, _ = expr.Compile("it.missing", expr.Env(types.Map{"it": types.Any}))
	v, err = expr.Run(p, map[string]any{"it": map[string]any{}})
	t.Logf("run: %T %#v %v", v, v, err)
}
