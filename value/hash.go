package value

import (
	"math"
	"slices"
)

const (
	fnvOffset64 = 14695981039346656037
	fnvPrime64  = 1099511628211

	// canonicalNaN is the bit pattern of math.NaN(); every NaN hashes and
	// keys as this one because Equal treats all NaNs as equal.
	canonicalNaN = 0x7FF8000000000001
)

// Hash returns a hash of v that is identical in every process and run, so
// that producers on different nodes route equal values to the same
// partition. Equal values hash equally: maps are hashed in sorted key order,
// -0 hashes as +0 and all NaNs hash alike. It does not allocate for scalars.
//
// The result is FNV-1a over a canonical byte form followed by the murmur3
// finalizer; the finalizer matters because routing takes Hash(v) % width and
// plain FNV-1a leaves the low bits of short inputs poorly mixed.
func Hash(v any) uint64 {
	return fmix64(hashValue(fnvOffset64, v, 0))
}

func hashValue(h uint64, v any, depth int) uint64 {
	switch x := v.(type) {
	case nil:
		return hashByte(h, tagNull)
	case bool:
		if x {
			return hashByte(h, tagTrue)
		}
		return hashByte(h, tagFalse)
	case int:
		return hashUint64(hashByte(h, tagInt), uint64(x))
	case float64:
		return hashUint64(hashByte(h, tagFloat), canonicalBits(x))
	case string:
		return hashString(hashByte(h, tagString), x)
	case []any:
		if depth >= MaxDepth {
			return hashByte(h, tagInvalid)
		}
		h = hashUint64(hashByte(h, tagList), uint64(len(x)))
		for _, e := range x {
			h = hashValue(h, e, depth+1)
		}
		return h
	case map[string]any:
		if depth >= MaxDepth {
			return hashByte(h, tagInvalid)
		}
		h = hashUint64(hashByte(h, tagMap), uint64(len(x)))
		var buf [16]string
		for _, k := range sortedKeys(x, buf[:0]) {
			h = hashString(h, k)
			h = hashValue(h, x[k], depth+1)
		}
		return h
	}
	n, err := normalize(v, depth)
	if err != nil {
		// Hash has no error result; values outside the domain still get a
		// deterministic hash, distinct from every canonical value.
		return hashString(hashByte(h, tagInvalid), TypeName(v))
	}
	return hashValue(h, n, depth)
}

func hashByte(h uint64, b byte) uint64 {
	return (h ^ uint64(b)) * fnvPrime64
}

// hashUint64 feeds x little-endian so the result does not depend on the
// host byte order.
func hashUint64(h, x uint64) uint64 {
	for range 8 {
		h = (h ^ (x & 0xff)) * fnvPrime64
		x >>= 8
	}
	return h
}

// hashString prefixes the length so that adjacent strings in a list or map
// cannot trade bytes and collide.
func hashString(h uint64, s string) uint64 {
	h = hashUint64(h, uint64(len(s)))
	for i := 0; i < len(s); i++ {
		h = (h ^ uint64(s[i])) * fnvPrime64
	}
	return h
}

func fmix64(k uint64) uint64 {
	k ^= k >> 33
	k *= 0xff51afd7ed558ccd
	k ^= k >> 33
	k *= 0xc4ceb9fe1a85ec53
	k ^= k >> 33
	return k
}

// canonicalBits maps floats that Equal considers equal to one bit pattern.
func canonicalBits(f float64) uint64 {
	switch {
	case f == 0:
		return 0
	case f != f:
		return canonicalNaN
	}
	return math.Float64bits(f)
}

// sortedKeys appends the keys of m to buf in sorted order; callers pass a
// stack array so that small maps need no allocation.
func sortedKeys(m map[string]any, buf []string) []string {
	for k := range m {
		buf = append(buf, k)
	}
	slices.Sort(buf)
	return buf
}
