package transport

import (
	"runtime"
	"testing"
	"time"

	"github.com/weirstream/weir/flow"
)

// stalled waits until f's value stops changing for quiet, and returns it.
func stalled(t *testing.T, what string, quiet time.Duration, f func() uint64) uint64 {
	t.Helper()
	last, since := f(), time.Now()
	waitFor(t, 30*time.Second, what, func() bool {
		if v := f(); v != last {
			last, since = v, time.Now()
		}
		return time.Since(since) >= quiet
	})
	return last
}

func heapInUse() uint64 {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapInuse
}

// TestStreamBackpressure: a reader that never consumes stops its writer after Credits frames plus the
// edge's capacity; nothing buffers beyond; abort unblocks the writer at once and the stream stays usable.
func TestStreamBackpressure(t *testing.T) {
	const credits, capacity, batch = 4, 2, 16
	opts := StreamOptions{Credits: credits}
	recv, send := newNode(t, opts), newNode(t, opts)
	key := StreamKey{Job: "slow", Link: 1}
	edge := flow.NewEdge[int](capacity, batch)
	defer recv.st.Expect(key, edge)()
	em := newEmitter(link[int](t, send, key, batch, fixed(recv.addr)))
	done := make(chan int)
	go func() {
		i := 0
		for ; !em.halt.IsSet(); i++ {
			em.out.Emit(i)
		}
		done <- i
	}()
	sent := stalled(t, "the writer to block", 300*time.Millisecond, em.out.Sent)
	// Credits frames went out at once (the receiver reads them ahead); it delivered capacity of them into
	// the edge, returning their credit, and is stuck delivering the next. Not one batch more.
	if want := uint64((credits + capacity) * batch); sent != want {
		t.Fatalf("the writer sent %d items before blocking, want %d", sent, want)
	}
	before := heapInUse()
	if again := stalled(t, "the writer to stay blocked", 300*time.Millisecond, em.out.Sent); again != sent {
		t.Fatalf("the blocked writer sent %d more items", again-sent)
	}
	if after := heapInUse(); after > before+1<<20 {
		t.Fatalf("the heap grew from %d to %d bytes while the writer was blocked", before, after)
	}

	start := time.Now()
	em.abort <- struct{}{}
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("abort did not unblock the writer")
	}
	if d := time.Since(start); d > time.Second {
		t.Fatalf("abort took %v", d)
	}
	// An abort while waiting for credit breaks nothing: drain the edge and the stream flows again.
	recv.noBroken(t)
	send.noBroken(t)
	got := 0
	drain := func() {
		for {
			b, ok := edge.TryReceive()
			if !ok {
				return
			}
			got += len(b.Items)
			edge.Recycle(b.Items)
		}
	}
	waitFor(t, 10*time.Second, "every batch sent", func() bool { drain(); return got == int(sent) })
	em.halt.Clear()
	em.out.Discard()
	for i := range batch {
		em.out.Emit(i)
	}
	waitFor(t, 10*time.Second, "a batch after the abort", func() bool { drain(); return got == int(sent)+batch })
	recv.noBroken(t)
	send.noBroken(t)
}

// TestStreamAbortInterruptsWrite: when the network stalls, socket buffers fill and the writer blocks inside
// a write; abort still unblocks it promptly. The frame was cut short, so the receiver reports the break once
// the network delivers what it holds; the sender, whose own reset cut it, does not.
func TestStreamAbortInterruptsWrite(t *testing.T) {
	const batch = 1 << 18
	stalledWrite := make(chan int64, 1)
	testHookWriteStalled = func(written int64) {
		select {
		case <-stalledWrite:
		default:
		}
		stalledWrite <- written
	}
	defer func() { testHookWriteStalled = nil }()
	recv, send := newNode(t, StreamOptions{}), newNode(t, StreamOptions{})
	px := newProxy(t, recv.addr)
	key := StreamKey{Job: "stall", Link: 1}
	edge := flow.NewEdge[int](64, batch)
	defer recv.st.Expect(key, edge)()
	l := link[int](t, send, key, batch, fixed(px.addr()))
	items := make([]int, batch)
	for i := range items {
		items[i] = i << 40 // 7 bytes each: 1.75 MiB frames
	}
	if !l.Send(flow.Batch[int]{Items: append(l.Buffer(), items...)}, nil) {
		t.Fatal("the first send failed")
	}
	waitFor(t, 10*time.Second, "the first batch", func() bool { return edge.Len() == 1 })
	px.freeze()
	abort := make(chan struct{}, 1)
	result := make(chan bool)
	go func() {
		for {
			if !l.Send(flow.Batch[int]{Items: append(l.Buffer(), items...)}, abort) {
				result <- false
				return
			}
		}
	}()
	var written int64
	select {
	case written = <-stalledWrite:
	case <-time.After(30 * time.Second):
		t.Fatal("the writer never blocked in a write")
	}
	// The network is frozen: the writer makes no more progress, so this is what it will have written.
	select {
	case written = <-stalledWrite:
	case <-time.After(time.Second):
	}
	start := time.Now()
	abort <- struct{}{}
	select {
	case <-result:
	case <-time.After(5 * time.Second):
		t.Fatal("abort did not unblock the writer")
	}
	if d := time.Since(start); d > time.Second {
		t.Fatalf("abort took %v", d)
	}
	px.thaw()
	if written == 0 {
		// Blocked before the frame's first byte: the stream is intact and goes on.
		t.Log("the write was cut at a frame boundary")
		if !l.Send(flow.Batch[int]{Items: append(l.Buffer(), items...)}, nil) {
			t.Fatal("the stream broke")
		}
		recv.noBroken(t)
	} else {
		t.Logf("the write was cut after %d bytes of a frame", written)
		ev := recv.awaitBroken(t, key)
		t.Logf("receiver: %v", ev.err)
	}
	send.noBroken(t)
}
