package cli

import (
	"fmt"
	"slices"
	"strings"
	"time"

	ucli "github.com/urfave/cli/v2"

	"github.com/weirstream/weir/chaos"
)

func chaosCommand(env *Env) *ucli.Command {
	return &ucli.Command{
		Name:  "chaos",
		Usage: "run a verification job on a fresh cluster while killing, pausing and restarting its nodes; check that nothing was lost or duplicated",
		Description: "Starts a cluster (local agent processes, or containers with --docker), submits the verification job " +
			"(a replayable sequence, per-key state in a hash-partitioned parallel region, an exactly-once and an " +
			"at-least-once file sink), injects faults from a schedule drawn from the seed, heals everything, waits " +
			"for the job to finish and checks the outputs and the recorded history. Writes DIR/report.json and " +
			"DIR/history.jsonl; exits 0 only when every check passes. See docs/chaos.md.",
		Flags: []ucli.Flag{
			&ucli.StringFlag{Name: "out", Usage: "`DIR` for report.json, history.jsonl, the outputs and the cluster (required)"},
			&ucli.IntFlag{Name: "nodes", Value: 3, Usage: "`N` nodes"},
			&ucli.DurationFlag{Name: "duration", Value: time.Minute, Usage: "how long faults are injected"},
			&ucli.Uint64Flag{Name: "seed", Usage: "seed of the fault schedule (default: from the clock, printed)"},
			&ucli.StringFlag{Name: "faults", Value: strings.Join(chaos.DefaultFaults, ","), Usage: "fault kinds: " + strings.Join(chaos.AllFaults, ", ") + " (partition needs --docker)"},
			&ucli.BoolFlag{Name: "docker", Usage: "run the agents in containers on a private network (partitions become possible)"},
			&ucli.StringFlag{Name: "image", Value: "weir:dev", Usage: "with --docker: the agents' `IMAGE` (scripts/docker-build.sh builds weir:dev)"},
			&ucli.StringFlag{Name: "binary", Usage: "the weir binary local agents run (default: this one)"},
			&ucli.IntFlag{Name: "count", Usage: "values the job emits (default: rate × (duration + 15 s))"},
			&ucli.Float64Flag{Name: "rate", Value: 1000, Usage: "values per second"},
			&ucli.IntFlag{Name: "keys", Value: 16, Usage: "keys of the per-key state"},
			&ucli.IntFlag{Name: "width", Usage: "channels of the parallel region (default: one per node)"},
			&ucli.DurationFlag{Name: "period", Value: time.Second, Usage: "the consistent region's period"},
			&ucli.DurationFlag{Name: "finish-timeout", Value: 3 * time.Minute, Usage: "how long to wait for the job's end after the heal"},
			&ucli.BoolFlag{Name: "keep", Usage: "leave the cluster up at the end"},
			&ucli.StringSliceFlag{Name: "agent-arg", Usage: "an extra argument for every agent (repeatable; --agent-arg=--log-level=debug)"},
			&ucli.BoolFlag{Name: "quiet", Aliases: []string{"q"}, Usage: "no progress lines on stderr"},
		},
		Action: func(c *ucli.Context) error {
			if c.NArg() > 0 {
				return ucli.Exit(fmt.Sprintf("chaos takes no arguments, got %q", c.Args().Slice()), 2)
			}
			if c.String("out") == "" {
				return ucli.Exit("chaos needs --out DIR", 2)
			}
			faults, err := chaos.ParseFaults(c.String("faults"))
			if err != nil {
				return ucli.Exit("--faults: "+err.Error(), 2)
			}
			seed := c.Uint64("seed")
			if !c.IsSet("seed") {
				seed = uint64(time.Now().UnixNano() % 1_000_000_000)
			}
			cfg := chaos.Config{
				Nodes: c.Int("nodes"), Duration: c.Duration("duration"), Seed: seed, Faults: faults,
				Docker: c.Bool("docker"), Image: c.String("image"), Binary: c.String("binary"), Dir: c.String("out"),
				Count: c.Int("count"), Rate: c.Float64("rate"), Keys: c.Int("keys"), Width: c.Int("width"),
				Period: c.Duration("period"), Keep: c.Bool("keep"), FinishTimeout: c.Duration("finish-timeout"),
				AgentArgs: c.StringSlice("agent-arg"),
			}
			switch {
			case cfg.Nodes < 3 && !(len(faults) == 1 && faults[0] == chaos.FaultRestartAll):
				return ucli.Exit(fmt.Sprintf("--nodes %d: chaos needs at least 3 nodes to take one down and keep a quorum", cfg.Nodes), 2)
			case cfg.Duration <= 0:
				return ucli.Exit("--duration must be positive", 2)
			case cfg.Count < 0 || cfg.Rate < 0 || cfg.Keys < 1 || cfg.Width < 0 || cfg.Period <= 0:
				return ucli.Exit("--count, --rate, --keys, --width and --period must be positive", 2)
			case !cfg.Docker && slices.Contains(faults, chaos.FaultPartition):
				return ucli.Exit("--faults partition needs --docker: local processes share one network", 2)
			}
			if !c.Bool("quiet") {
				cfg.Progress = env.Stderr
			}
			fmt.Fprintf(env.Stdout, "weir chaos: seed %d\n", seed)
			ctx, cancel := interruptible(env)
			defer cancel()
			rep, err := chaos.Run(ctx, cfg)
			if rep != nil {
				rep.Summary(env.Stdout)
			}
			if err != nil {
				return ucli.Exit(err.Error(), 1)
			}
			if !rep.Pass() {
				return ucli.Exit("", 1)
			}
			return nil
		},
	}
}
