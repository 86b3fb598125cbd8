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

// TestStreamReaderMovesWhileConnecting: the sender dials the reader's old node, which holds the Hello
// while it waits for a reader that will never register there (the reader moved on, say after the old node
// restarted); the reader is placed on another node meanwhile. The sender must notice and connect to the
// new node at once, not after the old one's ExpectWait (found by `weir chaos --docker --seed 3`: drains
// stalled for five to ten seconds after a node restarted).
func TestStreamReaderMovesWhileConnecting(t *testing.T) {
	for _, silent := range []bool{false, true} {
		name := map[bool]string{false: "the old node waits for a reader", true: "the old node is silent"}[silent]
		t.Run(name, func(t *testing.T) {
			a, b, send := newNode(t, StreamOptions{}), newNode(t, StreamOptions{}), newNode(t, StreamOptions{})
			// The old node is reached through a proxy, which shows when the dial has arrived.
			px := newProxy(t, a.addr)
			if silent {
				px.freeze()
			}
			old := px.addr()
			key := StreamKey{Job: "connecting", Link: 2}
			var where atomic.Value
			where.Store(old)
			target := func() (string, error) { return where.Load().(string), nil }

			em := newEmitter(link[int](t, send, key, 10, target))
			sent := make(chan struct{})
			go func() {
				defer close(sent)
				for i := range 100 {
					em.out.Emit(i)
				}
				em.out.Flush()
			}()
			waitFor(t, 10*time.Second, "the dial to the old node", px.connected)
			start := time.Now()
			where.Store(b.addr)
			edgeB := flow.NewEdge[int](4, 10)
			colB := collect(t, edgeB, nil, false)
			defer b.st.Expect(key, edgeB)()
			waitFor(t, 10*time.Second, "the hundred at b", func() bool { return colB.n() == 100 })
			<-sent
			if d := time.Since(start); d > 2*time.Second {
				t.Fatalf("the sender reached the reader's new node %s after it moved", d.Round(time.Millisecond))
			}
		})
	}
}
