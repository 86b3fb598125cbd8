package value

import (
	"cmp"
	"fmt"
	"strings"
)

// Equal reports whether a and b are the same canonical value, comparing
// lists and maps deeply.
//
// Kinds must match: int 2 and float64 2.0 are not Equal, because they are
// distinguishable everywhere else (JSON prints them differently, binary
// encodes them differently, and integer operators accept only one of them);
// use Compare for numeric comparison across kinds. For floats, NaN is Equal
// to NaN and -0 to +0, which keeps Equal an equivalence relation that Hash
// and Key can honour.
//
// Non-canonical inputs are normalized first; values that cannot be
// normalized, or nest deeper than MaxDepth, are never Equal to anything.
func Equal(a, b any) bool {
	return equal(a, b, 0)
}

func equal(a, b any, depth int) bool {
	var ok bool
	if a, ok = canonicalKind(a, depth); !ok {
		return false
	}
	if b, ok = canonicalKind(b, depth); !ok {
		return false
	}
	switch x := a.(type) {
	case nil:
		return b == nil
	case bool:
		y, ok := b.(bool)
		return ok && x == y
	case int:
		y, ok := b.(int)
		return ok && x == y
	case float64:
		y, ok := b.(float64)
		return ok && (x == y || (x != x && y != y))
	case string:
		y, ok := b.(string)
		return ok && x == y
	case []any:
		y, ok := b.([]any)
		if !ok || len(x) != len(y) || depth >= MaxDepth {
			return false
		}
		for i := range x {
			if !equal(x[i], y[i], depth+1) {
				return false
			}
		}
		return true
	case map[string]any:
		y, ok := b.(map[string]any)
		if !ok || len(x) != len(y) || depth >= MaxDepth {
			return false
		}
		for k, xv := range x {
			yv, ok := y[k]
			if !ok || !equal(xv, yv, depth+1) {
				return false
			}
		}
		return true
	}
	return false
}

// canonicalKind returns v unchanged when its top level is a canonical kind
// (elements are checked as they are visited) and normalizes it otherwise.
func canonicalKind(v any, depth int) (any, bool) {
	switch v.(type) {
	case nil, bool, int, float64, string, []any, map[string]any:
		return v, true
	}
	n, err := normalize(v, depth)
	return n, err == nil
}

// Compare orders a and b for min/max and sorting, returning -1, 0 or +1.
//
// nil is less than everything else. Numbers compare by value across int and
// float64, exactly even beyond 2^53, so Compare(2, 2.0) is 0 although the
// two are not Equal; NaN is less than every other number and equal to
// itself, as in cmp.Compare. Strings compare bytewise, false is less than
// true, and lists compare lexicographically. Maps are not ordered, and
// comparing values of different kinds (other than int with float) is an
// error naming both kinds.
func Compare(a, b any) (int, error) {
	c, err := compare(a, b, 0)
	if err != nil {
		return 0, fmt.Errorf("value: compare: %w", err)
	}
	return c, nil
}

func compare(a, b any, depth int) (int, error) {
	na, ok := canonicalKind(a, depth)
	if !ok {
		return 0, fmt.Errorf("cannot compare %s", TypeName(a))
	}
	nb, ok := canonicalKind(b, depth)
	if !ok {
		return 0, fmt.Errorf("cannot compare %s", TypeName(b))
	}
	a, b = na, nb
	if a == nil || b == nil {
		switch {
		case a == b:
			return 0, nil
		case a == nil:
			return -1, nil
		}
		return 1, nil
	}
	switch x := a.(type) {
	case bool:
		if y, ok := b.(bool); ok {
			switch {
			case x == y:
				return 0, nil
			case y:
				return -1, nil
			}
			return 1, nil
		}
	case int:
		switch y := b.(type) {
		case int:
			return cmp.Compare(x, y), nil
		case float64:
			return compareIntFloat(x, y), nil
		}
	case float64:
		switch y := b.(type) {
		case int:
			return -compareIntFloat(y, x), nil
		case float64:
			return cmp.Compare(x, y), nil
		}
	case string:
		if y, ok := b.(string); ok {
			return strings.Compare(x, y), nil
		}
	case []any:
		if y, ok := b.([]any); ok {
			if depth >= MaxDepth {
				return 0, errTooDeep
			}
			for i := range min(len(x), len(y)) {
				c, err := compare(x[i], y[i], depth+1)
				if err != nil {
					return 0, fmt.Errorf("list element %d: %w", i, err)
				}
				if c != 0 {
					return c, nil
				}
			}
			return cmp.Compare(len(x), len(y)), nil
		}
	case map[string]any:
		if _, ok := b.(map[string]any); ok {
			return 0, fmt.Errorf("maps are not ordered")
		}
	}
	return 0, fmt.Errorf("cannot compare %s with %s", TypeName(a), TypeName(b))
}

// compareIntFloat compares exactly; converting i to float64 would round
// above 2^53 and call distinct values equal.
func compareIntFloat(i int, f float64) int {
	switch {
	case f != f:
		return 1 // NaN sorts first, as in cmp.Compare.
	case f >= 0x1p63:
		return -1
	case f < -0x1p63:
		return 1
	}
	t := int64(f) // exact: |f| < 2^63 and truncation drops only the fraction.
	switch {
	case int64(i) < t:
		return -1
	case int64(i) > t:
		return 1
	}
	// Both operands are exact here, so the subtraction is too.
	frac := f - float64(t)
	switch {
	case frac > 0:
		return -1
	case frac < 0:
		return 1
	}
	return 0
}

// compositeKey holds the canonical binary encoding of a list or map. It is a
// distinct type so that it can never equal a plain string key.
type compositeKey string

// nanKey stands in for NaN, which as a float64 map key never matches itself.
type nanKey struct{}

// invalidKey stands in for values outside the domain; it is comparable so a
// map insert cannot panic, but all such values share one key per type.
type invalidKey string

// Key returns a comparable value that can index a Go map, such that Key(a)
// == Key(b) exactly when Equal(a, b). Scalars are returned as they are
// (except NaN); lists and maps become an unexported string type holding
// their canonical binary encoding, which cannot collide with any string.
func Key(v any) any {
	switch x := v.(type) {
	case nil, bool, int, string:
		return v
	case float64:
		if x != x {
			return nanKey{}
		}
		// -0 needs no care: it is == to +0 and Go maps hash them alike.
		return v
	case []any, map[string]any:
		var buf [64]byte
		b, err := appendBinary(buf[:0], v, 0, true)
		if err != nil {
			return invalidKey(TypeName(v))
		}
		return compositeKey(b)
	}
	n, err := normalize(v, 0)
	if err != nil {
		return invalidKey(TypeName(v))
	}
	return Key(n)
}
