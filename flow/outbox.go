package flow

import "sync/atomic"

// Outbox batches the tuples a PE emits on one output connection and sends them through a Link.
// Emit is the func(T) that upstream operators call.
type Outbox[T any] struct {
	link  Link[T]
	buf   []T
	size  int
	gen   uint64
	halt  *Halt
	abort <-chan struct{}
	lossy func() bool
	sent  atomic.Uint64
}

// NewOutbox makes an outbox on link. halt and abort belong to the sending PE: abort interrupts a send blocked
// on credit (then the outbox sets halt and discards what it holds).
func NewOutbox[T any](link Link[T], halt *Halt, abort <-chan struct{}) *Outbox[T] {
	return &Outbox[T]{link: link, buf: link.Buffer(), size: link.BatchSize(), halt: halt, abort: abort}
}

// Emit appends t to the current batch and sends the batch when it is full.
func (o *Outbox[T]) Emit(t T) {
	if o.halt.set {
		return
	}
	o.buf = append(o.buf, t)
	if len(o.buf) >= o.size {
		o.send(Control{})
	}
}

// Func returns Emit as a func(T) inside an any, for wiring.
func (o *Outbox[T]) Func() any { return o.Emit }

// Flush sends the partial batch, if any.
func (o *Outbox[T]) Flush() {
	if len(o.buf) > 0 && !o.halt.set {
		o.send(Control{})
	}
}

// SendControl sends the partial batch followed by c.
func (o *Outbox[T]) SendControl(c Control) {
	if !o.halt.set {
		o.send(c)
	}
}

func (o *Outbox[T]) send(c Control) {
	n := len(o.buf)
	if !o.link.Send(Batch[T]{Gen: o.gen, Items: o.buf, Ctl: c}, o.abort) {
		o.buf = o.buf[:0]
		if o.lossy == nil || !o.lossy() {
			o.halt.Set()
			return
		}
		// Lossy: the items are lost, but not a control item (the final marker: without it the reader
		// would never end). It goes again, alone, once the link has reconnected.
		for c.Kind != CtlNone {
			if !o.lossy() {
				o.halt.Set()
				return
			}
			if o.link.Send(Batch[T]{Gen: o.gen, Items: o.buf, Ctl: c}, o.abort) {
				o.buf = o.link.Buffer()
				return
			}
		}
		return
	}
	o.sent.Add(uint64(n))
	o.buf = o.link.Buffer()
}

// SetLossy makes a failed send drop its items without halting the PE while keep() returns true; a control
// item is sent again until it goes through. A PE outside consistent regions uses it: nothing replays there,
// so tuples lost on a broken stream are lost either way, and halting would stop the PE for good (no reset
// ever clears the halt); its link re-dials at the next send. keep must return false once the PE stops, so
// that an abort still halts it.
func (o *Outbox[T]) SetLossy(keep func() bool) { o.lossy = keep }

// SetBatchSize changes the number of items after which a batch is sent (at most the link's batch size). A
// slow source sets it to 1, so that a lone tuple does not wait for company.
func (o *Outbox[T]) SetBatchSize(n int) {
	o.size = min(max(n, 1), o.link.BatchSize())
	if len(o.buf) >= o.size {
		o.Flush()
	}
}

// Pending is the number of items waiting in the partial batch.
func (o *Outbox[T]) Pending() int { return len(o.buf) }

// Discard drops the partial batch (a reset: it belongs to an older generation).
func (o *Outbox[T]) Discard() { o.buf = o.buf[:0] }

// SetGen stamps later batches with generation g.
func (o *Outbox[T]) SetGen(g uint64) { o.gen = g }

// Sent is the number of items sent so far.
func (o *Outbox[T]) Sent() uint64 { return o.sent.Load() }
