package transport

import (
	"fmt"
	"reflect"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/weirstream/weir/flow"
)

// TestStreamIntsEndToEnd sends a million ints through Outbox → Link → Streams → Edge → Inbox: all arrive in
// order, markers at their places, generations kept (a zombie batch of the old generation is dropped).
func TestStreamIntsEndToEnd(t *testing.T) {
	const n, every, zombies = 1_000_000, 100_000, 1000
	recv, send := newNode(t, StreamOptions{}), newNode(t, StreamOptions{})
	key := StreamKey{Job: "job-1", Link: 3}
	edge := flow.NewEdge[int](8, 256)
	col := collect(t, edge, func(in *flow.Inbox[int], c flow.Control) {
		if c.Kind == flow.CtlMarker && c.Epoch == 5 {
			in.SetGen(2) // a reset: from here on generation 1 is the past
		}
	}, false)
	// After the inbox attached its wake channel: Edge.Attach must precede traffic.
	defer recv.st.Expect(key, edge)()
	em := newEmitter(link[int](t, send, key, 256, fixed(recv.addr)))
	em.out.SetGen(1)
	for i := range n {
		if i > 0 && i%every == 0 {
			em.out.SendControl(flow.Control{Kind: flow.CtlMarker, Epoch: uint64(i / every)})
			if i/every == 5 {
				for range zombies {
					em.out.Emit(-1)
				}
				em.out.Flush()
				em.out.SetGen(2)
			}
		}
		em.out.Emit(i)
	}
	em.out.SendControl(flow.Control{Kind: flow.CtlFinal, Epoch: 10})
	if em.halt.IsSet() {
		t.Fatal("the sender halted")
	}
	waitFor(t, 60*time.Second, "the final marker", func() bool {
		_, marks := col.snapshot()
		return len(marks) > 0 && marks[len(marks)-1].ctl.Kind == flow.CtlFinal
	})
	items, marks := col.snapshot()
	if len(items) != n {
		t.Fatalf("received %d items, want %d", len(items), n)
	}
	for i, v := range items {
		if v != i {
			t.Fatalf("item %d is %d", i, v)
		}
	}
	var want []mark
	for e := 1; e < n/every; e++ {
		want = append(want, mark{e * every, flow.Control{Kind: flow.CtlMarker, Epoch: uint64(e)}})
	}
	want = append(want, mark{n, flow.Control{Kind: flow.CtlFinal, Epoch: 10}})
	if !reflect.DeepEqual(marks, want) {
		t.Fatalf("markers %v, want %v", marks, want)
	}
	if d := col.in.Dropped(); d != zombies {
		t.Fatalf("dropped %d items of the old generation, want %d", d, zombies)
	}
	recv.noBroken(t)
	send.noBroken(t)
}

func mapValue(i int) any {
	return map[string]any{
		"i":    i,
		"name": fmt.Sprintf("sensor-%d", i%97),
		"vals": []any{float64(i) / 2, nil, i%2 == 0, "x"},
		"nest": map[string]any{"k": strings.Repeat("v", i%13)},
	}
}

func TestStreamAnyMaps(t *testing.T) {
	const n = 50_000
	recv, send := newNode(t, StreamOptions{}), newNode(t, StreamOptions{})
	key := StreamKey{Job: "maps", Link: 0}
	edge := flow.NewEdge[any](8, 64)
	col := collect(t, edge, nil, false)
	defer recv.st.Expect(key, edge)()
	em := newEmitter(link[any](t, send, key, 64, fixed(recv.addr)))
	em.out.SetGen(7)
	for i := range n {
		em.out.Emit(mapValue(i))
		if i == n/2 {
			em.out.SendControl(flow.Control{Kind: flow.CtlMarker, Epoch: 1})
		}
	}
	em.out.SendControl(flow.Control{Kind: flow.CtlFinal})
	waitFor(t, 60*time.Second, "every map", func() bool { return col.n() == n })
	items, marks := col.snapshot()
	for i, v := range items {
		if !reflect.DeepEqual(v, mapValue(i)) {
			t.Fatalf("item %d: got %#v, want %#v", i, v, mapValue(i))
		}
	}
	want := []mark{{n/2 + 1, flow.Control{Kind: flow.CtlMarker, Epoch: 1}}, {n, flow.Control{Kind: flow.CtlFinal}}}
	waitFor(t, 10*time.Second, "the final marker", func() bool { _, m := col.snapshot(); return len(m) == 2 })
	if _, marks = col.snapshot(); !reflect.DeepEqual(marks, want) {
		t.Fatalf("markers %v, want %v", marks, want)
	}
}

// TestStreamSplitsBigBatches: batches far above MaxFrame arrive whole and in order, markers still after
// their batch's last item; frames never exceed MaxFrame (the receiver would refuse them).
func TestStreamSplitsBigBatches(t *testing.T) {
	const maxFrame = 256
	opts := StreamOptions{MaxFrame: maxFrame}
	recv, send := newNode(t, opts), newNode(t, opts)

	t.Run("strings", func(t *testing.T) {
		const n, batch = 20_000, 128
		key := StreamKey{Job: "split", Link: 1}
		edge := flow.NewEdge[string](8, batch)
		col := collect(t, edge, nil, false)
		defer recv.st.Expect(key, edge)()
		defer send.st.CloseJob("split") // before the cancel: the sender says Bye, nobody sees a break
		val := func(i int) string { return fmt.Sprintf("%d:%s", i, strings.Repeat("s", (i*7919)%200)) }
		em := newEmitter(link[string](t, send, key, batch, fixed(recv.addr)))
		for i := range n {
			em.out.Emit(val(i))
			if i%1000 == 999 {
				em.out.SendControl(flow.Control{Kind: flow.CtlMarker, Epoch: uint64(i / 1000)})
			}
		}
		waitFor(t, 60*time.Second, "every string and marker", func() bool {
			_, marks := col.snapshot()
			return col.n() == n && len(marks) == n/1000
		})
		items, marks := col.snapshot()
		for i, v := range items {
			if v != val(i) {
				t.Fatalf("item %d: got %.20q, want %.20q", i, v, val(i))
			}
		}
		if len(marks) != n/1000 {
			t.Fatalf("%d markers, want %d", len(marks), n/1000)
		}
		for k, m := range marks {
			if m.at != (k+1)*1000 || m.ctl.Epoch != uint64(k) {
				t.Fatalf("marker %d: %+v", k, m)
			}
		}
	})

	t.Run("ints", func(t *testing.T) {
		const n, batch = 100_000, 256
		key := StreamKey{Job: "split", Link: 2}
		edge := flow.NewEdge[int](8, batch)
		col := collect(t, edge, nil, false)
		defer recv.st.Expect(key, edge)()
		defer send.st.CloseJob("split") // before the cancel: the sender says Bye, nobody sees a break
		em := newEmitter(link[int](t, send, key, batch, fixed(recv.addr)))
		em.out.SetGen(3)
		for i := range n {
			em.out.Emit(i << 40)
		}
		em.out.SendControl(flow.Control{Kind: flow.CtlFinal, Epoch: 4})
		waitFor(t, 60*time.Second, "every int", func() bool { return col.n() == n })
		items, _ := col.snapshot()
		for i, v := range items {
			if v != i<<40 {
				t.Fatalf("item %d: %d", i, v)
			}
		}
		waitFor(t, 10*time.Second, "the final marker", func() bool {
			_, m := col.snapshot()
			return len(m) == 1 && m[0] == mark{n, flow.Control{Kind: flow.CtlFinal, Epoch: 4}}
		})
	})

	t.Run("one tuple too big", func(t *testing.T) {
		key := StreamKey{Job: "split", Link: 3}
		edge := flow.NewEdge[string](8, 16)
		defer recv.st.Expect(key, edge)()
		defer send.st.CloseJob("split") // before the cancel: the sender says Bye, nobody sees a break
		var failed atomic.Value
		l, err := send.st.Link(key, flow.TypeOf[string](), 16, fixed(recv.addr), func(err error) { failed.Store(err) })
		if err != nil {
			t.Fatal(err)
		}
		ok := l.(flow.Link[string]).Send(flow.Batch[string]{Items: []string{"a", strings.Repeat("x", maxFrame), "b"}}, nil)
		if ok {
			t.Fatal("a batch holding a tuple above MaxFrame was sent")
		}
		if err, _ := failed.Load().(error); err == nil || !strings.Contains(err.Error(), "exceeds the largest frame") {
			t.Fatalf("fail got %v", err)
		}
		// The part before the big tuple went out; nothing after it.
		waitFor(t, 10*time.Second, "the first part", func() bool { return edge.Len() == 1 })
		if b, _ := edge.TryReceive(); !reflect.DeepEqual(b.Items, []string{"a"}) {
			t.Fatalf("received %q", b.Items)
		}
	})
	recv.noBroken(t)
	send.noBroken(t)
}

// TestStreamLateReader: the sender dials before the reader registers; the receiver holds the connection
// until Expect, and everything arrives.
func TestStreamLateReader(t *testing.T) {
	const n = 10_000
	recv, send := newNode(t, StreamOptions{ExpectWait: 20 * time.Second}), newNode(t, StreamOptions{})
	key := StreamKey{Job: "late", Link: 9}
	em := newEmitter(link[int](t, send, key, 100, fixed(recv.addr)))
	sent := make(chan bool, 1)
	go func() {
		for i := range n {
			em.out.Emit(i)
		}
		em.out.SendControl(flow.Control{Kind: flow.CtlFinal})
		sent <- !em.halt.IsSet()
	}()
	waitFor(t, 10*time.Second, "the sender's connection", func() bool {
		recv.st.mu.Lock()
		defer recv.st.mu.Unlock()
		return len(recv.st.incoming) == 1
	})
	edge := flow.NewEdge[int](4, 100)
	col := collect(t, edge, nil, false)
	defer recv.st.Expect(key, edge)()
	if !<-sent {
		t.Fatal("the sender halted")
	}
	waitFor(t, 30*time.Second, "every item", func() bool { return col.n() == n })
	items, _ := col.snapshot()
	for i, v := range items {
		if v != i {
			t.Fatalf("item %d is %d", i, v)
		}
	}
}

// TestStreamReaderMoves: the reader's PE moves to another node; the sender sees the break and reconnects to
// the new address on its next send.
func TestStreamReaderMoves(t *testing.T) {
	a, b, send := newNode(t, StreamOptions{}), newNode(t, StreamOptions{}), newNode(t, StreamOptions{})
	key := StreamKey{Job: "moving", Link: 4}
	var where atomic.Value
	where.Store(a.addr)
	target := func() (string, error) { return where.Load().(string), nil }

	edgeA := flow.NewEdge[int](4, 100)
	colA := collect(t, edgeA, nil, false)
	cancelA := a.st.Expect(key, edgeA)
	em := newEmitter(link[int](t, send, key, 100, target))
	for i := range 1000 {
		em.out.Emit(i)
	}
	em.out.Flush()
	waitFor(t, 10*time.Second, "the first thousand at a", func() bool { return colA.n() == 1000 })

	where.Store(b.addr)
	edgeB := flow.NewEdge[int](4, 100)
	colB := collect(t, edgeB, nil, false)
	defer b.st.Expect(key, edgeB)()
	cancelA() // the old reader is gone
	ev := send.awaitBroken(t, key)
	if ev.peer != a.addr {
		t.Fatalf("OnBroken names %s, want %s", ev.peer, a.addr)
	}
	t.Logf("sender saw: %v", ev.err)
	a.noBroken(t) // cancelling is no failure

	em.halt.Clear()
	for i := 1000; i < 2000; i++ {
		em.out.Emit(i)
	}
	em.out.Flush()
	if em.halt.IsSet() {
		t.Fatal("the sender halted after reconnecting")
	}
	waitFor(t, 10*time.Second, "the second thousand at b", func() bool { return colB.n() == 1000 })
	items, _ := colB.snapshot()
	for i, v := range items {
		if v != 1000+i {
			t.Fatalf("b's item %d is %d", i, v)
		}
	}
	if colA.n() != 1000 {
		t.Fatalf("a got %d items after it was cancelled", colA.n())
	}
	b.noBroken(t)
}

// TestStreamKilledConnection: a connection killed mid-stream is reported on both sides, and the sender's next
// send reconnects.
func TestStreamKilledConnection(t *testing.T) {
	recv, send := newNode(t, StreamOptions{}), newNode(t, StreamOptions{})
	px := newProxy(t, recv.addr)
	key := StreamKey{Job: "killed", Link: 5}
	edge := flow.NewEdge[int](8, 64)
	col := collect(t, edge, nil, false)
	defer recv.st.Expect(key, edge)()
	em := newEmitter(link[int](t, send, key, 64, fixed(px.addr())))
	var stop atomic.Bool
	var halts atomic.Int64
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := 0; !stop.Load(); i++ {
			if em.halt.IsSet() {
				halts.Add(1) // the batch in hand was lost: a PE would now reset
				em.halt.Clear()
			}
			em.out.Emit(i)
		}
		em.out.Flush()
	}()
	defer func() { stop.Store(true); <-done }()
	waitFor(t, 10*time.Second, "traffic", func() bool { return col.n() > 20_000 })
	px.kill()
	s := send.awaitBroken(t, key)
	r := recv.awaitBroken(t, key)
	t.Logf("sender: %v", s.err)
	t.Logf("receiver: %v", r.err)
	if !strings.Contains(r.err.Error(), key.String()) || !strings.Contains(s.err.Error(), px.addr()) {
		t.Fatal("OnBroken errors lack the stream or the peer")
	}
	after := col.n()
	waitFor(t, 10*time.Second, "traffic on a new connection", func() bool { return col.n() > after+20_000 })
	stop.Store(true)
	<-done
	items, _ := col.snapshot()
	for i := 1; i < len(items); i++ {
		if items[i] <= items[i-1] {
			t.Fatalf("item %d (%d) after %d: out of order", i, items[i], items[i-1])
		}
	}
	t.Logf("halts: %d", halts.Load())
}
