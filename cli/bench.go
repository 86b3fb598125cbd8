package cli

import (
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	ucli "github.com/urfave/cli/v2"

	"github.com/weirstream/weir/bench"
)

// benchScenarios lists what `weir bench` can run; tests replace it.
var benchScenarios = bench.Scenarios

func benchCommand(env *Env) *ucli.Command {
	return &ucli.Command{
		Name:  "bench",
		Usage: "measure the engine against plain Go baselines; exit 1 when a target is missed",
		Description: "Each benchmark times the engine and a hand-written Go baseline in the same run, alternating\n" +
			"rounds, and keeps the best round of each. docs/performance.md says what each one measures.",
		Flags: []ucli.Flag{
			&ucli.IntFlag{Name: "tuples", Usage: "`N` tuples per round in every benchmark", DefaultText: "each benchmark's own"},
			&ucli.StringSliceFlag{Name: "only", Usage: "run only the benchmark `NAME` (repeatable): " + strings.Join(benchNames(), ", ")},
			&ucli.BoolFlag{Name: "json", Usage: "print the results as JSON"},
		},
		Action: func(c *ucli.Context) error { return runBench(c, env) },
	}
}

func benchNames() []string {
	var names []string
	for _, s := range benchScenarios() {
		names = append(names, s.Name)
	}
	return names
}

// benchReport is what --json prints.
type benchReport struct {
	Machine bench.Machine  `json:"machine"`
	Results []bench.Result `json:"results"`
}

func runBench(c *ucli.Context, env *Env) error {
	if c.NArg() > 0 {
		return ucli.Exit(fmt.Sprintf("bench takes no arguments, got %q", c.Args().Slice()), 2)
	}
	n := c.Int("tuples")
	if n < 0 {
		return ucli.Exit(fmt.Sprintf("--tuples %d: give a positive number of tuples", n), 2)
	}
	run, err := selectScenarios(c.StringSlice("only"))
	if err != nil {
		return ucli.Exit(err.Error(), 2)
	}
	rep := benchReport{Machine: bench.ThisMachine()}
	for _, s := range run {
		tuples := s.Tuples
		if n > 0 {
			tuples = n
		}
		fmt.Fprintf(env.Stderr, "%s: %d tuples × %d rounds: %s\n", s.Name, tuples, bench.Rounds, s.What)
		start := time.Now()
		r := s.Run(tuples)
		fmt.Fprintf(env.Stderr, "%s: done in %s\n", s.Name, time.Since(start).Round(time.Millisecond))
		rep.Results = append(rep.Results, r)
	}
	if c.Bool("json") {
		enc := json.NewEncoder(env.Stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(rep); err != nil {
			return ucli.Exit(err.Error(), 2)
		}
	} else {
		printBench(env.Stdout, rep)
	}
	var missed []string
	for _, r := range rep.Results {
		if !r.Pass {
			missed = append(missed, r.Name)
		}
	}
	if len(missed) > 0 {
		return ucli.Exit(fmt.Sprintf("bench: target missed: %s", strings.Join(missed, ", ")), 1)
	}
	return nil
}

// selectScenarios picks the scenarios named (all when none is); names may also be given comma-separated.
func selectScenarios(only []string) ([]bench.Scenario, error) {
	all := benchScenarios()
	if len(only) == 0 {
		return all, nil
	}
	want := map[string]bool{}
	for _, o := range only {
		for name := range strings.SplitSeq(o, ",") {
			name = strings.TrimSpace(name)
			if !slices.ContainsFunc(all, func(s bench.Scenario) bool { return s.Name == name }) {
				return nil, fmt.Errorf("no benchmark %q (benchmarks: %s)", name, strings.Join(benchNames(), ", "))
			}
			want[name] = true
		}
	}
	var out []bench.Scenario
	for _, s := range all {
		if want[s.Name] {
			out = append(out, s)
		}
	}
	return out, nil
}

// printBench prints the results as a table, then each result's note or error.
func printBench(w io.Writer, rep benchReport) {
	fmt.Fprintf(w, "%s; best of %d rounds each\n\n", rep.Machine, bench.Rounds)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "benchmark\ttuples/s\tns/tuple\tbaseline ns/tuple\tratio\tallocs/tuple\ttarget\tresult")
	var notes []string
	for _, r := range rep.Results {
		switch {
		case r.Error != "":
			fmt.Fprintf(tw, "%s\t-\t-\t-\t-\t-\t%s\tERROR\n", r.Name, r.Target)
			notes = append(notes, fmt.Sprintf("%s: error: %s", r.Name, r.Error))
			continue
		case r.Note != "":
			notes = append(notes, fmt.Sprintf("%s: %s", r.Name, r.Note))
		}
		verdict := "pass"
		if !r.Pass {
			verdict = "FAIL"
		}
		fmt.Fprintf(tw, "%s\t%.0f\t%.2f\t%.2f\t%.2f×\t%s\t%s\t%s\n",
			r.Name, r.TuplesPerSec, r.NsPerTuple, r.BaselineNsPerTuple, r.Ratio, allocs(r.AllocsPerTuple), r.Target, verdict)
	}
	tw.Flush()
	if len(notes) > 0 {
		fmt.Fprintf(w, "\n%s\n", strings.Join(notes, "\n"))
	}
}

// allocs shows allocations per tuple: plainly when about one or more, in exponent form when a fraction.
func allocs(a float64) string {
	if a == 0 || a >= 0.01 {
		return fmt.Sprintf("%.2f", a)
	}
	return fmt.Sprintf("%.1e", a)
}
