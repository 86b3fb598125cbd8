package builtin

import (
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/weirstream/weir/operator"
	"github.com/weirstream/weir/value"
)

// replay runs a source, checkpoints it after `at` tuples (at a safe point, as a drain does), lets it run to
// its end, then restores a fresh instance from the checkpoint: the fresh instance must emit exactly what the
// first emitted after the checkpoint.
func replay(t *testing.T, f operator.Factory, at int) (all []any) {
	t.Helper()
	a := start(t, f, operator.Info{}).open()
	var snap []byte
	a.node.Bind(a.g, 1)
	_ = a.node.Connect(0, func(v any) {
		a.outs[0] = append(a.outs[0], v)
		if len(a.outs[0]) == at {
			a.g.Pending.Store(true) // the control loop has work: a drain
		}
	})
	if err := a.run(func() bool {
		if snap == nil {
			snap = a.checkpoint(1)
		}
		return true
	}); err != nil {
		t.Fatal(err)
	}
	all = a.out()
	if snap == nil {
		t.Fatalf("never reached %d tuples (got %d)", at, len(all))
	}
	if err := a.node.Close(); err != nil {
		t.Fatal(err)
	}

	b := start(t, f, operator.Info{}).open()
	b.restore(1, snap)
	if err := b.run(nil); err != nil {
		t.Fatal(err)
	}
	if got := b.out(); !value.Equal(got, all[at:]) {
		t.Fatalf("replay after %d: got %v, want %v", at, got, all[at:])
	}

	// Restore(0, nil) starts over.
	b.restore(0, nil)
	if err := b.run(nil); err != nil {
		t.Fatal(err)
	}
	if got := b.out(); !value.Equal(got, all) {
		t.Fatalf("replay from the start: got %v, want %v", got, all)
	}
	if err := b.node.Restore(3, nil); err == nil {
		t.Error("restored nothing for epoch 3")
	}
	return all
}

func TestSequence(t *testing.T) {
	e := newEnv()
	f := e.build(t, operator.RoleSource, "sequence", map[string]any{"count": 10, "start": 5})
	if f.In() != nil || f.Outs()[0] != anyType {
		t.Errorf("types %v %v", f.In(), f.Outs())
	}
	all := replay(t, f, 4)
	if !value.Equal(all, []any{5, 6, 7, 8, 9, 10, 11, 12, 13, 14}) {
		t.Errorf("got %v", all)
	}
	if !start(t, f, operator.Info{}).node.(operator.SourceNode).Replayable() {
		t.Error("not replayable")
	}
}

func TestSequenceTriggerEvery(t *testing.T) {
	e := newEnv()
	f := e.build(t, operator.RoleSource, "sequence", map[string]any{"count": 10, "trigger_every": 3})
	in := start(t, f, operator.Info{})
	in.ctx.driven = true
	in.open()
	if err := in.run(nil); err != nil {
		t.Fatal(err)
	}
	if in.ctx.consistent != 3 {
		t.Errorf("MakeConsistent called %d times, want 3", in.ctx.consistent)
	}
	// Not the start of an operator-driven region: one warning.
	in = start(t, f, operator.Info{}).open()
	if err := in.run(nil); err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(in.ctx.log.String(), "trigger_every"); n != 1 {
		t.Errorf("%d warnings: %s", n, in.ctx.log.String())
	}
}

func TestSourceStopsAtSafePoint(t *testing.T) {
	e := newEnv()
	in := start(t, e.build(t, operator.RoleSource, "sequence", map[string]any{"count": 1000}), operator.Info{}).open()
	_ = in.node.Connect(0, func(v any) {
		in.outs[0] = append(in.outs[0], v)
		in.g.Pending.Store(true)
	})
	if err := in.run(func() bool { return len(in.outs[0]) < 5 }); err != nil {
		t.Fatal(err)
	}
	if n := len(in.out()); n != 5 {
		t.Errorf("emitted %d", n)
	}
}

// A slow source still stops at once when told to.
func TestPacedSourceStops(t *testing.T) {
	e := newEnv()
	in := start(t, e.build(t, operator.RoleSource, "sequence", map[string]any{"count": 10, "rate": 0.001}), operator.Info{}).open()
	done := make(chan struct{})
	close(done)
	loop := &operator.SourceLoop{SafePoint: func() bool { return true }, Done: done}
	if err := in.node.(operator.SourceNode).Run(loop); err != nil {
		t.Fatal(err)
	}
	if n := len(in.out()); n != 1 {
		t.Errorf("emitted %d, want the first only", n)
	}
	if err := in.node.Close(); err != nil {
		t.Fatal(err)
	}
}

func TestPacer(t *testing.T) {
	p := newPacer(1000) // 1ms apart
	t0 := time.Unix(0, 0)
	if d := p.wait(t0); d != 0 {
		t.Errorf("first wait %v", d)
	}
	for range 5 {
		p.sent()
	}
	if d := p.wait(t0); d != 5*time.Millisecond {
		t.Errorf("after 5 tuples at once: wait %v", d)
	}
	if d := p.wait(t0.Add(4500 * time.Microsecond)); d != 0 {
		t.Errorf("less than a millisecond ahead: wait %v, want none (small bursts)", d)
	}
	// After a long pause, no catch-up burst.
	if d := p.wait(t0.Add(time.Hour)); d != 0 || !p.due.Equal(t0.Add(time.Hour)) {
		t.Errorf("after a pause: wait %v, due %v", d, p.due)
	}
	if d := newPacer(0); d.wait(t0) != 0 {
		t.Error("rate 0 waits")
	}
}

func TestGauss(t *testing.T) {
	e := newEnv()
	f := e.build(t, operator.RoleSource, "gauss", map[string]any{"count": 20000, "mean": 20.0, "stddev": 2, "seed": 7})
	all := replay(t, f, 777)
	var sum, sq float64
	for _, v := range all {
		x := v.(float64)
		sum += x
		sq += x * x
	}
	n := float64(len(all))
	mean := sum / n
	sd := math.Sqrt(sq/n - mean*mean)
	if math.Abs(mean-20) > 0.1 || math.Abs(sd-2) > 0.1 {
		t.Errorf("mean %g, stddev %g", mean, sd)
	}
	other := e.build(t, operator.RoleSource, "gauss", map[string]any{"count": 3, "seed": 8})
	in := start(t, other, operator.Info{}).open()
	if err := in.run(nil); err != nil {
		t.Fatal(err)
	}
	if got := in.out(); got[0] == all[0] {
		t.Error("seeds 7 and 8 give the same first number")
	}
}

func TestFileSource(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "in.txt")
	long := strings.Repeat("x", 100<<10)
	if err := os.WriteFile(path, []byte("one\r\ntwo\n\n"+long+"\nlast"), 0o644); err != nil {
		t.Fatal(err)
	}
	e := newEnv()
	all := replay(t, e.build(t, operator.RoleSource, "file", map[string]any{"path": path}), 2)
	if !value.Equal(all, []any{"one", "two", "", long, "last"}) {
		t.Errorf("got %d lines: %.40v", len(all), all)
	}
}

func TestFileSourceJSONL(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "in.jsonl")
	if err := os.WriteFile(path, []byte(`{"a": 1}`+"\n\n[1, 2.5]\n\"s\"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	e := newEnv()
	f := e.build(t, operator.RoleSource, "file", map[string]any{"path": path, "format": "jsonl"})
	all := replay(t, f, 1)
	if !value.Equal(all, []any{map[string]any{"a": 1}, []any{1, 2.5}, "s"}) {
		t.Errorf("got %v", all)
	}

	if err := os.WriteFile(path, []byte("1\n2\n{oops\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	in := start(t, f, operator.Info{}).open()
	wantErr(t, in.run(nil), "file source "+path+":3:", "invalid character")
}

func TestFileSourceErrors(t *testing.T) {
	e := newEnv()
	in := start(t, e.build(t, operator.RoleSource, "file", map[string]any{"path": "/no/such/file"}), operator.Info{})
	wantErr(t, in.node.Open(in.ctx), "file source: open /no/such/file")
	_, err := e.buildErr(operator.RoleSource, "file", map[string]any{"path": "x", "format": "csv"})
	wantErr(t, err, `file source parameter format: "csv"`)
	_, err = e.buildErr(operator.RoleSource, "sequence", map[string]any{"count": -1})
	wantErr(t, err, "sequence parameter count: -1 is negative")
	_, err = e.buildErr(operator.RoleSource, "sequence", map[string]any{"count": 1, "rate": -2})
	wantErr(t, err, "sequence parameter rate: -2")
	_, err = e.buildErr(operator.RoleSource, "sequence", map[string]any{"count": "many"})
	wantErr(t, err, "sequence parameter count: expected int, got string")
	_, err = e.buildErr(operator.RoleSource, "gauss", map[string]any{"stddev": -1})
	wantErr(t, err, "gauss parameter stddev: -1")
	_, err = e.buildErr(operator.RoleSource, "gauss", map[string]any{"count": -1})
	wantErr(t, err, "gauss parameter count: -1")
}
