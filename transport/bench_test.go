package transport

import (
	"sync/atomic"
	"testing"
	"time"

	"github.com/weirstream/weir/flow"
	"github.com/weirstream/weir/value"
)

// benchStream measures tuples through Outbox → Link → Streams (loopback TCP) → Edge → Inbox, the path of a
// PE-to-PE stream between two nodes.
func benchStream[T any](b *testing.B, batch int, val func(i int) T) {
	recv, send := newNode(b, StreamOptions{}), newNode(b, StreamOptions{})
	recv.log.quiet, send.log.quiet = true, true
	key := StreamKey{Job: "bench", Link: 0}
	edge := flow.NewEdge[T](8, batch)

	// The reader: an Inbox polled as a PE would, counting tuples.
	var got atomic.Int64
	stop := make(chan struct{})
	done := make(chan struct{})
	wake := make(chan struct{}, 1)
	var halt flow.Halt
	n := int64(0)
	in := flow.NewInbox([]*flow.Edge[T]{edge}, func(T) { n++ }, &halt, wake)
	go func() {
		defer close(done)
		for {
			if took, _, _ := in.Poll(); took {
				got.Store(n)
				continue
			}
			select {
			case <-wake:
			case <-stop:
				return
			}
		}
	}()
	defer func() { close(stop); <-done }()
	defer recv.st.Expect(key, edge)()

	vals := make([]T, 1024)
	for i := range vals {
		vals[i] = val(i)
	}
	em := newEmitter(link[T](b, send, key, batch, fixed(recv.addr)))
	// Warm up: connect, and fill the buffers' free lists.
	for i := range 10 * batch {
		em.out.Emit(vals[i%len(vals)])
	}
	em.out.Flush()
	warm := int64(10 * batch)
	waitFor(b, 10*time.Second, "the warm-up", func() bool { return got.Load() == warm })

	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		em.out.Emit(vals[i%len(vals)])
	}
	em.out.Flush()
	for got.Load() != warm+int64(b.N) {
		time.Sleep(50 * time.Microsecond)
	}
	b.StopTimer()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "tuples/s")
	if em.halt.IsSet() {
		b.Fatal("the sender halted")
	}
}

func BenchmarkStreamInts(b *testing.B) {
	b.SetBytes(8)
	benchStream(b, 256, func(i int) int { return i * 7919 })
}

func BenchmarkStreamAnyMaps(b *testing.B) {
	enc, err := value.AppendBinary(nil, mapValue(1))
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(enc)))
	benchStream(b, 256, mapValue)
}
