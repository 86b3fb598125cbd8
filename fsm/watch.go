package fsm

// Watch returns a channel that is closed at the next change of the state: an accepted command or a restored
// snapshot (a rejected command changes nothing and closes nothing). Take the channel before reading the
// state, then wait on it; a change that lands between the read and the wait still closes the channel, so
// none is missed:
//
//	for {
//		ch := st.Watch()
//		react(st.Placements(job))
//		select {
//		case <-ch:
//		case <-ctx.Done():
//			return
//		}
//	}
//
// Changes coalesce: one close may stand for many commands.
func (s *State) Watch() <-chan struct{} {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.watch
}

// notifyLocked wakes every watcher. Close-and-replace costs one allocation per change and never blocks
// Apply, however slow a watcher is. The caller holds s.mu for writing.
func (s *State) notifyLocked() {
	close(s.watch)
	s.watch = make(chan struct{})
}

// replace swaps in a restored state and wakes the watchers.
func (s *State) replace(t tables) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.t = t
	s.notifyLocked()
}
