package builtin

import (
	"bytes"
	"testing"
	"time"

	"github.com/weirstream/weir/operator"
	"github.com/weirstream/weir/value"
	"pgregory.net/rapid"
)

func TestDedupWindow(t *testing.T) {
	e := newEnv()
	in := start(t, e.build(t, operator.RoleTransform, "dedup", map[string]any{"window": 2}), operator.Info{}).open()
	in.send(1, 2, 1, 3, 1, 3, []any{1}, []any{1})
	if got := in.out(); !value.Equal(got, []any{1, 2, 3, 1, []any{1}}) {
		t.Errorf("got %v", got)
	}
}

func TestDedupForgetsOldest(t *testing.T) {
	e := newEnv()
	in := start(t, e.build(t, operator.RoleTransform, "dedup", map[string]any{"window": 10}), operator.Info{}).open()
	for i := range 5000 {
		in.send(i, i-3) // i-3 is among the last 10 keys (but -3, -2 and -1 were never seen)
	}
	if got := in.out(); len(got) != 5003 {
		t.Fatalf("passed %d", len(got))
	}
	in.send(4990, 4989)
	if got := in.out(); !value.Equal(got, []any{4989}) {
		t.Errorf("got %v", got)
	}
}

func TestDedupDefaultWindow(t *testing.T) {
	e := newEnv()
	in := start(t, e.build(t, operator.RoleTransform, "dedup", map[string]any{"key": "it.id"}), operator.Info{}).open()
	for i := range defaultDedupWindow {
		in.send(map[string]any{"id": i})
	}
	in.send(map[string]any{"id": 0}, map[string]any{"id": defaultDedupWindow}, map[string]any{"id": 0})
	if got := in.out(); len(got) != defaultDedupWindow+2 {
		t.Errorf("passed %d", len(got))
	}
}

func TestDedupTTL(t *testing.T) {
	e := newEnv()
	in := start(t, e.build(t, operator.RoleTransform, "dedup", map[string]any{"ttl": "10s"}), operator.Info{}).open()
	t0 := e.clock.Now()
	in.send("a")
	e.clock.Set(t0.Add(5 * time.Second))
	in.send("a", "b")
	e.clock.Set(t0.Add(10 * time.Second))
	in.send("a", "b") // a is forgotten 10s after it was first seen; b is not yet
	if got := in.out(); !value.Equal(got, []any{"a", "b", "a"}) {
		t.Errorf("got %v", got)
	}
}

// A restored dedup goes on exactly as the one whose checkpoint it got.
func TestDedupRestoreProperty(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		e := newEnv()
		raw := map[string]any{"key": "it.k"}
		if rapid.Bool().Draw(t, "window") {
			raw["window"] = rapid.IntRange(1, 6).Draw(t, "size")
		}
		if rapid.Bool().Draw(t, "ttl") {
			raw["ttl"] = rapid.SampledFrom([]string{"1s", "3s"}).Draw(t, "ttl")
		}
		f := e.build(t, operator.RoleTransform, "dedup", raw)
		a := start(t, f, operator.Info{}).open()
		var b *inst
		n := rapid.IntRange(0, 80).Draw(t, "n")
		cut := rapid.IntRange(0, n).Draw(t, "cut")
		for i := range n {
			if i == cut {
				a.out()
				snap := a.checkpoint(2)
				b = start(t, f, operator.Info{}).open()
				b.restore(2, snap)
				if again := b.checkpoint(3); !bytes.Equal(snap, again) {
					t.Fatalf("restored state checkpoints differently")
				}
			}
			e.clock.Set(e.clock.Now().Add(time.Duration(rapid.IntRange(0, 1500).Draw(t, "ms")) * time.Millisecond))
			k := rapid.OneOf(rapid.Just[any](nil), rapid.IntRange(0, 8).AsAny(), rapid.Just[any]([]any{"x", 1.5})).Draw(t, "k")
			tuple := map[string]any{"k": k, "i": i}
			a.send(tuple)
			if b != nil {
				b.send(tuple)
			}
		}
		if b != nil {
			if ga, gb := a.out(), b.out(); !value.Equal(ga, gb) {
				t.Fatalf("diverged:\n%v\n%v", ga, gb)
			}
		}
		// Restore(0, nil) forgets everything.
		a.out()
		a.restore(0, nil)
		a.send(map[string]any{"k": 1}, map[string]any{"k": 1})
		if got := a.out(); len(got) != 1 {
			t.Fatalf("after Restore(0): %v", got)
		}
	})
}
