package standalone

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/weirstream/weir/checkpoint"
	"github.com/weirstream/weir/executor"
	"github.com/weirstream/weir/region"
	"github.com/weirstream/weir/topology"
)

// Options configure a run.
type Options struct {
	Plan    *topology.Plan
	Binding topology.Binding
	// JobID keys checkpoints (default: the plan's name and the start time).
	JobID string
	// CheckpointDir keeps checkpoints and the committed-epoch ledger on disk; empty keeps them in memory. A job
	// started with the JobID of one that committed epochs there (after a crash, say) resumes each consistent
	// region from its last committed epoch.
	CheckpointDir string
	// InjectResets forces that many resets of each consistent region at random moments; the job does not
	// complete before all have happened. Seed seeds the moments.
	InjectResets int
	Seed         uint64
	// BatchSize and Credits tune the edges between PEs (executor defaults when 0).
	BatchSize, Credits int
	Logger             *slog.Logger
	// KeepOnMaxAttempts keeps the job waiting for a forced reset when a region reaches its maximum reset
	// attempts; by default the job fails then.
	KeepOnMaxAttempts bool
	// OnRegion is called on every change of a region's status.
	OnRegion func(region.Status)
}

// Job is a running job.
type Job struct {
	o       Options
	ph      *region.Physical
	x       *executor.Executor
	store   checkpoint.Store
	ledger  checkpoint.Ledger
	coords  []*region.Coordinator
	inject  []*injector
	log     *slog.Logger
	started time.Time

	mu       sync.Mutex
	err      error
	failed   chan struct{}
	failOnce sync.Once
	stopOnce sync.Once
	stopped  chan struct{}
}

// Start expands, binds and starts a job.
func Start(o Options) (*Job, error) {
	if o.Plan == nil || o.Binding == nil {
		return nil, errors.New("standalone: Plan and Binding are required")
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	now := time.Now()
	if o.JobID == "" {
		o.JobID = fmt.Sprintf("%s-%s", o.Plan.Name, now.Format("20060102-150405.000"))
	}
	ph, err := region.Expand(o.Plan)
	if err != nil {
		return nil, fmt.Errorf("job %s: %w", o.Plan.Name, err)
	}
	j := &Job{o: o, ph: ph, log: o.Logger, started: now, failed: make(chan struct{}), stopped: make(chan struct{})}
	if o.CheckpointDir != "" {
		if j.store, err = checkpoint.OpenDirStore(o.CheckpointDir + "/checkpoints"); err != nil {
			return nil, err
		}
		if j.ledger, err = checkpoint.OpenDirLedger(o.CheckpointDir + "/ledger"); err != nil {
			return nil, err
		}
	} else {
		j.store, j.ledger = checkpoint.NewMemStore(), checkpoint.NewMemLedger()
	}
	// A job started again under the ID of one that committed epochs (same checkpoint directory, after a crash
	// say) resumes: every region first resets to its last committed epoch, and the PEs wait for that reset
	// instead of starting from scratch. Starting over would also be refused by the ledger, whose epochs only
	// go up.
	committed := make([]uint64, len(ph.Regions))
	resume := false
	for r := range ph.Regions {
		if committed[r], err = j.ledger.Committed(context.Background(), o.JobID, r); err != nil {
			return nil, fmt.Errorf("job %s: %w", o.JobID, err)
		}
		if committed[r] > 0 {
			resume = true
			o.Logger.Info("resuming consistent region", "job", o.JobID, "region", r, "epoch", committed[r])
		}
	}
	j.x, err = executor.New(executor.Options{
		Job: o.JobID, Physical: ph, Binding: o.Binding, Store: j.store, Reporter: (*reporter)(j),
		BatchSize: o.BatchSize, Credits: o.Credits, Logger: o.Logger, AwaitReset: resume,
	})
	if err != nil {
		return nil, err
	}
	rng := rand.New(rand.NewPCG(o.Seed, 0x5eed))
	for r := range ph.Regions {
		reg := &ph.Regions[r]
		var inj *injector
		if o.InjectResets > 0 {
			inj = newInjector(o.InjectResets, reg.Config, rand.New(rand.NewPCG(rng.Uint64(), rng.Uint64())))
			j.inject = append(j.inject, inj)
		}
		opts := region.Options{
			Region: r, Config: reg.Config,
			PEs: peIDs(ph, reg.PEs), Starts: peIDs(ph, reg.Starts),
			Actuator: &actuator{j: j, r: r}, Ledger: &ledger{j: j, r: r},
			Committed: committed[r], ResetFirst: resume,
			Logger: o.Logger,
			OnChange: func(s region.Status) {
				if inj != nil {
					inj.observe(s)
				}
				if o.OnRegion != nil {
					o.OnRegion(s)
				}
				if s.State == region.MaxAttemptsReached && !o.KeepOnMaxAttempts {
					j.fail(fmt.Errorf("consistent region %d stopped: maximum reset attempts reached (%d consecutive resets without a commit); last failure: %s", s.Region, s.Attempts, s.LastError))
				}
			},
		}
		if inj != nil {
			opts.HoldFinal = inj.pending
		}
		c := region.Start(opts)
		j.coords = append(j.coords, c)
		if inj != nil {
			go inj.run(c, j.stopped)
		}
	}
	j.x.Start()
	return j, nil
}

func peIDs(ph *region.Physical, idx []int) []string {
	ids := make([]string, len(idx))
	for i, k := range idx {
		ids[i] = ph.PEs[k].ID
	}
	return ids
}

// Physical returns the job's physical plan.
func (j *Job) Physical() *region.Physical { return j.ph }

// Wait waits until the job completes (nil), fails, a region stops on its attempts (an error), or ctx ends
// (the job is stopped; ctx's error).
func (j *Job) Wait(ctx context.Context) error {
	select {
	case <-j.x.Done():
	case <-j.failed:
	case <-ctx.Done():
		j.fail(ctx.Err())
	}
	j.Stop()
	j.mu.Lock()
	defer j.mu.Unlock()
	return j.err
}

// Stop stops the job and waits for its goroutines.
func (j *Job) Stop() {
	j.stopOnce.Do(func() {
		close(j.stopped)
		for _, c := range j.coords {
			c.Stop()
		}
		j.x.Stop()
		for _, inj := range j.inject {
			<-inj.done
		}
	})
}

func (j *Job) fail(err error) {
	j.failOnce.Do(func() {
		j.mu.Lock()
		j.err = err
		j.mu.Unlock()
		close(j.failed)
	})
}

// ForceReset resets region r with a fresh set of attempts (the way out of maximum attempts reached).
func (j *Job) ForceReset(r int) error {
	if r < 0 || r >= len(j.coords) {
		return fmt.Errorf("job %s has no consistent region %d", j.o.JobID, r)
	}
	j.coords[r].ForceReset("forced reset")
	return nil
}

// Regions returns the status of every consistent region.
func (j *Job) Regions() []region.Status {
	out := make([]region.Status, len(j.coords))
	for i, c := range j.coords {
		out[i] = c.Status()
	}
	return out
}

// Stats returns the PEs' counters.
func (j *Job) Stats() []executor.PEStats { return j.x.Stats() }

// Metrics returns the operators' custom metrics by "instance/name".
func (j *Job) Metrics() map[string]int64 { return j.x.Metrics() }

// Elapsed is the time since the job started.
func (j *Job) Elapsed() time.Duration { return time.Since(j.started) }

// RemoveCheckpoints deletes what the job stored (a finished job's checkpoints serve nothing).
func (j *Job) RemoveCheckpoints() error {
	return j.store.DeleteJob(context.Background(), j.o.JobID)
}
