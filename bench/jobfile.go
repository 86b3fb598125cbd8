package bench

import (
	"fmt"
	"strconv"

	"github.com/weirstream/weir/jobfile"
	"github.com/weirstream/weir/operator"
	"github.com/weirstream/weir/operator/builtin"
	"github.com/weirstream/weir/value"
)

// The expressions of the job-file scenario, in the job and in the baseline.
const (
	mapExpr    = "it * 2"
	filterExpr = "it % 3 != 0"
)

const targetJobFileMap = "none: shows what any tuples and expressions cost"

// jobFile is sequence → map → filter → sink, fused in one PE.
const jobFile = `name: bench-jobfile
params:
  count: 1000
steps:
  - source: sequence
    count: ${count}
  - map: "` + mapExpr + `"
  - filter: "` + filterExpr + `"
  - sink: bench_count
`

// countKind is the sink of the job-file scenario: the builtin sinks print or write files, which would
// measure JSON encoding and I/O rather than the pipeline. It only adds the tuples up.
const countKind = "bench_count"

// tally is what a count sink saw; every channel's sink shares the job's tally (a pointer is not state:
// operator.Clone copies it).
type tally struct{ n, sum int }

type countSink struct{ t *tally }

func (s *countSink) Consume(t any) error {
	v, ok := value.Int(t)
	if !ok {
		return fmt.Errorf("%s: %v is not an int", countKind, t)
	}
	s.t.n++
	s.t.sum += v
	return nil
}

// jobRegistry is the builtin registry plus the count sink, counting into t.
func jobRegistry(t *tally) (*operator.Registry, error) {
	reg := builtin.NewRegistry()
	err := reg.Register(operator.Spec{
		Kind: countKind, Role: operator.RoleSink,
		Summary: "Counts and sums int tuples (benchmarks).",
		Build: func(operator.Config) (operator.Factory, error) {
			return operator.ConsumerOf[any](&countSink{t: t}), nil
		},
	})
	return reg, err
}

// runJobFile loads the job file for n tuples through the registry and runs it in an executor, timed from
// Start to the end of every PE, and checks that the sink saw what the plain loop saw.
func runJobFile(n int, want tally) (sample, error) {
	var got tally
	reg, err := jobRegistry(&got)
	if err != nil {
		return sample{}, err
	}
	plan, err := jobfile.Parse("bench-jobfile.yaml", []byte(jobFile), jobfile.Options{
		Params: map[string]string{"count": strconv.Itoa(n)}, Registry: reg,
	})
	if err != nil {
		return sample{}, err
	}
	x, rep, err := newExecutorOf(plan, builtin.Binding(reg))
	if err != nil {
		return sample{}, err
	}
	s, _ := timed(func() error {
		x.Start()
		<-x.Done()
		return nil
	})
	x.Stop()
	if err := rep.err(); err != nil {
		return s, err
	}
	if got != want {
		return s, fmt.Errorf("the sink counted %d tuples summing %d, the plain loop %d summing %d", got.n, got.sum, want.n, want.sum)
	}
	return s, nil
}

// exprLoop evaluates the same compiled expressions as the job's map and filter, with the same kind of
// Machine, in a plain loop over the tuples 0 … n-1 as any.
type exprLoop struct {
	m            *builtin.Machine
	mapE, filter *builtin.Expr
}

func newExprLoop() (*exprLoop, error) {
	mapE, err := builtin.Compile(mapExpr)
	if err != nil {
		return nil, err
	}
	filter, err := builtin.Compile(filterExpr)
	if err != nil {
		return nil, err
	}
	return &exprLoop{m: builtin.NewMachine(), mapE: mapE, filter: filter}, nil
}

func (l *exprLoop) run(n int) (tally, error) {
	var t tally
	for i := range n {
		v, err := l.m.Eval(l.mapE, any(i))
		if err != nil {
			return t, err
		}
		keep, err := l.m.Eval(l.filter, v)
		if err != nil {
			return t, err
		}
		if b, _ := keep.(bool); !b {
			continue
		}
		x, ok := value.Int(v)
		if !ok {
			return t, fmt.Errorf("%s gave %v, not an int", mapExpr, v)
		}
		t.n++
		t.sum += x
	}
	return t, nil
}

// JobFileMap measures a job-file pipeline — sequence → map "it * 2" → filter "it % 3 != 0" → sink, loaded
// through the builtin registry and fused in one PE — against the same compiled expressions evaluated in a
// plain loop, over n tuples per round (n ≤ 0: JobFileMapTuples). It shows what tuples of type any and
// expressions cost next to FusedChain's typed funcs; it has no target.
func JobFileMap(n int) Result {
	n = orDefault(n, JobFileMapTuples)
	const name, target = NameJobFileMap, targetJobFileMap
	loop, err := newExprLoop()
	if err != nil {
		return failed(name, n, target, err)
	}
	warm, err := loop.run(1000)
	if err != nil {
		return failed(name, n, target, err)
	}
	if _, err := runJobFile(1000, warm); err != nil {
		return failed(name, n, target, err)
	}
	want, err := loop.run(n)
	if err != nil {
		return failed(name, n, target, err)
	}
	eng, base, err := bestOf(Rounds,
		func() (sample, error) { return runJobFile(n, want) },
		func() (sample, error) {
			var got tally
			s, err := timed(func() error {
				var err error
				got, err = loop.run(n)
				return err
			})
			if err == nil && got != want {
				err = fmt.Errorf("the plain loop is not deterministic: %v then %v", want, got)
			}
			return s, err
		})
	if err != nil {
		return failed(name, n, target, err)
	}
	r := newResult(name, n, eng, base)
	r.Target = target
	r.Pass = true
	return r
}
