package transport

import (
	"sync/atomic"
	"testing"
	"time"

	"github.com/weirstream/weir/flow"
)

// TestStreamReaderMovesAwayFromASilentNode: the reader's node is cut off by a partition, so the connection
// to it neither answers nor breaks; the reader is placed on another node and the region resets. The
// sender's first batch of the new generation goes to the reader's new node, not into the silent
// connection (where it would wait for credit until the region's drain timeout, again and again).
func TestStreamReaderMovesAwayFromASilentNode(t *testing.T) {
	a, b, send := newNode(t, StreamOptions{}), newNode(t, StreamOptions{}), newNode(t, StreamOptions{})
	px := newProxy(t, a.addr)
	key := StreamKey{Job: "cut", Link: 6}
	var where atomic.Value
	where.Store(px.addr())
	target := func() (string, error) { return where.Load().(string), nil }

	edgeA := flow.NewEdge[int](4, 10)
	colA := collect(t, edgeA, nil, false)
	defer a.st.Expect(key, edgeA)()
	em := newEmitter(link[int](t, send, key, 10, target))
	for i := range 100 {
		em.out.Emit(i)
	}
	em.out.Flush()
	waitFor(t, 10*time.Second, "the first hundred at a", func() bool { return colA.n() == 100 })

	// The partition: a's node goes silent, and the reader is placed on b.
	px.freeze()
	where.Store(b.addr)
	edgeB := flow.NewEdge[int](4, 10)
	colB := collect(t, edgeB, nil, false)
	defer b.st.Expect(key, edgeB)()

	// The reset: a new generation, whose batches must reach b.
	em.out.SetGen(1)
	sent := make(chan struct{})
	go func() {
		defer close(sent)
		for i := 100; i < 200; i++ {
			em.out.Emit(i)
		}
		em.out.Flush()
	}()
	select {
	case <-sent:
	case <-time.After(10 * time.Second):
		em.abort <- struct{}{}
		<-sent
		t.Fatal("the sender still waits on the silent connection")
	}
	if em.halt.IsSet() {
		t.Fatal("the sender halted")
	}
	waitFor(t, 10*time.Second, "the second hundred at b", func() bool { return colB.n() == 100 })
	if items, _ := colB.snapshot(); items[0] != 100 || items[99] != 199 {
		t.Fatalf("b got %d..%d", items[0], items[99])
	}
	send.noBroken(t) // leaving the old connection was on purpose
}
