package region

import (
	"strings"
	"testing"

	"github.com/weirstream/weir/flow"
)

func marker(e uint64) flow.Control { return flow.Control{Kind: flow.CtlMarker, Epoch: e} }

func mustMark(t *testing.T, a *Aligner, i int, c flow.Control, want bool) {
	t.Helper()
	got, err := a.Mark(i, c)
	if err != nil {
		t.Fatalf("Mark(%d, %s): %v", i, c, err)
	}
	if got != want {
		t.Fatalf("Mark(%d, %s) complete=%v, want %v", i, c, got, want)
	}
}

func TestAlignerAlignsAllInputs(t *testing.T) {
	a := NewAligner(3)
	for e := uint64(1); e <= 3; e++ {
		// Markers arrive in any order; the last one completes the alignment.
		order := [][]int{{0, 1, 2}, {2, 0, 1}, {1, 2, 0}}[e-1]
		for k, i := range order {
			if a.Aligning() != (k > 0) {
				t.Fatalf("epoch %d: Aligning=%v after %d markers", e, a.Aligning(), k)
			}
			mustMark(t, a, i, marker(e), k == len(order)-1)
		}
		if a.Aligning() {
			t.Fatal("still aligning after completion")
		}
	}
	// The final marker aligns like any other.
	final := flow.Control{Kind: flow.CtlFinal, Epoch: 4}
	mustMark(t, a, 0, final, false)
	mustMark(t, a, 1, final, false)
	mustMark(t, a, 2, final, true)
}

func TestAlignerSingleInput(t *testing.T) {
	a := NewAligner(1)
	mustMark(t, a, 0, marker(1), true)
	mustMark(t, a, 0, marker(2), true)
	if a.Aligning() {
		t.Fatal("aligning")
	}
}

func TestAlignerDuplicateMarker(t *testing.T) {
	a := NewAligner(2)
	mustMark(t, a, 0, marker(5), false)
	_, err := a.Mark(0, marker(5))
	if err == nil || !strings.Contains(err.Error(), "twice on input 0") {
		t.Fatalf("duplicate marker: %v", err)
	}
	// The error leaves the alignment as it was.
	if !a.Aligning() {
		t.Fatal("duplicate cleared the alignment")
	}
	mustMark(t, a, 1, marker(5), true)
}

func TestAlignerDifferentMarkerWhileAligning(t *testing.T) {
	a := NewAligner(3)
	mustMark(t, a, 0, marker(5), false)
	for _, c := range []flow.Control{marker(6), marker(4), {Kind: flow.CtlFinal, Epoch: 5}} {
		_, err := a.Mark(1, c)
		if err == nil || !strings.Contains(err.Error(), "while aligning marker(5)") {
			t.Fatalf("Mark(1, %s): %v", c, err)
		}
	}
	// On an input that already delivered the current marker, too.
	if _, err := a.Mark(0, marker(6)); err == nil {
		t.Fatal("accepted a different marker on an aligned input")
	}
	mustMark(t, a, 1, marker(5), false)
	mustMark(t, a, 2, marker(5), true)
}

func TestAlignerInputOutOfRange(t *testing.T) {
	a := NewAligner(2)
	for _, i := range []int{-1, 2, 100} {
		if _, err := a.Mark(i, marker(1)); err == nil || !strings.Contains(err.Error(), "of 2") {
			t.Fatalf("Mark(%d): %v", i, err)
		}
	}
	if a.Aligning() {
		t.Fatal("an out-of-range marker started an alignment")
	}
}

func TestAlignerClear(t *testing.T) {
	a := NewAligner(3)
	mustMark(t, a, 0, marker(7), false)
	mustMark(t, a, 2, marker(7), false)
	a.Clear()
	if a.Aligning() {
		t.Fatal("aligning after Clear")
	}
	// After a reset the next epoch (even a lower or different one) aligns from scratch, on every input.
	mustMark(t, a, 0, marker(3), false)
	mustMark(t, a, 2, marker(3), false)
	mustMark(t, a, 1, marker(3), true)
	a.Clear() // clearing an idle aligner is harmless
	mustMark(t, a, 1, marker(4), false)
}
