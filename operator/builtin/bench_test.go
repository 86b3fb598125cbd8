package builtin

import (
	"testing"

	"github.com/weirstream/weir/operator"
)

// benchNode feeds b.N tuples made by mk to an instance of kind, through its Node.
func benchNode(b *testing.B, kind string, raw map[string]any, mk func(i int) any) {
	e := newEnv()
	in := start(b, e.build(b, operator.RoleTransform, kind, raw), operator.Info{}).open()
	var n int
	_ = in.node.Connect(0, func(any) { n++ })
	tuples := make([]any, 1024)
	for i := range tuples {
		tuples[i] = mk(i)
	}
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		in.in(tuples[i&1023])
	}
	if err, _ := in.g.Err(); err != nil {
		b.Fatal(err)
	}
}

// BenchmarkMapExpr: map "it * 2" per tuple. The one allocation is the boxing of the int result.
func BenchmarkMapExpr(b *testing.B) {
	benchNode(b, "map", map[string]any{"expr": "it * 2"}, func(i int) any { return i + 1000 })
}

// BenchmarkAggregateTumblingCount: count per key (64 keys from an expression) in tumbling windows of 100.
func BenchmarkAggregateTumblingCount(b *testing.B) {
	benchNode(b, "aggregate", map[string]any{"size": 100, "key": "it.k", "functions": map[string]any{"n": "count"}},
		func(i int) any { return map[string]any{"k": i & 63, "v": i} })
}

// BenchmarkDedup: a stream where every other tuple repeats a recent id, remembering the last 10000 keys.
func BenchmarkDedup(b *testing.B) {
	e := newEnv()
	in := start(b, e.build(b, operator.RoleTransform, "dedup", map[string]any{"key": "it.id"}), operator.Info{}).open()
	tuples := make([]any, 1<<16)
	for i := range tuples {
		tuples[i] = map[string]any{"id": i / 2}
	}
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		in.in(tuples[i&(1<<16-1)])
	}
}
