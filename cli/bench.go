package cli

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
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
			"rounds, and keeps the best round of each. docs/performance.md says what each one measures.\n" +
			"`weir bench recovery` measures instead how long a local cluster takes to recover from kill -9.",
		Flags: []ucli.Flag{
			&ucli.IntFlag{Name: "tuples", Usage: "`N` tuples per round in every benchmark", DefaultText: "each benchmark's own"},
			&ucli.StringSliceFlag{Name: "only", Usage: "run only the benchmark `NAME` (repeatable): " + strings.Join(benchNames(), ", ")},
			&ucli.BoolFlag{Name: "json", Usage: "print the results as JSON"},
		},
		Action:      func(c *ucli.Context) error { return runBench(c, env) },
		Subcommands: []*ucli.Command{benchRecoveryCommand(env)},
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

// benchRecovery runs one timing profile of the recovery benchmark; tests replace it.
var benchRecovery = bench.Recovery

func benchRecoveryCommand(env *Env) *ucli.Command {
	return &ucli.Command{
		Name:  "recovery",
		Usage: "kill -9 nodes of a local 3-node cluster and time until the sink takes new tuples; exit 1 when a target is missed",
		Description: "Starts three weir agents of this binary on loopback, runs a steady job (a paced sequence, a\n" +
			"hash-partitioned parallel region, an exactly-once file sink, one consistent region), then kills a\n" +
			"worker (targets: first new sink tuple within 5 s) and the leader (8 s) --trials times each, restarting\n" +
			"the victim between trials. It splits each recovery into detection (election), placement, reset and\n" +
			"replay from the nodes' event logs. Each profile runs its own cluster: the default timings an operator\n" +
			"gets, and --fast. docs/performance.md, \"Cluster recovery\", says how to read it.",
		Flags: []ucli.Flag{
			&ucli.StringFlag{Name: "profile", Value: "both", Usage: "the agents' timings, `PROFILE`: default, fast or both"},
			&ucli.IntFlag{Name: "trials", Value: bench.RecoveryTrials, Usage: "`N` kills of each kind"},
			&ucli.StringSliceFlag{Name: "kill", Usage: "kill only `KIND` nodes: worker or leader (repeatable)", DefaultText: "worker, then leader"},
			&ucli.IntFlag{Name: "rate", Value: bench.RecoveryRate, Usage: "the source's `N` tuples per second"},
			&ucli.IntFlag{Name: "width", Value: bench.RecoveryWidth, Usage: "`N` channels in the parallel region"},
			&ucli.DurationFlag{Name: "period", Value: bench.RecoveryPeriod, Usage: "the consistent region's `PERIOD`"},
			&ucli.StringFlag{Name: "binary", Usage: "the weir `BINARY` the agents run", DefaultText: "this executable"},
			&ucli.StringFlag{Name: "dir", Usage: "keep the clusters' data directories, logs and output in `DIR`", DefaultText: "a temporary directory, removed"},
			&ucli.BoolFlag{Name: "json", Usage: "print the results as JSON"},
		},
		Action: func(c *ucli.Context) error { return runBenchRecovery(c, env) },
	}
}

// recoveryReport is what `weir bench recovery --json` prints.
type recoveryReport struct {
	Machine bench.Machine       `json:"machine"`
	Runs    []recoveryRunReport `json:"runs"`
}

// recoveryRunReport is one profile's run, with the machine's load around it.
type recoveryRunReport struct {
	bench.RecoveryResult
	LoadBefore string `json:"load_before,omitempty"`
	LoadAfter  string `json:"load_after,omitempty"`
	Error      string `json:"error,omitempty"`
}

func runBenchRecovery(c *ucli.Context, env *Env) error {
	if c.NArg() > 0 {
		return ucli.Exit(fmt.Sprintf("bench recovery takes no arguments, got %q", c.Args().Slice()), 2)
	}
	var profiles []string
	switch p := c.String("profile"); p {
	case "both":
		profiles = []string{bench.ProfileDefault, bench.ProfileFast}
	case bench.ProfileDefault, bench.ProfileFast:
		profiles = []string{p}
	default:
		return ucli.Exit(fmt.Sprintf("--profile %q: give default, fast or both", p), 2)
	}
	for _, name := range []string{"trials", "rate", "width"} {
		if n := c.Int(name); n <= 0 {
			return ucli.Exit(fmt.Sprintf("--%s %d: give a positive number", name, n), 2)
		}
	}
	if p := c.Duration("period"); p <= 0 {
		return ucli.Exit(fmt.Sprintf("--period %s: give a positive duration", p), 2)
	}
	var kinds []string
	for _, k := range c.StringSlice("kill") {
		for kind := range strings.SplitSeq(k, ",") {
			kind = strings.TrimSpace(kind)
			if kind != bench.KillWorker && kind != bench.KillLeader {
				return ucli.Exit(fmt.Sprintf("--kill %q: give worker or leader", kind), 2)
			}
			if !slices.Contains(kinds, kind) {
				kinds = append(kinds, kind)
			}
		}
	}
	bin := c.String("binary")
	if bin == "" {
		exe, err := os.Executable()
		if err != nil {
			return ucli.Exit(fmt.Sprintf("bench recovery: find this executable: %v (give --binary)", err), 2)
		}
		bin = exe
	}
	ctx, stop := interruptible(env)
	defer stop()
	rep := recoveryReport{Machine: bench.ThisMachine()}
	var missed []string
	for _, p := range profiles {
		o := bench.RecoveryOptions{
			Binary: bin, Fast: p == bench.ProfileFast, Trials: c.Int("trials"), Kinds: kinds,
			Rate: c.Int("rate"), Width: c.Int("width"), Period: c.Duration("period"), Context: ctx,
			Log: func(format string, args ...any) { fmt.Fprintf(env.Stderr, format+"\n", args...) },
		}
		if d := c.String("dir"); d != "" {
			o.Dir = filepath.Join(d, p)
		}
		run := recoveryRunReport{LoadBefore: bench.ThisMachine().Load}
		res, err := benchRecovery(o)
		run.RecoveryResult, run.LoadAfter = res, bench.ThisMachine().Load
		if err != nil {
			run.Error = err.Error()
		}
		if run.Profile == "" {
			run.Profile = p
		}
		rep.Runs = append(rep.Runs, run)
		if err != nil || !res.Pass() {
			missed = append(missed, p)
		}
		if ctx.Err() != nil {
			break
		}
	}
	if c.Bool("json") {
		enc := json.NewEncoder(env.Stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(rep); err != nil {
			return ucli.Exit(err.Error(), 2)
		}
	} else {
		printRecovery(env.Stdout, rep)
	}
	if ctx.Err() != nil {
		return ucli.Exit("bench recovery: interrupted", 1)
	}
	if len(missed) > 0 {
		return ucli.Exit(fmt.Sprintf("bench recovery: target missed: %s", strings.Join(missed, ", ")), 1)
	}
	return nil
}

// profileTimings says what each profile's agents run with.
var profileTimings = map[string]string{
	bench.ProfileDefault: "the default timings (memberlist LAN: dead after 5–8 s; Raft heartbeat and election timeouts 1 s)",
	bench.ProfileFast:    "--fast (gossip verdicts in about a second; Raft timeouts 500 ms)",
}

// printRecovery prints, for each profile and kind of kill, the split table and the trials.
func printRecovery(w io.Writer, rep recoveryReport) {
	fmt.Fprintf(w, "%s\n", rep.Machine)
	for _, run := range rep.Runs {
		fmt.Fprintf(w, "\nrecovery with %s: 3 agents; %d tuples/s through %d hash channels; consistent region period %s; sink polled every %s",
			profileTimings[run.Profile], run.Rate, run.Width, run.Period, run.Poll)
		if run.LoadBefore != "" {
			fmt.Fprintf(w, "; load average %s before, %s after", run.LoadBefore, run.LoadAfter)
		}
		fmt.Fprintln(w)
		if run.Dir != "" {
			fmt.Fprintf(w, "logs in %s\n", run.Dir)
		}
		for _, k := range run.Kills {
			printSeries(w, k)
		}
		if run.Error != "" {
			fmt.Fprintf(w, "\nERROR: %s\n", run.Error)
		}
	}
}

func printSeries(w io.Writer, k bench.RecoverySeries) {
	verdict := "pass"
	if !k.Pass {
		verdict = "FAIL"
	}
	fmt.Fprintf(w, "\nkill -9 of the %s, %d trials; target: first new sink tuple within %s: %s\n", k.Kill, len(k.Trials), k.Target, verdict)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "phase\tuntil\tmedian\tmax\tsince kill: median\tmax\tn")
	for _, p := range append(slices.Clone(k.Phases), k.Total, k.Commit) {
		if p.N == 0 {
			fmt.Fprintf(tw, "%s\t%s\t-\t-\t-\t-\t0\n", p.Name, p.Until)
			continue
		}
		own, ownMax := dur(p.Median), dur(p.Max)
		if p.Name == k.Total.Name || p.Name == k.Commit.Name {
			own, ownMax = "", ""
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%d\n", p.Name, p.Until, own, ownMax, dur(p.SinceKillMedian), dur(p.SinceKillMax), p.N)
	}
	tw.Flush()
	for i, t := range k.Trials {
		fmt.Fprintf(w, "  %d. %s\n", i+1, trialLine(t))
	}
}

// trialLine tells one trial: who died, where the sink was, each phase, the resets it took.
func trialLine(t bench.RecoveryTrial) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s killed (leader %s", t.Victim, t.Leader)
	if t.NewLeader != "" && t.NewLeader != t.Leader {
		fmt.Fprintf(&b, " → %s", t.NewLeader)
	}
	fmt.Fprintf(&b, "; sink on %s", t.SinkBefore)
	if t.SinkAfter != "" && t.SinkAfter != t.SinkBefore {
		fmt.Fprintf(&b, " → %s", t.SinkAfter)
	}
	b.WriteString(")")
	if t.FirstTuple > 0 {
		var parts []string
		for i, d := range t.Phases() {
			if d > 0 {
				parts = append(parts, fmt.Sprintf("%s %s", phaseName(t.Kill, i), dur(d)))
			}
		}
		fmt.Fprintf(&b, ": %s = %s", strings.Join(parts, " + "), dur(t.FirstTuple))
		if t.FailedWhy != "" {
			fmt.Fprintf(&b, "; declared failed: %s", t.FailedWhy)
		}
		fmt.Fprintf(&b, "; %d reset(s), generation %d → %d", t.Resets, t.Gen, t.GenAfter)
		if t.Committed > 0 {
			fmt.Fprintf(&b, "; next commit %s after the kill", dur(t.Committed))
		}
	}
	if t.Error != "" {
		fmt.Fprintf(&b, ": ERROR %s", t.Error)
	}
	return b.String()
}

func phaseName(kind string, i int) string {
	if names := bench.RecoveryPhases(kind); i < len(names) {
		return names[i]
	}
	return "?"
}

// dur shows a duration in milliseconds below a second, else in seconds with two decimals.
func dur(d time.Duration) string {
	if d < time.Second {
		return fmt.Sprintf("%dms", d.Round(time.Millisecond).Milliseconds())
	}
	return fmt.Sprintf("%.2fs", d.Seconds())
}
