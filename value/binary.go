package value

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"math/bits"
)

// Tags of the binary format and of the hash's byte form. The values are part
// of the wire and checkpoint format: never renumber them.
const (
	tagNull byte = iota
	tagFalse
	tagTrue
	tagInt
	tagFloat
	tagString
	tagList
	tagMap

	// tagInvalid only ever reaches the hash, never the wire.
	tagInvalid byte = 0xff
)

var errTruncated = errors.New("truncated input")

// AppendBinary appends the binary encoding of v to dst. The format is
// self-describing: a tag byte per value, zig-zag varints for ints, unsigned
// varints for lengths, 8 little-endian bytes for floats (bit-exact, so NaN
// payloads and -0 survive), and maps with keys in increasing byte order so
// that every value has exactly one encoding. Non-canonical values are
// normalized on the way. On error dst is returned unchanged.
func AppendBinary(dst []byte, v any) ([]byte, error) {
	out, err := appendBinary(dst, v, 0, false)
	if err != nil {
		return dst, fmt.Errorf("value: encode binary: %w", err)
	}
	return out, nil
}

// appendBinary encodes v enclosed by depth containers. With canonFloat it
// writes floats as Hash sees them, which turns the encoding into a key that
// agrees with Equal.
func appendBinary(dst []byte, v any, depth int, canonFloat bool) ([]byte, error) {
	switch x := v.(type) {
	case nil:
		return append(dst, tagNull), nil
	case bool:
		if x {
			return append(dst, tagTrue), nil
		}
		return append(dst, tagFalse), nil
	case int:
		return binary.AppendVarint(append(dst, tagInt), int64(x)), nil
	case float64:
		b := math.Float64bits(x)
		if canonFloat {
			b = canonicalBits(x)
		}
		return binary.LittleEndian.AppendUint64(append(dst, tagFloat), b), nil
	case string:
		dst = binary.AppendUvarint(append(dst, tagString), uint64(len(x)))
		return append(dst, x...), nil
	case []any:
		if depth >= MaxDepth {
			return dst, errTooDeep
		}
		dst = binary.AppendUvarint(append(dst, tagList), uint64(len(x)))
		for i, e := range x {
			var err error
			if dst, err = appendBinary(dst, e, depth+1, canonFloat); err != nil {
				return dst, fmt.Errorf("list element %d: %w", i, err)
			}
		}
		return dst, nil
	case map[string]any:
		if depth >= MaxDepth {
			return dst, errTooDeep
		}
		dst = binary.AppendUvarint(append(dst, tagMap), uint64(len(x)))
		var buf [16]string
		for _, k := range sortedKeys(x, buf[:0]) {
			dst = binary.AppendUvarint(dst, uint64(len(k)))
			dst = append(dst, k...)
			var err error
			if dst, err = appendBinary(dst, x[k], depth+1, canonFloat); err != nil {
				return dst, fmt.Errorf("map key %q: %w", k, err)
			}
		}
		return dst, nil
	}
	n, err := normalize(v, depth)
	if err != nil {
		return dst, err
	}
	return appendBinary(dst, n, depth, canonFloat)
}

// DecodeBinary decodes one value from the start of src and reports how many
// bytes it used, so that values can be read back to back from a stream.
// It never panics: malformed input, declared lengths larger than the rest of
// src, non-canonical encodings and nesting deeper than MaxDepth are errors.
// Decoded strings do not alias src.
func DecodeBinary(src []byte) (v any, n int, err error) {
	d := decoder{src: src}
	v, err = d.value(0)
	if err != nil {
		return nil, 0, fmt.Errorf("value: decode binary at offset %d: %w", d.pos, err)
	}
	return v, d.pos, nil
}

type decoder struct {
	src []byte
	pos int
}

func (d *decoder) value(depth int) (any, error) {
	if d.pos >= len(d.src) {
		return nil, errTruncated
	}
	tag := d.src[d.pos]
	d.pos++
	switch tag {
	case tagNull:
		return nil, nil
	case tagFalse:
		return false, nil
	case tagTrue:
		return true, nil
	case tagInt:
		x, n := binary.Varint(d.src[d.pos:])
		if err := varintErr(n, zigzag(x)); err != nil {
			return nil, fmt.Errorf("int: %w", err)
		}
		d.pos += n
		return int(x), nil
	case tagFloat:
		if len(d.src)-d.pos < 8 {
			return nil, fmt.Errorf("float: %w", errTruncated)
		}
		b := binary.LittleEndian.Uint64(d.src[d.pos:])
		d.pos += 8
		return math.Float64frombits(b), nil
	case tagString:
		s, err := d.string()
		if err != nil {
			return nil, fmt.Errorf("string: %w", err)
		}
		return s, nil
	case tagList:
		if depth >= MaxDepth {
			return nil, errTooDeep
		}
		// Every element takes at least its tag byte.
		n, err := d.length(1)
		if err != nil {
			return nil, fmt.Errorf("list length: %w", err)
		}
		list := make([]any, n)
		for i := range list {
			if list[i], err = d.value(depth + 1); err != nil {
				return nil, fmt.Errorf("list element %d: %w", i, err)
			}
		}
		return list, nil
	case tagMap:
		if depth >= MaxDepth {
			return nil, errTooDeep
		}
		// Every entry takes at least a key length byte and a value tag.
		n, err := d.length(2)
		if err != nil {
			return nil, fmt.Errorf("map length: %w", err)
		}
		m := make(map[string]any, n)
		prev := ""
		for i := range n {
			k, err := d.string()
			if err != nil {
				return nil, fmt.Errorf("map key %d: %w", i, err)
			}
			// Sorted, unique keys keep the encoding canonical and reject
			// duplicates that would otherwise silently overwrite.
			if i > 0 && k <= prev {
				return nil, fmt.Errorf("map key %q not after %q", k, prev)
			}
			if m[k], err = d.value(depth + 1); err != nil {
				return nil, fmt.Errorf("map key %q: %w", k, err)
			}
			prev = k
		}
		return m, nil
	}
	d.pos--
	return nil, fmt.Errorf("unknown tag 0x%02x", tag)
}

func (d *decoder) string() (string, error) {
	n, err := d.length(1)
	if err != nil {
		return "", err
	}
	s := string(d.src[d.pos : d.pos+n])
	d.pos += n
	return s, nil
}

// length reads a count of items that each occupy at least minSize bytes and
// rejects counts the remaining input cannot hold, so that a hostile length
// cannot make the decoder allocate more than a small multiple of len(src).
func (d *decoder) length(minSize int) (int, error) {
	x, n := binary.Uvarint(d.src[d.pos:])
	if err := varintErr(n, x); err != nil {
		return 0, err
	}
	d.pos += n
	if rest := len(d.src) - d.pos; x > uint64(rest/minSize) {
		return 0, fmt.Errorf("declared length %d exceeds the %d bytes left", x, rest)
	}
	return int(x), nil
}

// varintErr interprets the byte count returned by binary.Uvarint/Varint and
// rejects overlong encodings, which would give a value a second encoding.
func varintErr(n int, ux uint64) error {
	switch {
	case n == 0:
		return errTruncated
	case n < 0:
		return errors.New("varint overflows 64 bits")
	case n != uvarintLen(ux):
		return errors.New("overlong varint")
	}
	return nil
}

func uvarintLen(x uint64) int {
	return (bits.Len64(x|1) + 6) / 7
}

func zigzag(x int64) uint64 {
	return uint64(x<<1) ^ uint64(x>>63)
}
