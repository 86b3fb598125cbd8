package builtin

import (
	"math"
	"slices"

	"github.com/weirstream/weir/value"
)

// Keys of job-file aggregates index a Go map: scalars as they are, lists and maps by their canonical
// encoding, NaN (which never equals itself) by a marker; -0 is 0, as value.Equal has it.
type (
	compositeKey string
	nanKey       struct{}
)

func keyIndex(v any) (any, error) {
	switch x := v.(type) {
	case nil, bool, int, string:
		return v, nil
	case float64:
		if x != x {
			return nanKey{}, nil
		}
		if x == 0 {
			return 0.0, nil
		}
		return v, nil
	}
	b, err := value.AppendBinary(nil, canonFloats(v))
	if err != nil {
		return nil, err
	}
	return compositeKey(b), nil
}

// keyValue is the key that keyIndex indexed.
func keyValue(k any) any {
	switch x := k.(type) {
	case nanKey:
		return math.NaN()
	case compositeKey:
		v, _, err := value.DecodeBinary([]byte(x))
		if err != nil {
			return nil // cannot happen: keyIndex encoded it
		}
		return v
	}
	return k
}

// canonFloats replaces -0 by 0 and every NaN by one NaN inside lists and maps, copying v only if needed.
func canonFloats(v any) any {
	if !oddFloats(v) {
		return v
	}
	switch x := v.(type) {
	case float64:
		if x != x {
			return math.NaN()
		}
		return 0.0
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = canonFloats(e)
		}
		return out
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			out[k] = canonFloats(e)
		}
		return out
	}
	return v
}

// oddFloats tells whether v holds a -0 or a NaN other than math.NaN().
func oddFloats(v any) bool {
	switch x := v.(type) {
	case float64:
		return (x == 0 && math.Signbit(x)) || (x != x && math.Float64bits(x) != math.Float64bits(math.NaN()))
	case []any:
		return slices.ContainsFunc(x, oddFloats)
	case map[string]any:
		for _, e := range x {
			if oddFloats(e) {
				return true
			}
		}
	}
	return false
}
