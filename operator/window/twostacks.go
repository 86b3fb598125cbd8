package window

// The two-stack queue over a group's panes (pane layout only; see group).

// seal folds the open panes into the back stack: from now on they are part of the window's aggregate.
func (e *engine[T, K, A, R]) seal(g *group[K, A]) error {
	if g.dirty {
		var zero A
		g.front, g.sealed, g.back, g.hasBack, g.dirty = g.head, g.head, zero, false, false
	}
	for ; g.sealed < len(g.ents); g.sealed++ {
		acc := g.ents[g.sealed].acc
		if g.hasBack {
			m, err := e.merge(g.back, acc)
			if err != nil {
				g.dirty = true // the aggregates are half done: rebuild them next time
				return err
			}
			acc = m
		}
		g.back, g.hasBack = acc, true
	}
	return nil
}

// flip moves the back stack to the front, computing the suffix aggregates; the front must be empty.
func (e *engine[T, K, A, R]) flip(g *group[K, A]) error {
	if cap(g.suf) < len(g.ents) {
		g.suf = append(g.suf[:cap(g.suf)], make([]A, len(g.ents)-cap(g.suf))...)
	}
	g.suf = g.suf[:len(g.ents)]
	for i := g.sealed - 1; i >= g.head; i-- {
		if i == g.sealed-1 {
			g.suf[i] = g.ents[i].acc
			continue
		}
		m, err := e.merge(g.ents[i].acc, g.suf[i+1])
		if err != nil {
			g.dirty = true
			return err
		}
		g.suf[i] = m
	}
	var zero A
	g.front, g.back, g.hasBack = g.sealed, zero, false
	return nil
}

// evict drops the panes before pane lo.
func (e *engine[T, K, A, R]) evict(g *group[K, A], lo int64) error {
	for !g.empty() && g.ents[g.head].pos < lo {
		if g.head == g.front && g.head < g.sealed {
			if err := e.flip(g); err != nil {
				return err
			}
		}
		g.pop()
	}
	return nil
}

// query merges every live pane; seal first.
func (e *engine[T, K, A, R]) query(g *group[K, A]) (acc A, ok bool, err error) {
	if g.empty() {
		return acc, false, nil
	}
	if g.head == g.front {
		return g.back, true, nil
	}
	acc = g.suf[g.head]
	if g.hasBack {
		acc, err = e.merge(acc, g.back)
	}
	return acc, err == nil, err
}
