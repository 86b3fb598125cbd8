package operator

import (
	"fmt"
	"reflect"

	"github.com/hashicorp/go-msgpack/v2/codec"
)

// stateHandle encodes the default state: a struct's exported fields.
var stateHandle = func() *codec.MsgpackHandle {
	h := &codec.MsgpackHandle{WriteExt: true}
	h.MapValueReset = true
	h.SliceElementReset = true
	return h
}()

// State takes and restores the state of one user operator value.
type State struct {
	v      any
	snap   Snapshotter
	rv     reflect.Value // pointer to struct, when the state is its exported fields
	fields []int
}

// StateOf finds how v keeps its state: through Snapshot/Restore, through the exported fields of the struct v
// points to, or not at all (functions, values, structs without exported fields).
func StateOf(v any) State {
	if s, ok := v.(Snapshotter); ok {
		return State{v: v, snap: s}
	}
	rv := reflect.ValueOf(v)
	if rv.Kind() != reflect.Pointer || rv.IsNil() || rv.Elem().Kind() != reflect.Struct {
		return State{v: v}
	}
	var fields []int
	st := rv.Elem().Type()
	for i := 0; i < st.NumField(); i++ {
		if st.Field(i).IsExported() {
			fields = append(fields, i)
		}
	}
	if len(fields) == 0 {
		return State{v: v}
	}
	return State{v: v, rv: rv, fields: fields}
}

// Stateful reports whether there is any state to keep.
func (s State) Stateful() bool { return s.snap != nil || s.fields != nil }

// Snapshot encodes the state; nil when stateless.
func (s State) Snapshot() ([]byte, error) {
	switch {
	case s.snap != nil:
		b, err := s.snap.Snapshot()
		if err != nil {
			return nil, fmt.Errorf("snapshot %T: %w", s.v, err)
		}
		if b == nil {
			b = []byte{}
		}
		return b, nil
	case s.fields != nil:
		var b []byte
		if err := codec.NewEncoderBytes(&b, stateHandle).Encode(s.rv.Interface()); err != nil {
			return nil, fmt.Errorf("snapshot %T (exported fields; implement Snapshotter for other state): %w", s.v, err)
		}
		return b, nil
	}
	return nil, nil
}

// Restore sets the state from data made by Snapshot. Fields absent from data end up zero, so that a restore
// never mixes two states.
func (s State) Restore(data []byte) error {
	switch {
	case s.snap != nil:
		if err := s.snap.Restore(data); err != nil {
			return fmt.Errorf("restore %T: %w", s.v, err)
		}
	case s.fields != nil:
		fresh := reflect.New(s.rv.Elem().Type())
		if err := codec.NewDecoderBytes(data, stateHandle).Decode(fresh.Interface()); err != nil {
			return fmt.Errorf("restore %T: %w", s.v, err)
		}
		dst, src := s.rv.Elem(), fresh.Elem()
		for _, i := range s.fields {
			dst.Field(i).Set(src.Field(i))
		}
	}
	return nil
}

// Clone makes the copy of a user operator value that one channel runs: a shallow copy of the struct whose
// state is deep-copied from the template's, the way a Python operator is pickled into each channel. What is
// not state should be created in Open. Values that are not pointers to structs are shared as they are.
func Clone(template any) (any, error) {
	rv := reflect.ValueOf(template)
	if rv.Kind() != reflect.Pointer || rv.IsNil() || rv.Elem().Kind() != reflect.Struct {
		return template, nil
	}
	cp := reflect.New(rv.Elem().Type())
	cp.Elem().Set(rv.Elem())
	v := cp.Interface()
	src := StateOf(template)
	if !src.Stateful() {
		return v, nil
	}
	data, err := src.Snapshot()
	if err != nil {
		return nil, err
	}
	if err := StateOf(v).Restore(data); err != nil {
		return nil, err
	}
	return v, nil
}
