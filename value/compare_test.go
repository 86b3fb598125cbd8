package value_test

import (
	"math"
	"strings"
	"testing"

	"github.com/weirstream/weir/value"
)

var negZero = math.Copysign(0, -1)

func TestEqual(t *testing.T) {
	tests := []struct {
		name string
		a, b any
		want bool
	}{
		{"nils", nil, nil, true},
		{"nil vs false", nil, false, false},
		{"bools", true, true, true},
		{"bools differ", true, false, false},
		{"ints", 3, 3, true},
		{"ints differ", 3, 4, false},
		{"int vs integral float", 2, 2.0, false},
		{"floats", 2.5, 2.5, true},
		{"NaN", math.NaN(), math.NaN(), true},
		{"NaN vs number", math.NaN(), 0.0, false},
		{"signed zeros", 0.0, negZero, true},
		{"strings", "a", "a", true},
		{"string vs int", "1", 1, false},
		{"lists", []any{1, "a", []any{nil}}, []any{1, "a", []any{nil}}, true},
		{"lists differ in length", []any{1}, []any{1, 2}, false},
		{"lists differ in element", []any{1, 2}, []any{1, 3}, false},
		{"empty list vs nil", []any{}, nil, false},
		{"maps", map[string]any{"a": 1, "b": []any{2.0}}, map[string]any{"b": []any{2.0}, "a": 1}, true},
		{"maps differ in key", map[string]any{"a": 1}, map[string]any{"b": 1}, false},
		{"maps differ in value", map[string]any{"a": 1}, map[string]any{"a": 1.0}, false},
		{"empty map vs empty list", map[string]any{}, []any{}, false},
		{"non-canonical int", int64(5), 5, true},
		{"non-canonical list", []int{1, 2}, []any{1, 2}, true},
		{"nil pointer vs nil", (*int)(nil), nil, true},
		{"unsupported", make(chan int), make(chan int), false},
	}
	for _, tt := range tests {
		if got := value.Equal(tt.a, tt.b); got != tt.want {
			t.Errorf("%s: Equal(%#v, %#v) = %v, want %v", tt.name, tt.a, tt.b, got, tt.want)
		}
		if got := value.Equal(tt.b, tt.a); got != tt.want {
			t.Errorf("%s: Equal(%#v, %#v) = %v, want %v (symmetry)", tt.name, tt.b, tt.a, got, tt.want)
		}
	}
}

func TestCompare(t *testing.T) {
	tests := []struct {
		name string
		a, b any
		want int
	}{
		{"nils", nil, nil, 0},
		{"nil first", nil, -5, -1},
		{"nil before map", nil, map[string]any{}, -1},
		{"false < true", false, true, -1},
		{"true = true", true, true, 0},
		{"ints", 1, 2, -1},
		{"ints equal", 2, 2, 0},
		{"floats", 2.5, 1.5, 1},
		{"int vs float", 2, 2.5, -1},
		{"int = integral float", 2, 2.0, 0},
		{"float vs int", 2.5, 2, 1},
		{"negative fraction", -3, -2.5, -1},
		{"beyond 2^53", 1<<53 + 1, float64(1 << 53), 1},
		{"max int vs 2^63", math.MaxInt64, 0x1p63, -1},
		{"min int vs -2^63", math.MinInt64, -0x1p63, 0},
		{"int vs +Inf", math.MaxInt64, math.Inf(1), -1},
		{"int vs -Inf", math.MinInt64, math.Inf(-1), 1},
		{"NaN first", math.NaN(), -1e300, -1},
		{"NaN before int", math.NaN(), math.MinInt64, -1},
		{"NaN equals NaN", math.NaN(), math.NaN(), 0},
		{"signed zeros", negZero, 0, 0},
		{"strings", "apple", "banana", -1},
		{"strings bytewise", "Z", "a", -1},
		{"lists lexicographic", []any{1, "b"}, []any{1, "c"}, -1},
		{"list prefix", []any{1}, []any{1, 0}, -1},
		{"lists equal", []any{1, 2.0}, []any{1.0, 2}, 0},
		{"non-canonical", int8(3), 2, 1},
	}
	for _, tt := range tests {
		got, err := value.Compare(tt.a, tt.b)
		if err != nil || got != tt.want {
			t.Errorf("%s: Compare(%#v, %#v) = %d, %v; want %d", tt.name, tt.a, tt.b, got, err, tt.want)
		}
		rev, err := value.Compare(tt.b, tt.a)
		if err != nil || rev != -tt.want {
			t.Errorf("%s: Compare(%#v, %#v) = %d, %v; want %d (antisymmetry)", tt.name, tt.b, tt.a, rev, err, -tt.want)
		}
	}
}

func TestCompareErrors(t *testing.T) {
	tests := []struct {
		name    string
		a, b    any
		wantSub string
	}{
		{"string vs int", "1", 1, "cannot compare string with int"},
		{"bool vs float", true, 1.0, "cannot compare bool with float"},
		{"list vs string", []any{}, "x", "cannot compare list with string"},
		{"maps", map[string]any{}, map[string]any{}, "maps are not ordered"},
		{"list elements", []any{1, "a"}, []any{1, 2}, "list element 1: cannot compare string with int"},
		{"unsupported", make(chan int), 1, "cannot compare chan int"},
	}
	for _, tt := range tests {
		_, err := value.Compare(tt.a, tt.b)
		if err == nil || !strings.HasPrefix(err.Error(), "value: compare: ") || !strings.Contains(err.Error(), tt.wantSub) {
			t.Errorf("%s: Compare error = %v, want containing %q", tt.name, err, tt.wantSub)
		}
	}
}

func TestKey(t *testing.T) {
	tests := []struct {
		name      string
		a, b      any
		wantEqual bool
	}{
		{"ints", 1, 1, true},
		{"int vs float", 1, 1.0, false},
		{"NaN", math.NaN(), math.Float64frombits(0xFFF0000000000001), true},
		{"signed zeros", 0.0, negZero, true},
		{"nested signed zeros", []any{0.0}, []any{negZero}, true},
		{"nested NaN", map[string]any{"x": math.NaN()}, map[string]any{"x": math.NaN()}, true},
		{"lists", []any{1, "a"}, []any{1, "a"}, true},
		{"maps any order", map[string]any{"a": 1, "b": 2}, map[string]any{"b": 2, "a": 1}, true},
		{"list vs string", []any{"a"}, "a", false},
		{"list vs its own encoding as string", []any{"a"}, "\x06\x01\x05\x01a", false},
		{"list vs prefixed encoding", []any{"a"}, "\x00\x06\x01\x05\x01a", false},
		{"empty list vs empty map", []any{}, map[string]any{}, false},
		{"non-canonical", []int32{1}, []any{1}, true},
		{"nil", nil, nil, true},
		{"nil vs empty list", nil, []any{}, false},
	}
	for _, tt := range tests {
		ka, kb := value.Key(tt.a), value.Key(tt.b)
		m := map[any]int{ka: 1}
		_, found := m[kb]
		if (ka == kb) != tt.wantEqual || found != tt.wantEqual {
			t.Errorf("%s: Key(%#v) == Key(%#v) is %v, want %v", tt.name, tt.a, tt.b, ka == kb, tt.wantEqual)
		}
		if value.Equal(tt.a, tt.b) != tt.wantEqual {
			t.Errorf("%s: Key disagrees with Equal", tt.name)
		}
	}
}

func TestKeyScalarsAsIs(t *testing.T) {
	for _, v := range []any{nil, true, 5, 2.5, "s"} {
		if value.Key(v) != v {
			t.Errorf("Key(%#v) = %#v, want the value itself", v, value.Key(v))
		}
	}
}

func TestKeyOutsideDomain(t *testing.T) {
	m := map[any]bool{}
	m[value.Key(func() {})] = true  // must not panic
	m[value.Key(nest(1000))] = true // too deep: must not panic
	m[value.Key([]any{func() {}})] = true
}
