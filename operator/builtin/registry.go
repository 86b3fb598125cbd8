package builtin

import (
	"fmt"
	"io"
	"os"
	"time"

	"github.com/weirstream/weir/operator"
	"github.com/weirstream/weir/operator/window"
	"github.com/weirstream/weir/value"
)

// Register adds every built-in operator kind to r; the stdout sink prints to the process's standard output.
func Register(r *operator.Registry) error {
	return register(r, options{stdout: os.Stdout, clock: time.Now})
}

// NewRegistry returns a fresh registry holding the built-in operators.
func NewRegistry() *operator.Registry { return NewRegistryWithStdout(os.Stdout) }

// NewRegistryWithStdout is NewRegistry with the stdout sink printing to w (tests, embedding). The sinks of
// every channel share w, one whole batch of lines at a time.
func NewRegistryWithStdout(w io.Writer) *operator.Registry {
	return newRegistry(options{stdout: w, clock: time.Now})
}

func newRegistry(o options) *operator.Registry {
	r := operator.NewRegistry()
	if err := register(r, o); err != nil {
		// Only a kind registered twice fails, and these kinds are distinct: a broken build.
		panic(fmt.Sprintf("builtin: %v", err))
	}
	return r
}

// options are what tests replace.
type options struct {
	stdout io.Writer
	clock  func() time.Time
}

func register(r *operator.Registry, o options) error {
	for _, s := range specs(o) {
		if err := r.Register(s); err != nil {
			return err
		}
	}
	return nil
}

const rateDoc = "Tuples per second, on average; 0 emits as fast as the stream takes them."

func specs(o options) []operator.Spec {
	return []operator.Spec{
		{
			Kind: "sequence", Role: operator.RoleSource, Primary: "count",
			Summary: "Emits the integers start, start+1, …, start+count-1. Replayable: it can start a consistent region.",
			Params: []operator.Param{
				{Name: "count", Type: operator.ParamInt, Required: true, Doc: "How many integers to emit (0 emits none)."},
				{Name: "start", Type: operator.ParamInt, Default: 0, Doc: "The first integer emitted; the next ones count up from it."},
				{Name: "rate", Type: operator.ParamFloat, Default: 0.0, Doc: rateDoc},
				{Name: "trigger_every", Type: operator.ParamInt, Doc: "In an operator-driven consistent region, ask for a checkpoint after every this many tuples."},
			},
			Build: buildSequence,
		},
		{
			Kind: "gauss", Role: operator.RoleSource,
			Summary: "Emits random numbers from a normal distribution, like Python's random.gauss(mean, stddev). Replayable: the same seed gives the same numbers, also after a reset.",
			Params: []operator.Param{
				{Name: "mean", Type: operator.ParamFloat, Default: 0.0, Doc: "The mean of the distribution."},
				{Name: "stddev", Type: operator.ParamFloat, Default: 1.0, Doc: "The standard deviation of the distribution (>= 0)."},
				{Name: "seed", Type: operator.ParamInt, Default: 0, Doc: "Chooses the sequence of numbers: the same seed, the same numbers."},
				{Name: "count", Type: operator.ParamInt, Default: 0, Doc: "How many numbers to emit; 0 never stops."},
				{Name: "rate", Type: operator.ParamFloat, Default: 0.0, Doc: rateDoc},
			},
			Build: buildGauss,
		},
		{
			Kind: "file", Role: operator.RoleSource, Primary: "path",
			Summary: "Reads a file line by line. Replayable: after a reset it reads again from the line after the checkpoint.",
			Params: []operator.Param{
				{Name: "path", Type: operator.ParamString, Required: true, Doc: "The file to read, a path on the node that runs the source."},
				{Name: "format", Type: operator.ParamString, Default: formatLines, Doc: `"lines": each line is a string tuple; "jsonl": each line is a JSON value (blank lines are skipped, a malformed line fails with its line number).`},
				{Name: "rate", Type: operator.ParamFloat, Default: 0.0, Doc: rateDoc},
			},
			Build: buildFileSource,
		},
		{
			Kind: "map", Role: operator.RoleTransform, Primary: "expr",
			Summary: "Emits, for each tuple, the value of an expression.",
			Params: []operator.Param{
				{Name: "expr", Type: operator.ParamExpr, Required: true, Doc: "The tuple to emit, computed from `it`, the tuple received: `it * 2`, or `{\"id\": it.id, \"celsius\": (it.f - 32) / 1.8}`."},
			},
			Build: buildMap,
		},
		{
			Kind: "filter", Role: operator.RoleTransform, Primary: "expr",
			Summary: "Passes on the tuples for which a condition holds.",
			Params: []operator.Param{
				{Name: "expr", Type: operator.ParamExpr, Required: true, Doc: "A condition on `it`, the tuple, like `it.temp > 30`: the tuple passes on when it is true. It must give true or false."},
			},
			Build: buildFilter,
		},
		{
			Kind: "flat_map", Role: operator.RoleTransform, Primary: "expr",
			Summary: "Emits every element of a list computed from each tuple.",
			Params: []operator.Param{
				{Name: "expr", Type: operator.ParamExpr, Required: true, Doc: "A list computed from `it`, like `split(it, \" \")`: each element is emitted as a tuple; an empty list emits nothing."},
			},
			Build: buildFlatMap,
		},
		{
			Kind: "aggregate", Role: operator.RoleTransform,
			Summary: "Groups tuples by key into tumbling or sliding windows, by count or by time, and emits one map per key and window: " +
				"{key, start, end, <field>: value, …}. start and end are the key's tuple numbers [start, end) for count windows, " +
				"RFC 3339 times for time windows (processing time). At the end of the stream, open windows emit what they hold.",
			Params: []operator.Param{
				{Name: "window", Type: operator.ParamString, Default: window.KindTumbling, Doc: "tumbling: each tuple belongs to one window, windows follow each other; sliding: windows of size tuples (or of duration) emitted every slide tuples (or every every), so that they overlap."},
				{Name: "size", Type: operator.ParamInt, Doc: "A count window: the number of tuples of a key in each window. Give size or duration."},
				{Name: "duration", Type: operator.ParamDuration, Doc: "A time window: its length, like 10s; windows are aligned to the clock (a 1m window runs from one full minute to the next). Give size or duration."},
				{Name: "slide", Type: operator.ParamInt, Doc: "A sliding count window emits each key's window after every slide tuples of that key."},
				{Name: "every", Type: operator.ParamDuration, Doc: "A sliding time window emits every this long, each window covering the last duration."},
				{Name: "key", Type: operator.ParamExpr, Doc: "What to group by, computed from `it`, like `it.sensor`: each key has windows of its own and the results say which key they are for. Without it, every tuple is in one group (and results have no key)."},
				{Name: "functions", Type: operator.ParamAny, Required: true, Doc: "The output fields: a map from field name to function. A function is \"count\" (the number of tuples), " +
					"\"sum(EXPR)\", \"min(EXPR)\", \"max(EXPR)\" or \"mean(EXPR)\" of a value computed from `it` (null values are skipped; a sum of integers stays an integer), " +
					"or {reduce: EXPR, initial: VALUE}, which folds the tuples with an expression over `acc` (initial at first, then the previous result) and `it`. " +
					"Example: {n: count, avg: \"mean(it.temp)\", hottest: \"max(it.temp)\", ids: {reduce: \"concat(acc, [it.id])\", initial: []}}."},
			},
			Build: buildAggregate(o.clock),
		},
		{
			Kind: "dedup", Role: operator.RoleTransform,
			Summary: "Drops tuples whose key was seen recently: the idempotence that makes an at-least-once stream exactly-once. What it remembers is checkpointed.",
			Params: []operator.Param{
				{Name: "key", Type: operator.ParamExpr, Default: "it", Doc: "What identifies a tuple, computed from `it`, like `it.id`; by default the whole tuple."},
				{Name: "window", Type: operator.ParamInt, Doc: fmt.Sprintf("Remember the last this many distinct keys (%d when ttl is not given).", defaultDedupWindow)},
				{Name: "ttl", Type: operator.ParamDuration, Doc: "Forget a key this long after it was first seen, like 10m (processing time). With window too, a key is forgotten by whichever comes first."},
			},
			Build: buildDedup(o.clock),
		},
		{
			Kind: "split", Role: operator.RoleTransform, Primary: "expr",
			Summary: "Sends each tuple to one of several outputs, chosen by an expression.",
			Params: []operator.Param{
				{Name: "expr", Type: operator.ParamExpr, Required: true, Doc: "The output for `it`, an integer: 0 is the first output; it is taken modulo ways; a negative number drops the tuple."},
				{Name: "ways", Type: operator.ParamInt, Required: true, Doc: "The number of outputs."},
			},
			Build: buildSplit,
		},
		{
			Kind: "stdout", Role: operator.RoleSink,
			Summary: "Prints each tuple as a line of JSON on standard output.",
			Build:   buildStdout(o.stdout),
		},
		{
			Kind: "file", Role: operator.RoleSink, Primary: "path",
			Summary: "Writes each tuple as a line of JSON into a directory, in files named after the channel (part-0, part-2, part-1.2 in nested parallel regions).",
			Params: []operator.Param{
				{Name: "path", Type: operator.ParamString, Required: true, Doc: "The output directory, created if needed. The output is every file in it whose name does not begin with . or _."},
				{Name: "exactly_once", Type: operator.ParamBool, Default: false, Doc: "false: append to part-<channel>.jsonl; after a reset of a consistent region, replayed tuples are written again (at-least-once); the file holds whole lines only (a writer killed in the middle of a line leaves a partial line, which the next writer of the file drops before appending: it comes after the last checkpoint and is replayed). " +
					"true: every tuple exactly once, by two-phase commit: a file part-<channel>-<epoch>.jsonl per checkpoint, published when the consistent region commits it (staged meanwhile in _staging). Needs a consistent region."},
			},
			Build: buildFileSink,
		},
		{
			Kind: "verify_order", Role: operator.RoleSink,
			Summary: "Checks that the tuples are the integers 0, 1, 2, … in order, and fails otherwise: a test for exactly-once pipelines.",
			Build:   buildVerifyOrder,
		},
	}
}

// Factory configures a built-in operator for a Go job: the same kind, parameters and checks as in a job
// file (`Factory(operator.RoleSink, "file", map[string]any{"path": "out", "exactly_once": true})`).
// Its tuples are job-file values (any).
func Factory(role operator.Role, kind string, params map[string]any) (operator.Factory, error) {
	spec, err := NewRegistry().Lookup(role, kind)
	if err != nil {
		return nil, err
	}
	raw, err := value.Normalize(params)
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", role, kind, err)
	}
	var cfg operator.Config
	if raw != nil {
		cfg, err = spec.Configure(raw.(map[string]any))
	} else {
		cfg, err = spec.Configure(nil)
	}
	if err != nil {
		return nil, err
	}
	return spec.Build(cfg)
}
