package window

import (
	"fmt"

	"github.com/hashicorp/go-msgpack/v2/codec"
)

// Codec encodes keys and accumulators in checkpoints. Decode must return what Append was given, as far as
// the aggregation can tell: a restored window must go on exactly as the saved one would have.
type Codec[K, A any] interface {
	AppendKey(dst []byte, k K) ([]byte, error)
	DecodeKey(data []byte) (K, error)
	AppendAcc(dst []byte, acc A) ([]byte, error)
	DecodeAcc(data []byte) (A, error)
}

// MsgpackCodec encodes keys and accumulators with msgpack, like operator state: structs by their exported
// fields. Interface values (any) come back as msgpack's own types (int64, []byte, …); give another Codec
// for those.
func MsgpackCodec[K, A any]() Codec[K, A] { return msgpackCodec[K, A]{} }

var msgpackHandle = func() *codec.MsgpackHandle {
	h := &codec.MsgpackHandle{WriteExt: true}
	h.MapValueReset = true
	h.SliceElementReset = true
	return h
}()

type msgpackCodec[K, A any] struct{}

func (msgpackCodec[K, A]) AppendKey(dst []byte, k K) ([]byte, error) { return appendMsgpack(dst, k) }
func (msgpackCodec[K, A]) AppendAcc(dst []byte, acc A) ([]byte, error) {
	return appendMsgpack(dst, acc)
}
func (msgpackCodec[K, A]) DecodeKey(data []byte) (K, error) { return decodeMsgpack[K](data) }
func (msgpackCodec[K, A]) DecodeAcc(data []byte) (A, error) { return decodeMsgpack[A](data) }

func appendMsgpack(dst []byte, v any) ([]byte, error) {
	var b []byte
	if err := codec.NewEncoderBytes(&b, msgpackHandle).Encode(v); err != nil {
		return dst, fmt.Errorf("msgpack encode %T: %w", v, err)
	}
	return append(dst, b...), nil
}

func decodeMsgpack[V any](data []byte) (V, error) {
	var v V
	if err := codec.NewDecoderBytes(data, msgpackHandle).Decode(&v); err != nil {
		return v, fmt.Errorf("msgpack decode %T: %w", v, err)
	}
	return v, nil
}
