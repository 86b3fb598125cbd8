package builtin

import (
	"errors"
	"fmt"
	"time"

	"github.com/weirstream/weir/operator"
	"github.com/weirstream/weir/value"
)

// dedup passes a tuple on only if its key was not seen within its memory: the last `limit` distinct keys,
// and/or the keys first seen less than ttl ago. A key is remembered from its first sighting; seeing it again
// does not renew it. Its memory is its state (Snapshotter), so a replay after a reset drops the duplicates
// of what was already passed on before the checkpoint.
type dedup struct {
	key   *Expr
	limit int           // 0: no bound on the number of keys
	ttl   time.Duration // 0: keys do not expire
	clock func() time.Time

	m    *Machine
	seen map[any]struct{} // value.Key of the keys in fifo
	fifo []seenKey        // oldest first, live from head
	head int
}

type seenKey struct {
	key, idx any // the key's value (for checkpoints) and its value.Key
	at       int64
}

func buildDedup(clock func() time.Time) func(cfg operator.Config) (operator.Factory, error) {
	return func(cfg operator.Config) (operator.Factory, error) {
		e, err := compileParam(cfg, "key")
		if err != nil {
			return nil, err
		}
		d := &dedup{key: e, limit: cfg.Int("window"), ttl: cfg.Duration("ttl"), clock: clock}
		switch {
		case d.limit < 0:
			return nil, fmt.Errorf("dedup parameter window: %d keys, it cannot be negative", d.limit)
		case d.ttl < 0:
			return nil, fmt.Errorf("dedup parameter ttl: %s, it cannot be negative", d.ttl)
		case !cfg.Has("window") && d.ttl == 0:
			d.limit = defaultDedupWindow
		case cfg.Has("window") && d.limit == 0 && d.ttl == 0:
			return nil, errors.New("dedup parameter window: 0 would remember every key forever; give a window or a ttl")
		}
		d.reset()
		return operator.FilterOf[any](d), nil
	}
}

const defaultDedupWindow = 10000

func (d *dedup) reset() {
	d.seen = make(map[any]struct{})
	d.fifo, d.head = nil, 0
}

func (d *dedup) Filter(t any) (bool, error) {
	if d.m == nil {
		d.m = NewMachine()
	}
	k, err := d.m.Eval(d.key, t)
	if err != nil {
		return false, evalErr("dedup", err, t)
	}
	var now int64
	if d.ttl > 0 {
		now = d.clock().UnixNano()
		for d.head < len(d.fifo) && now-d.fifo[d.head].at >= int64(d.ttl) {
			d.forget()
		}
	}
	idx := value.Key(k)
	if _, dup := d.seen[idx]; dup {
		return false, nil
	}
	d.seen[idx] = struct{}{}
	d.fifo = append(d.fifo, seenKey{key: k, idx: idx, at: now})
	if d.limit > 0 && len(d.seen) > d.limit {
		d.forget()
	}
	return true, nil
}

// forget drops the oldest key.
func (d *dedup) forget() {
	delete(d.seen, d.fifo[d.head].idx)
	d.fifo[d.head] = seenKey{}
	d.head++
	if d.head >= 1024 && 2*d.head >= len(d.fifo) {
		n := copy(d.fifo, d.fifo[d.head:])
		clear(d.fifo[n:])
		d.fifo, d.head = d.fifo[:n], 0
	}
}

// Snapshot encodes the remembered keys, oldest first, as a canonical list [key, time, key, time, …].
func (d *dedup) Snapshot() ([]byte, error) {
	live := d.fifo[d.head:]
	list := make([]any, 0, 2*len(live))
	for _, s := range live {
		list = append(list, s.key, int(s.at))
	}
	b, err := value.AppendBinary(nil, list)
	if err != nil {
		return nil, fmt.Errorf("dedup: %w", err)
	}
	return b, nil
}

// Restore replaces the memory (never the template's maps: instances are shallow copies).
func (d *dedup) Restore(data []byte) error {
	v, n, err := value.DecodeBinary(data)
	if err != nil {
		return fmt.Errorf("dedup: bad state: %w", err)
	}
	list, ok := v.([]any)
	if !ok || n != len(data) || len(list)%2 != 0 {
		return errors.New("dedup: bad state: not a list of keys and times")
	}
	d.reset()
	d.fifo = make([]seenKey, 0, len(list)/2)
	for i := 0; i < len(list); i += 2 {
		at, ok := list[i+1].(int)
		if !ok {
			return errors.New("dedup: bad state: a time is not an int")
		}
		idx := value.Key(list[i])
		d.seen[idx] = struct{}{}
		d.fifo = append(d.fifo, seenKey{key: list[i], idx: idx, at: int64(at)})
	}
	return nil
}
