package jobfile

import (
	"errors"
	"strings"
	"testing"

	"github.com/weirstream/weir/topology"
)

// wantProblems checks that err is a topology.Problems holding, for each want, a message that contains it.
func wantProblems(t *testing.T, err error, wants ...string) {
	t.Helper()
	if err == nil {
		t.Fatalf("no error; want %q", wants)
	}
	var ps topology.Problems
	if !errors.As(err, &ps) {
		t.Fatalf("error %T is not a topology.Problems: %v", err, err)
	}
next:
	for _, w := range wants {
		for _, p := range ps {
			if strings.Contains(p, w) {
				continue next
			}
		}
		t.Errorf("no problem contains %q; got:\n  %s", w, strings.Join(ps, "\n  "))
	}
}

// header is the start of most test jobs: lines 1-2.
var header = []string{"name: bad", "steps:"}

func steps(lines ...string) []byte { return job(append(header, lines...)...) }

func TestErrors(t *testing.T) {
	cases := []struct {
		name   string
		data   []byte
		params []string
		wants  []string
	}{
		{"yaml syntax", job("name: x", "steps:", "  - source: sequence", `    count: "1`),
			nil, []string{"job.yaml:4: found unexpected end of stream"}},
		{"yaml tab", job("name: x", "steps:", "\t- map: it"),
			nil, []string{"job.yaml:3: found character that cannot start any token"}},
		{"empty", []byte(""), nil, []string{"job.yaml: the job file is empty"}},
		{"comment only", []byte("# nothing\n"), nil, []string{"job.yaml: the job file is empty"}},
		{"two documents", job("name: x", "---", "name: y"), nil, []string{"job.yaml:2: a job file holds one YAML document"}},
		{"not a mapping", job("- source: sequence"), nil, []string{"job.yaml:1: a job file is a mapping"}},
		{"unknown top key", job("name: x", "stepz: []", "steps:", "  - source: gauss", "  - sink: stdout"),
			nil, []string{`job.yaml:2: unknown key "stepz" (a job file has: name, description, params, consistent, steps)`}},
		{"no name", job("steps:", "  - source: gauss", "  - sink: stdout"), nil, []string{"job.yaml:1: the job needs a name"}},
		{"bad name", job("name: a b", "steps:", "  - source: gauss", "  - sink: stdout"), nil, []string{`job.yaml:1: job name "a b" may hold only`}},
		{"no steps", job("name: x"), nil, []string{"job.yaml:1: the job has no steps"}},
		{"empty steps", job("name: x", "steps: []"), nil, []string{"job.yaml:2: the job has no steps"}},
		{"steps not a list", job("name: x", "steps: {a: 1}"), nil, []string{"job.yaml:2: steps must be a list"}},
		{"duplicate top key", job("name: x", "name: y", "steps:", "  - source: gauss", "  - sink: stdout"),
			nil, []string{`job.yaml:2: duplicate key "name" (first at line 1)`}},
		{"duplicate step key", steps("  - source: sequence", "    count: 1", "    count: 2", "  - sink: stdout"),
			nil, []string{`job.yaml:5 (step 1: sequence): duplicate key "count" (first at line 4)`}},
		{"duplicate nested key", steps("  - source: sequence", "    count: 1", "  - map: {expr: a, expr: b}", "  - sink: stdout"),
			nil, []string{`job.yaml:5 (step 2: map): duplicate key "expr" (first at line 5)`}},

		// Params and substitution.
		{"unknown reference", job("name: x", "params:", "  count: 1", "  out: o", "steps:", "  - source: sequence", "    count: ${cnt}", "  - sink: stdout"),
			nil, []string{"job.yaml:7 (step 1: sequence): unknown parameter ${cnt} (the job declares: count, out)"}},
		{"reference without params", steps("  - source: sequence", "    count: ${n}", "  - sink: stdout"),
			nil, []string{"job.yaml:4 (step 1: sequence): unknown parameter ${n} (the job declares no parameters)"}},
		{"unterminated reference", job("name: x", "params: {n: 1}", "steps:", "  - source: sequence", "    count: ${n", "  - sink: stdout"),
			nil, []string{"job.yaml:5 (step 1: sequence): unterminated ${"}},
		{"bad reference", job("name: x", "params: {n: 1}", "steps:", "  - source: sequence", "    count: ${1 + 1}", "  - sink: stdout"),
			nil, []string{"job.yaml:5 (step 1: sequence): ${1 + 1} is not a parameter reference"}},
		{"unknown -P", job("name: x", "params:", "  count: 1", "  out: o", "steps:", "  - source: gauss", "  - sink: stdout"),
			[]string{"bogus=3"}, []string{"job.yaml: unknown parameter bogus (the job declares: count, out)"}},
		{"param default not scalar", job("name: x", "params:", "  n: [1, 2]", "steps:", "  - source: gauss", "  - sink: stdout"),
			nil, []string{"job.yaml:3: the default of parameter n must be a scalar, not a list"}},
		{"param bad name", job("name: x", "params:", "  a b: 1", "steps:", "  - source: gauss", "  - sink: stdout"),
			nil, []string{`job.yaml:3: parameter name "a b"`}},
		{"params not a mapping", job("name: x", "params: [a]", "steps:", "  - source: gauss", "  - sink: stdout"),
			nil, []string{"job.yaml:2: params must be a mapping"}},
		{"typed param wrong type", job("name: x", "params: {n: many}", "steps:", "  - source: sequence", "    count: ${n}", "  - sink: stdout"),
			nil, []string{"job.yaml:5 (step 1: sequence): sequence parameter count: expected int, got string"}},

		// Step shapes and kinds.
		{"unknown source", steps("  - source: bogus", "  - sink: stdout"),
			nil, []string{`job.yaml:3 (step 1: bogus): unknown source operator "bogus" (known sources: file, gauss, sequence)`}},
		{"unknown sink", steps("  - source: gauss", "  - sink: nowhere"),
			nil, []string{`job.yaml:4 (step 2: nowhere): unknown sink operator "nowhere" (known sinks: file, stdout, verify_order)`}},
		{"unknown transform", steps("  - source: gauss", "  - mapp: it", "  - sink: stdout"),
			nil, []string{`job.yaml:4 (step 2): unknown transform operator "mapp" (known transforms: aggregate, dedup, filter, flat_map, map, split)`}},
		{"two kind keys", steps("  - source: gauss", "  - map: it", "    filter: it", "  - sink: stdout"),
			nil, []string{"job.yaml:4 (step 2): the step has 2 kind keys: map, filter; a step has exactly one"}},
		{"source and sink", steps("  - source: gauss", "    sink: stdout"),
			nil, []string{"job.yaml:3 (step 1): the step has 2 kind keys: source, sink"}},
		{"no kind key", steps("  - source: gauss", "  - foo: 1", "    bar: 2", "  - sink: stdout"),
			nil, []string{"job.yaml:4 (step 2): the step has no kind key (its keys: foo, bar)"}},
		{"only reserved keys", steps("  - source: gauss", "  - id: x", "  - sink: stdout"),
			nil, []string{"job.yaml:4 (step 2): the step has no kind key (its keys: id)"}},
		{"bare word", steps("  - source: gauss", "  - end_paralel", "  - sink: stdout"),
			nil, []string{`job.yaml:4 (step 2): "end_paralel" is not a step`}},
		{"empty step", steps("  - source: gauss", "  -", "  - sink: stdout"),
			nil, []string{"job.yaml:4 (step 2): the step is empty"}},
		{"list step", steps("  - source: gauss", "  - [map, it]", "  - sink: stdout"),
			nil, []string{"job.yaml:4 (step 2): a step is a mapping"}},
		{"source kind not scalar", steps("  - source: [gauss]", "  - sink: stdout"),
			nil, []string{"job.yaml:3 (step 1: source): source kind must be a scalar, not a list"}},
		{"no primary", steps("  - source: gauss", "  - aggregate: 5", "    size: 2", "    functions: {n: count}", "  - sink: stdout"),
			nil, []string{"job.yaml:4 (step 2: aggregate): aggregate takes no shorthand value", "(its parameters: window, size, duration, slide, every, key, functions)"}},
		{"primary twice", steps("  - source: gauss", "  - map: it", "    expr: it", "  - sink: stdout"),
			nil, []string{"job.yaml:5 (step 2: map): parameter expr is given twice (also at line 4)"}},
		{"end_parallel with keys", steps("  - source: gauss", "  - parallel: 2", "  - map: it", "  - end_parallel:", "    id: x", "  - sink: stdout"),
			nil, []string{`job.yaml:7 (step 4: end_parallel): end_parallel takes no keys; "id" is one`}},

		// Parameters, checked by the spec.
		{"unknown param", steps("  - source: sequence", "    count: 1", "    cuont: 2", "  - sink: stdout"),
			nil, []string{`job.yaml:5 (step 1: sequence): sequence has no parameter "cuont" (its parameters: count, start, rate, trigger_every)`}},
		{"wrong param type", steps("  - source: sequence", "    count: lots", "  - sink: stdout"),
			nil, []string{"job.yaml:4 (step 1: sequence): sequence parameter count: expected int, got string"}},
		{"missing param", steps("  - source: gauss", "  - sink: file", "    exactly_once: true"),
			nil, []string{"job.yaml:4 (step 2: file): file needs parameter path"}},
		{"build error on primary", steps("  - source: gauss", "  - map: bad(it", "  - sink: stdout"),
			nil, []string{"job.yaml:4 (step 2: map): map parameter expr: unexpected token"}},
		{"build error on a key", steps("  - source: gauss", "  - dedup:", "    window: 5", "    key: bad(", "  - sink: stdout"),
			nil, []string{"job.yaml:6 (step 2: dedup): dedup parameter key: unexpected token"}},
		{"build error loose", steps("  - source: gauss", "  - dedup:", "    key: it", "    window: 0", "  - sink: stdout"),
			nil, []string{"job.yaml:6 (step 2: dedup): dedup: window must be at least 1"}},
		{"build error unlocated", steps("  - source: gauss", "  - aggregate:", "    key: it", "    functions: {n: count}", "  - sink: stdout"),
			nil, []string{"job.yaml:4 (step 2: aggregate): aggregate: give the window a size or a duration"}},
		{"isolate not bool", steps("  - source: gauss", "    isolate: yes please", "  - sink: stdout"),
			nil, []string{"job.yaml:4 (step 1: gauss): isolate must be true or false, not string"}},

		// ids and from.
		{"bad id", steps("  - source: gauss", "    id: my source", "  - sink: stdout"),
			nil, []string{`job.yaml:4 (step 1: gauss): id "my source" may hold only letters, digits`}},
		{"duplicate id", steps("  - source: gauss", "    id: a", "  - map: it", "    id: a", "  - sink: stdout"),
			nil, []string{`job.yaml:6 (step 2: map): id "a" is already used by step 1 (line 3)`}},
		{"from unknown", steps("  - source: gauss", "  - sink: stdout", "    from: nowhere"),
			nil, []string{`job.yaml:5 (step 2: stdout): from: no step above is called "nowhere" (names so far: gauss)`}},
		{"from later", steps("  - source: gauss", "  - sink: stdout", "    from: m", "  - map: it", "    from: gauss", "    id: m", "  - sink: file", "    path: p"),
			nil, []string{"job.yaml:5 (step 2: stdout): from: m is step 3, which comes later"}},
		{"from sink", steps("  - source: gauss", "  - sink: stdout", "  - sink: file", "    path: x", "    from: stdout"),
			nil, []string{"job.yaml:7 (step 3: file): from: stdout is a sink"}},
		{"from source", steps("  - source: gauss", "  - source: sequence", "    count: 1", "    from: gauss", "  - sink: stdout"),
			nil, []string{"job.yaml:6 (step 2: sequence): a source reads no stream: remove from"}},
		{"from port out of range", steps("  - source: gauss", "  - split: it % 2", "    ways: 2", "  - sink: stdout", "    from: split.2"),
			nil, []string{"job.yaml:7 (step 3: stdout): from: split has no output 2 (its outputs: split.0, split.1)"}},
		{"from multi-output without port", steps("  - source: gauss", "  - split: it % 2", "    ways: 2", "  - sink: stdout", "    from: split"),
			nil, []string{"job.yaml:7 (step 3: stdout): from: split has 2 outputs: name one (split.0, split.1)"}},
		{"previous multi-output", steps("  - source: gauss", "  - split: it % 2", "    ways: 2", "  - sink: stdout"),
			nil, []string{"job.yaml:6 (step 3: stdout): the previous step, split, has 2 outputs"}},
		{"previous is a sink", steps("  - source: gauss", "  - sink: stdout", "  - map: it", "  - sink: file", "    path: x"),
			nil, []string{"job.yaml:5 (step 3: map): the previous step (sink stdout) has no output"}},
		{"first step not a source", steps("  - map: it", "  - sink: stdout"),
			nil, []string{"job.yaml:3 (step 1: map): there is no stream to read"}},
		{"broken split, no echo", steps("  - source: gauss", "  - split: it % 2", "  - sink: stdout", "    from: split.1"),
			nil, []string{"job.yaml:4 (step 2: split): split needs parameter ways"}},
		{"from twice", steps("  - source: gauss", "  - sink: stdout", "    from: [gauss, gauss]"),
			nil, []string{"job.yaml:5 (step 2: stdout): from: gauss is named twice"}},
		{"from empty list", steps("  - source: gauss", "  - sink: stdout", "    from: []"),
			nil, []string{"job.yaml:5 (step 2: stdout): from: lists no stream"}},

		// Parallel regions.
		{"source in region", steps("  - parallel: 2", "  - source: gauss", "  - end_parallel", "  - sink: stdout"),
			nil, []string{"job.yaml:4 (step 2: gauss): a source cannot be inside a parallel region (opened at line 3)"}},
		{"end without region", steps("  - source: gauss", "  - end_parallel", "  - sink: stdout"),
			nil, []string{"job.yaml:4 (step 2: end_parallel): end_parallel closes no parallel region"}},
		{"region never closed", steps("  - source: gauss", "  - parallel: 2", "  - map: it", "  - sink: stdout"),
			nil, []string{"job.yaml:4 (step 2: parallel): this parallel region is never closed"}},
		{"width zero", steps("  - source: gauss", "  - parallel: 0", "  - map: it", "  - end_parallel", "  - sink: stdout"),
			nil, []string{"job.yaml:4 (step 2: parallel): parallel width must be at least 1, not 0"}},
		{"width text", steps("  - source: gauss", "  - parallel: many", "  - map: it", "  - end_parallel", "  - sink: stdout"),
			nil, []string{"job.yaml:4 (step 2: parallel): parallel takes the region's width, a whole number, not string"}},
		{"width param", job("name: x", "params: {w: -1}", "steps:", "  - source: gauss", "  - parallel: ${w}", "  - map: it", "  - end_parallel", "  - sink: stdout"),
			nil, []string{"job.yaml:5 (step 2: parallel): parallel width must be at least 1, not -1"}},
		{"unknown routing", steps("  - source: gauss", "  - parallel: 2", "    routing: random", "  - map: it", "  - end_parallel", "  - sink: stdout"),
			nil, []string{`job.yaml:5 (step 2: parallel): unknown routing "random": use round_robin, hash or broadcast`}},
		{"hash without key", steps("  - source: gauss", "  - parallel: 2", "    routing: hash", "  - map: it", "  - end_parallel", "  - sink: stdout"),
			nil, []string{"job.yaml:4 (step 2: parallel): hash routing needs a key"}},
		{"key without hash", steps("  - source: gauss", "  - parallel: 2", "    key: it", "  - map: it", "  - end_parallel", "  - sink: stdout"),
			nil, []string{"job.yaml:5 (step 2: parallel): key applies only to routing: hash"}},
		{"bad key", steps("  - source: gauss", "  - parallel: 2", "    routing: hash", "    key: bad(", "  - map: it", "  - end_parallel", "  - sink: stdout"),
			nil, []string{`job.yaml:6 (step 2: parallel): hash key "bad(": unexpected token (`}},
		{"parallel with id", steps("  - source: gauss", "  - parallel: 2", "    id: p", "  - map: it", "  - end_parallel", "  - sink: stdout"),
			nil, []string{"job.yaml:5 (step 2: parallel): a parallel step takes parallel, routing and key; not id"}},
		{"empty region", steps("  - source: gauss", "  - parallel: 2", "  - end_parallel", "  - sink: stdout"),
			nil, []string{"job.yaml:4 (step 2: parallel): parallel region 0 holds no operator"}},
		{"outer region without operator", steps("  - source: gauss", "  - parallel: 2", "  - parallel: 2", "  - map: it", "  - end_parallel", "  - end_parallel", "  - sink: stdout"),
			nil, []string{"job.yaml:4 (step 2: parallel): parallel region 0 holds no operator"}},
		{"two regions at once", steps("  - source: gauss", "  - parallel: 2", "  - map: it", "  - parallel: 2", "  - filter: it", "    from: gauss",
			"  - end_parallel", "  - end_parallel", "  - sink: stdout"),
			nil, []string{"job.yaml:7 (step 5: filter): filter enters two parallel regions at once from gauss"}},

		// Consistent region.
		{"consistent unknown key", job("name: x", "consistent:", "  period: 1s", "  timeout: 3s", "steps:", "  - source: gauss", "  - sink: stdout"),
			nil, []string{`job.yaml:4: unknown key "timeout" under consistent (it takes: trigger, period, drain_timeout, reset_timeout, max_consecutive_attempts)`}},
		{"consistent no period", job("name: x", "consistent:", "  drain_timeout: 3s", "steps:", "  - source: gauss", "  - sink: stdout"),
			nil, []string{"job.yaml:2: a periodic consistent region needs a period"}},
		{"consistent empty", job("name: x", "consistent:", "steps:", "  - source: gauss", "  - sink: stdout"),
			nil, []string{"job.yaml:2: a periodic consistent region needs a period"}},
		{"consistent bad duration", job("name: x", "consistent:", "  period: 5", "steps:", "  - source: gauss", "  - sink: stdout"),
			nil, []string{`job.yaml:3: period "5" is not a duration: write it like 500ms, 2s or 1m`}},
		{"consistent negative", job("name: x", "consistent:", "  period: 1s", "  reset_timeout: -1s", "steps:", "  - source: gauss", "  - sink: stdout"),
			nil, []string{"job.yaml:4: reset_timeout must be above 0, not -1s"}},
		{"consistent trigger", job("name: x", "consistent:", "  trigger: sometimes", "steps:", "  - source: gauss", "  - sink: stdout"),
			nil, []string{`job.yaml:3: unknown consistent region trigger "sometimes": use periodic or operator_driven`}},
		{"consistent driven with period", job("name: x", "consistent:", "  trigger: operator_driven", "  period: 1s", "steps:", "  - source: gauss", "  - sink: stdout"),
			nil, []string{"job.yaml:4: period applies only to trigger: periodic"}},
		{"consistent attempts", job("name: x", "consistent:", "  period: 1s", "  max_consecutive_attempts: 0", "steps:", "  - source: gauss", "  - sink: stdout"),
			nil, []string{"job.yaml:4: max_consecutive_attempts must be at least 1, not 0"}},
		{"consistent not a mapping", job("name: x", "consistent: yes", "steps:", "  - source: gauss", "  - sink: stdout"),
			nil, []string{"job.yaml:2: consistent must be a mapping"}},

		// YAML oddities.
		{"alias cycle", steps("  - source: sequence", "    count: &a [*a]", "  - sink: stdout"),
			nil, []string{"this value contains itself through an alias"}},
		{"unknown anchor", steps("  - source: sequence", "    count: *nope", "  - sink: stdout"),
			nil, []string{"job.yaml: unknown anchor 'nope' referenced"}},
		{"bad tagged scalar", steps("  - source: sequence", "    count: !!int abc", "  - sink: stdout"),
			nil, []string{"job.yaml:4 (step 1: sequence): "}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := Parse("job.yaml", c.data, opts(t, c.params...))
			wantProblems(t, err, c.wants...)
		})
	}
}

// TestAllProblems checks that one load reports every problem, in the order of the file.
func TestAllProblems(t *testing.T) {
	data := job(
		"name: many",
		"params: {n: 1}",
		"consistent: {period: soon}",
		"steps:",
		"  - source: bogus",
		"  - map: it",
		"    colour: red",
		"  - parallel: 2",
		"    routing: hash",
		"  - filter: ${m}",
		"  - sink: stdout",
		"    from: nowhere",
	)
	_, err := Parse("job.yaml", data, opts(t, "x=1"))
	want := []string{
		"job.yaml: unknown parameter x (the job declares: n)",
		`job.yaml:3: period "soon" is not a duration: write it like 500ms, 2s or 1m`,
		`job.yaml:5 (step 1: bogus): unknown source operator "bogus" (known sources: file, gauss, sequence)`,
		`job.yaml:7 (step 2: map): map has no parameter "colour" (its parameters: expr)`,
		"job.yaml:8 (step 3: parallel): hash routing needs a key: an expression over the tuple `it` (key: \"it.user\")",
		"job.yaml:8 (step 3: parallel): this parallel region is never closed: add end_parallel after its last step",
		"job.yaml:10 (step 4: filter): unknown parameter ${m} (the job declares: n)",
		`job.yaml:12 (step 5: stdout): from: no step above is called "nowhere" (names so far: bogus, map, filter)`,
	}
	var ps topology.Problems
	if !errors.As(err, &ps) {
		t.Fatalf("err %v", err)
	}
	if strings.Join(ps, "\n") != strings.Join(want, "\n") {
		t.Fatalf("problems:\n%s\nwant:\n%s", strings.Join(ps, "\n"), strings.Join(want, "\n"))
	}
	if !strings.HasPrefix(err.Error(), "8 problems:\n  job.yaml: unknown parameter x") {
		t.Fatalf("message %q", err.Error())
	}
}

// TestNoEcho checks that a step's problem is not repeated by the steps that read it, nor by the plan's checks.
func TestNoEcho(t *testing.T) {
	cases := map[string][]byte{
		"broken split": steps("  - source: gauss", "  - split: it % 2", "  - sink: stdout", "    from: split.1",
			"  - sink: file", "    path: x", "    from: split"),
		"unknown sink kind":   steps("  - source: gauss", "  - sink: nowhere", "    id: s"),
		"bad parameter value": job("name: x", "params: {p: }", "steps:", "  - source: sequence", "    count: ${p}", "  - sink: stdout"),
		"bad width":           steps("  - source: gauss", "  - parallel: -2", "  - end_parallel", "  - sink: stdout"),
	}
	for name, data := range cases {
		_, err := Parse("job.yaml", data, opts(t))
		var ps topology.Problems
		if !errors.As(err, &ps) || len(ps) != 1 {
			t.Errorf("%s: want exactly one problem, got %v", name, err)
		}
	}
}
