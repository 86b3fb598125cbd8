package builtin

import (
	"errors"
	"fmt"
	"time"

	"github.com/weirstream/weir/flow"
	"github.com/weirstream/weir/operator"
	"github.com/weirstream/weir/operator/window"
	"github.com/weirstream/weir/value"
)

// aggregate is window's aggregation over canonical values: keys from an expression, functions from the
// functions parameter, and results as maps {key, start, end, <field>: value, …}.
type aggregate struct {
	w     window.Window
	key   *Expr // nil: one global key
	fs    []aggFunc
	merge bool // every function can merge
	clock func() time.Time
}

func buildAggregate(clock func() time.Time) func(cfg operator.Config) (operator.Factory, error) {
	return func(cfg operator.Config) (operator.Factory, error) {
		w, err := aggregateWindow(cfg)
		if err != nil {
			return nil, err
		}
		a := &aggregate{w: w, merge: true, clock: clock}
		if cfg.Has("key") {
			if a.key, err = compileParam(cfg, "key"); err != nil {
				return nil, err
			}
		}
		if a.fs, err = parseFunctions(cfg.Value("functions")); err != nil {
			return nil, fmt.Errorf("aggregate parameter functions: %w", err)
		}
		for _, f := range a.fs {
			a.merge = a.merge && f.op != fnReduce
		}
		if _, err := a.node(); err != nil { // the checks window makes per instance, once now
			return nil, fmt.Errorf("aggregate: %w", err)
		}
		return operator.NewFactory(anyType, []flow.Type{anyType}, func(operator.Info) (operator.Node, error) {
			return a.node()
		}), nil
	}
}

// aggregateWindow reads the window parameters, explaining mistakes in their terms.
func aggregateWindow(cfg operator.Config) (window.Window, error) {
	w := window.Window{
		Kind: cfg.String("window"), Size: cfg.Int("size"), Duration: cfg.Duration("duration"),
		Slide: cfg.Int("slide"), SlideDuration: cfg.Duration("every"),
	}
	var err error
	switch {
	case w.Kind != window.KindTumbling && w.Kind != window.KindSliding:
		err = fmt.Errorf("window: %q, use tumbling or sliding", w.Kind)
	case cfg.Has("size") == cfg.Has("duration"):
		err = errors.New("give size (a count window: tuples per key) or duration (a time window), one of them")
	case w.Kind == window.KindTumbling && (cfg.Has("slide") || cfg.Has("every")):
		err = errors.New("a tumbling window does not slide: drop slide and every, or make it window: sliding")
	case cfg.Has("size") && cfg.Has("every"):
		err = errors.New("a count window (size) slides by slide, a number of tuples; every is for time windows")
	case cfg.Has("duration") && cfg.Has("slide"):
		err = errors.New("a time window (duration) slides by every, a duration; slide is for count windows")
	case w.Kind == window.KindSliding && cfg.Has("size") && !cfg.Has("slide"):
		err = errors.New("a sliding count window needs slide: the number of tuples of a key between results")
	case w.Kind == window.KindSliding && cfg.Has("duration") && !cfg.Has("every"):
		err = errors.New("a sliding time window needs every: the time between results")
	default:
		err = w.Validate()
	}
	if err != nil {
		return w, fmt.Errorf("aggregate window: %w", err)
	}
	return w, nil
}

// node makes one instance, with a Machine of its own.
func (a *aggregate) node() (operator.Node, error) {
	m := NewMachine()
	fs := &funcs{fs: a.fs, m: m}
	var agg window.Aggregation[any, []cell, []any] = fs
	if a.merge {
		agg = mergeableFuncs{fs}
	}
	cfg := window.Config[any, any, []cell, []any]{
		Window: a.w, Agg: agg, Codec: cellCodec{len(a.fs)}, Clock: a.clock,
	}
	if a.key != nil {
		cfg.Key = func(t any) (any, error) {
			v, err := m.Eval(a.key, t)
			if err != nil {
				return nil, evalErr("aggregate key", err, t)
			}
			return keyIndex(v)
		}
	}
	return window.NewNode(cfg, a.result)
}

// result turns a window's result into the tuple emitted.
func (a *aggregate) result(r window.Result[any, []any]) (any, error) {
	out := make(map[string]any, len(a.fs)+3)
	if a.key != nil {
		out["key"] = keyValue(r.Key)
	}
	if a.w.IsTime() {
		out["start"] = r.StartTime().Format(time.RFC3339Nano)
		out["end"] = r.EndTime().Format(time.RFC3339Nano)
	} else {
		out["start"], out["end"] = int(r.Start), int(r.End)
	}
	for i, f := range a.fs {
		out[f.name] = r.Value[i]
	}
	return out, nil
}

// cellCodec encodes keys and accumulators as canonical values (package value).
type cellCodec struct{ n int }

func (cellCodec) AppendKey(dst []byte, k any) ([]byte, error) {
	return value.AppendBinary(dst, keyValue(k))
}

func (cellCodec) DecodeKey(data []byte) (any, error) {
	v, n, err := value.DecodeBinary(data)
	if err == nil && n != len(data) {
		err = errors.New("bad key")
	}
	if err != nil {
		return nil, err
	}
	return keyIndex(v)
}

func (c cellCodec) AppendAcc(dst []byte, acc []cell) ([]byte, error) { return encodeCells(dst, acc) }
func (c cellCodec) DecodeAcc(data []byte) ([]cell, error)            { return decodeCells(data, c.n) }
