package flow

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"reflect"
	"sync"

	"github.com/hashicorp/go-msgpack/v2/codec"

	"github.com/weirstream/weir/value"
)

// Codec encodes tuples of type T for the wire between nodes.
type Codec[T any] interface {
	// Append appends v's encoding to dst.
	Append(dst []byte, v T) ([]byte, error)
	// Read decodes one value from the front of src and returns it with the number of bytes it took. It
	// must not panic on any input.
	Read(src []byte) (v T, n int, err error)
}

var codecs sync.Map // reflect.Type -> any (Codec[T])

// RegisterCodec sets the codec of T, replacing the default (msgpack by reflection for types without a
// built-in codec). Register before jobs start, identically on every node.
func RegisterCodec[T any](c Codec[T]) { codecs.Store(reflect.TypeFor[T](), c) }

func codecFor[T any]() Codec[T] {
	if c, ok := codecs.Load(reflect.TypeFor[T]()); ok {
		return c.(Codec[T])
	}
	var zero T
	var c any
	switch any(zero).(type) {
	case int:
		c = intCodec{}
	case int64:
		c = int64Codec{}
	case float64:
		c = float64Codec{}
	case string:
		c = stringCodec{}
	case bool:
		c = boolCodec{}
	case []byte:
		c = bytesCodec{}
	default:
		if reflect.TypeFor[T]().Kind() == reflect.Interface {
			c = anyCodec[T]{}
		} else {
			c = msgpackCodec[T]{}
		}
	}
	return c.(Codec[T])
}

var errShort = errors.New("truncated value")

type intCodec struct{}

func (intCodec) Append(dst []byte, v int) ([]byte, error) {
	return binary.AppendVarint(dst, int64(v)), nil
}
func (intCodec) Read(src []byte) (int, int, error) {
	v, n := binary.Varint(src)
	if n <= 0 {
		return 0, 0, errShort
	}
	return int(v), n, nil
}

type int64Codec struct{}

func (int64Codec) Append(dst []byte, v int64) ([]byte, error) {
	return binary.AppendVarint(dst, v), nil
}
func (int64Codec) Read(src []byte) (int64, int, error) {
	v, n := binary.Varint(src)
	if n <= 0 {
		return 0, 0, errShort
	}
	return v, n, nil
}

type float64Codec struct{}

func (float64Codec) Append(dst []byte, v float64) ([]byte, error) {
	return binary.LittleEndian.AppendUint64(dst, math.Float64bits(v)), nil
}
func (float64Codec) Read(src []byte) (float64, int, error) {
	if len(src) < 8 {
		return 0, 0, errShort
	}
	return math.Float64frombits(binary.LittleEndian.Uint64(src)), 8, nil
}

type boolCodec struct{}

func (boolCodec) Append(dst []byte, v bool) ([]byte, error) {
	if v {
		return append(dst, 1), nil
	}
	return append(dst, 0), nil
}
func (boolCodec) Read(src []byte) (bool, int, error) {
	if len(src) < 1 || src[0] > 1 {
		return false, 0, errors.New("bad bool")
	}
	return src[0] == 1, 1, nil
}

// readLen reads a length prefix that must fit in what remains of src.
func readLen(src []byte) (int, int, error) {
	l, n := binary.Uvarint(src)
	if n <= 0 || l > uint64(len(src)-n) {
		return 0, 0, errShort
	}
	return int(l), n, nil
}

type stringCodec struct{}

func (stringCodec) Append(dst []byte, v string) ([]byte, error) {
	return append(binary.AppendUvarint(dst, uint64(len(v))), v...), nil
}
func (stringCodec) Read(src []byte) (string, int, error) {
	l, n, err := readLen(src)
	if err != nil {
		return "", 0, err
	}
	return string(src[n : n+l]), n + l, nil
}

type bytesCodec struct{}

func (bytesCodec) Append(dst []byte, v []byte) ([]byte, error) {
	return append(binary.AppendUvarint(dst, uint64(len(v))), v...), nil
}
func (bytesCodec) Read(src []byte) ([]byte, int, error) {
	l, n, err := readLen(src)
	if err != nil {
		return nil, 0, err
	}
	return append([]byte(nil), src[n:n+l]...), n + l, nil
}

// anyCodec carries job-file tuples: canonical dynamic values.
type anyCodec[T any] struct{}

func (anyCodec[T]) Append(dst []byte, v T) ([]byte, error) { return value.AppendBinary(dst, any(v)) }
func (anyCodec[T]) Read(src []byte) (T, int, error) {
	v, n, err := value.DecodeBinary(src)
	if err != nil {
		var zero T
		return zero, 0, err
	}
	t, ok := v.(T)
	if !ok && v != nil {
		var zero T
		return zero, 0, fmt.Errorf("decoded %T is not a %s", v, reflect.TypeFor[T]())
	}
	return t, n, nil
}

var wireHandle = &codec.MsgpackHandle{WriteExt: true}

// msgpackCodec is the fallback for Go types without a codec of their own: correct for structs of exported
// fields, but reflection costs some hundreds of nanoseconds a tuple. Register a Codec for hot types.
type msgpackCodec[T any] struct{}

func (msgpackCodec[T]) Append(dst []byte, v T) ([]byte, error) {
	var b []byte
	if err := codec.NewEncoderBytes(&b, wireHandle).Encode(v); err != nil {
		return dst, err
	}
	return append(binary.AppendUvarint(dst, uint64(len(b))), b...), nil
}

func (msgpackCodec[T]) Read(src []byte) (v T, n int, err error) {
	l, k, err := readLen(src)
	if err != nil {
		return v, 0, err
	}
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("decode %s: %v", reflect.TypeFor[T](), r)
		}
	}()
	if err := codec.NewDecoderBytes(src[k:k+l], wireHandle).Decode(&v); err != nil {
		return v, 0, err
	}
	return v, k + l, nil
}

// Wire moves batches of one type across the network: it encodes what an outbox sends and decodes what
// arrives into a local edge. Only flow knows T; transports deal in bytes.
type Wire interface {
	// NewLink returns a Link[T] (as any) that encodes each batch's items and hands them to send, with
	// the batch's generation, control item and item count. send blocks while the receiver has no credit
	// and returns false when abort fires first. A tuple that cannot be encoded is reported to fail, and
	// the batch is not sent.
	NewLink(send func(gen uint64, ctl Control, count int, items []byte, abort <-chan struct{}) bool, batchSize int, fail func(error)) any
	// Deliver decodes count items into a batch and sends it into e (an *Edge[T] of this type), blocking
	// while e is full. It returns false when abort fired first.
	Deliver(e AnyEdge, gen uint64, ctl Control, count int, items []byte, abort <-chan struct{}) (bool, error)
}

// Wire returns the wire codec of T.
func (t typ[T]) Wire() Wire { return wire[T]{c: codecFor[T]()} }

type wire[T any] struct{ c Codec[T] }

func (w wire[T]) NewLink(send func(uint64, Control, int, []byte, <-chan struct{}) bool, batchSize int, fail func(error)) any {
	return &netLink[T]{c: w.c, send: send, batch: batchSize, fail: fail, free: make(chan []T, 4)}
}

func (w wire[T]) Deliver(e AnyEdge, gen uint64, ctl Control, count int, items []byte, abort <-chan struct{}) (bool, error) {
	edge, ok := e.(*Edge[T])
	if !ok {
		return false, fmt.Errorf("deliver %s into an edge of %s", reflect.TypeFor[T](), e.Type())
	}
	// Every encoding takes at least one byte: a count above the payload's size is a lie.
	if count < 0 || count > len(items) {
		return false, fmt.Errorf("item count %d for %d bytes", count, len(items))
	}
	buf := edge.Buffer()
	for i := 0; i < count; i++ {
		v, n, err := w.c.Read(items)
		if err != nil {
			return false, fmt.Errorf("item %d of %d: %w", i, count, err)
		}
		items = items[n:]
		buf = append(buf, v)
	}
	if len(items) != 0 {
		return false, fmt.Errorf("%d bytes after %d items", len(items), count)
	}
	return edge.Send(Batch[T]{Gen: gen, Items: buf, Ctl: ctl}, abort), nil
}

// netLink is the Link of an outbox whose reader runs on another node.
type netLink[T any] struct {
	c     Codec[T]
	send  func(uint64, Control, int, []byte, <-chan struct{}) bool
	fail  func(error)
	batch int
	buf   []byte
	free  chan []T
}

func (l *netLink[T]) BatchSize() int { return l.batch }

func (l *netLink[T]) Buffer() []T {
	select {
	case s := <-l.free:
		return s[:0]
	default:
		return make([]T, 0, l.batch)
	}
}

func (l *netLink[T]) Send(b Batch[T], abort <-chan struct{}) bool {
	buf := l.buf[:0]
	var err error
	for i, v := range b.Items {
		if buf, err = l.c.Append(buf, v); err != nil {
			l.fail(fmt.Errorf("encode tuple %d of a batch of %s: %w", i, reflect.TypeFor[T](), err))
			return false
		}
	}
	l.buf = buf
	ok := l.send(b.Gen, b.Ctl, len(b.Items), buf, abort)
	if cap(b.Items) >= l.batch {
		clear(b.Items)
		select {
		case l.free <- b.Items:
		default:
		}
	}
	return ok
}
