package flow

import "sync/atomic"

// Link is the sending side of a PE-to-PE connection: a local Edge, or (in a cluster) a network stream.
type Link[T any] interface {
	// Send delivers b, blocking while the receiver has no credit left. If abort fires first it drops b and
	// returns false. After Send the link owns b.Items.
	Send(b Batch[T], abort <-chan struct{}) bool
	// Buffer returns an empty slice to fill the next batch with: a recycled one when there is one.
	Buffer() []T
	// BatchSize is the number of items after which a batch is sent.
	BatchSize() int
}

// Edge is an in-process queue of batches between two PEs. Its capacity, in batches, is the sender's credit.
// Receivers hand item slices back through Recycle so that steady-state traffic allocates nothing.
type Edge[T any] struct {
	ch    chan Batch[T]
	free  chan []T
	batch int
	// wake is set by the reader's inbox; a writer on another goroutine (a local PE that started first, a
	// network stream) may send before that, hence the atomic.
	wake atomic.Pointer[chan struct{}]
}

// NewEdge makes an edge holding at most capacity batches of batchSize items.
func NewEdge[T any](capacity, batchSize int) *Edge[T] {
	if capacity < 1 {
		capacity = 1
	}
	if batchSize < 1 {
		batchSize = 1
	}
	return &Edge[T]{
		ch:    make(chan Batch[T], capacity),
		free:  make(chan []T, capacity+2),
		batch: batchSize,
	}
}

// Attach sets the receiver's wake channel, signalled after every enqueue. Batches sent before it wait in
// the edge: the inbox polls before it first waits.
func (e *Edge[T]) Attach(wake chan struct{}) { e.wake.Store(&wake) }

// Type describes the edge's tuple type.
func (e *Edge[T]) Type() Type { return TypeOf[T]() }

// Len is the number of batches waiting.
func (e *Edge[T]) Len() int { return len(e.ch) }

// Cap is the edge's capacity in batches.
func (e *Edge[T]) Cap() int { return cap(e.ch) }

// BatchSize implements Link.
func (e *Edge[T]) BatchSize() int { return e.batch }

// Send implements Link.
func (e *Edge[T]) Send(b Batch[T], abort <-chan struct{}) bool {
	select {
	case e.ch <- b:
	default:
		select {
		case e.ch <- b:
		case <-abort:
			return false
		}
	}
	if w := e.wake.Load(); w != nil {
		select {
		case *w <- struct{}{}:
		default:
		}
	}
	return true
}

// TryReceive takes the next batch without blocking.
func (e *Edge[T]) TryReceive() (Batch[T], bool) {
	select {
	case b := <-e.ch:
		return b, true
	default:
		return Batch[T]{}, false
	}
}

// Buffer implements Link.
func (e *Edge[T]) Buffer() []T {
	select {
	case s := <-e.free:
		return s
	default:
		return make([]T, 0, e.batch)
	}
}

// Recycle returns a received batch's item slice for reuse. Items are cleared first so that the edge does not
// keep tuples (and what they point to) alive.
func (e *Edge[T]) Recycle(items []T) {
	if cap(items) < e.batch {
		return
	}
	clear(items[:cap(items)])
	select {
	case e.free <- items[:0]:
	default:
	}
}
