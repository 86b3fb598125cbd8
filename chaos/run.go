package chaos

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/weirstream/weir/agent/api"
	"github.com/weirstream/weir/cluster"
)

// PE IDs of the verification job.
const (
	sourcePE = "source"
	sinkPE   = "eo_record" // the merge after the region, fused with the exactly-once sink
)

// Config configures a run.
type Config struct {
	Nodes    int
	Duration time.Duration // of the fault window
	Seed     uint64
	Faults   []string
	// Docker runs the agents in containers (Image, default cluster.DefaultImage) on a private network;
	// otherwise they are local processes of Binary (default this executable).
	Docker bool
	Image  string
	Binary string
	// Dir receives report.json, history.jsonl, the outputs (out/) and the local cluster (cluster/).
	Dir string
	// The job: Count values (default Rate × (Duration + 15 s)) at Rate per second (default 1000), Keys keys
	// (16), a region of Width channels (default: one per node) committing every Period (1 s).
	Count  int
	Rate   float64
	Keys   int
	Width  int
	Period time.Duration
	// AgentArgs are extra arguments for every agent (--log-level debug, say).
	AgentArgs []string
	// Keep leaves the cluster up at the end.
	Keep bool
	// FinishTimeout bounds the wait for the job's end once every fault is healed (default 3 minutes).
	FinishTimeout time.Duration
	// Progress, if set, receives a line per fault and phase.
	Progress io.Writer
}

func (c *Config) defaults() error {
	if c.Nodes == 0 {
		c.Nodes = 3
	}
	if c.Duration == 0 {
		c.Duration = time.Minute
	}
	if len(c.Faults) == 0 {
		c.Faults = DefaultFaults
	}
	if c.Rate == 0 {
		c.Rate = 1000
	}
	if c.Count == 0 {
		c.Count = int(c.Rate * (c.Duration + 15*time.Second).Seconds())
	}
	if c.Keys == 0 {
		c.Keys = 16
	}
	if c.Width == 0 {
		c.Width = c.Nodes
	}
	if c.Period == 0 {
		c.Period = time.Second
	}
	if c.FinishTimeout == 0 {
		c.FinishTimeout = 3 * time.Minute
	}
	switch {
	case c.Dir == "":
		return errors.New("chaos: no output directory")
	case c.Nodes < 1:
		return fmt.Errorf("chaos: %d nodes", c.Nodes)
	case c.Count < 1 || c.Rate < 0 || c.Keys < 1 || c.Width < 1 || c.Period <= 0:
		return fmt.Errorf("chaos: bad job parameters (count %d, rate %g, keys %d, width %d, period %s)", c.Count, c.Rate, c.Keys, c.Width, c.Period)
	case slices.Contains(c.Faults, FaultPartition) && !c.Docker:
		return errors.New("chaos: partitions need --docker (local processes share one network)")
	}
	return nil
}

// runner is one run under way.
type runner struct {
	cfg     Config
	t       target
	h       *History
	rec     *recorder
	job     string
	began   time.Time // of the run
	start   time.Time // of the fault window
	faults  []Fault
	pending []ending
	errs    []string
}

func (r *runner) note(format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	r.h.Add(Entry{Type: TypeNote, Detail: msg})
	r.progress("%7s  %s", secs(time.Since(r.began)), msg)
}

func (r *runner) errorf(format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	r.errs = append(r.errs, msg)
	r.h.Add(Entry{Type: TypeNote, Kind: "error", Detail: msg})
	r.progress("         error: %s", msg)
}

func (r *runner) progress(format string, args ...any) {
	if r.cfg.Progress != nil {
		fmt.Fprintf(r.cfg.Progress, format+"\n", args...)
	}
}

// Run starts a cluster, runs the verification job on it while injecting the faults of the schedule drawn
// from the seed, heals everything, waits for the job's end, checks the outputs and the history, and writes
// DIR/report.json. It returns an error only when the run could not be carried out (the cluster did not
// start, the job was refused); a run whose checks fail returns a report that does not Pass.
func Run(ctx context.Context, cfg Config) (*Report, error) {
	if err := cfg.defaults(); err != nil {
		return nil, err
	}
	steps, err := NewSchedule(ScheduleSpec{Seed: cfg.Seed, Nodes: cfg.Nodes, Duration: cfg.Duration, Faults: cfg.Faults})
	if err != nil {
		return nil, err
	}
	dir, err := filepath.Abs(cfg.Dir)
	if err != nil {
		return nil, err
	}
	out := filepath.Join(dir, "out")
	if err := os.MkdirAll(out, 0o777); err != nil {
		return nil, fmt.Errorf("chaos: %w", err)
	}
	// Containers may write as another user (rootless engines map users).
	_ = os.Chmod(out, 0o777)
	h, err := NewHistory(filepath.Join(dir, "history.jsonl"))
	if err != nil {
		return nil, err
	}
	defer h.Close()
	r := &runner{cfg: cfg, h: h, began: time.Now(), start: time.Now()}
	rep := &Report{Seed: cfg.Seed, Nodes: cfg.Nodes, Docker: cfg.Docker, Duration: cfg.Duration.String(), Kinds: cfg.Faults,
		Started: time.Now(), Schedule: steps, Outputs: Outputs{ExactlyOnce: filepath.Join(out, "eo"), AtLeastOnce: filepath.Join(out, "alo"),
			History: filepath.Join(dir, "history.jsonl")}}

	r.progress("weir chaos: %s; starting %s", cfg.describe(), map[bool]string{false: "local agents", true: "agent containers"}[cfg.Docker])
	agentOut := out
	if cfg.Docker {
		ucx, cancel := context.WithTimeout(ctx, 3*time.Minute)
		dc, err := cluster.UpDocker(ucx, cluster.DockerSpec{Nodes: cfg.Nodes, Image: cfg.Image, Out: out, Fast: true, Args: cfg.AgentArgs})
		cancel()
		if err != nil {
			return nil, fmt.Errorf("chaos: start the cluster: %w", err)
		}
		r.t = newDockerTarget(dc)
		agentOut = "/out"
		rep.Outputs.Cluster = r.t.Where()
	} else {
		ucx, cancel := context.WithTimeout(ctx, 2*time.Minute)
		lc, err := cluster.Up(ucx, cluster.Spec{Nodes: cfg.Nodes, Dir: filepath.Join(dir, "cluster"), Binary: cfg.Binary, Fast: true, Args: cfg.AgentArgs})
		cancel()
		if err != nil {
			return nil, fmt.Errorf("chaos: start the cluster: %w", err)
		}
		r.t = newLocalTarget(lc)
		rep.Outputs.Cluster = lc.Dir
	}
	defer func() {
		if err := r.t.SaveLogs(filepath.Join(dir, "logs")); err != nil {
			r.progress("saving the logs: %v", err)
		}
		if cfg.Keep {
			r.progress("the cluster stays up: %s", r.t.Where())
			return
		}
		if err := r.t.Down(); err != nil {
			r.progress("removing the cluster: %v", err)
		}
	}()
	r.rec = newRecorder(h, r.t, sinkPE)
	rctx, stopRec := context.WithCancel(context.WithoutCancel(ctx))
	recDone := make(chan struct{})
	go func() { defer close(recDone); r.rec.run(rctx) }()
	stopRecorder := func() {
		stopRec()
		<-recDone
	}
	defer stopRecorder()

	params := JobParams{Count: cfg.Count, Rate: cfg.Rate, Keys: cfg.Keys, Width: cfg.Width, Period: cfg.Period, Out: agentOut}.Map()
	rep.Params = params
	if err := r.submit(ctx, params); err != nil {
		return nil, err
	}
	rep.Job = r.job
	if err := r.waitFirstCommit(ctx); err != nil {
		return nil, err
	}

	// The fault window.
	r.start = time.Now()
	r.note("fault window of %s begins: %d faults planned", cfg.Duration, len(steps))
	bound := Tolerated(cfg.Nodes)
	for _, s := range steps {
		if !r.waitUntil(ctx, r.start.Add(s.At)) {
			break
		}
		// The schedule keeps within the tolerated number of nodes down; faults that took longer than planned
		// might not: wait for those under way to end first.
		for len(r.pending) > 0 && (s.Kind == StepRestartAll || len(r.affected())+s.size(cfg.Nodes) > bound) {
			i := r.nextEnding()
			if !r.waitUntil(ctx, r.pending[i].due) {
				break
			}
		}
		if ctx.Err() != nil {
			break
		}
		r.inject(ctx, s)
	}
	r.waitUntil(ctx, r.start.Add(cfg.Duration))
	r.healAll()
	r.note("every fault healed")

	final := r.waitFinished(ctx)
	stopRecorder()
	r.rec.poll(context.Background()) // the last events
	rep.Ended = time.Now()
	r.finish(rep, final)
	if err := rep.Write(filepath.Join(dir, "report.json")); err != nil {
		return rep, err
	}
	return rep, nil
}

// submit submits the verification job through a node chosen by the seed.
func (r *runner) submit(ctx context.Context, params map[string]string) error {
	names := r.t.Names()
	rng := rand.New(rand.NewPCG(r.cfg.Seed, 1))
	via := names[rng.IntN(len(names))]
	cl, ok := r.t.Client(via)
	if !ok {
		return fmt.Errorf("chaos: node %s is out of reach", via)
	}
	cl.RetryNoLeader = 30 * time.Second
	cl.HTTP.Timeout = 30 * time.Second
	sctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	id, err := cl.Submit(sctx, api.SubmitRequest{GoJob: JobName, Params: params})
	if err != nil {
		return fmt.Errorf("chaos: submit %s through %s: %w", JobName, via, err)
	}
	r.job = id
	r.rec.setJob(id)
	r.note("job %s submitted through %s", id, via)
	return nil
}

// waitFirstCommit waits for the job's first committed epoch, so that faults meet a job under way.
func (r *runner) waitFirstCommit(ctx context.Context) error {
	deadline := time.Now().Add(90 * time.Second)
	for time.Now().Before(deadline) {
		if j, ok := r.rec.lastStatus(); ok {
			if j.State == "failed" {
				return fmt.Errorf("chaos: job %s failed before its first commit: %s", r.job, j.Error)
			}
			if len(j.Regions) > 0 && j.Regions[0].Committed > 0 {
				return nil
			}
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
	return fmt.Errorf("chaos: job %s committed no epoch within 90 s (logs: %s)", r.job, r.t.Where())
}

// waitFinished waits for a leader, then for the job to end (or the finish timeout), and returns its last
// status.
func (r *runner) waitFinished(ctx context.Context) api.Job {
	deadline := time.Now().Add(r.cfg.FinishTimeout)
	for time.Now().Before(deadline) && ctx.Err() == nil {
		if j, ok := r.rec.lastStatus(); ok && terminal(j.State) && j.ID == r.job {
			r.note("job %s %s", r.job, j.State)
			return j
		}
		select {
		case <-ctx.Done():
		case <-time.After(200 * time.Millisecond):
		}
	}
	j, _ := r.rec.lastStatus()
	r.errorf("job %s did not end within %s of the heal (state %q)", r.job, r.cfg.FinishTimeout, j.State)
	return j
}

func terminal(state string) bool {
	return state == "finished" || state == "failed" || state == "cancelled"
}

// finish checks the outputs and the history and fills the report.
func (r *runner) finish(rep *Report, j api.Job) {
	entries := r.h.Entries()
	rep.JobState = JobSummary{State: j.State, Error: j.Error}
	var final uint64
	if len(j.Regions) > 0 {
		reg := j.Regions[0]
		final = reg.Committed
		rep.JobState.Committed, rep.JobState.Generation, rep.JobState.Commits, rep.JobState.Resets = reg.Committed, reg.Generation, reg.Commits, reg.Resets
	}
	rep.Checks = append(rep.Checks, JobFinished(j.State, j.Error))
	if alo, err := ReadALO(rep.Outputs.AtLeastOnce, r.cfg.Count); err != nil {
		rep.Checks = append(rep.Checks, failed(CheckNothingLost, "%v", err))
	} else {
		rep.Checks = append(rep.Checks, NothingLost(alo, r.cfg.Count))
	}
	if eo, err := ReadEO(rep.Outputs.ExactlyOnce, r.cfg.Count, r.cfg.Keys); err != nil {
		for _, name := range []string{CheckExactlyOnce, CheckPerKeyState, CheckNoFencedOutput} {
			rep.Checks = append(rep.Checks, failed(name, "%v", err))
		}
		rep.Checks = append(rep.Checks, EpochsIncreasing(entries, r.job))
	} else {
		rep.Checks = append(rep.Checks, ExactlyOnce(eo, r.cfg.Count), PerKeyState(eo, r.cfg.Count, r.cfg.Keys),
			EpochsIncreasing(entries, r.job), NoFencedOutput(eo, entries, r.job, 0, final, r.cfg.Period))
	}
	recover(r.faults, entries, r.job, r.cfg.Period)
	rep.Faults = r.faults
	rep.Recovery = summarize(r.faults)
	rep.Counts = countHistory(entries, r.job)
	r.rec.mu.Lock()
	rep.Counts.LostEvents = r.rec.lost
	r.rec.mu.Unlock()
	rep.Errors = r.errs
	rep.Verdict = "fail"
	if rep.Pass() {
		rep.Verdict = "pass"
	}
}

// describe names a run's setup in one line.
func (c Config) describe() string {
	return fmt.Sprintf("%d nodes, %s, faults %s, seed %d", c.Nodes, c.Duration, strings.Join(c.Faults, ","), c.Seed)
}
