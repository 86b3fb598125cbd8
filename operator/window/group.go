package window

import "slices"

// entry is one accumulator of a key: a pane (pos = pane number) or a whole window (pos = its end).
type entry[A any] struct {
	pos int64
	acc A
}

// group is the state of one key: its tuple count (count windows) and its accumulators, ordered by pos, live
// from head on.
//
// In the pane layout the live panes also form a two-stack queue (Okasaki's "two stacks", as in the
// sliding-window aggregation literature): panes [head, front) carry suffix aggregates in suf, panes
// [front, sealed) are folded into back, panes from sealed on are still open to new tuples. The merge of the
// whole queue is then one or two merges, and each pane is merged about twice in its life.
type group[K comparable, A any] struct {
	key   K
	count int64
	ents  []entry[A]
	head  int

	suf     []A
	front   int
	sealed  int
	back    A
	hasBack bool
	dirty   bool // the aggregates must be rebuilt (a sealed pane changed)
}

func (g *group[K, A]) live() []entry[A] { return g.ents[g.head:] }

func (g *group[K, A]) empty() bool { return g.head == len(g.ents) }

// pop drops the oldest entry.
func (g *group[K, A]) pop() {
	g.ents[g.head] = entry[A]{}
	if g.head < len(g.suf) {
		var zero A
		g.suf[g.head] = zero
	}
	g.head++
	g.front = max(g.front, g.head)
	g.sealed = max(g.sealed, g.head)
	g.compact()
}

// compact reclaims the popped prefix once it is the larger half.
func (g *group[K, A]) compact() {
	if g.head == 0 || (g.head < 16 && g.head < len(g.ents)) || 2*g.head < len(g.ents) {
		return
	}
	n := copy(g.ents, g.ents[g.head:])
	clear(g.ents[n:])
	g.ents = g.ents[:n]
	if g.head < len(g.suf) {
		m := copy(g.suf, g.suf[g.head:])
		clear(g.suf[m:])
		g.suf = g.suf[:m]
	} else {
		clear(g.suf)
		g.suf = g.suf[:0]
	}
	g.front -= g.head
	g.sealed -= g.head
	g.head = 0
}

// insert adds an entry at index i (i >= head), keeping the order; the aggregates must be rebuilt if it
// lands among sealed panes.
func (g *group[K, A]) insert(i int, e entry[A]) {
	if i < len(g.ents) {
		g.dirty = g.dirty || i < g.sealed
		g.ents = slices.Insert(g.ents, i, e)
		return
	}
	g.ents = append(g.ents, e)
}
