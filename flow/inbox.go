package flow

import "sync/atomic"

// Inbox is the input side of a PE: one Edge per upstream connection, all of one tuple type, delivered to the
// PE's head operator. An input can be blocked (marker alignment holds back input past a marker) and batches of
// an older generation than the inbox's are dropped unseen.
type Inbox[T any] struct {
	inputs  []*Edge[T]
	blocked []bool
	nblock  int
	deliver func(T)
	halt    *Halt
	wake    chan struct{}
	gen     uint64
	next    int
	recv    atomic.Uint64
	dropped atomic.Uint64
}

// NewInbox makes an inbox over inputs that hands each item to deliver. wake is the PE's wake channel: every
// input is attached to it.
func NewInbox[T any](inputs []*Edge[T], deliver func(T), halt *Halt, wake chan struct{}) *Inbox[T] {
	for _, e := range inputs {
		e.Attach(wake)
	}
	return &Inbox[T]{inputs: inputs, blocked: make([]bool, len(inputs)), deliver: deliver, halt: halt, wake: wake}
}

// Poll processes at most one batch from an unblocked input, starting after the input served last so that no
// input starves. It reports whether it took a batch, and the batch's control item with its input index.
// Delivery stops early if the PE halts; the rest of the batch is dropped.
func (in *Inbox[T]) Poll() (took bool, input int, ctl Control) {
	n := len(in.inputs)
	for k := 0; k < n; k++ {
		i := in.next + k
		if i >= n {
			i -= n
		}
		if in.blocked[i] {
			continue
		}
		b, ok := in.inputs[i].TryReceive()
		if !ok {
			continue
		}
		in.next = i + 1
		if in.next == n {
			in.next = 0
		}
		if b.Gen < in.gen {
			in.dropped.Add(uint64(len(b.Items)))
			in.inputs[i].Recycle(b.Items)
			return true, i, Control{}
		}
		for _, t := range b.Items {
			if in.halt.set {
				break
			}
			in.deliver(t)
		}
		in.recv.Add(uint64(len(b.Items)))
		in.inputs[i].Recycle(b.Items)
		return true, i, b.Ctl
	}
	return false, -1, Control{}
}

// Ready reports whether some unblocked input has a batch waiting.
func (in *Inbox[T]) Ready() bool {
	for i, e := range in.inputs {
		if !in.blocked[i] && e.Len() > 0 {
			return true
		}
	}
	return false
}

// Block holds back input i until UnblockAll.
func (in *Inbox[T]) Block(i int) {
	if !in.blocked[i] {
		in.blocked[i] = true
		in.nblock++
	}
}

// Blocked reports whether input i is held back.
func (in *Inbox[T]) Blocked(i int) bool { return in.blocked[i] }

// UnblockAll releases every input.
func (in *Inbox[T]) UnblockAll() {
	if in.nblock == 0 {
		return
	}
	clear(in.blocked)
	in.nblock = 0
	// Data may have queued on a blocked input with its wake already consumed.
	select {
	case in.wake <- struct{}{}:
	default:
	}
}

// SetGen drops, from now on, every batch of a generation below g.
func (in *Inbox[T]) SetGen(g uint64) { in.gen = g }

// Inputs is the number of inputs.
func (in *Inbox[T]) Inputs() int { return len(in.inputs) }

// Received is the number of items delivered so far; Dropped the number dropped for their generation.
func (in *Inbox[T]) Received() uint64 { return in.recv.Load() }

// Dropped is the number of items dropped because their generation was older than the inbox's.
func (in *Inbox[T]) Dropped() uint64 { return in.dropped.Load() }
