package builtin

import (
	"slices"
	"testing"
	"time"

	"github.com/weirstream/weir/operator"
	"github.com/weirstream/weir/topology"
	"github.com/weirstream/weir/value"
)

// minimal are valid parameters for every kind.
var minimal = map[string]map[string]any{
	"source/sequence":    {"count": 3},
	"source/gauss":       {"count": 3},
	"source/file":        {"path": "x"},
	"transform/map":      {"expr": "it"},
	"transform/filter":   {"expr": "true"},
	"transform/flat_map": {"expr": "[it]"},
	"transform/aggregate": {
		"size": 3, "functions": map[string]any{"n": "count"},
	},
	"transform/dedup":   {},
	"transform/split":   {"expr": "0", "ways": 2},
	"sink/stdout":       {},
	"sink/file":         {"path": "out"},
	"sink/verify_order": {},
}

func TestRegistry(t *testing.T) {
	r := NewRegistry()
	for role, want := range map[operator.Role][]string{
		operator.RoleSource:    {"file", "gauss", "sequence"},
		operator.RoleTransform: {"aggregate", "dedup", "filter", "flat_map", "map", "split"},
		operator.RoleSink:      {"file", "stdout", "verify_order"},
	} {
		if got := r.Kinds(role); !slices.Equal(got, want) {
			t.Errorf("%s kinds %v, want %v", role, got, want)
		}
	}
	if err := Register(r); err == nil {
		t.Error("registered twice")
	}
	for _, s := range r.Specs() {
		key := string(s.Role) + "/" + s.Kind
		if s.Summary == "" {
			t.Errorf("%s has no summary", key)
		}
		names := map[string]bool{}
		for _, p := range s.Params {
			names[p.Name] = true
			if len(p.Doc) < 20 {
				t.Errorf("%s parameter %s: doc %q", key, p.Name, p.Doc)
			}
			if p.Default != nil {
				if p.Required {
					t.Errorf("%s parameter %s: required with a default", key, p.Name)
				}
				if !defaultFits(p.Type, p.Default) {
					t.Errorf("%s parameter %s: default %T is not a %s", key, p.Name, p.Default, p.Type)
				}
			}
		}
		if s.Primary != "" && !names[s.Primary] {
			t.Errorf("%s: primary %q is not a parameter", key, s.Primary)
		}
		raw, ok := minimal[key]
		if !ok {
			t.Errorf("no minimal parameters for %s", key)
			continue
		}
		cfg, err := s.Configure(raw)
		if err != nil {
			t.Errorf("%s: %v", key, err)
			continue
		}
		f, err := s.Build(cfg)
		if err != nil {
			t.Errorf("%s: %v", key, err)
			continue
		}
		switch s.Role {
		case operator.RoleSource:
			if f.In() != nil || len(f.Outs()) != 1 || f.Outs()[0] != anyType {
				t.Errorf("%s types: %v %v", key, f.In(), f.Outs())
			}
		case operator.RoleTransform:
			if f.In() != anyType || len(f.Outs()) == 0 || f.Outs()[0] != anyType {
				t.Errorf("%s types: %v %v", key, f.In(), f.Outs())
			}
		case operator.RoleSink:
			if f.In() != anyType || f.Outs() != nil {
				t.Errorf("%s types: %v %v", key, f.In(), f.Outs())
			}
		}
	}
}

func defaultFits(t operator.ParamType, v any) bool {
	switch v.(type) {
	case int:
		return t == operator.ParamInt
	case float64:
		return t == operator.ParamFloat
	case bool:
		return t == operator.ParamBool
	case string:
		return t == operator.ParamString || t == operator.ParamExpr
	case time.Duration:
		return t == operator.ParamDuration
	}
	return t == operator.ParamAny
}

func TestBinding(t *testing.T) {
	b := Binding(NewRegistry())
	src := &topology.Operator{Name: "nums", Kind: "sequence", Config: map[string]any{"count": 3}, Out: []string{"any"}, Where: "job.yaml:3"}
	f, err := b.Factory(src)
	if err != nil || f.In() != nil {
		t.Fatalf("source: %v %v", f, err)
	}
	in := []topology.Input{{From: "nums"}}
	sink := &topology.Operator{Name: "out", Kind: "file", Config: map[string]any{"path": "x"}, Inputs: in, In: "any"}
	if f, err := b.Factory(sink); err != nil || f.Outs() != nil {
		t.Fatalf("sink: %v %v", f, err)
	}
	tr := &topology.Operator{Name: "double", Kind: "map", Config: map[string]any{"expr": "it * 2"}, Inputs: in, In: "any", Out: []string{"any"}}
	if f, err := b.Factory(tr); err != nil || f.In() != anyType {
		t.Fatalf("transform: %v %v", f, err)
	}
	if Role(tr) != operator.RoleTransform || Role(sink) != operator.RoleSink || Role(src) != operator.RoleSource {
		t.Error("roles")
	}

	_, err = b.Factory(&topology.Operator{Name: "x", Kind: "mapp", Inputs: in, Out: []string{"any"}, Where: "job.yaml:7 (step 2)"})
	wantErr(t, err, "job.yaml:7 (step 2): operator x: unknown transform operator \"mapp\"", "aggregate, dedup, filter, flat_map, map, split")
	_, err = b.Factory(&topology.Operator{Name: "x", Kind: "map", Config: map[string]any{"expr": "it *"}, Inputs: in, Out: []string{"any"}, Where: "job.yaml:9"})
	wantErr(t, err, `job.yaml:9: operator x: map parameter expr: expression "it *": unexpected token EOF (1:4)`)
	_, err = b.Factory(&topology.Operator{Name: "x", Kind: "sequence", Config: map[string]any{"count": 1, "speed": 2}})
	wantErr(t, err, `operator x: sequence has no parameter "speed" (its parameters: count, start, rate, trigger_every)`)

	h, err := b.KeyHash(&topology.Parallel{Key: "it.user"})
	if err != nil {
		t.Fatal(err)
	}
	if h.(func(any) uint64)(map[string]any{"user": "ann"}) != value.Hash("ann") {
		t.Error("key hash")
	}
	_, err = b.KeyHash(&topology.Parallel{ID: 1, Key: "it.", Where: "job.yaml:12"})
	wantErr(t, err, "job.yaml:12: parallel region 1: hash key: expression \"it.\"")
}
