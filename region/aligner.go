package region

import (
	"fmt"

	"github.com/weirstream/weir/flow"
)

// Aligner tracks markers across the inputs of one PE. A marker on one input holds that input back until the
// same marker has arrived on every input; then the PE drains and checkpoints and the inputs are released.
type Aligner struct {
	n     int
	ctl   flow.Control
	seen  []bool
	count int
}

// NewAligner aligns n inputs.
func NewAligner(n int) *Aligner { return &Aligner{n: n, seen: make([]bool, n)} }

// Mark records control item c arriving on input i. It reports whether c has now arrived on every input.
// A different marker arriving before the current one completed is a protocol error.
func (a *Aligner) Mark(i int, c flow.Control) (complete bool, err error) {
	if i < 0 || i >= a.n {
		return false, fmt.Errorf("marker %s on input %d of %d", c, i, a.n)
	}
	if a.count == 0 {
		a.ctl = c
	} else if c != a.ctl {
		return false, fmt.Errorf("marker %s on input %d while aligning %s", c, i, a.ctl)
	}
	if a.seen[i] {
		return false, fmt.Errorf("marker %s twice on input %d", c, i)
	}
	a.seen[i] = true
	a.count++
	if a.count < a.n {
		return false, nil
	}
	a.Clear()
	return true, nil
}

// Aligning reports whether a marker is partly aligned.
func (a *Aligner) Aligning() bool { return a.count > 0 }

// Clear forgets a partial alignment (a reset).
func (a *Aligner) Clear() {
	clear(a.seen)
	a.count = 0
}
