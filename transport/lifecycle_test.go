package transport

import (
	"testing"
	"time"

	"github.com/weirstream/weir/flow"
)

// TestStreamExpectReplaced: a second Expect of a key takes over the stream; the old edge gets nothing more.
func TestStreamExpectReplaced(t *testing.T) {
	recv, send := newNode(t, StreamOptions{}), newNode(t, StreamOptions{})
	key := StreamKey{Job: "re", Link: 1}
	edge1, edge2 := flow.NewEdge[int](4, 10), flow.NewEdge[int](4, 10)
	col1 := collect(t, edge1, nil, false)
	recv.st.Expect(key, edge1)
	em := newEmitter(link[int](t, send, key, 10, fixed(recv.addr)))
	for i := range 10 {
		em.out.Emit(i)
	}
	waitFor(t, 10*time.Second, "the first batch", func() bool { return col1.n() == 10 })

	col2 := collect(t, edge2, nil, false)
	defer recv.st.Expect(key, edge2)() // replaces edge1's registration and closes its connection
	send.awaitBroken(t, key)
	recv.noBroken(t)
	em.halt.Clear()
	for i := 10; i < 20; i++ {
		em.out.Emit(i)
	}
	waitFor(t, 10*time.Second, "the second batch", func() bool { return col2.n() == 10 })
	if col1.n() != 10 {
		t.Fatalf("the replaced edge got %d items", col1.n())
	}
}

// TestStreamCloseJob: closing a job's links says Bye, so the receiver sees no break; the links' later sends
// fail, and other jobs' streams are untouched.
func TestStreamCloseJob(t *testing.T) {
	recv, send := newNode(t, StreamOptions{}), newNode(t, StreamOptions{})
	a, b := StreamKey{Job: "a", Link: 1}, StreamKey{Job: "b", Link: 1}
	edgeA, edgeB := flow.NewEdge[int](4, 10), flow.NewEdge[int](4, 10)
	colA, colB := collect(t, edgeA, nil, false), collect(t, edgeB, nil, false)
	defer recv.st.Expect(a, edgeA)()
	defer recv.st.Expect(b, edgeB)()
	la := link[int](t, send, a, 10, fixed(recv.addr))
	lb := link[int](t, send, b, 10, fixed(recv.addr))
	batch := func(l flow.Link[int]) flow.Batch[int] { return flow.Batch[int]{Items: append(l.Buffer(), 1, 2, 3)} }
	if !la.Send(batch(la), nil) || !lb.Send(batch(lb), nil) {
		t.Fatal("send failed")
	}
	waitFor(t, 10*time.Second, "both streams", func() bool { return colA.n() == 3 && colB.n() == 3 })
	send.st.CloseJob("a")
	if la.Send(batch(la), nil) {
		t.Fatal("a closed link sent")
	}
	if !lb.Send(batch(lb), nil) {
		t.Fatal("another job's link failed")
	}
	waitFor(t, 10*time.Second, "b's second batch", func() bool { return colB.n() == 6 })
	waitFor(t, 10*time.Second, "a's connection to end", func() bool {
		recv.st.mu.Lock()
		defer recv.st.mu.Unlock()
		return len(recv.st.incoming) == 1
	})
	recv.noBroken(t)
	send.noBroken(t)
}

// TestStreamBreakWhileEdgeFull: a reader whose edge is full (say, held back by marker alignment) still
// learns of a break at once, because the receiver reads ahead of delivery.
func TestStreamBreakWhileEdgeFull(t *testing.T) {
	recv, send := newNode(t, StreamOptions{Credits: 4}), newNode(t, StreamOptions{})
	px := newProxy(t, recv.addr)
	key := StreamKey{Job: "full", Link: 1}
	edge := flow.NewEdge[int](1, 10)
	defer recv.st.Expect(key, edge)()
	l := link[int](t, send, key, 10, fixed(px.addr()))
	for range 3 { // one into the edge, one blocked in delivery, one read ahead
		if !l.Send(flow.Batch[int]{Items: append(l.Buffer(), 1, 2, 3)}, nil) {
			t.Fatal("send failed")
		}
	}
	waitFor(t, 10*time.Second, "a full edge", func() bool { return edge.Len() == 1 })
	px.kill()
	start := time.Now()
	ev := recv.awaitBroken(t, key)
	if d := time.Since(start); d > 2*time.Second {
		t.Fatalf("the break was reported after %v", d)
	}
	t.Logf("receiver: %v", ev.err)
	if edge.Len() != 1 {
		t.Fatalf("the edge holds %d batches", edge.Len())
	}
}
