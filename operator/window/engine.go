package window

import (
	"fmt"
	"sort"
)

// engine is the windowing logic of one operator instance, without the Node plumbing. Positions are tuple
// numbers (count windows, per key) or Unix nanoseconds (time windows).
type engine[T any, K comparable, A, R any] struct {
	w     Window
	geo   geometry
	agg   Aggregation[T, A, R]
	merge func(A, A) (A, error)
	// panes: partial accumulators per pane, merged per window; otherwise one accumulator per window (slots).
	panes bool
	emit  func(Result[K, R]) error

	groups map[K]*group[K, A]
	order  []*group[K, A] // in order of creation

	// Time windows: whether a time was seen, the end of the next window to close, the latest time.
	started   bool
	next, now int64
}

func newEngine[T any, K comparable, A, R any](w Window, agg Aggregation[T, A, R], emit func(Result[K, R]) error) *engine[T, K, A, R] {
	e := &engine[T, K, A, R]{w: w, geo: w.geometry(), agg: agg, emit: emit, groups: make(map[K]*group[K, A])}
	if m, ok := agg.(Merger[A]); ok {
		e.merge = m.Merge
		e.panes = w.Kind == KindSliding && e.geo.size > e.geo.slide
	}
	return e
}

func (e *engine[T, K, A, R]) group(k K) *group[K, A] {
	g := e.groups[k]
	if g == nil {
		g = &group[K, A]{key: k}
		e.groups[k] = g
		e.order = append(e.order, g)
	}
	return g
}

// addCount adds the next tuple of key k to a count window, emitting the window it completes.
func (e *engine[T, K, A, R]) addCount(k K, t T) error {
	g := e.group(k)
	if err := e.addAt(g, g.count, t); err != nil {
		return err
	}
	g.count++
	if g.count%e.geo.slide != 0 {
		return nil
	}
	end := g.count
	acc, ok, err := e.closeWindow(g, end)
	if err != nil || !ok {
		return err
	}
	return e.emit(Result[K, R]{Key: k, Start: max(0, end-e.geo.size), End: end, Value: e.agg.Result(acc)})
}

// addTime adds a tuple of key k that arrived at now (Unix nanoseconds) to a time window, first closing the
// windows that ended by then.
func (e *engine[T, K, A, R]) addTime(k K, t T, now int64) error {
	if err := e.advance(now); err != nil {
		return err
	}
	g := e.group(k)
	if err := e.addAt(g, e.now, t); err != nil {
		return err
	}
	if g.empty() {
		// The tuple fell between two windows (slide > size) and the key has no other: forget the key.
		delete(e.groups, k)
		if last := len(e.order) - 1; e.order[last] == g {
			e.order[last] = nil
			e.order = e.order[:last]
		}
	}
	return nil
}

func (e *engine[T, K, A, R]) addAt(g *group[K, A], p int64, t T) error {
	if e.panes {
		return e.addPane(g, floorDiv(p, e.geo.pane), t)
	}
	return e.addSlots(g, p, t)
}

// addPane adds t to pane q, normally the newest.
func (e *engine[T, K, A, R]) addPane(g *group[K, A], q int64, t T) error {
	i := len(g.ents)
	if i > g.head && g.ents[i-1].pos >= q {
		// Positions only grow, so this is the newest pane; a search keeps it correct regardless.
		if g.ents[i-1].pos == q {
			i--
		} else {
			i = g.head + sort.Search(len(g.ents)-g.head, func(j int) bool { return g.ents[g.head+j].pos >= q })
		}
		if g.ents[i].pos == q {
			acc, err := e.agg.Add(g.ents[i].acc, t)
			if err != nil {
				return err
			}
			g.ents[i].acc = acc
			g.dirty = g.dirty || i < g.sealed
			return nil
		}
	}
	acc, err := e.agg.Add(e.agg.Zero(), t)
	if err != nil {
		return err
	}
	g.insert(i, entry[A]{pos: q, acc: acc})
	return nil
}

// addSlots adds t, at position p, to every window that covers p: the ends in (p, p+size].
func (e *engine[T, K, A, R]) addSlots(g *group[K, A], p int64, t T) error {
	i := g.head
	for end := e.geo.endAfter(p); end <= p+e.geo.size; end += e.geo.slide {
		for i < len(g.ents) && g.ents[i].pos < end {
			i++
		}
		if i < len(g.ents) && g.ents[i].pos == end {
			acc, err := e.agg.Add(g.ents[i].acc, t)
			if err != nil {
				return err
			}
			g.ents[i].acc = acc
		} else {
			acc, err := e.agg.Add(e.agg.Zero(), t)
			if err != nil {
				return err
			}
			g.insert(i, entry[A]{pos: end, acc: acc})
		}
		i++
	}
	return nil
}

// closeWindow takes the accumulator of g's window ending at end, if it holds tuples, and drops what no
// later window needs.
func (e *engine[T, K, A, R]) closeWindow(g *group[K, A], end int64) (acc A, ok bool, err error) {
	if !e.panes {
		for !g.empty() && g.ents[g.head].pos < end {
			g.pop() // cannot happen: windows close in order
		}
		if g.empty() || g.ents[g.head].pos != end {
			return acc, false, nil
		}
		acc = g.ents[g.head].acc
		g.pop()
		return acc, true, nil
	}
	if err := e.seal(g); err != nil {
		return acc, false, err
	}
	if err := e.evict(g, floorDiv(end-e.geo.size, e.geo.pane)); err != nil {
		return acc, false, err
	}
	acc, ok, err = e.query(g)
	if err != nil {
		return acc, false, err
	}
	return acc, ok, e.evict(g, floorDiv(end+e.geo.slide-e.geo.size, e.geo.pane))
}

// advance moves the clock of time windows to now, emitting every window that ended by then.
func (e *engine[T, K, A, R]) advance(now int64) error {
	if !e.started {
		e.started, e.now, e.next = true, now, e.geo.endAfter(now)
		return nil
	}
	e.now = max(e.now, now)
	for e.next <= e.now {
		if len(e.order) == 0 {
			e.next = e.geo.endAfter(e.now)
			return nil
		}
		// Every key left has a tuple in the next window (it entered at the latest time, which that window
		// covers, and closing a window keeps only what the next one needs), so this loop runs once per
		// window emitted, however long the clock jumped.
		if err := e.closeAll(e.next); err != nil {
			return err
		}
		e.next += e.geo.slide
	}
	return nil
}

// closeAll closes the time window ending at end for every key, and forgets the keys left without tuples.
func (e *engine[T, K, A, R]) closeAll(end int64) error {
	kept := 0
	defer func() {
		// On an error, keep the groups not visited yet.
		clear(e.order[kept:len(e.order)])
		e.order = e.order[:kept]
	}()
	for i, g := range e.order {
		acc, ok, err := e.closeWindow(g, end)
		if err == nil && ok {
			err = e.emit(Result[K, R]{Key: g.key, Start: end - e.geo.size, End: end, Value: e.agg.Result(acc)})
		}
		if err != nil {
			kept += copy(e.order[kept:], e.order[i:])
			return err
		}
		if g.empty() {
			delete(e.groups, g.key)
			continue
		}
		e.order[kept] = g
		kept++
	}
	return nil
}

// finish emits every open window's partial result and empties the state.
func (e *engine[T, K, A, R]) finish() error {
	var rs []Result[K, R]
	for _, g := range e.order {
		var err error
		if rs, err = e.openWindows(g, rs); err != nil {
			return err
		}
	}
	if e.geo.time {
		sort.SliceStable(rs, func(i, j int) bool { return rs[i].End < rs[j].End })
	}
	e.reset()
	for _, r := range rs {
		if err := e.emit(r); err != nil {
			return err
		}
	}
	return nil
}

// openWindows appends the partial result of every window of g that holds tuples and has not closed.
func (e *engine[T, K, A, R]) openWindows(g *group[K, A], rs []Result[K, R]) ([]Result[K, R], error) {
	bounds := func(end int64) (int64, int64) {
		if e.geo.time {
			return end - e.geo.size, end
		}
		return max(0, end-e.geo.size), g.count
	}
	live := g.live()
	if !e.panes {
		for _, s := range live {
			start, end := bounds(s.pos)
			rs = append(rs, Result[K, R]{Key: g.key, Start: start, End: end, Value: e.agg.Result(s.acc)})
		}
		return rs, nil
	}
	if len(live) == 0 {
		return rs, nil
	}
	// Every open window covers a suffix of the panes.
	suf := make([]A, len(live))
	suf[len(live)-1] = live[len(live)-1].acc
	for i := len(live) - 2; i >= 0; i-- {
		m, err := e.merge(live[i].acc, suf[i+1])
		if err != nil {
			return rs, err
		}
		suf[i] = m
	}
	end := e.geo.endAfter(g.count)
	if e.geo.time {
		end = max(e.next, e.geo.endAfter(live[0].pos*e.geo.pane))
	}
	for i := 0; ; end += e.geo.slide {
		lo := floorDiv(end-e.geo.size, e.geo.pane)
		for i < len(live) && live[i].pos < lo {
			i++
		}
		if i == len(live) {
			return rs, nil
		}
		start, stop := bounds(end)
		rs = append(rs, Result[K, R]{Key: g.key, Start: start, End: stop, Value: e.agg.Result(suf[i])})
	}
}

// reset empties the state.
func (e *engine[T, K, A, R]) reset() {
	e.groups = make(map[K]*group[K, A])
	e.order = nil
	e.started, e.next, e.now = false, 0, 0
}

func (e *engine[T, K, A, R]) errorf(format string, args ...any) error {
	return fmt.Errorf("window %s: "+format, append([]any{e.w}, args...)...)
}
