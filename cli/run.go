package cli

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	ucli "github.com/urfave/cli/v2"

	"github.com/weirstream/weir/region"
	"github.com/weirstream/weir/standalone"
)

func runCommand(env *Env) *ucli.Command {
	return &ucli.Command{
		Name:      "run",
		Usage:     "run a job in this process until its sources are exhausted or it is interrupted",
		ArgsUsage: "JOB.yaml | GO-JOB",
		Flags: []ucli.Flag{
			paramFlag,
			&ucli.IntFlag{Name: "inject-resets", Usage: "force `N` resets of each consistent region at random moments; the job completes only after all of them"},
			&ucli.Uint64Flag{Name: "seed", Usage: "seed of the injected resets' moments", Value: 1},
			&ucli.StringFlag{Name: "checkpoint-dir", Usage: "keep checkpoints in `DIR` (default: in memory)"},
			&ucli.DurationFlag{Name: "progress", Usage: "print progress every `INTERVAL` (0: never)", Value: time.Second},
			&ucli.BoolFlag{Name: "quiet", Aliases: []string{"q"}, Usage: "print neither progress nor the summary"},
			&ucli.StringFlag{Name: "log-level", Usage: "log `LEVEL`: debug, info, warn, error", Value: "warn"},
			&ucli.BoolFlag{Name: "wait-on-max-attempts", Usage: "when a region reaches its maximum reset attempts, wait for a forced reset (kill -USR1 PID) instead of failing the job"},
		},
		Action: func(c *ucli.Context) error { return runJob(c, env) },
	}
}

func logger(w io.Writer, level string) (*slog.Logger, error) {
	var l slog.Level
	if err := l.UnmarshalText([]byte(level)); err != nil {
		return nil, fmt.Errorf("log level %q: use debug, info, warn or error", level)
	}
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: l})), nil
}

func runJob(c *ucli.Context, env *Env) error {
	job, err := loadArg(c, env)
	if err != nil {
		return err
	}
	log, err := logger(env.Stderr, c.String("log-level"))
	if err != nil {
		return ucli.Exit(err.Error(), 2)
	}
	j, err := standalone.Start(standalone.Options{
		Plan: job.plan, Binding: job.binding,
		CheckpointDir: c.String("checkpoint-dir"),
		InjectResets:  c.Int("inject-resets"), Seed: c.Uint64("seed"),
		KeepOnMaxAttempts: c.Bool("wait-on-max-attempts"),
		Logger:            log,
	})
	if err != nil {
		return ucli.Exit(err.Error(), 2)
	}
	ctx, interrupted := interruptible(env)
	defer interrupted()
	if c.Bool("wait-on-max-attempts") {
		stop := forceResetsOn(env, j)
		defer stop()
	}
	quiet := c.Bool("quiet")
	stopProgress := make(chan struct{})
	progressDone := make(chan struct{})
	go func() {
		defer close(progressDone)
		every := c.Duration("progress")
		if quiet || every <= 0 {
			return
		}
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			select {
			case <-stopProgress:
				return
			case <-t.C:
				fmt.Fprintln(env.Stderr, progressLine(j))
			}
		}
	}()
	err = j.Wait(ctx)
	close(stopProgress)
	<-progressDone
	if ctx.Err() != nil && err == ctx.Err() {
		err = nil // interrupted on purpose: a clean stop
		if !quiet {
			fmt.Fprintln(env.Stderr, "interrupted: job stopped")
		}
	}
	if !quiet {
		fmt.Fprint(env.Stderr, summary(job.plan.Name, j, err))
	}
	if c.String("checkpoint-dir") != "" && err == nil {
		_ = j.RemoveCheckpoints()
	}
	if err != nil {
		return ucli.Exit(fmt.Sprintf("job %s failed: %v", job.plan.Name, err), 1)
	}
	return nil
}

// forceResetsOn forces a reset of every region stopped on its attempts when the process gets SIGUSR1 (or,
// in tests, when env.ForceReset fires).
func forceResetsOn(env *Env, j *standalone.Job) (stop func()) {
	usr1 := make(chan os.Signal, 1)
	signal.Notify(usr1, syscall.SIGUSR1)
	done := make(chan struct{})
	go func() {
		for {
			select {
			case <-done:
				return
			case <-usr1:
			case <-env.ForceReset:
			}
			for _, s := range j.Regions() {
				if s.State == region.MaxAttemptsReached {
					fmt.Fprintf(env.Stderr, "forcing a reset of consistent region %d\n", s.Region)
					_ = j.ForceReset(s.Region)
				}
			}
		}
	}()
	return func() {
		signal.Stop(usr1)
		close(done)
	}
}

// interruptible returns a context ended by SIGINT/SIGTERM, or by env.Signals in tests.
func interruptible(env *Env) (context.Context, func()) {
	if env.Signals != nil {
		ctx, cancel := context.WithCancel(context.Background())
		go func() {
			select {
			case <-env.Signals:
				cancel()
			case <-ctx.Done():
			}
		}()
		return ctx, cancel
	}
	return signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
}

func totals(j *standalone.Job) (in, out uint64) {
	for _, s := range j.Stats() {
		in += s.Emitted
		out += s.Consumed
	}
	return in, out
}

func progressLine(j *standalone.Job) string {
	in, out := totals(j)
	el := j.Elapsed()
	var b strings.Builder
	fmt.Fprintf(&b, "[%7.1fs] in %d (%.0f/s) · out %d", el.Seconds(), in, float64(in)/el.Seconds(), out)
	for _, s := range j.Regions() {
		fmt.Fprintf(&b, " · region %d %s, epoch %d committed, %d resets", s.Region, s.State, s.Committed, s.Resets)
	}
	return b.String()
}

func summary(name string, j *standalone.Job, err error) string {
	in, out := totals(j)
	var b strings.Builder
	verdict := "finished"
	if err != nil {
		verdict = "failed"
	}
	fmt.Fprintf(&b, "job %s %s in %s\n", name, verdict, j.Elapsed().Round(time.Millisecond))
	fmt.Fprintf(&b, "  tuples in (from sources): %d\n", in)
	fmt.Fprintf(&b, "  tuples out (into sinks):  %d\n", out)
	for _, s := range j.Regions() {
		fmt.Fprintf(&b, "  consistent region %d: %s, %d epochs committed (last %d), %d resets", s.Region, s.State, s.Commits, s.Committed, s.Resets)
		if s.LastError != "" && s.Resets > 0 {
			fmt.Fprintf(&b, " (last: %s)", firstLine(s.LastError))
		}
		b.WriteString("\n")
		if s.State == region.MaxAttemptsReached {
			fmt.Fprintf(&b, "    stopped after %d consecutive reset attempts (run with --wait-on-max-attempts to force a reset instead)\n", s.Attempts)
		}
	}
	return b.String()
}

func firstLine(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i]
	}
	return s
}
