package value

import (
	"encoding/json"
	"fmt"
	"maps"
	"math"
	"reflect"
	"slices"
	"strconv"
	"sync"
	"time"
)

// The domain promises 64-bit ints and the codecs rely on it; refuse to build
// where int is narrower rather than truncate silently at runtime.
const _ uint = math.MaxInt - math.MaxInt64

// maxIndirections bounds pointer/interface chains, which do not add nesting
// depth but can still be cyclic (var p any; p = &p).
const maxIndirections = 64

var (
	errTooDeep = fmt.Errorf("nesting deeper than %d", MaxDepth)

	timeType   = reflect.TypeFor[time.Time]()
	numberType = reflect.TypeFor[json.Number]()
)

// Normalize converts v into the canonical domain described in the package
// documentation, so that YAML decoders, Go callers and expressions can hand
// the engine whatever they naturally produce:
//
//   - signed integers, and unsigned ones up to math.MaxInt64, become int;
//     float32 becomes float64; time.Duration becomes int nanoseconds;
//   - json.Number becomes int when written without fraction or exponent and
//     within int64, float64 otherwise (the ParseJSON rule);
//   - time.Time becomes an RFC 3339 string with nanoseconds; []byte a string;
//   - slices and arrays become []any; maps with string, bool, integer or
//     float keys become map[string]any, keys formatted with strconv (an
//     error if two keys format alike, e.g. 1 and "1");
//   - pointers and interfaces are followed, nil becoming nil;
//   - structs become map[string]any of their exported fields, named and
//     skipped by json tags and promoting embedded structs as encoding/json
//     does.
//
// Anything else (channels, functions, complex numbers, unsafe pointers) is
// an error naming the Go type, as is nesting deeper than MaxDepth. Values
// that are already canonical are returned as they are, without copying, so
// the result may alias v.
func Normalize(v any) (any, error) {
	switch v.(type) {
	case nil, bool, int, float64, string:
		// Returning v itself keeps the common case free of allocations.
		return v, nil
	}
	n, err := normalize(v, 0)
	if err != nil {
		return nil, fmt.Errorf("value: normalize: %w", err)
	}
	return n, nil
}

// normalize is Normalize for a value enclosed by depth lists or maps; its
// errors carry no package prefix so that callers can add their own context.
func normalize(v any, depth int) (any, error) {
	switch x := v.(type) {
	case nil, bool, int, float64, string:
		return v, nil
	case int8:
		return int(x), nil
	case int16:
		return int(x), nil
	case int32:
		return int(x), nil
	case int64:
		return int(x), nil
	case uint8:
		return int(x), nil
	case uint16:
		return int(x), nil
	case uint32:
		return int(x), nil
	case uint:
		return fromUint(uint64(x))
	case uint64:
		return fromUint(x)
	case float32:
		return float64(x), nil
	case json.Number:
		return parseNumber(string(x))
	case time.Time:
		return x.Format(time.RFC3339Nano), nil
	case time.Duration:
		return int(x), nil
	case []byte:
		return string(x), nil
	case []any:
		if depth >= MaxDepth {
			return nil, errTooDeep
		}
		if canonical(x, depth) {
			return x, nil
		}
		out := make([]any, len(x))
		for i, e := range x {
			n, err := normalize(e, depth+1)
			if err != nil {
				return nil, fmt.Errorf("list element %d: %w", i, err)
			}
			out[i] = n
		}
		return out, nil
	case map[string]any:
		if depth >= MaxDepth {
			return nil, errTooDeep
		}
		if canonical(x, depth) {
			return x, nil
		}
		out := make(map[string]any, len(x))
		// Sorted so that the reported error does not depend on map order.
		for _, k := range slices.Sorted(maps.Keys(x)) {
			n, err := normalize(x[k], depth+1)
			if err != nil {
				return nil, fmt.Errorf("map key %q: %w", k, err)
			}
			out[k] = n
		}
		return out, nil
	}
	return normalizeReflect(reflect.ValueOf(v), depth)
}

// canonical reports whether v, enclosed by depth containers, is already in
// the canonical domain including the depth limit.
func canonical(v any, depth int) bool {
	switch x := v.(type) {
	case nil, bool, int, float64, string:
		return true
	case []any:
		if depth >= MaxDepth {
			return false
		}
		for _, e := range x {
			if !canonical(e, depth+1) {
				return false
			}
		}
		return true
	case map[string]any:
		if depth >= MaxDepth {
			return false
		}
		for _, e := range x {
			if !canonical(e, depth+1) {
				return false
			}
		}
		return true
	}
	return false
}

func fromUint(u uint64) (any, error) {
	if u > math.MaxInt64 {
		return nil, fmt.Errorf("unsigned integer %d overflows int64", u)
	}
	return int(u), nil
}

// parseNumber applies the ParseJSON rule to a JSON number literal so that a
// json.Number normalizes exactly as the same text would parse.
func parseNumber(s string) (any, error) {
	if !validNumber(s) {
		return nil, fmt.Errorf("invalid number %q", s)
	}
	integral := true
	for i := 0; i < len(s); i++ {
		if c := s[i]; c == '.' || c == 'e' || c == 'E' {
			integral = false
			break
		}
	}
	if integral {
		if i, err := strconv.ParseInt(s, 10, 64); err == nil {
			return int(i), nil
		}
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil {
		// Only range errors remain after validNumber; ±Inf is not representable.
		return nil, fmt.Errorf("number %q out of range", s)
	}
	return f, nil
}

// validNumber checks JSON number syntax, because strconv also accepts forms
// such as "NaN", "0x1p3" and "1_000" that must not enter through json.Number.
func validNumber(s string) bool {
	i := 0
	if i < len(s) && s[i] == '-' {
		i++
	}
	switch {
	case i < len(s) && s[i] == '0':
		i++
	case i < len(s) && s[i] >= '1' && s[i] <= '9':
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			i++
		}
	default:
		return false
	}
	if i < len(s) && s[i] == '.' {
		i++
		if i >= len(s) || s[i] < '0' || s[i] > '9' {
			return false
		}
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			i++
		}
	}
	if i < len(s) && (s[i] == 'e' || s[i] == 'E') {
		i++
		if i < len(s) && (s[i] == '+' || s[i] == '-') {
			i++
		}
		if i >= len(s) || s[i] < '0' || s[i] > '9' {
			return false
		}
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			i++
		}
	}
	return i == len(s)
}

// normalizeReflect handles everything the type switch does not know by name:
// named types, typed slices and maps, arrays, pointers and structs.
func normalizeReflect(rv reflect.Value, depth int) (any, error) {
	for i := 0; rv.Kind() == reflect.Pointer || rv.Kind() == reflect.Interface; i++ {
		if rv.IsNil() {
			return nil, nil
		}
		if i >= maxIndirections {
			return nil, fmt.Errorf("more than %d indirections through %s", maxIndirections, rv.Type())
		}
		rv = rv.Elem()
	}
	if !rv.IsValid() {
		return nil, nil
	}
	t := rv.Type()
	// Special types are matched before their kinds: json.Number is a string
	// and time.Time a struct, but neither should be treated as such.
	// time.Duration needs no special case because its kind already yields
	// nanoseconds.
	if (t == timeType || t == numberType) && rv.CanInterface() {
		return normalize(rv.Interface(), depth)
	}
	switch rv.Kind() {
	case reflect.Bool:
		return rv.Bool(), nil
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return int(rv.Int()), nil
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		return fromUint(rv.Uint())
	case reflect.Float32, reflect.Float64:
		return rv.Float(), nil
	case reflect.String:
		return rv.String(), nil
	case reflect.Slice:
		if t.Elem().Kind() == reflect.Uint8 {
			return string(rv.Bytes()), nil
		}
		return normalizeList(rv, depth)
	case reflect.Array:
		return normalizeList(rv, depth)
	case reflect.Map:
		return normalizeMap(rv, depth)
	case reflect.Struct:
		return normalizeStruct(rv, depth)
	}
	return nil, fmt.Errorf("unsupported type %s", t)
}

// child normalizes an element reached through reflection, going back to the
// type switch when possible because it is much cheaper for canonical values.
func child(rv reflect.Value, depth int) (any, error) {
	if rv.Kind() == reflect.Interface && rv.CanInterface() {
		return normalize(rv.Interface(), depth)
	}
	return normalizeReflect(rv, depth)
}

func normalizeList(rv reflect.Value, depth int) (any, error) {
	if depth >= MaxDepth {
		return nil, errTooDeep
	}
	out := make([]any, rv.Len())
	for i := range out {
		n, err := child(rv.Index(i), depth+1)
		if err != nil {
			return nil, fmt.Errorf("list element %d: %w", i, err)
		}
		out[i] = n
	}
	return out, nil
}

func normalizeMap(rv reflect.Value, depth int) (any, error) {
	if depth >= MaxDepth {
		return nil, errTooDeep
	}
	type entry struct {
		key string
		val reflect.Value
	}
	entries := make([]entry, 0, rv.Len())
	iter := rv.MapRange()
	for iter.Next() {
		k, err := formatKey(iter.Key())
		if err != nil {
			return nil, err
		}
		entries = append(entries, entry{k, iter.Value()})
	}
	// Sorting makes both duplicate detection and error reporting independent
	// of map iteration order.
	slices.SortFunc(entries, func(a, b entry) int {
		switch {
		case a.key < b.key:
			return -1
		case a.key > b.key:
			return 1
		}
		return 0
	})
	out := make(map[string]any, len(entries))
	for i, e := range entries {
		if i > 0 && entries[i-1].key == e.key {
			return nil, fmt.Errorf("map keys collide as %q after formatting", e.key)
		}
		n, err := child(e.val, depth+1)
		if err != nil {
			return nil, fmt.Errorf("map key %q: %w", e.key, err)
		}
		out[e.key] = n
	}
	return out, nil
}

// formatKey turns a scalar map key into the string key of a canonical map.
// YAML produces map[any]any with int or bool keys; formatting them with
// strconv matches how they would print in JSON.
func formatKey(k reflect.Value) (string, error) {
	for k.Kind() == reflect.Interface {
		if k.IsNil() {
			return "null", nil
		}
		k = k.Elem()
	}
	switch k.Kind() {
	case reflect.String:
		return k.String(), nil
	case reflect.Bool:
		return strconv.FormatBool(k.Bool()), nil
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return strconv.FormatInt(k.Int(), 10), nil
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		return strconv.FormatUint(k.Uint(), 10), nil
	case reflect.Float32:
		// Bit size 32 keeps float32(0.1) printing as "0.1".
		return strconv.FormatFloat(k.Float(), 'g', -1, 32), nil
	case reflect.Float64:
		return strconv.FormatFloat(k.Float(), 'g', -1, 64), nil
	}
	return "", fmt.Errorf("unsupported map key type %s", k.Type())
}

func normalizeStruct(rv reflect.Value, depth int) (any, error) {
	if depth >= MaxDepth {
		return nil, errTooDeep
	}
	fields := structFields(rv.Type())
	out := make(map[string]any, len(fields))
	for _, f := range fields {
		fv, err := rv.FieldByIndexErr(f.index)
		if err != nil {
			// A nil embedded pointer hides its promoted fields, as in encoding/json.
			continue
		}
		n, err := child(fv, depth+1)
		if err != nil {
			return nil, fmt.Errorf("field %s: %w", f.name, err)
		}
		out[f.name] = n
	}
	return out, nil
}

type field struct {
	name   string
	index  []int
	level  int
	tagged bool
}

var fieldCache sync.Map // reflect.Type -> []field

// structFields lists the fields a struct contributes, following the
// encoding/json conventions that job authors already know: json tag names,
// json:"-" to skip, and promotion of fields from exported embedded structs
// with shallower and then tagged fields winning name conflicts.
func structFields(t reflect.Type) []field {
	if cached, ok := fieldCache.Load(t); ok {
		return cached.([]field)
	}
	var all []field
	collectFields(t, nil, 0, map[reflect.Type]bool{}, &all)

	byName := map[string][]field{}
	var names []string
	for _, f := range all {
		if _, seen := byName[f.name]; !seen {
			names = append(names, f.name)
		}
		byName[f.name] = append(byName[f.name], f)
	}
	var fields []field
	for _, name := range names {
		if f, ok := dominant(byName[name]); ok {
			fields = append(fields, f)
		}
	}
	fieldCache.Store(t, fields)
	return fields
}

func collectFields(t reflect.Type, index []int, level int, visiting map[reflect.Type]bool, out *[]field) {
	if visiting[t] {
		return
	}
	visiting[t] = true
	defer delete(visiting, t)
	for i := range t.NumField() {
		sf := t.Field(i)
		tag := sf.Tag.Get("json")
		if tag == "-" {
			continue
		}
		name := tag
		for j := 0; j < len(tag); j++ {
			if tag[j] == ',' {
				name = tag[:j]
				break
			}
		}
		idx := append(slices.Clip(index), i)
		if sf.Anonymous && name == "" {
			ft := sf.Type
			if ft.Kind() == reflect.Pointer {
				ft = ft.Elem()
			}
			// time.Time is a value, not a bag of fields to promote.
			if ft.Kind() == reflect.Struct && ft != timeType && sf.IsExported() {
				collectFields(ft, idx, level+1, visiting, out)
				continue
			}
		}
		if !sf.IsExported() {
			continue
		}
		tagged := name != ""
		if !tagged {
			name = sf.Name
		}
		*out = append(*out, field{name: name, index: idx, level: level, tagged: tagged})
	}
}

// dominant picks the field that owns a name, or none when the choice would be
// ambiguous; silently picking one would make output depend on field order.
func dominant(fs []field) (field, bool) {
	minLevel := fs[0].level
	for _, f := range fs[1:] {
		minLevel = min(minLevel, f.level)
	}
	var best []field
	for _, f := range fs {
		if f.level == minLevel {
			best = append(best, f)
		}
	}
	if len(best) == 1 {
		return best[0], true
	}
	var tagged []field
	for _, f := range best {
		if f.tagged {
			tagged = append(tagged, f)
		}
	}
	if len(tagged) == 1 {
		return tagged[0], true
	}
	return field{}, false
}
