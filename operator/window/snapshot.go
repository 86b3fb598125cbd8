package window

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// The state format: a version byte; the window (String) so that a changed window is refused instead of
// misread; the layout; for time windows the clock; then every key in order with its count and live entries.
// Lengths and integers are varints; keys and accumulators are framed by their length.
const stateVersion = 1

// snapshot encodes the state. Equal states (same history) encode to equal bytes.
func (e *engine[T, K, A, R]) snapshot(c Codec[K, A]) ([]byte, error) {
	b := []byte{stateVersion}
	b = appendBytes(b, []byte(e.w.String()))
	b = append(b, boolByte(e.panes))
	if e.geo.time {
		b = append(b, boolByte(e.started))
		b = binary.AppendVarint(b, e.next)
		b = binary.AppendVarint(b, e.now)
	}
	b = binary.AppendUvarint(b, uint64(len(e.order)))
	var scratch []byte
	var err error
	for _, g := range e.order {
		if scratch, err = c.AppendKey(scratch[:0], g.key); err != nil {
			return nil, e.errorf("checkpoint key %v: %w", g.key, err)
		}
		b = appendBytes(b, scratch)
		b = binary.AppendVarint(b, g.count)
		live := g.live()
		b = binary.AppendUvarint(b, uint64(len(live)))
		for _, en := range live {
			b = binary.AppendVarint(b, en.pos)
			if scratch, err = c.AppendAcc(scratch[:0], en.acc); err != nil {
				return nil, e.errorf("checkpoint accumulator of key %v: %w", g.key, err)
			}
			b = appendBytes(b, scratch)
		}
	}
	return b, nil
}

// restore replaces the (fresh) engine's state with the one data encodes.
func (e *engine[T, K, A, R]) restore(data []byte, c Codec[K, A]) error {
	r := reader{b: data}
	if v := r.byte(); r.err == nil && v != stateVersion {
		return e.errorf("restore: state version %d, this build reads %d", v, stateVersion)
	}
	if saved := string(r.bytes()); r.err == nil && saved != e.w.String() {
		return e.errorf("restore: the state was saved by a %s window; change the operator's name to start afresh", saved)
	}
	if panes := r.byte() == 1; r.err == nil && panes != e.panes {
		return e.errorf("restore: the state was saved for an aggregation that %s merge", map[bool]string{true: "could", false: "could not"}[panes])
	}
	if e.geo.time {
		e.started = r.byte() == 1
		e.next, e.now = r.varint(), r.varint()
	}
	n := r.count()
	for i := 0; i < n && r.err == nil; i++ {
		kb := r.bytes()
		if r.err != nil {
			break
		}
		k, err := c.DecodeKey(kb)
		if err != nil {
			return e.errorf("restore key: %w", err)
		}
		if _, dup := e.groups[k]; dup {
			return e.errorf("restore: key %v appears twice", k)
		}
		g := e.group(k)
		g.count = r.varint()
		m := r.count()
		g.ents = make([]entry[A], 0, m)
		for j := 0; j < m && r.err == nil; j++ {
			pos := r.varint()
			ab := r.bytes()
			if r.err != nil {
				break
			}
			acc, err := c.DecodeAcc(ab)
			if err != nil {
				return e.errorf("restore accumulator of key %v: %w", k, err)
			}
			g.ents = append(g.ents, entry[A]{pos: pos, acc: acc})
		}
		g.dirty = true // the pane aggregates are rebuilt on first use
		if e.geo.time && g.empty() && r.err == nil {
			return e.errorf("restore: key %v has no window", k)
		}
	}
	if r.err == nil && len(r.b) != 0 {
		r.err = fmt.Errorf("%d bytes left over", len(r.b))
	}
	if r.err != nil {
		return e.errorf("restore: bad state: %w", r.err)
	}
	return nil
}

func boolByte(b bool) byte {
	if b {
		return 1
	}
	return 0
}

func appendBytes(b, p []byte) []byte {
	return append(binary.AppendUvarint(b, uint64(len(p))), p...)
}

// reader decodes the state format; the first error sticks and later reads return zeros.
type reader struct {
	b   []byte
	err error
}

var errTruncated = errors.New("truncated")

func (r *reader) fail(err error) {
	if r.err == nil {
		r.err = err
	}
	r.b = nil
}

func (r *reader) byte() byte {
	if len(r.b) == 0 {
		r.fail(errTruncated)
		return 0
	}
	v := r.b[0]
	r.b = r.b[1:]
	return v
}

func (r *reader) varint() int64 {
	v, n := binary.Varint(r.b)
	if n <= 0 {
		r.fail(errTruncated)
		return 0
	}
	r.b = r.b[n:]
	return v
}

func (r *reader) uvarint() uint64 {
	v, n := binary.Uvarint(r.b)
	if n <= 0 {
		r.fail(errTruncated)
		return 0
	}
	r.b = r.b[n:]
	return v
}

// count reads a length that cannot exceed the bytes left (each element takes at least one byte).
func (r *reader) count() int {
	v := r.uvarint()
	if v > uint64(len(r.b)) {
		r.fail(fmt.Errorf("count %d exceeds the %d bytes left", v, len(r.b)))
		return 0
	}
	return int(v)
}

func (r *reader) bytes() []byte {
	n := r.count()
	p := r.b[:n:n]
	r.b = r.b[n:]
	return p
}
