package value

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"strconv"
	"unicode/utf8"
)

// AppendJSON appends the JSON text of v to dst. Map keys are written in
// sorted order so the output is deterministic. Floats use the shortest form
// that round-trips and always show that they are floats: 2.0 is written as
// "2.0", not "2", so that ParseJSON returns a float64 again. NaN and ±Inf
// have no JSON form and are an error. Strings that are not valid UTF-8 have
// their bad bytes replaced by U+FFFD, as encoding/json does, since JSON
// cannot carry them. Non-canonical values are normalized on the way. On
// error dst is returned unchanged.
func AppendJSON(dst []byte, v any) ([]byte, error) {
	out, err := appendJSON(dst, v, 0)
	if err != nil {
		return dst, fmt.Errorf("value: encode json: %w", err)
	}
	return out, nil
}

func appendJSON(dst []byte, v any, depth int) ([]byte, error) {
	switch x := v.(type) {
	case nil:
		return append(dst, "null"...), nil
	case bool:
		return strconv.AppendBool(dst, x), nil
	case int:
		return strconv.AppendInt(dst, int64(x), 10), nil
	case float64:
		return appendJSONFloat(dst, x)
	case string:
		return appendJSONString(dst, x), nil
	case []any:
		if depth >= MaxDepth {
			return dst, errTooDeep
		}
		dst = append(dst, '[')
		for i, e := range x {
			if i > 0 {
				dst = append(dst, ',')
			}
			var err error
			if dst, err = appendJSON(dst, e, depth+1); err != nil {
				return dst, fmt.Errorf("list element %d: %w", i, err)
			}
		}
		return append(dst, ']'), nil
	case map[string]any:
		if depth >= MaxDepth {
			return dst, errTooDeep
		}
		dst = append(dst, '{')
		var buf [16]string
		for i, k := range sortedKeys(x, buf[:0]) {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = append(appendJSONString(dst, k), ':')
			var err error
			if dst, err = appendJSON(dst, x[k], depth+1); err != nil {
				return dst, fmt.Errorf("map key %q: %w", k, err)
			}
		}
		return append(dst, '}'), nil
	}
	n, err := normalize(v, depth)
	if err != nil {
		return dst, err
	}
	return appendJSON(dst, n, depth)
}

// appendJSONFloat follows encoding/json's choice between plain and
// exponent notation so output looks familiar, but marks integral values
// with ".0" so that the reader can tell them from ints.
func appendJSONFloat(dst []byte, f float64) ([]byte, error) {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return dst, fmt.Errorf("unsupported float %v", f)
	}
	format := byte('f')
	if abs := math.Abs(f); abs != 0 && (abs < 1e-6 || abs >= 1e21) {
		format = 'e'
	}
	start := len(dst)
	dst = strconv.AppendFloat(dst, f, format, -1, 64)
	if format == 'e' {
		// The exponent already marks a float; only shorten e-07 to e-7.
		if n := len(dst); n-start >= 4 && dst[n-4] == 'e' && dst[n-3] == '-' && dst[n-2] == '0' {
			dst[n-2] = dst[n-1]
			dst = dst[:n-1]
		}
		return dst, nil
	}
	if bytes.IndexByte(dst[start:], '.') < 0 {
		dst = append(dst, '.', '0')
	}
	return dst, nil
}

const hexDigits = "0123456789abcdef"

// appendJSONString escapes what JSON requires plus U+2028 and U+2029, which
// are valid JSON but break JavaScript parsers that embed it.
func appendJSONString(dst []byte, s string) []byte {
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' {
				i++
				continue
			}
			dst = append(dst, s[start:i]...)
			switch c {
			case '"', '\\':
				dst = append(dst, '\\', c)
			case '\n':
				dst = append(dst, '\\', 'n')
			case '\r':
				dst = append(dst, '\\', 'r')
			case '\t':
				dst = append(dst, '\\', 't')
			case '\b':
				dst = append(dst, '\\', 'b')
			case '\f':
				dst = append(dst, '\\', 'f')
			default:
				dst = append(dst, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			dst = append(dst, s[start:i]...)
			dst = append(dst, `\ufffd`...)
		case r == '\u2028' || r == '\u2029':
			dst = append(dst, s[start:i]...)
			dst = append(dst, '\\', 'u', '2', '0', '2', hexDigits[r&0xf])
		default:
			i += size
			continue
		}
		i += size
		start = i
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}

// ParseJSON decodes exactly one JSON value (surrounding whitespace allowed)
// into the canonical domain. Numbers written without fraction or exponent
// that fit in int64 become int; all other numbers become float64, so "2.0"
// stays a float. Nesting deeper than MaxDepth is an error. Duplicate object
// keys keep the last value, as in encoding/json.
func ParseJSON(data []byte) (any, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, fmt.Errorf("value: parse json: %w", err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("value: parse json: trailing data after offset %d", dec.InputOffset())
	}
	v, err := fromJSON(v, 0)
	if err != nil {
		return nil, fmt.Errorf("value: parse json: %w", err)
	}
	return v, nil
}

// fromJSON converts encoding/json's output in place; the containers are
// fresh and unshared, so reusing them saves a copy.
func fromJSON(v any, depth int) (any, error) {
	switch x := v.(type) {
	case json.Number:
		return parseNumber(string(x))
	case []any:
		if depth >= MaxDepth {
			return nil, errTooDeep
		}
		for i, e := range x {
			n, err := fromJSON(e, depth+1)
			if err != nil {
				return nil, fmt.Errorf("list element %d: %w", i, err)
			}
			x[i] = n
		}
	case map[string]any:
		if depth >= MaxDepth {
			return nil, errTooDeep
		}
		for k, e := range x {
			n, err := fromJSON(e, depth+1)
			if err != nil {
				return nil, fmt.Errorf("map key %q: %w", k, err)
			}
			x[k] = n
		}
	}
	return v, nil
}
