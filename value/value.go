package value

import "fmt"

// MaxDepth is the deepest nesting of lists and maps that Normalize, the
// encoders and the decoders accept. A scalar at the top level has depth 0; a
// list has depth 1 plus the depth of its deepest element.
const MaxDepth = 64

// TypeName returns the kind name used in error messages for canonical values
// and the Go type for anything else, so users see "int" rather than "int64"
// only when the value really is canonical.
func TypeName(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case bool:
		return "bool"
	case int:
		return "int"
	case float64:
		return "float"
	case string:
		return "string"
	case []any:
		return "list"
	case map[string]any:
		return "map"
	default:
		return fmt.Sprintf("%T", v)
	}
}

// Int reports v as an int only when it is one: operators that need an
// integer (indexes, counts) must not silently truncate floats.
func Int(v any) (int, bool) {
	i, ok := v.(int)
	return i, ok
}

// Float widens ints because arithmetic operators accept either numeric kind.
func Float(v any) (float64, bool) {
	switch x := v.(type) {
	case float64:
		return x, true
	case int:
		return float64(x), true
	default:
		return 0, false
	}
}
