package flow

import (
	"reflect"
	"testing"
)

type point struct {
	X, Y int
	Tag  string
}

func roundTrip[T any](t *testing.T, vals []T) {
	t.Helper()
	w := TypeOf[T]().Wire()
	e := NewEdge[T](4, 64)
	var sent []byte
	var gotCount int
	link := w.NewLink(func(gen uint64, ctl Control, count int, items []byte, abort <-chan struct{}) bool {
		sent = append([]byte(nil), items...)
		gotCount = count
		return true
	}, 64, func(err error) { t.Fatalf("encode: %v", err) }).(Link[T])
	if !link.Send(Batch[T]{Gen: 3, Items: append([]T(nil), vals...), Ctl: Control{Kind: CtlMarker, Epoch: 9}}, nil) {
		t.Fatal("send failed")
	}
	ok, err := w.Deliver(e, 3, Control{Kind: CtlMarker, Epoch: 9}, gotCount, sent, nil)
	if err != nil || !ok {
		t.Fatalf("deliver: %v %v", ok, err)
	}
	b, _ := e.TryReceive()
	if b.Gen != 3 || b.Ctl.Epoch != 9 || !reflect.DeepEqual(b.Items, vals) {
		t.Fatalf("got %+v, want %v", b, vals)
	}
}

func TestWireRoundTrips(t *testing.T) {
	roundTrip(t, []int{0, -1, 1 << 40})
	roundTrip(t, []float64{0.5, -3})
	roundTrip(t, []string{"", "héllo"})
	roundTrip(t, []bool{true, false})
	roundTrip(t, []any{1, "x", map[string]any{"a": []any{1.5, nil}}})
	roundTrip(t, []point{{1, 2, "a"}, {3, 4, ""}})
}

func TestWireRefusesGarbage(t *testing.T) {
	e := NewEdge[int](4, 64)
	w := TypeOf[int]().Wire()
	if _, err := w.Deliver(e, 0, Control{}, 5, []byte{0x80}, nil); err == nil {
		t.Fatal("a truncated varint was accepted")
	}
	if _, err := w.Deliver(e, 0, Control{}, 1, []byte{2, 2}, nil); err == nil {
		t.Fatal("trailing bytes were accepted")
	}
	if _, err := TypeOf[string]().Wire().Deliver(NewEdge[string](1, 1), 0, Control{}, 1, []byte{200, 1}, nil); err == nil {
		t.Fatal("a length beyond the payload was accepted")
	}
	if _, err := w.Deliver(NewEdge[string](1, 1), 0, Control{}, 0, nil, nil); err == nil {
		t.Fatal("an edge of another type was accepted")
	}
}

func FuzzWireDeliverAny(f *testing.F) {
	f.Add(2, []byte{1, 2, 3})
	f.Fuzz(func(t *testing.T, count int, items []byte) {
		e := NewEdge[any](1, 16)
		_, _ = TypeOf[any]().Wire().Deliver(e, 0, Control{}, count%64, items, nil)
		_, _ = TypeOf[point]().Wire().Deliver(NewEdge[point](1, 16), 0, Control{}, count%64, items, nil)
	})
}
