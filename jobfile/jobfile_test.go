package jobfile

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/weirstream/weir/topology"
)

// job joins lines into a job file: line i of the file is lines[i-1].
func job(lines ...string) []byte { return []byte(strings.Join(lines, "\n") + "\n") }

func mustParse(t *testing.T, data []byte, o Options) *topology.Plan {
	t.Helper()
	p, err := Parse("job.yaml", data, o)
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	return p
}

func TestSquaresExample(t *testing.T) {
	const path = "../examples/squares.yaml"
	p, err := Load(path, opts(t))
	if err != nil {
		t.Fatal(err)
	}
	want := &topology.Plan{
		Name:   "squares",
		Origin: topology.Origin{Kind: topology.OriginFile, File: path},
		Params: map[string]string{"count": "100000", "out": "out/squares"},
		Operators: []topology.Operator{
			{
				Name: "sequence", Kind: "sequence", Config: map[string]any{"count": 100000},
				Out: []string{"any"}, Parallel: -1, Where: path + ":8 (step 1: sequence)",
			},
			{
				Name: "map", Kind: "map", Config: map[string]any{"expr": "it * 2"},
				Inputs: []topology.Input{{From: "sequence"}}, In: "any", Out: []string{"any"}, Parallel: 0,
				Where: path + ":13 (step 3: map)",
			},
			{
				Name: "file", Kind: "file", Config: map[string]any{"path": "out/squares", "exactly_once": true},
				Inputs: []topology.Input{{From: "map"}}, In: "any", Parallel: -1,
				Where: path + ":15 (step 5: file)",
			},
		},
		Parallel: []topology.Parallel{{
			ID: 0, Parent: -1, Width: 4, Routing: topology.RoutingHash, Key: "it % 13",
			Where: path + ":10 (step 2: parallel)",
		}},
		Consistent: []topology.Consistent{{
			Starts: []string{"sequence"}, Trigger: topology.TriggerPeriodic, Period: 500 * time.Millisecond,
			DrainTimeout: 180 * time.Second, ResetTimeout: 180 * time.Second, MaxConsecutiveAttempts: 5,
			Where: path + ":5",
		}},
	}
	if !reflect.DeepEqual(p, want) {
		t.Fatalf("plan:\n got %+v\nwant %+v", p, want)
	}
	if err := p.Validate(); err != nil {
		t.Fatal(err)
	}
	regions, err := p.ConsistentRegions()
	if err != nil {
		t.Fatal(err)
	}
	if got := regions[0].Members; !reflect.DeepEqual(got, []string{"sequence", "map", "file"}) {
		t.Fatalf("consistent region members %v", got)
	}
	// The plan encodes, and loading twice gives the same plan.
	fp1, err := p.Fingerprint()
	if err != nil {
		t.Fatal(err)
	}
	p2, _ := Load(path, opts(t))
	if fp2, _ := p2.Fingerprint(); fp1 != fp2 {
		t.Fatalf("fingerprints differ: %s %s", fp1, fp2)
	}
}

func TestParamsTypesAndOverrides(t *testing.T) {
	data := job(
		"name: p",
		"params:",
		"  count: 100000",
		"  out: out/squares",
		"  rate: 2.5",
		"  tag: '007'",
		"  verbose: false",
		"steps:",
		"  - source: sequence",
		"    count: ${count}",
		"    rate: ${rate}",
		"  - map: \"it + ${count}\"", // inside a longer text: textual
		"  - map: \"${count}\"",      // quoted: text
		"  - map: ${tag}",            // the default was quoted: a string
		"  - filter: ${verbose}",
		"  - map: '$${count} stays'",
		"  - sink: file",
		"    path: ${out}/part-${count}.txt",
		"    exactly_once: ${verbose}",
	)
	cfg := func(p *topology.Plan, name, key string) any {
		t.Helper()
		op, ok := p.Operator(name)
		if !ok {
			t.Fatalf("no operator %s", name)
		}
		return op.Config[key]
	}

	p := mustParse(t, data, opts(t))
	checks := []struct {
		op, key string
		want    any
	}{
		{"sequence", "count", 100000},
		{"sequence", "rate", 2.5},
		{"map", "expr", "it + 100000"},
		{"map_2", "expr", "100000"},
		{"map_3", "expr", "007"},
		{"filter", "expr", false},
		{"map_4", "expr", "${count} stays"},
		{"file", "path", "out/squares/part-100000.txt"},
		{"file", "exactly_once", false},
	}
	for _, c := range checks {
		if got := cfg(p, c.op, c.key); !reflect.DeepEqual(got, c.want) {
			t.Errorf("defaults: %s.%s = %#v, want %#v", c.op, c.key, got, c.want)
		}
	}
	wantParams := map[string]string{"count": "100000", "out": "out/squares", "rate": "2.5", "tag": "007", "verbose": "false"}
	if !reflect.DeepEqual(p.Params, wantParams) {
		t.Errorf("params %v", p.Params)
	}

	p = mustParse(t, data, opts(t, "count=5", "out=/tmp/x", "rate=3", "tag=abc", "verbose=true"))
	checks = []struct {
		op, key string
		want    any
	}{
		{"sequence", "count", 5},
		{"sequence", "rate", 3},
		{"map", "expr", "it + 5"},
		{"map_2", "expr", "5"},
		{"map_3", "expr", "abc"},
		{"filter", "expr", true},
		{"file", "path", "/tmp/x/part-5.txt"},
		{"file", "exactly_once", true},
	}
	for _, c := range checks {
		if got := cfg(p, c.op, c.key); !reflect.DeepEqual(got, c.want) {
			t.Errorf("overrides: %s.%s = %#v, want %#v", c.op, c.key, got, c.want)
		}
	}
	wantParams = map[string]string{"count": "5", "out": "/tmp/x", "rate": "3", "tag": "abc", "verbose": "true"}
	if !reflect.DeepEqual(p.Params, wantParams) {
		t.Errorf("params %v", p.Params)
	}
}

func TestParamWithoutDefault(t *testing.T) {
	data := job(
		"name: p",
		"params:",
		"  out:",
		"steps:",
		"  - source: sequence",
		"    count: 3",
		"  - sink: file",
		"    path: ${out}",
	)
	p := mustParse(t, data, opts(t, "out=o.txt"))
	if op, _ := p.Operator("file"); op.Config["path"] != "o.txt" {
		t.Fatalf("path %v", op.Config["path"])
	}
	_, err := Parse("job.yaml", data, opts(t))
	wantProblems(t, err, "job.yaml:3: parameter out has no default: give it a value (-P out=…)")
}

func TestParallelWidthFromParam(t *testing.T) {
	data := job(
		"name: p",
		"params: {width: 3}",
		"steps:",
		"  - source: sequence",
		"    count: 3",
		"  - parallel: ${width}",
		"  - map: it",
		"  - end_parallel",
		"  - sink: stdout",
	)
	p := mustParse(t, data, opts(t))
	if p.Parallel[0].Width != 3 || p.Parallel[0].Routing != topology.RoutingRoundRobin || p.Parallel[0].Key != "" {
		t.Fatalf("region %+v", p.Parallel[0])
	}
	p = mustParse(t, data, opts(t, "width=8"))
	if p.Parallel[0].Width != 8 {
		t.Fatalf("width %d", p.Parallel[0].Width)
	}
}

func TestFanOutAndUnion(t *testing.T) {
	data := job(
		"name: fan",
		"steps:",
		"  - source: sequence",
		"    id: numbers",
		"    count: 10",
		"  - map: it * 2",
		"    id: doubled",
		"  - filter: it % 2 == 1",
		"    from: numbers",
		"    id: odd",
		"  - source: gauss",
		"    count: 5",
		"  - sink: stdout",
		"    from: [doubled, odd, gauss]",
		"  - sink: file",
		"    from: numbers",
		"    path: all.txt",
		"    isolate: true",
	)
	p := mustParse(t, data, opts(t))
	names := opNames(p)
	if want := []string{"numbers", "doubled", "odd", "gauss", "stdout", "file"}; !reflect.DeepEqual(names, want) {
		t.Fatalf("names %v", names)
	}
	inputs := map[string][]topology.Input{
		"doubled": {{From: "numbers"}},
		"odd":     {{From: "numbers"}},
		"stdout":  {{From: "doubled"}, {From: "odd"}, {From: "gauss"}},
		"file":    {{From: "numbers"}},
	}
	for name, want := range inputs {
		op, _ := p.Operator(name)
		if !reflect.DeepEqual(op.Inputs, want) {
			t.Errorf("%s inputs %v, want %v", name, op.Inputs, want)
		}
	}
	if op, _ := p.Operator("file"); !op.Isolate {
		t.Error("file is not isolated")
	}
}

func TestSplitPorts(t *testing.T) {
	data := job(
		"name: split",
		"steps:",
		"  - source: sequence",
		"    count: 10",
		"  - split: it % 3",
		"    ways: 3",
		"    id: parts",
		"  - map: it * 10",
		"    from: parts.1",
		"  - sink: stdout",
		"    from: [parts.0, map, parts.2]",
	)
	p := mustParse(t, data, opts(t))
	parts, _ := p.Operator("parts")
	if !reflect.DeepEqual(parts.Out, []string{"any", "any", "any"}) {
		t.Fatalf("split outs %v", parts.Out)
	}
	if !reflect.DeepEqual(parts.Config, map[string]any{"expr": "it % 3", "ways": 3}) {
		t.Fatalf("split config %v", parts.Config)
	}
	m, _ := p.Operator("map")
	if !reflect.DeepEqual(m.Inputs, []topology.Input{{From: "parts", Port: 1}}) {
		t.Fatalf("map inputs %v", m.Inputs)
	}
	s, _ := p.Operator("stdout")
	want := []topology.Input{{From: "parts", Port: 0}, {From: "map"}, {From: "parts", Port: 2}}
	if !reflect.DeepEqual(s.Inputs, want) {
		t.Fatalf("stdout inputs %v", s.Inputs)
	}

	// ways may come from a param.
	p = mustParse(t, job(
		"name: split",
		"params: {n: 4}",
		"steps:",
		"  - source: sequence",
		"    count: 10",
		"  - split: it % ${n}",
		"    ways: ${n}",
		"  - sink: stdout",
		"    from: split.3",
	), opts(t))
	if sp, _ := p.Operator("split"); len(sp.Out) != 4 {
		t.Fatalf("split outs %v", sp.Out)
	}
}

func TestNestedParallel(t *testing.T) {
	data := job(
		"name: nested",
		"steps:",
		"  - source: sequence",
		"    count: 10",
		"  - parallel: 2",
		"    routing: hash",
		"    key: it % 7",
		"  - map: it",
		"  - parallel: 3",
		"    routing: broadcast",
		"  - filter: true",
		"  - end_parallel",
		"  - dedup",
		"  - end_parallel",
		"  - parallel: 2",
		"  - sink: stdout",
		"  - end_parallel",
	)
	p := mustParse(t, data, opts(t))
	want := []topology.Parallel{
		{ID: 0, Parent: -1, Width: 2, Routing: "hash", Key: "it % 7", Where: "job.yaml:5 (step 2: parallel)"},
		{ID: 1, Parent: 0, Width: 3, Routing: "broadcast", Where: "job.yaml:9 (step 4: parallel)"},
		{ID: 2, Parent: -1, Width: 2, Routing: "round_robin", Where: "job.yaml:15 (step 9: parallel)"},
	}
	if !reflect.DeepEqual(p.Parallel, want) {
		t.Fatalf("regions\n got %+v\nwant %+v", p.Parallel, want)
	}
	regions := map[string]int{"sequence": -1, "map": 0, "filter": 1, "dedup": 0, "stdout": 2}
	for name, r := range regions {
		if op, _ := p.Operator(name); op.Parallel != r {
			t.Errorf("%s in region %d, want %d", name, op.Parallel, r)
		}
	}
	if d, _ := p.Operator("dedup"); d.Config != nil || !reflect.DeepEqual(d.Inputs, []topology.Input{{From: "filter"}}) {
		t.Errorf("dedup %+v", d)
	}
}

func TestNaming(t *testing.T) {
	data := job(
		"name: names",
		"steps:",
		"  - source: file",
		"    path: in.txt",
		"  - map: it",
		"  - map: it",
		"  - map: it",
		"    id: map",
		"  - sink: file",
		"    path: out.txt",
		"  - sink: file",
		"    from: map_2",
		"    path: out2.txt",
	)
	p := mustParse(t, data, opts(t))
	if got, want := opNames(p), []string{"file", "map_2", "map_3", "map", "file_2", "file_3"}; !reflect.DeepEqual(got, want) {
		t.Fatalf("names %v, want %v", got, want)
	}
}

func TestShorthandForms(t *testing.T) {
	data := job(
		"name: forms",
		"params: &common {count: 7}",
		"steps:",
		"  - source: sequence",
		"    <<: *common",
		"    start: 1",
		"  - map: {expr: it * 2}",
		"  - aggregate:",
		"    key: it % 10",
		"    size: 100",
		"    functions: {n: count, total: sum(it)}",
		"  - dedup: {key: it.id, window: 10}",
		"  - split:",
		"      expr: it % 2",
		"    ways: 2",
		"  - sink: verify_order",
		"    from: split.0",
		"  - sink: stdout",
		"    from: split.1",
	)
	p := mustParse(t, data, opts(t))
	configs := map[string]map[string]any{
		"sequence":     {"count": 7, "start": 1},
		"map":          {"expr": "it * 2"},
		"aggregate":    {"key": "it % 10", "size": 100, "functions": map[string]any{"n": "count", "total": "sum(it)"}},
		"dedup":        {"key": "it.id", "window": 10},
		"split":        {"expr": "it % 2", "ways": 2},
		"verify_order": nil,
		"stdout":       nil,
	}
	for name, want := range configs {
		op, ok := p.Operator(name)
		if !ok {
			t.Fatalf("no %s in %v", name, opNames(p))
		}
		if !reflect.DeepEqual(op.Config, want) {
			t.Errorf("%s config %#v, want %#v", name, op.Config, want)
		}
	}
}

func TestConsistentDefaults(t *testing.T) {
	data := job(
		"name: c",
		"consistent:",
		"  period: 2s",
		"steps:",
		"  - source: sequence",
		"    count: 3",
		"    id: a",
		"  - source: gauss",
		"    id: b",
		"  - sink: stdout",
		"    from: [a, b]",
	)
	p := mustParse(t, data, opts(t))
	want := []topology.Consistent{{
		Starts: []string{"a", "b"}, Trigger: topology.TriggerPeriodic, Period: 2 * time.Second,
		DrainTimeout: topology.DefaultDrainTimeout, ResetTimeout: topology.DefaultResetTimeout,
		MaxConsecutiveAttempts: topology.DefaultMaxConsecutiveAttempts, Where: "job.yaml:2",
	}}
	if !reflect.DeepEqual(p.Consistent, want) {
		t.Fatalf("consistent\n got %+v\nwant %+v", p.Consistent, want)
	}

	data = job(
		"name: c",
		"params: {attempts: 9}",
		"consistent:",
		"  trigger: operator_driven",
		"  drain_timeout: 10s",
		"  reset_timeout: 1m",
		"  max_consecutive_attempts: ${attempts}",
		"steps:",
		"  - source: sequence",
		"    count: 3",
		"  - sink: stdout",
	)
	p = mustParse(t, data, opts(t))
	want = []topology.Consistent{{
		Starts: []string{"sequence"}, Trigger: topology.TriggerOperatorDriven,
		DrainTimeout: 10 * time.Second, ResetTimeout: time.Minute, MaxConsecutiveAttempts: 9, Where: "job.yaml:3",
	}}
	if !reflect.DeepEqual(p.Consistent, want) {
		t.Fatalf("consistent\n got %+v\nwant %+v", p.Consistent, want)
	}
}

func TestLoadMissingFile(t *testing.T) {
	_, err := Load(filepath.Join(t.TempDir(), "nope.yaml"), opts(t))
	if err == nil || !strings.Contains(err.Error(), "nope.yaml") {
		t.Fatalf("err %v", err)
	}
}

func TestNoRegistry(t *testing.T) {
	_, err := Parse("job.yaml", job("name: x"), Options{})
	if err == nil || !strings.Contains(err.Error(), "registry") {
		t.Fatalf("err %v", err)
	}
}

// TestExamples loads every example job file against the stand-in registry.
func TestExamples(t *testing.T) {
	files, err := filepath.Glob("../examples/*.yaml")
	if err != nil || len(files) < 3 {
		t.Fatalf("examples: %v %v", files, err)
	}
	for _, f := range files {
		if _, err := Load(f, opts(t)); err != nil {
			t.Errorf("%s: %v", f, err)
		}
		data, _ := os.ReadFile(f)
		if len(data) == 0 {
			t.Errorf("%s is empty", f)
		}
	}
}

func opNames(p *topology.Plan) []string {
	var names []string
	for _, op := range p.Operators {
		names = append(names, op.Name)
	}
	return names
}

func TestScalarTyping(t *testing.T) {
	data := job(
		"name: typing",
		"params:",
		"  day: 2024-01-01",
		"  n: 12",
		"  word: yes",
		"steps:",
		"  - source: sequence",
		"    count: ${n}",
		"  - map: ${day}",            // a date stays the text written
		"  - map: !!str ${n}",        // an explicit tag wins over the param's type
		"  - map: ${word}",           // YAML 1.2: yes is text
		"  - map: 'a $ b $$ c ${n}'", // lone dollars stay
		"  - sink: stdout",
	)
	p := mustParse(t, data, opts(t))
	want := map[string]any{"map": "2024-01-01", "map_2": "12", "map_3": "yes", "map_4": "a $ b $$ c 12"}
	for name, w := range want {
		if op, _ := p.Operator(name); op.Config["expr"] != w {
			t.Errorf("%s expr %#v, want %#v", name, op.Config["expr"], w)
		}
	}
	p = mustParse(t, data, opts(t, "day=2025-02-03T04:05:06Z", "word=", "n=0x10"))
	want = map[string]any{"map": "2025-02-03T04:05:06Z", "map_2": "0x10", "map_3": ""}
	for name, w := range want {
		if op, _ := p.Operator(name); op.Config["expr"] != w {
			t.Errorf("%s expr %#v, want %#v", name, op.Config["expr"], w)
		}
	}
	if op, _ := p.Operator("sequence"); op.Config["count"] != 16 {
		t.Errorf("count %#v", op.Config["count"])
	}
}
