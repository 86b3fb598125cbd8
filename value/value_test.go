package value_test

import (
	"math"
	"testing"

	"github.com/weirstream/weir/value"
)

func TestTypeName(t *testing.T) {
	tests := []struct {
		in   any
		want string
	}{
		{nil, "null"},
		{true, "bool"},
		{42, "int"},
		{2.5, "float"},
		{"s", "string"},
		{[]any{1}, "list"},
		{map[string]any{}, "map"},
		{int32(1), "int32"},
		{[]string{"a"}, "[]string"},
		{make(chan int), "chan int"},
	}
	for _, tt := range tests {
		if got := value.TypeName(tt.in); got != tt.want {
			t.Errorf("TypeName(%#v) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestInt(t *testing.T) {
	tests := []struct {
		in     any
		want   int
		wantOK bool
	}{
		{7, 7, true},
		{math.MinInt64, math.MinInt64, true},
		{7.0, 0, false},
		{"7", 0, false},
		{nil, 0, false},
		{int64(7), 0, false},
	}
	for _, tt := range tests {
		got, ok := value.Int(tt.in)
		if got != tt.want || ok != tt.wantOK {
			t.Errorf("Int(%#v) = %v, %v; want %v, %v", tt.in, got, ok, tt.want, tt.wantOK)
		}
	}
}

func TestFloat(t *testing.T) {
	tests := []struct {
		in     any
		want   float64
		wantOK bool
	}{
		{2.5, 2.5, true},
		{3, 3, true},
		{-1, -1, true},
		{"2.5", 0, false},
		{true, 0, false},
		{nil, 0, false},
		{float32(1), 0, false},
	}
	for _, tt := range tests {
		got, ok := value.Float(tt.in)
		if got != tt.want || ok != tt.wantOK {
			t.Errorf("Float(%#v) = %v, %v; want %v, %v", tt.in, got, ok, tt.want, tt.wantOK)
		}
	}
}
