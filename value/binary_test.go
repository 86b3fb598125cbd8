package value_test

import (
	"bytes"
	"math"
	"strings"
	"testing"

	"github.com/weirstream/weir/value"
)

// TestAppendBinaryGolden pins the wire format: checkpoints written by one
// version must be readable by the next.
func TestAppendBinaryGolden(t *testing.T) {
	tests := []struct {
		name string
		in   any
		want []byte
	}{
		{"null", nil, []byte{0x00}},
		{"false", false, []byte{0x01}},
		{"true", true, []byte{0x02}},
		{"zero", 0, []byte{0x03, 0x00}},
		{"minus one", -1, []byte{0x03, 0x01}},
		{"one", 1, []byte{0x03, 0x02}},
		{"300", 300, []byte{0x03, 0xd8, 0x04}},
		{"float", 1.5, []byte{0x04, 0, 0, 0, 0, 0, 0, 0xf8, 0x3f}},
		{"negative zero kept", negZero, []byte{0x04, 0, 0, 0, 0, 0, 0, 0, 0x80}},
		{"string", "hi", []byte{0x05, 0x02, 'h', 'i'}},
		{"list", []any{nil, "a"}, []byte{0x06, 0x02, 0x00, 0x05, 0x01, 'a'}},
		{"map sorted", map[string]any{"b": true, "a": 1}, []byte{0x07, 0x02, 0x01, 'a', 0x03, 0x02, 0x01, 'b', 0x02}},
		{"non-canonical", uint16(1), []byte{0x03, 0x02}},
	}
	for _, tt := range tests {
		got, err := value.AppendBinary([]byte{0xEE}, tt.in)
		if err != nil {
			t.Errorf("%s: AppendBinary: %v", tt.name, err)
			continue
		}
		if !bytes.Equal(got, append([]byte{0xEE}, tt.want...)) {
			t.Errorf("%s: AppendBinary(%#v) = %x, want ee%x", tt.name, tt.in, got, tt.want)
		}
	}
}

func TestBinaryRoundTrip(t *testing.T) {
	tests := []any{
		nil, true, false, 0, math.MaxInt64, math.MinInt64, -12345,
		0.0, negZero, math.Inf(1), math.Inf(-1), math.SmallestNonzeroFloat64, 2.0,
		"", "héllo", "a\x00\xff",
		[]any{}, []any{1, []any{2, []any{3}}},
		map[string]any{}, map[string]any{"": nil, "k": map[string]any{"n": []any{1.5}}},
		nest(value.MaxDepth),
	}
	for _, in := range tests {
		b, err := value.AppendBinary(nil, in)
		if err != nil {
			t.Errorf("AppendBinary(%#v): %v", in, err)
			continue
		}
		// Trailing bytes belong to the next value and must be left alone.
		got, n, err := value.DecodeBinary(append(b, 0xAA, 0xBB))
		if err != nil || n != len(b) || !value.Equal(got, in) {
			t.Errorf("DecodeBinary(%x) = %#v, %d, %v; want %#v, %d", b, got, n, err, in, len(b))
		}
	}
}

func TestBinaryNaNBitsPreserved(t *testing.T) {
	nan := math.Float64frombits(0x7FF0000000000ABC)
	b, err := value.AppendBinary(nil, nan)
	if err != nil {
		t.Fatal(err)
	}
	got, _, err := value.DecodeBinary(b)
	if err != nil {
		t.Fatal(err)
	}
	if math.Float64bits(got.(float64)) != 0x7FF0000000000ABC {
		t.Errorf("NaN payload lost: %x", math.Float64bits(got.(float64)))
	}
}

func TestAppendBinaryErrors(t *testing.T) {
	tests := []struct {
		name    string
		in      any
		wantSub string
	}{
		{"chan", make(chan int), "unsupported type chan int"},
		{"nested func", map[string]any{"f": []any{func() {}}}, `map key "f": list element 0: unsupported type func()`},
		{"too deep", nest(value.MaxDepth + 1), "nesting deeper"},
	}
	for _, tt := range tests {
		got, err := value.AppendBinary([]byte("keep"), tt.in)
		if err == nil || !strings.HasPrefix(err.Error(), "value: encode binary: ") || !strings.Contains(err.Error(), tt.wantSub) {
			t.Errorf("%s: error = %v, want containing %q", tt.name, err, tt.wantSub)
		}
		if string(got) != "keep" {
			t.Errorf("%s: dst = %q after error, want unchanged", tt.name, got)
		}
	}
}

func TestDecodeBinaryErrors(t *testing.T) {
	deep := bytes.Repeat([]byte{0x06, 0x01}, value.MaxDepth+1)
	deep = append(deep, 0x00)
	tests := []struct {
		name    string
		in      []byte
		wantSub string
	}{
		{"empty", nil, "truncated input"},
		{"unknown tag", []byte{0x08}, "unknown tag 0x08"},
		{"truncated int", []byte{0x03, 0x80}, "int: truncated input"},
		{"overlong int", []byte{0x03, 0x80, 0x00}, "overlong varint"},
		{"overflowing int", []byte{0x03, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f}, "overflows 64 bits"},
		{"truncated float", []byte{0x04, 1, 2, 3}, "float: truncated input"},
		{"truncated string", []byte{0x05, 0x03, 'a'}, "declared length 3 exceeds the 1 bytes left"},
		{"huge string", []byte{0x05, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f}, "exceeds"},
		{"huge list", []byte{0x06, 0xff, 0xff, 0xff, 0xff, 0x0f, 0x00}, "list length: declared length"},
		{"huge map", []byte{0x07, 0x02, 0x00, 0x00}, "map length: declared length 2 exceeds"},
		{"truncated list", []byte{0x06, 0x02, 0x05, 0x00}, "list element 1: truncated input"},
		{"unsorted map", []byte{0x07, 0x02, 0x01, 'b', 0x00, 0x01, 'a', 0x00}, `map key "a" not after "b"`},
		{"duplicate map key", []byte{0x07, 0x02, 0x01, 'a', 0x00, 0x01, 'a', 0x00}, `map key "a" not after "a"`},
		{"bad map value", []byte{0x07, 0x01, 0x01, 'a', 0x09}, `map key "a": unknown tag 0x09`},
		{"too deep", deep, "nesting deeper than 64"},
	}
	for _, tt := range tests {
		v, n, err := value.DecodeBinary(tt.in)
		if err == nil || !strings.HasPrefix(err.Error(), "value: decode binary at offset ") || !strings.Contains(err.Error(), tt.wantSub) {
			t.Errorf("%s: DecodeBinary(%x) = %#v, %d, %v; want error containing %q", tt.name, tt.in, v, n, err, tt.wantSub)
		}
		if v != nil || n != 0 {
			t.Errorf("%s: DecodeBinary returned %#v, %d with an error", tt.name, v, n)
		}
	}
}

func TestDecodeBinaryStringsDoNotAlias(t *testing.T) {
	src := []byte{0x05, 0x02, 'h', 'i'}
	v, _, err := value.DecodeBinary(src)
	if err != nil {
		t.Fatal(err)
	}
	src[2] = 'X'
	if v != "hi" {
		t.Errorf("decoded string changed with its source: %q", v)
	}
}

func FuzzDecodeBinary(f *testing.F) {
	seeds := []any{
		nil, true, false, 0, -1, math.MaxInt64, math.MinInt64, 1.5, math.NaN(), negZero,
		"", "hello", []any{}, []any{1, "a", nil}, map[string]any{},
		map[string]any{"a": []any{map[string]any{"b": 2.5}}, "c": "d"},
		nest(value.MaxDepth),
	}
	for _, s := range seeds {
		b, err := value.AppendBinary(nil, s)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte{0x06, 0xff, 0xff, 0xff, 0xff, 0x0f})
	f.Add([]byte{0x07, 0x02, 0x01, 'b', 0x00, 0x01, 'a', 0x00})
	f.Fuzz(func(t *testing.T, data []byte) {
		v, n, err := value.DecodeBinary(data)
		if err != nil {
			if v != nil || n != 0 {
				t.Fatalf("error %v with value %#v, n %d", err, v, n)
			}
			return
		}
		if n < 1 || n > len(data) {
			t.Fatalf("consumed %d of %d bytes", n, len(data))
		}
		// One valid encoding per value: re-encoding reproduces the input.
		again, err := value.AppendBinary(nil, v)
		if err != nil {
			t.Fatalf("re-encoding decoded value: %v", err)
		}
		if !bytes.Equal(again, data[:n]) {
			t.Fatalf("re-encoding differs:\n in  %x\n out %x", data[:n], again)
		}
		if !value.Equal(v, v) || value.Hash(v) != value.Hash(v) || value.Key(v) != value.Key(v) {
			t.Fatalf("decoded value %#v not consistent with itself", v)
		}
		// Everything decodable that is finite must survive JSON too.
		if j, err := value.AppendJSON(nil, v); err == nil {
			back, err := value.ParseJSON(j)
			if err != nil {
				t.Fatalf("ParseJSON(%s): %v", j, err)
			}
			if !value.Equal(back, v) && validUTF8Deep(v) {
				t.Fatalf("JSON round trip: %#v -> %s -> %#v", v, j, back)
			}
		}
	})
}
