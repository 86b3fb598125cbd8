package topology

import (
	"reflect"
	"testing"
)

// A plan that travels (to Raft, to other nodes) comes back with the same canonical parameter values.
func TestEncodeDecodeKeepsCanonicalConfig(t *testing.T) {
	p := &Plan{Name: "j", Operators: []Operator{{
		Name: "seq", Kind: "sequence", Out: []string{"any"}, Parallel: -1,
		Config: map[string]any{"count": 100000, "rate": 2.5, "name": "x", "on": true,
			"list": []any{1, "a"}, "map": map[string]any{"k": -3}},
	}}}
	b, err := p.Encode()
	if err != nil {
		t.Fatal(err)
	}
	q, err := DecodePlan(b)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(p.Operators[0].Config, q.Operators[0].Config) {
		t.Fatalf("config %#v came back as %#v", p.Operators[0].Config, q.Operators[0].Config)
	}
	f1, _ := p.Fingerprint()
	f2, _ := q.Fingerprint()
	if f1 != f2 {
		t.Fatalf("fingerprint changed across a round trip: %s, %s", f1, f2)
	}
}
