package standalone

import (
	"fmt"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/weirstream/weir/region"
	"github.com/weirstream/weir/topology"
)

// injector forces resets of one region at random moments (like streamsx's Tester.resets). It waits for a
// commit between two resets, so that injected resets never exhaust the region's attempts, and it holds the
// final epoch back until every reset has happened.
type injector struct {
	total int
	cfg   topology.Consistent
	rng   *rand.Rand
	done  chan struct{}

	mu        sync.Mutex
	confirmed int // resets injected and seen to happen
	status    region.Status
	changed   chan struct{}
}

func newInjector(n int, cfg topology.Consistent, rng *rand.Rand) *injector {
	return &injector{total: n, cfg: cfg, rng: rng, done: make(chan struct{}), changed: make(chan struct{}, 1)}
}

// pending reports whether resets remain to be injected (the coordinator's HoldFinal).
func (in *injector) pending() bool {
	in.mu.Lock()
	defer in.mu.Unlock()
	return in.confirmed < in.total
}

func (in *injector) observe(s region.Status) {
	in.mu.Lock()
	in.status = s
	in.mu.Unlock()
	select {
	case in.changed <- struct{}{}:
	default:
	}
}

func (in *injector) snapshot() region.Status {
	in.mu.Lock()
	defer in.mu.Unlock()
	return in.status
}

func (in *injector) run(c *region.Coordinator, stop <-chan struct{}) {
	defer close(in.done)
	period := in.cfg.Period
	if period <= 0 {
		period = time.Second
	}
	commits := -1 // the first reset needs no commit before it
	for i := 1; i <= in.total; {
		// A random moment: anywhere from just after the last reset to a period and a half later, so that
		// resets land while processing, while draining and around commits.
		delay := time.Duration(in.rng.Int64N(int64(period + period/2)))
		select {
		case <-stop:
			return
		case <-time.After(delay):
		}
		for {
			s := in.snapshot()
			if (s.State == region.Processing || s.State == region.Draining) && s.Commits > commits {
				commits = s.Commits
				break
			}
			if s.State == region.Finished || s.State == region.Stopped || s.State == region.MaxAttemptsReached {
				return
			}
			select {
			case <-stop:
				return
			case <-in.changed:
			case <-time.After(period / 4):
			}
		}
		resets := in.snapshot().Resets
		c.Inject(fmt.Sprintf("injected reset %d of %d", i, in.total))
		// The region was processing or draining when we looked, and it leaves those states only by a reset
		// (the final epoch is held back), so the injection lands unless something else reset the region first
		// — which counts as well. Wait for it however long the coordinator takes: retrying after a timeout
		// would reset the region twice when the first injection was merely slow to show.
		landed := in.await(func(s region.Status) bool {
			return s.Resets > resets || s.State == region.Finished || s.State == region.Stopped ||
				s.State == region.MaxAttemptsReached
		}, stop)
		if !landed {
			return
		}
		if in.snapshot().Resets <= resets {
			return // the region finished or stopped
		}
		in.mu.Lock()
		in.confirmed = i
		in.mu.Unlock()
		i++
	}
}

// await waits until cond holds of the region's status; false if the job stops first.
func (in *injector) await(cond func(region.Status) bool, stop <-chan struct{}) bool {
	for {
		if cond(in.snapshot()) {
			return true
		}
		select {
		case <-stop:
			return false
		case <-in.changed:
		}
	}
}
