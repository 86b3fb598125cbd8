package executor

import (
	"encoding/binary"
	"errors"
	"fmt"
	"maps"
	"slices"
)

// A PE's checkpoint is one blob: the state of each of its stateful instances, by instance ID.
// Format: "WPE1", count (uvarint), then per entry: ID length, ID, state length, state (uvarints).

var blobMagic = []byte("WPE1")

func encodeBlob(states map[string][]byte) []byte {
	b := append([]byte(nil), blobMagic...)
	b = binary.AppendUvarint(b, uint64(len(states)))
	for _, id := range slices.Sorted(maps.Keys(states)) {
		b = binary.AppendUvarint(b, uint64(len(id)))
		b = append(b, id...)
		b = binary.AppendUvarint(b, uint64(len(states[id])))
		b = append(b, states[id]...)
	}
	return b
}

var errBlob = errors.New("malformed PE checkpoint")

func decodeBlob(b []byte) (map[string][]byte, error) {
	if len(b) < len(blobMagic) || string(b[:len(blobMagic)]) != string(blobMagic) {
		return nil, fmt.Errorf("%w: bad magic", errBlob)
	}
	b = b[len(blobMagic):]
	next := func() ([]byte, error) {
		n, k := binary.Uvarint(b)
		if k <= 0 || n > uint64(len(b)-k) {
			return nil, fmt.Errorf("%w: truncated", errBlob)
		}
		v := b[k : k+int(n)]
		b = b[k+int(n):]
		return v, nil
	}
	count, k := binary.Uvarint(b)
	if k <= 0 || count > uint64(len(b)) {
		return nil, fmt.Errorf("%w: bad count", errBlob)
	}
	b = b[k:]
	states := make(map[string][]byte, count)
	for i := uint64(0); i < count; i++ {
		id, err := next()
		if err != nil {
			return nil, err
		}
		data, err := next()
		if err != nil {
			return nil, err
		}
		states[string(id)] = slices.Clone(data)
	}
	if len(b) != 0 {
		return nil, fmt.Errorf("%w: %d trailing bytes", errBlob, len(b))
	}
	return states, nil
}
