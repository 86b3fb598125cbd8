package value_test

import (
	"encoding/json"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/weirstream/weir/value"
)

type myInt int16
type myString string
type tags []string

type inner struct {
	Deep int
}

type Embedded struct {
	Promoted string
	Shadowed string
}

type EmbA struct{ N int }
type EmbB struct{ N int }
type EmbTagged struct {
	N int `json:"N"`
}

type record struct {
	Embedded
	Name     string `json:"name"`
	Age      uint8  `json:"age,omitempty"`
	Skip     string `json:"-"`
	Dash     string `json:"-,"`
	Shadowed int
	Ptr      *inner
	NilPtr   *inner
	When     time.Time
	Tags     tags
	hidden   int
}

func TestNormalize(t *testing.T) {
	when := time.Date(2024, 5, 6, 7, 8, 9, 123456789, time.UTC)
	three := 3
	pThree := &three
	tests := []struct {
		name string
		in   any
		want any
	}{
		{"nil", nil, nil},
		{"bool", true, true},
		{"int", 42, 42},
		{"float", 2.5, 2.5},
		{"string", "x", "x"},
		{"int8", int8(-8), -8},
		{"int16", int16(16), 16},
		{"int32", int32(-32), -32},
		{"int64", int64(math.MinInt64), math.MinInt64},
		{"uint8", uint8(255), 255},
		{"uint16", uint16(16), 16},
		{"uint32", uint32(math.MaxUint32), math.MaxUint32},
		{"uint", uint(7), 7},
		{"uint64 max int", uint64(math.MaxInt64), math.MaxInt64},
		{"uintptr", uintptr(9), 9},
		{"float32", float32(0.5), 0.5},
		{"named int", myInt(5), 5},
		{"named string", myString("s"), "s"},
		{"json.Number int", json.Number("12"), 12},
		{"json.Number float", json.Number("1.5"), 1.5},
		{"json.Number integral float", json.Number("2.0"), 2.0},
		{"json.Number exponent", json.Number("1e3"), 1000.0},
		{"json.Number big", json.Number("99999999999999999999"), 1e20},
		{"time", when, "2024-05-06T07:08:09.123456789Z"},
		{"duration", 1500 * time.Millisecond, 1500000000},
		{"bytes", []byte("hi"), "hi"},
		{"nil bytes", []byte(nil), ""},
		{"pointer", pThree, 3},
		{"pointer to pointer", &pThree, 3},
		{"nil pointer", (*int)(nil), nil},
		{"canonical list", []any{1, "a", nil}, []any{1, "a", nil}},
		{"list with int64", []any{int64(1), []any{int32(2)}}, []any{1, []any{2}}},
		{"typed slice", []string{"a", "b"}, []any{"a", "b"}},
		{"nil typed slice", []int(nil), []any{}},
		{"named slice", tags{"x"}, []any{"x"}},
		{"array", [2]int{1, 2}, []any{1, 2}},
		{"slice of float32", []float32{0.25}, []any{0.25}},
		{"map string any non canonical", map[string]any{"a": uint(1)}, map[string]any{"a": 1}},
		{"map string int", map[string]int{"a": 1}, map[string]any{"a": 1}},
		{"map any any", map[any]any{"a": 1, 2: "b", true: 3.5, nil: "n", 1.5: "f"},
			map[string]any{"a": 1, "2": "b", "true": 3.5, "null": "n", "1.5": "f"}},
		{"map float32 key", map[float32]int{0.1: 1}, map[string]any{"0.1": 1}},
		{"map uint key", map[uint8]bool{7: true}, map[string]any{"7": true}},
		{"map named string key", map[myString]int{"k": 1}, map[string]any{"k": 1}},
		{"nested yaml", map[any]any{"list": []any{map[any]any{1: int64(2)}}},
			map[string]any{"list": []any{map[string]any{"1": 2}}}},
		{"struct", record{
			Embedded: Embedded{Promoted: "p", Shadowed: "lost"},
			Name:     "n", Age: 3, Skip: "s", Dash: "d", Shadowed: 9,
			Ptr: &inner{Deep: 1}, When: when, Tags: tags{"t"}, hidden: 1,
		}, map[string]any{
			"Promoted": "p", "name": "n", "age": 3, "-": "d", "Shadowed": 9,
			"Ptr": map[string]any{"Deep": 1}, "NilPtr": nil,
			"When": "2024-05-06T07:08:09.123456789Z", "Tags": []any{"t"},
		}},
		{"pointer to struct", &inner{Deep: 2}, map[string]any{"Deep": 2}},
		{"interface holding pointer", any(&three), 3},
		{"embedded time", struct{ time.Time }{when}, map[string]any{"Time": "2024-05-06T07:08:09.123456789Z"}},
		{"unexported embedded struct skipped", struct {
			inner
			X int
		}{inner{1}, 2}, map[string]any{"X": 2}},
		{"ambiguous promoted fields dropped", struct {
			EmbA
			EmbB
		}{EmbA{1}, EmbB{2}}, map[string]any{}},
		{"tagged promoted field wins", struct {
			EmbA
			EmbTagged
		}{EmbA{1}, EmbTagged{3}}, map[string]any{"N": 3}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := value.Normalize(tt.in)
			if err != nil {
				t.Fatalf("Normalize: %v", err)
			}
			if !value.Equal(got, tt.want) || value.TypeName(got) != value.TypeName(tt.want) {
				t.Errorf("Normalize(%#v) = %#v, want %#v", tt.in, got, tt.want)
			}
			if !canonicalDeep(got) {
				t.Errorf("Normalize(%#v) = %#v is not canonical", tt.in, got)
			}
		})
	}
}

// canonicalDeep checks the result by type, independently of the package.
func canonicalDeep(v any) bool {
	switch x := v.(type) {
	case nil, bool, int, float64, string:
		return true
	case []any:
		for _, e := range x {
			if !canonicalDeep(e) {
				return false
			}
		}
		return true
	case map[string]any:
		for _, e := range x {
			if !canonicalDeep(e) {
				return false
			}
		}
		return true
	}
	return false
}

func TestNormalizeErrors(t *testing.T) {
	fn := func() {}
	var cyc []any
	cyc = append(cyc, nil)
	cyc[0] = cyc
	var self any
	self = &self
	tests := []struct {
		name    string
		in      any
		wantSub string
	}{
		{"chan", make(chan int), "chan int"},
		{"func", fn, "func()"},
		{"complex", complex(1, 2), "complex128"},
		{"uint64 overflow", uint64(math.MaxInt64) + 1, "overflows int64"},
		{"uint overflow in list", []uint{math.MaxUint}, "list element 0"},
		{"nested chan", map[string]any{"a": []any{1, make(chan int)}}, `map key "a": list element 1: unsupported type chan int`},
		{"struct key", map[inner]int{{}: 1}, "unsupported map key type value_test.inner"},
		{"pointer key", map[*int]int{new(int): 1}, "unsupported map key type *int"},
		{"key collision", map[any]any{1: "a", "1": "b"}, `collide as "1"`},
		{"bad json.Number", json.Number("NaN"), `invalid number "NaN"`},
		{"json.Number out of range", json.Number("1e400"), "out of range"},
		{"cyclic list", cyc, "nesting deeper than 64"},
		{"cyclic pointer", self, "indirections"},
		{"too deep", nest(value.MaxDepth + 1), "nesting deeper than 64"},
		{"complex in struct", struct{ C complex64 }{}, "field C: unsupported type complex64"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := value.Normalize(tt.in)
			if err == nil {
				t.Fatalf("Normalize(%T) = %#v, want error", tt.in, got)
			}
			if !strings.HasPrefix(err.Error(), "value: normalize: ") || !strings.Contains(err.Error(), tt.wantSub) {
				t.Errorf("error %q does not contain %q", err, tt.wantSub)
			}
		})
	}
}

// nest returns depth lists nested inside each other around an int.
func nest(depth int) any {
	var v any = 1
	for range depth {
		v = []any{v}
	}
	return v
}

func TestNormalizeMaxDepth(t *testing.T) {
	v := nest(value.MaxDepth)
	if _, err := value.Normalize(v); err != nil {
		t.Fatalf("Normalize at MaxDepth: %v", err)
	}
}

func TestNormalizeCanonicalNoCopy(t *testing.T) {
	l := []any{1, map[string]any{"a": []any{"b"}}}
	got, err := value.Normalize(l)
	if err != nil {
		t.Fatal(err)
	}
	if &got.([]any)[0] != &l[0] {
		t.Error("canonical list was copied")
	}
}

func TestNormalizeScalarAllocs(t *testing.T) {
	inputs := []any{nil, true, 1 << 40, 2.5, "str"}
	for _, in := range inputs {
		allocs := testing.AllocsPerRun(100, func() {
			if _, err := value.Normalize(in); err != nil {
				t.Fatal(err)
			}
		})
		if allocs != 0 {
			t.Errorf("Normalize(%T) allocates %v times", in, allocs)
		}
	}
}
