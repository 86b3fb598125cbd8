package value_test

import (
	"testing"

	"github.com/weirstream/weir/value"
)

var (
	sinkAny   any
	sinkHash  uint64
	sinkBytes []byte
	smallMap  = map[string]any{"id": 1234567, "user": "alice", "score": 3.75, "ok": true}
)

func BenchmarkHashInt(b *testing.B) {
	b.ReportAllocs()
	var v any = 1234567
	for b.Loop() {
		sinkHash = value.Hash(v)
	}
}

func BenchmarkHashString(b *testing.B) {
	b.ReportAllocs()
	var v any = "user-1234567"
	for b.Loop() {
		sinkHash = value.Hash(v)
	}
}

func BenchmarkHashSmallMap(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		sinkHash = value.Hash(smallMap)
	}
}

func BenchmarkNormalizeInt(b *testing.B) {
	b.ReportAllocs()
	var v any = 1234567
	for b.Loop() {
		sinkAny, _ = value.Normalize(v)
	}
}

func BenchmarkNormalizeSmallMap(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		sinkAny, _ = value.Normalize(smallMap)
	}
}

func BenchmarkAppendBinarySmallMap(b *testing.B) {
	b.ReportAllocs()
	buf := make([]byte, 0, 256)
	for b.Loop() {
		var err error
		if buf, err = value.AppendBinary(buf[:0], smallMap); err != nil {
			b.Fatal(err)
		}
	}
	sinkBytes = buf
}

func BenchmarkDecodeBinarySmallMap(b *testing.B) {
	b.ReportAllocs()
	enc, err := value.AppendBinary(nil, smallMap)
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(enc)))
	for b.Loop() {
		if sinkAny, _, err = value.DecodeBinary(enc); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkAppendJSONSmallMap(b *testing.B) {
	b.ReportAllocs()
	buf := make([]byte, 0, 256)
	for b.Loop() {
		var err error
		if buf, err = value.AppendJSON(buf[:0], smallMap); err != nil {
			b.Fatal(err)
		}
	}
	sinkBytes = buf
}

func BenchmarkKeySmallList(b *testing.B) {
	b.ReportAllocs()
	var v any = []any{"alice", 42}
	for b.Loop() {
		sinkAny = value.Key(v)
	}
}
