package window

import (
	"errors"
	"fmt"
	"time"
)

// Window kinds.
const (
	KindTumbling = "tumbling"
	KindSliding  = "sliding"
)

// Window says how tuples are grouped in time or in count. Exactly one of Size (a count window) and Duration
// (a time window) is set; a sliding window also has Slide (count) or SlideDuration (time).
type Window struct {
	// Kind is KindTumbling or KindSliding.
	Kind string
	// Size is the number of tuples of a key in a count window.
	Size int
	// Duration is the length of a time window.
	Duration time.Duration
	// Slide is how many tuples of a key a sliding count window advances by between results.
	Slide int
	// SlideDuration is how long a sliding time window advances by between results.
	SlideDuration time.Duration
}

// Tumbling is a count window that emits each key's result every n tuples of that key.
func Tumbling(n int) Window { return Window{Kind: KindTumbling, Size: n} }

// TumblingTime is a time window of d, aligned to multiples of d since the Unix epoch.
func TumblingTime(d time.Duration) Window { return Window{Kind: KindTumbling, Duration: d} }

// Sliding is a count window over each key's last n tuples that emits every `every` tuples of that key.
func Sliding(n, every int) Window { return Window{Kind: KindSliding, Size: n, Slide: every} }

// SlidingTime is a time window of length d that emits every `every`, each window covering [end-d, end).
func SlidingTime(d, every time.Duration) Window {
	return Window{Kind: KindSliding, Duration: d, SlideDuration: every}
}

// IsTime reports whether w is a time window.
func (w Window) IsTime() bool { return w.Duration > 0 }

// Validate explains what is wrong with w, if anything.
func (w Window) Validate() error {
	switch w.Kind {
	case KindTumbling, KindSliding:
	case "":
		return errors.New(`the window has no kind: use "tumbling" or "sliding"`)
	default:
		return fmt.Errorf(`unknown window kind %q: use "tumbling" or "sliding"`, w.Kind)
	}
	switch {
	case w.Size < 0:
		return fmt.Errorf("window size %d: a count window holds at least 1 tuple", w.Size)
	case w.Duration < 0:
		return fmt.Errorf("window duration %s: it must be positive", w.Duration)
	case w.Size > 0 && w.Duration > 0:
		return fmt.Errorf("a window has a size (count window) or a duration (time window), not both (size %d, duration %s)", w.Size, w.Duration)
	case w.Size == 0 && w.Duration == 0:
		return errors.New("a window needs a size (a number of tuples, for a count window) or a duration (for a time window)")
	case w.Slide < 0 || w.SlideDuration < 0:
		return errors.New("a window's slide must be positive")
	}
	if w.Kind == KindTumbling {
		if w.Slide != 0 || w.SlideDuration != 0 {
			return errors.New("a tumbling window does not slide: drop the slide, or make the window sliding")
		}
		return nil
	}
	if w.Size > 0 {
		if w.SlideDuration != 0 {
			return fmt.Errorf("a sliding count window slides by a number of tuples, not by a duration (%s)", w.SlideDuration)
		}
		if w.Slide == 0 {
			return errors.New("a sliding count window needs a slide: the number of tuples between results")
		}
		return nil
	}
	if w.Slide != 0 {
		return fmt.Errorf("a sliding time window slides by a duration, not by a number of tuples (%d)", w.Slide)
	}
	if w.SlideDuration == 0 {
		return errors.New("a sliding time window needs a slide duration: the time between results")
	}
	return nil
}

// String describes w: "tumbling(10)", "sliding(1m0s, every 10s)".
func (w Window) String() string {
	size, slide := fmt.Sprint(w.Size), fmt.Sprint(w.Slide)
	if w.IsTime() {
		size, slide = w.Duration.String(), w.SlideDuration.String()
	}
	if w.Kind == KindSliding {
		return fmt.Sprintf("%s(%s, every %s)", w.Kind, size, slide)
	}
	return fmt.Sprintf("%s(%s)", w.Kind, size)
}

// geometry is a validated window in integer units: tuples for count windows, nanoseconds for time windows.
// Windows end at the multiples of slide and cover [end-size, end); panes of pane units tile them.
type geometry struct {
	time              bool
	size, slide, pane int64
}

func (w Window) geometry() geometry {
	g := geometry{time: w.IsTime(), size: int64(w.Size), slide: int64(w.Slide)}
	if g.time {
		g.size, g.slide = int64(w.Duration), int64(w.SlideDuration)
	}
	if w.Kind == KindTumbling {
		g.slide = g.size
	}
	g.pane = gcd(g.size, g.slide)
	return g
}

// endAfter is the end of the first window that ends after p.
func (g geometry) endAfter(p int64) int64 { return floorDiv(p, g.slide)*g.slide + g.slide }

// windowsPerTuple is how many windows one tuple belongs to, at most.
func (g geometry) windowsPerTuple() int64 { return (g.size + g.slide - 1) / g.slide }

func gcd(a, b int64) int64 {
	for b != 0 {
		a, b = b, a%b
	}
	return a
}

func floorDiv(a, b int64) int64 {
	q := a / b
	if a%b != 0 && (a < 0) != (b < 0) {
		q--
	}
	return q
}
