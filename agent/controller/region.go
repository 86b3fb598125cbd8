package controller

import (
	"context"
	"sync"
	"time"

	"github.com/weirstream/weir/agent/api"
	"github.com/weirstream/weir/fsm"
)

// actuator carries one region's commands to the nodes that run its PEs, found at send time from the
// placements (so a command follows a PE that moved).
type actuator struct {
	ctl    *Controller
	job    *jobCtl
	region int
}

func (a *actuator) nodes(startsOnly bool) []string {
	reg := &a.job.ph.Regions[a.region]
	idx := reg.PEs
	if startsOnly {
		idx = reg.Starts
	}
	place := a.ctl.c.State.Placements(a.job.id)
	seen := map[string]bool{}
	var out []string
	for _, k := range idx {
		if n := place[a.job.ph.PEs[k].ID]; n != "" && !seen[n] {
			seen[n] = true
			out = append(out, n)
		}
	}
	return out
}

func (a *actuator) send(startsOnly bool, c api.Command) {
	c.Job, c.Region = a.job.id, a.region
	for _, n := range a.nodes(startsOnly) {
		a.ctl.sendTo(n, c)
	}
}

func (a *actuator) Drain(epoch, gen uint64, final bool) {
	a.send(true, api.Command{Kind: api.CmdDrain, Epoch: epoch, Gen: gen, Final: final})
}
func (a *actuator) Reset(gen, epoch uint64) {
	a.send(false, api.Command{Kind: api.CmdReset, Epoch: epoch, Gen: gen})
}
func (a *actuator) Resume(gen uint64) { a.send(false, api.Command{Kind: api.CmdResume, Gen: gen}) }
func (a *actuator) Committed(gen, epoch uint64, final bool) {
	a.send(false, api.Command{Kind: api.CmdCommitted, Epoch: epoch, Gen: gen, Final: final})
}

// ledger records one region's decisions in Raft.
type ledger struct {
	ctl    *Controller
	job    string
	region int
}

func (l *ledger) Commit(epoch, gen uint64, refs map[string]string) error {
	return l.ctl.apply(fsm.CommitEpochType, fsm.CommitEpoch{Job: l.job, Region: l.region, Epoch: epoch, Generation: gen, Manifest: refs, At: time.Now()})
}

func (l *ledger) NewGeneration(gen uint64, attempts int, reason string) error {
	return l.ctl.apply(fsm.NewGenerationType, fsm.NewGeneration{Job: l.job, Region: l.region, Generation: gen, Attempts: attempts, Reason: reason})
}

func (l *ledger) Begin(epoch, gen uint64) error {
	return l.ctl.apply(fsm.BeginEpochType, fsm.BeginEpoch{Job: l.job, Region: l.region, Epoch: epoch, Generation: gen})
}

// outbox delivers commands to one node, in order, retrying while the controller runs and the node is
// alive: commands are idempotent, and a lost one would cost a drain or reset timeout.
type outbox struct {
	mu    sync.Mutex
	queue []api.Command
	wake  chan struct{}
}

func (ctl *Controller) sendTo(node string, c api.Command) {
	ctl.mu.Lock()
	ob := ctl.outbox[node]
	if ob == nil {
		ob = &outbox{wake: make(chan struct{}, 1)}
		ctl.outbox[node] = ob
		ctl.wg.Add(1)
		go ctl.deliver(node, ob)
	}
	ctl.mu.Unlock()
	ob.mu.Lock()
	ob.queue = append(ob.queue, c)
	ob.mu.Unlock()
	select {
	case ob.wake <- struct{}{}:
	default:
	}
}

func (ctl *Controller) deliver(node string, ob *outbox) {
	defer ctl.wg.Done()
	backoff := 50 * time.Millisecond
	for {
		ob.mu.Lock()
		var c api.Command
		have := len(ob.queue) > 0
		if have {
			c = ob.queue[0]
		}
		ob.mu.Unlock()
		if !have {
			select {
			case <-ctl.ctx.Done():
				return
			case <-ob.wake:
				continue
			}
		}
		ctx, cancel := context.WithTimeout(ctl.ctx, 5*time.Second)
		err := ctl.c.Send.Command(ctx, node, c)
		cancel()
		if err == nil || !ctl.nodeAlive(node) {
			if err != nil {
				ctl.log.Debug("dropping command for a lost node", "node", node, "command", c.Kind, "err", err)
			}
			ob.mu.Lock()
			ob.queue = ob.queue[1:]
			ob.mu.Unlock()
			backoff = 50 * time.Millisecond
			continue
		}
		ctl.log.Debug("command not delivered, retrying", "node", node, "command", c.Kind, "err", err)
		select {
		case <-ctl.ctx.Done():
			return
		case <-time.After(backoff):
		}
		backoff = min(backoff*2, time.Second)
	}
}

func (ctl *Controller) nodeAlive(node string) bool {
	for _, n := range ctl.c.Alive() {
		if n == node {
			return true
		}
	}
	return false
}
