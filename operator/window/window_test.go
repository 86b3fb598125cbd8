package window

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/weirstream/weir/flow"
	"github.com/weirstream/weir/operator"
	"pgregory.net/rapid"
)

type reading struct {
	Sensor string
	Temp   float64
}

func sensor(r reading) (string, error) { return r.Sensor, nil }
func temp(r reading) float64           { return r.Temp }

func TestValidate(t *testing.T) {
	for _, c := range []struct {
		w    Window
		want string // "" = valid
	}{
		{Tumbling(10), ""},
		{TumblingTime(time.Second), ""},
		{Sliding(10, 2), ""},
		{Sliding(2, 10), ""},
		{SlidingTime(time.Minute, 10*time.Second), ""},
		{Window{}, "no kind"},
		{Window{Kind: "hopping", Size: 3}, `unknown window kind "hopping"`},
		{Tumbling(0), "needs a size"},
		{Tumbling(-1), "at least 1 tuple"},
		{TumblingTime(-time.Second), "must be positive"},
		{Window{Kind: KindTumbling, Size: 3, Duration: time.Second}, "not both"},
		{Window{Kind: KindTumbling, Size: 3, Slide: 1}, "does not slide"},
		{Sliding(10, 0), "needs a slide"},
		{Sliding(10, -1), "slide must be positive"},
		{Window{Kind: KindSliding, Size: 3, SlideDuration: time.Second}, "slides by a number of tuples"},
		{Window{Kind: KindSliding, Duration: time.Second, Slide: 2}, "slides by a duration"},
		{SlidingTime(time.Second, 0), "needs a slide duration"},
	} {
		err := c.w.Validate()
		switch {
		case c.want == "" && err != nil:
			t.Errorf("%+v: %v", c.w, err)
		case c.want != "" && (err == nil || !strings.Contains(err.Error(), c.want)):
			t.Errorf("%+v: got %v, want an error with %q", c.w, err, c.want)
		}
	}
	if s := SlidingTime(time.Minute, 10*time.Second).String(); s != "sliding(1m0s, every 10s)" {
		t.Error(s)
	}
	if s := Tumbling(10).String(); s != "tumbling(10)" {
		t.Error(s)
	}
}

func TestBuiltinAggregations(t *testing.T) {
	check := func(name string, got, want any) {
		t.Helper()
		if got != want {
			t.Errorf("%s: got %v, want %v", name, got, want)
		}
	}
	check("count", run(t, Tumbling(4), Count[reading]())[0].Value, 4)
	check("sum", run(t, Tumbling(4), Sum(temp))[0].Value, 7.5)
	check("min", run(t, Tumbling(4), Min(temp))[0].Value, -1.0)
	check("max", run(t, Tumbling(4), Max(temp))[0].Value, 4.5)
	check("mean", run(t, Tumbling(4), Mean(temp))[0].Value, 1.875)
	// Sliding windows merge panes: the same answers over the last tuples.
	check("sliding max", run(t, Sliding(3, 1), Max(temp))[3].Value, 4.5)
	check("sliding min", run(t, Sliding(3, 1), Min(temp))[3].Value, -1.0)
	check("sliding mean", run(t, Sliding(2, 1), Mean(temp))[3].Value, 2.75)
}

// run feeds the readings a 3, a -1, a 4.5, a 1 to a count window and finishes.
func run[A, R any](t *testing.T, w Window, agg Aggregation[reading, A, R]) []Result[string, R] {
	t.Helper()
	h := newHarness(t, Config[reading, string, A, R]{Window: w, Key: sensor, Agg: agg})
	h.send(reading{"a", 3}, reading{"a", -1}, reading{"a", 4.5}, reading{"a", 1})
	h.finish()
	return h.take()
}

func TestTumblingCountPerKey(t *testing.T) {
	h := newHarness(t, Config[reading, string, int, int]{Window: Tumbling(2), Key: sensor, Agg: Count[reading]()})
	h.send(reading{"a", 1}, reading{"b", 1}, reading{"a", 1})
	want := []Result[string, int]{{"a", 0, 2, 2}}
	if got := h.take(); !equal(got, want) {
		t.Fatalf("got %v, want %v", got, want)
	}
	h.send(reading{"b", 1}, reading{"a", 1})
	h.finish() // a has one tuple in an open window
	want = []Result[string, int]{{"b", 0, 2, 2}, {"a", 2, 3, 1}}
	if got := h.take(); !equal(got, want) {
		t.Fatalf("got %v, want %v", got, want)
	}
}

func TestTumblingTimeDrivenByTick(t *testing.T) {
	sec := int64(time.Second)
	h := newHarness(t, Config[reading, string, float64, float64]{Window: TumblingTime(time.Second), Key: sensor, Agg: Sum(temp)})
	h.now = 10*sec + 100
	h.send(reading{"a", 1}, reading{"b", 10})
	h.now = 10*sec + 900
	h.send(reading{"a", 2})
	h.tick(11*sec - 1)
	if got := h.take(); len(got) != 0 {
		t.Fatalf("emitted before the window ended: %v", got)
	}
	h.tick(11 * sec)
	want := []Result[string, float64]{{"a", 10 * sec, 11 * sec, 3}, {"b", 10 * sec, 11 * sec, 10}}
	got := h.take()
	if !equal(got, want) {
		t.Fatalf("got %v, want %v", got, want)
	}
	if got[0].StartTime() != time.Unix(10, 0).UTC() || got[0].EndTime() != time.Unix(11, 0).UTC() {
		t.Errorf("bounds as times: %v %v", got[0].StartTime(), got[0].EndTime())
	}
	// A tuple's arrival closes the windows before it too; a long pause emits nothing for empty windows.
	h.now = 11*sec + 5
	h.send(reading{"b", 1})
	h.now = 500 * sec
	h.send(reading{"b", 2})
	want = []Result[string, float64]{{"b", 11 * sec, 12 * sec, 1}}
	if got := h.take(); !equal(got, want) {
		t.Fatalf("got %v, want %v", got, want)
	}
	h.finish()
	want = []Result[string, float64]{{"b", 500 * sec, 501 * sec, 2}}
	if got := h.take(); !equal(got, want) {
		t.Fatalf("finish: got %v, want %v", got, want)
	}
	if tk := h.node.(operator.Ticker).TickEvery(); tk != 100*time.Millisecond {
		t.Errorf("TickEvery = %v", tk)
	}
}

func TestSlidingTime(t *testing.T) {
	h := newHarness(t, Config[reading, string, int, int]{Window: SlidingTime(3*time.Second, time.Second), Key: sensor, Agg: Count[reading]()})
	sec := int64(time.Second)
	for i := range int64(4) {
		h.now = i*sec + 1
		h.send(reading{Sensor: "a"})
	}
	h.tick(4 * sec)
	got := h.take()
	want := []Result[string, int]{{"a", -2 * sec, sec, 1}, {"a", -sec, 2 * sec, 2}, {"a", 0, 3 * sec, 3}, {"a", sec, 4 * sec, 3}}
	if !equal(got, want) {
		t.Fatalf("got %v, want %v", got, want)
	}
	h.finish()
	want = []Result[string, int]{{"a", 2 * sec, 5 * sec, 2}, {"a", 3 * sec, 6 * sec, 1}}
	if got := h.take(); !equal(got, want) {
		t.Fatalf("finish: got %v, want %v", got, want)
	}
	if tk := h.node.(operator.Ticker).TickEvery(); tk != 100*time.Millisecond {
		t.Errorf("TickEvery = %v", tk)
	}
}

func TestCountWindowsAreNotTickers(t *testing.T) {
	n, err := NewNode(Config[int, int, int, int]{Window: Tumbling(3), Agg: Count[int]()}, identity[Result[int, int]])
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := n.(operator.Ticker); ok {
		t.Error("a count window node implements Ticker")
	}
}

func TestGlobalKeyAndOperatorFactory(t *testing.T) {
	f, err := Operator[int, struct{}](Tumbling(2), nil, Sum(func(i int) int { return i }))
	if err != nil {
		t.Fatal(err)
	}
	if f.In() != flow.TypeOf[int]() || f.Outs()[0] != flow.TypeOf[Result[struct{}, int]]() {
		t.Errorf("types %v %v", f.In(), f.Outs())
	}
	n, err := f.New(operator.Info{})
	if err != nil {
		t.Fatal(err)
	}
	var out []Result[struct{}, int]
	n.Bind(&operator.Guard{}, 0)
	if err := n.Connect(0, func(r Result[struct{}, int]) { out = append(out, r) }); err != nil {
		t.Fatal(err)
	}
	if err := n.Connect(1, func(Result[struct{}, int]) {}); err == nil {
		t.Error("connected port 1")
	}
	if err := n.Connect(0, func(int) {}); err == nil {
		t.Error("connected a func(int)")
	}
	in := n.Input().(func(int))
	for i := range 5 {
		in(i)
	}
	if len(out) != 2 || out[0].Value != 1 || out[1].Value != 5 {
		t.Errorf("got %v", out)
	}
}

func TestOperatorRefusesBadConfig(t *testing.T) {
	if _, err := Operator[int, int](Tumbling(0), nil, Count[int]()); err == nil || !strings.Contains(err.Error(), "needs a size") {
		t.Errorf("bad window: %v", err)
	}
	if _, err := Operator[int, int, int, int](Tumbling(1), nil, nil); err == nil || !strings.Contains(err.Error(), "no aggregation") {
		t.Errorf("no aggregation: %v", err)
	}
	_, err := Operator[int, int](SlidingTime(time.Hour, time.Millisecond), nil, Reduce(0, func(a, b int) int { return a + b }))
	if err == nil || !strings.Contains(err.Error(), "cannot merge") {
		t.Errorf("slots blowup: %v", err)
	}
	if _, err := Operator[int, int](SlidingTime(time.Hour, time.Millisecond), nil, Count[int]()); err != nil {
		t.Errorf("mergeable: %v", err)
	}
}

func TestErrorsFailTheOperator(t *testing.T) {
	boom := errors.New("boom")
	h := newHarness(t, Config[reading, string, int, int]{
		Window: Tumbling(2), Agg: Count[reading](),
		Key: func(r reading) (string, error) {
			if r.Sensor == "" {
				return "", boom
			}
			return r.Sensor, nil
		},
	})
	h.in(reading{})
	if err, op := h.g.Err(); !errors.Is(err, boom) || op != 3 {
		t.Fatalf("failure %v of node %d", err, op)
	}
	if !h.g.Halt.IsSet() {
		t.Error("not halted")
	}
}

func TestRestoreTypedState(t *testing.T) {
	cfg := Config[reading, string, Extremum[float64], float64]{Window: Sliding(3, 1), Key: sensor, Agg: Max(temp)}
	a := newHarness(t, cfg)
	a.send(reading{"x", 5}, reading{"y", 1}, reading{"x", 2})
	snap := a.checkpoint()
	a.take()
	a.send(reading{"x", 1}, reading{"x", 0}, reading{"y", 7})
	a.finish()

	b := newHarness(t, cfg)
	if err := b.node.Restore(3, snap); err != nil {
		t.Fatal(err)
	}
	b.send(reading{"x", 1}, reading{"x", 0}, reading{"y", 7})
	b.finish()
	if ga, gb := a.take(), b.take(); !equal(ga, gb) {
		t.Fatalf("restored node diverges:\n%v\n%v", ga, gb)
	}

	// Restore(0, nil) empties; a missing state for an epoch is an error.
	if err := b.node.Restore(0, nil); err != nil {
		t.Fatal(err)
	}
	if err := b.node.Restore(4, nil); err == nil || !strings.Contains(err.Error(), "no state saved for epoch 4") {
		t.Errorf("restore nil: %v", err)
	}
	b.finish()
	if got := b.take(); len(got) != 0 {
		t.Errorf("state after Restore(0): %v", got)
	}
}

func TestRestoreRefusesOtherWindows(t *testing.T) {
	a := newHarness(t, Config[reading, string, int, int]{Window: Tumbling(3), Key: sensor, Agg: Count[reading]()})
	a.send(reading{Sensor: "x"})
	snap := a.checkpoint()
	b := newHarness(t, Config[reading, string, int, int]{Window: Tumbling(4), Key: sensor, Agg: Count[reading]()})
	err := b.node.Restore(1, snap)
	if err == nil || !strings.Contains(err.Error(), "saved by a tumbling(3) window") {
		t.Errorf("restore into another window: %v", err)
	}
	if err := a.node.Restore(1, snap[:len(snap)-1]); err == nil || !strings.Contains(err.Error(), "bad state") {
		t.Errorf("truncated: %v", err)
	}
}

// Arbitrary bytes never panic a restore.
func TestRestoreGarbage(t *testing.T) {
	rapid.Check(t, func(rt *rapid.T) {
		var w Window
		if rapid.Bool().Draw(rt, "time") {
			w = SlidingTime(4, 2)
		} else {
			w = Sliding(4, 2)
		}
		n, err := NewNode(Config[string, string, int, int]{Window: w, Agg: Count[string]()}, identity[Result[string, int]])
		if err != nil {
			rt.Fatal(err)
		}
		prefix := append([]byte{stateVersion}, appendBytes(nil, []byte(w.String()))...)
		data := append(prefix, rapid.SliceOf(rapid.Byte()).Draw(rt, "data")...)
		_ = n.Restore(1, data)
	})
}

func equal[K comparable, R comparable](a, b []Result[K, R]) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
