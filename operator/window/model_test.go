package window

import (
	"bytes"
	"fmt"
	"slices"
	"strconv"
	"testing"
	"time"

	"pgregory.net/rapid"
)

// The model: every window computed from scratch from the full history, compared with what the node emits.
// Checkpoints in the middle swap the node for a fresh one restored from the snapshot, so equality with the
// model also proves that a restore continues exactly as the saved node would have.

type tup struct {
	key, val int
	at       int64 // arrival time (time windows)
}

// concat is order-sensitive, so it catches panes merged in the wrong order.
func concat(acc string, t tup) string { return acc + strconv.Itoa(t.val) + ";" }

func concatMerge(a, b string) string { return a + b }

func fold(ts []tup) string {
	acc := ""
	for _, t := range ts {
		acc = concat(acc, t)
	}
	return acc
}

func modelCount(w Window, hist []tup) []Result[int, string] {
	geo := w.geometry()
	var keys []int
	per := map[int][]tup{}
	var out []Result[int, string]
	for _, t := range hist {
		if _, ok := per[t.key]; !ok {
			keys = append(keys, t.key)
		}
		per[t.key] = append(per[t.key], t)
		c := int64(len(per[t.key]))
		if c%geo.slide == 0 {
			start := max(0, c-geo.size)
			out = append(out, Result[int, string]{t.key, start, c, fold(per[t.key][start:c])})
		}
	}
	for _, k := range keys {
		c := int64(len(per[k]))
		for e := geo.endAfter(c); e-geo.size < c; e += geo.slide {
			start := max(0, e-geo.size)
			out = append(out, Result[int, string]{k, start, c, fold(per[k][start:c])})
		}
	}
	return out
}

func modelTime(w Window, hist []tup) []Result[int, string] {
	geo := w.geometry()
	if len(hist) == 0 {
		return nil
	}
	var out []Result[int, string]
	first, last := hist[0].at, hist[len(hist)-1].at
	for e := geo.endAfter(first); e-geo.size <= last; e += geo.slide {
		var keys []int
		per := map[int][]tup{}
		for _, t := range hist {
			if t.at >= e-geo.size && t.at < e {
				if _, ok := per[t.key]; !ok {
					keys = append(keys, t.key)
				}
				per[t.key] = append(per[t.key], t)
			}
		}
		for _, k := range keys {
			out = append(out, Result[int, string]{k, e - geo.size, e, fold(per[k])})
		}
	}
	return out
}

func byEndKey(rs []Result[int, string]) {
	slices.SortStableFunc(rs, func(a, b Result[int, string]) int {
		if a.End != b.End {
			return int(a.End - b.End)
		}
		return a.Key - b.Key
	})
}

func genWindow(t *rapid.T) Window {
	size := rapid.IntRange(1, 9).Draw(t, "size")
	sliding := rapid.Bool().Draw(t, "sliding")
	slide := 0
	if sliding {
		slide = rapid.IntRange(1, 9).Draw(t, "slide")
	}
	if rapid.Bool().Draw(t, "time") {
		if sliding {
			return SlidingTime(time.Duration(size), time.Duration(slide))
		}
		return TumblingTime(time.Duration(size))
	}
	if sliding {
		return Sliding(size, slide)
	}
	return Tumbling(size)
}

func TestModelProperty(t *testing.T) {
	rapid.Check(t, func(rt *rapid.T) {
		w := genWindow(rt)
		var agg Aggregation[tup, string, string] = Reduce("", concat)
		if rapid.Bool().Draw(rt, "merge") {
			agg = ReduceMerge("", concat, concatMerge)
		}
		cfg := Config[tup, int, string, string]{
			Window: w, Agg: agg, Key: func(t tup) (int, error) { return t.key, nil },
		}
		h := newHarness(rt, cfg)
		h.now = rapid.Int64Range(-20, 20).Draw(rt, "start")
		var hist []tup
		ops := rapid.IntRange(0, 150).Draw(rt, "ops")
		for i := range ops {
			switch op := rapid.IntRange(0, 9).Draw(rt, "op"); {
			case op < 6:
				h.now += rapid.OneOf(rapid.Int64Range(0, 3), rapid.Int64Range(0, 60)).Draw(rt, "dt")
				tp := tup{key: rapid.IntRange(0, 2).Draw(rt, "key"), val: i, at: h.now}
				hist = append(hist, tp)
				h.send(tp)
			case op < 8 && w.IsTime():
				h.tick(h.now + rapid.OneOf(rapid.Int64Range(0, 4), rapid.Int64Range(0, 60)).Draw(rt, "tick"))
			default:
				restoreEqualsBefore(rt, h, cfg)
			}
		}
		h.finish()
		got := h.take()
		if w.IsTime() {
			for i := 1; i < len(got); i++ {
				if got[i].End < got[i-1].End {
					rt.Fatalf("results out of order: %v", got)
				}
			}
			want := modelTime(w, hist)
			byEndKey(got)
			byEndKey(want)
			if !slices.Equal(got, want) {
				rt.Fatalf("%s:\n got %v\nwant %v", w, got, want)
			}
			return
		}
		if want := modelCount(w, hist); !slices.Equal(got, want) {
			rt.Fatalf("%s:\n got %v\nwant %v", w, got, want)
		}
	})
}

// restoreEqualsBefore swaps h's node for one restored from its checkpoint and checks that the restored node
// checkpoints to the same bytes.
func restoreEqualsBefore(t *rapid.T, h *harness[tup, Result[int, string]], cfg Config[tup, int, string, string]) {
	snap := h.checkpoint()
	cfg.Clock = h.clock
	n, err := NewNode(cfg, identity[Result[int, string]])
	if err != nil {
		t.Fatal(err)
	}
	n.Bind(h.g, 3)
	if err := n.Restore(7, snap); err != nil {
		t.Fatal(err)
	}
	h.attach(n)
	if again := h.checkpoint(); !bytes.Equal(snap, again) {
		t.Fatalf("restored state checkpoints differently:\n%x\n%x", snap, again)
	}
}

func (r Result[K, R]) String() string {
	return fmt.Sprintf("{%v [%d,%d) %v}", r.Key, r.Start, r.End, r.Value)
}
