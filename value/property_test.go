package value_test

import (
	"math"
	"slices"
	"testing"
	"unicode/utf8"

	"pgregory.net/rapid"

	"github.com/weirstream/weir/value"
)

// genValue draws canonical values, biased toward the awkward corners:
// NaN, signed zeros, integral floats and extreme ints.
func genValue(t *rapid.T, depth int) any {
	maxKind := 6
	if depth >= 4 {
		maxKind = 4 // scalars only, to keep values small
	}
	switch rapid.IntRange(0, maxKind).Draw(t, "kind") {
	case 0:
		return nil
	case 1:
		return rapid.Bool().Draw(t, "bool")
	case 2:
		return rapid.OneOf(
			rapid.Int(),
			rapid.SampledFrom([]int{0, -1, math.MaxInt64, math.MinInt64, 1 << 53}),
		).Draw(t, "int")
	case 3:
		return rapid.OneOf(
			rapid.Float64(),
			rapid.Map(rapid.IntRange(-1000, 1000), func(i int) float64 { return float64(i) }),
			rapid.SampledFrom([]float64{0, negZero, math.NaN(), math.Inf(1), math.Inf(-1), 1e21, 1e-7}),
		).Draw(t, "float")
	case 4:
		return rapid.String().Draw(t, "string")
	case 5:
		n := rapid.IntRange(0, 4).Draw(t, "len")
		l := make([]any, n)
		for i := range l {
			l[i] = genValue(t, depth+1)
		}
		return l
	default:
		n := rapid.IntRange(0, 4).Draw(t, "len")
		m := make(map[string]any, n)
		for range n {
			m[rapid.StringN(0, 3, -1).Draw(t, "key")] = genValue(t, depth+1)
		}
		return m
	}
}

var canonicalValues = rapid.Custom(func(t *rapid.T) any { return genValue(t, 0) })

// equivalent returns a value Equal to v but built differently: other NaN
// payloads, flipped zero signs and maps filled in reverse key order.
func equivalent(v any) any {
	switch x := v.(type) {
	case float64:
		switch {
		case x != x:
			return math.Float64frombits(0xFFF8000000000123)
		case x == 0:
			return math.Copysign(0, -math.Copysign(1, x))
		}
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = equivalent(e)
		}
		return out
	case map[string]any:
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		slices.Reverse(keys)
		out := make(map[string]any, len(x))
		for _, k := range keys {
			out[k] = equivalent(x[k])
		}
		return out
	}
	return v
}

func finite(v any) bool {
	switch x := v.(type) {
	case float64:
		return !math.IsNaN(x) && !math.IsInf(x, 0)
	case []any:
		return !slices.ContainsFunc(x, func(e any) bool { return !finite(e) })
	case map[string]any:
		for _, e := range x {
			if !finite(e) {
				return false
			}
		}
	}
	return true
}

func validUTF8Deep(v any) bool {
	switch x := v.(type) {
	case string:
		return utf8.ValidString(x)
	case []any:
		return !slices.ContainsFunc(x, func(e any) bool { return !validUTF8Deep(e) })
	case map[string]any:
		for k, e := range x {
			if !utf8.ValidString(k) || !validUTF8Deep(e) {
				return false
			}
		}
	}
	return true
}

func TestPropertyBinaryRoundTrip(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		v := canonicalValues.Draw(t, "v")
		b, err := value.AppendBinary(nil, v)
		if err != nil {
			t.Fatalf("AppendBinary: %v", err)
		}
		got, n, err := value.DecodeBinary(b)
		if err != nil {
			t.Fatalf("DecodeBinary: %v", err)
		}
		if n != len(b) || !value.Equal(got, v) {
			t.Fatalf("round trip: %#v -> %x -> %#v (n=%d)", v, b, got, n)
		}
		// Equivalent values may differ in float bits, so only compare
		// encodings of a value with its own decoded copy.
		again, _ := value.AppendBinary(nil, got)
		if string(again) != string(b) {
			t.Fatalf("encoding not stable: %x vs %x", b, again)
		}
	})
}

func TestPropertyJSONRoundTrip(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		v := canonicalValues.Draw(t, "v")
		j, err := value.AppendJSON(nil, v)
		if !finite(v) {
			if err == nil {
				t.Fatalf("AppendJSON(%#v) = %s, want error for non-finite float", v, j)
			}
			return
		}
		if err != nil {
			t.Fatalf("AppendJSON: %v", err)
		}
		got, err := value.ParseJSON(j)
		if err != nil {
			t.Fatalf("ParseJSON(%s): %v", j, err)
		}
		if !value.Equal(got, v) {
			t.Fatalf("round trip: %#v -> %s -> %#v", v, j, got)
		}
	})
}

func TestPropertyHashKeyConsistentWithEqual(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		a := canonicalValues.Draw(t, "a")
		b := canonicalValues.Draw(t, "b")
		e := equivalent(a)

		if !value.Equal(a, a) || !value.Equal(a, e) || !value.Equal(e, a) {
			t.Fatalf("Equal not reflexive/symmetric on %#v / %#v", a, e)
		}
		if value.Hash(a) != value.Hash(e) {
			t.Fatalf("Hash differs for Equal values %#v and %#v", a, e)
		}
		if value.Key(a) != value.Key(e) {
			t.Fatalf("Key differs for Equal values %#v and %#v", a, e)
		}
		eq := value.Equal(a, b)
		if eq != value.Equal(b, a) {
			t.Fatalf("Equal not symmetric on %#v, %#v", a, b)
		}
		if eq && value.Hash(a) != value.Hash(b) {
			t.Fatalf("Hash differs for Equal values %#v and %#v", a, b)
		}
		if (value.Key(a) == value.Key(b)) != eq {
			t.Fatalf("Key equality %v but Equal %v for %#v, %#v", !eq, eq, a, b)
		}
	})
}

func TestPropertyCompare(t *testing.T) {
	scalars := rapid.Custom(func(t *rapid.T) any {
		// Numbers only, so every pair is comparable.
		if rapid.Bool().Draw(t, "isInt") {
			return rapid.Int().Draw(t, "int")
		}
		return rapid.Float64().Draw(t, "float")
	})
	rapid.Check(t, func(t *rapid.T) {
		a, b, c := scalars.Draw(t, "a"), scalars.Draw(t, "b"), scalars.Draw(t, "c")
		ab := mustCompare(t, a, b)
		if ba := mustCompare(t, b, a); ba != -ab {
			t.Fatalf("Compare not antisymmetric: %v, %v -> %d, %d", a, b, ab, ba)
		}
		if value.Equal(a, b) && ab != 0 {
			t.Fatalf("Equal values %v, %v compare %d", a, b, ab)
		}
		bc := mustCompare(t, b, c)
		if ab <= 0 && bc <= 0 && mustCompare(t, a, c) > 0 {
			t.Fatalf("Compare not transitive: %v <= %v <= %v", a, b, c)
		}
	})
}

func mustCompare(t *rapid.T, a, b any) int {
	c, err := value.Compare(a, b)
	if err != nil {
		t.Fatalf("Compare(%v, %v): %v", a, b, err)
	}
	return c
}
