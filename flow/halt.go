package flow

// Halt is shared by the outboxes and inbox of one PE. Once set, emits are discarded and the inbox stops
// delivering, so a PE that must reset or has failed gets back to its control loop without finishing the
// work in hand. Only the goroutine that runs the PE's operators (or holds its chain lock) touches it.
type Halt struct {
	set bool
}

// Set halts the PE's data path.
func (h *Halt) Set() { h.set = true }

// Clear lets data flow again (after a reset).
func (h *Halt) Clear() { h.set = false }

// IsSet reports whether the data path is halted.
func (h *Halt) IsSet() bool { return h.set }
