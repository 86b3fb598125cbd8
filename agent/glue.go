package agent

import (
	"context"
	"fmt"
	"net/http"
	"sync"
	"time"

	"github.com/hashicorp/raft"

	"github.com/weirstream/weir/agent/api"
	"github.com/weirstream/weir/checkpoint"
	"github.com/weirstream/weir/fsm"
	"github.com/weirstream/weir/internal/watch"
)

// backend serves the API from the agent.
type backend struct{ a *Agent }

func (b backend) Self() string                  { return b.a.cfg.Name }
func (b backend) State() *fsm.State             { return b.a.fsm.State() }
func (b backend) Leader() (string, string)      { return b.a.leader() }
func (b backend) VerifyLeader() error           { return b.a.raft.VerifyLeader().Error() }
func (b backend) Worker() api.NodeSide          { return b.a.worker }
func (b backend) Leave()                        { b.a.Leave() }
func (b backend) NodeLeft(name string) error    { return b.a.nodeLeft(name) }
func (b backend) Events() *api.EventLog         { return b.a.events }
func (b backend) Checkpoints() checkpoint.Store { return b.a.store.Local() }

func (b backend) Controller() api.Leader {
	if c := b.a.controller(); c != nil {
		return c
	}
	return nil
}

func (b backend) RaftPeers() ([]api.RaftPeer, error) {
	f := b.a.raft.GetConfiguration()
	if err := f.Error(); err != nil {
		return nil, err
	}
	var out []api.RaftPeer
	for _, s := range f.Configuration().Servers {
		out = append(out, api.RaftPeer{ID: string(s.ID), Address: string(s.Address), Voter: s.Suffrage == raft.Voter})
	}
	return out, nil
}

func (b backend) Members() []api.Member {
	roles := map[string]string{}
	if f := b.a.raft.GetConfiguration(); f.Error() == nil {
		for _, s := range f.Configuration().Servers {
			if s.Suffrage == raft.Voter {
				roles[string(s.ID)] = "voter"
			} else {
				roles[string(s.ID)] = "nonvoter"
			}
		}
	}
	leader, _ := b.a.leader()
	var out []api.Member
	for _, m := range b.a.gossip.Members() {
		role := roles[m.Name]
		if role == "" {
			role = "none"
		}
		out = append(out, api.Member{Name: m.Name, Addr: m.Addr, HTTP: m.Meta.HTTP, RPC: m.Meta.RPC, Status: string(m.Status), Role: role, Leader: m.Name == leader})
	}
	return out
}

// messenger carries the controller's messages to nodes (to this one directly).
type messenger struct{ a *Agent }

func (m messenger) client(node string) (*api.Client, error) {
	n, ok := m.a.fsm.State().Node(node)
	if !ok || n.HTTPAddr == "" {
		return nil, fmt.Errorf("node %s has no known address", node)
	}
	c := api.NewClient(n.HTTPAddr)
	c.HTTP = internalHTTP
	return c, nil
}

var internalHTTP = &http.Client{Timeout: 10 * time.Second}

func (m messenger) Command(ctx context.Context, node string, c api.Command) error {
	if node == m.a.cfg.Name {
		return m.a.worker.Command(c)
	}
	cl, err := m.client(node)
	if err != nil {
		return err
	}
	return cl.Do(ctx, http.MethodPost, "/internal/v1/command", c, nil)
}

func (m messenger) NodePEs(ctx context.Context, node string) (api.NodePEs, error) {
	if node == m.a.cfg.Name {
		return m.a.worker.PEs(), nil
	}
	cl, err := m.client(node)
	if err != nil {
		return api.NodePEs{}, err
	}
	var out api.NodePEs
	err = cl.Do(ctx, http.MethodGet, "/internal/v1/pes", nil, &out)
	return out, err
}

func (m messenger) Ping(ctx context.Context, node string) error {
	if node == m.a.cfg.Name {
		return nil
	}
	cl, err := m.client(node)
	if err != nil {
		return err
	}
	return cl.Do(ctx, http.MethodGet, "/internal/v1/ping", nil, nil)
}

// reportQueue delivers the worker's reports to the leader, in order, in batches, retrying while there is
// no leader or it does not answer. Reports are soft: ones that stay undeliverable for a minute are dropped
// (the region's timeouts recover from a lost report).
type reportQueue struct {
	a    *Agent
	mu   sync.Mutex
	q    []queued
	wake chan struct{}
	up   chan struct{} // a controller came up on this node
}

type queued struct {
	r  api.Report
	at time.Time
}

const maxQueuedReports = 100000

func newReportQueue(a *Agent) *reportQueue {
	return &reportQueue{a: a, wake: make(chan struct{}, 1), up: make(chan struct{}, 1)}
}

func (q *reportQueue) add(r api.Report) {
	q.mu.Lock()
	if len(q.q) >= maxQueuedReports {
		q.q = q.q[1:]
	}
	q.q = append(q.q, queued{r: r, at: time.Now()})
	q.mu.Unlock()
	select {
	case q.wake <- struct{}{}:
	default:
	}
}

// wakeUp makes run try again now (a leader's controller came up).
func (q *reportQueue) wakeUp() {
	select {
	case q.up <- struct{}{}:
	default:
	}
}

func (q *reportQueue) run() {
	// A change of leader ends the wait between attempts: reports held while there was no leader (the
	// backoff has grown to a second by then) go out as soon as there is one. A region's reset after a
	// failover waits for them.
	leaderChanged := make(chan raft.Observation, 1)
	obs := raft.NewObserver(leaderChanged, false, func(o *raft.Observation) bool {
		_, ok := o.Data.(raft.LeaderObservation)
		return ok
	})
	q.a.raft.RegisterObserver(obs)
	defer q.a.raft.DeregisterObserver(obs)
	backoff := 50 * time.Millisecond
	for {
		q.mu.Lock()
		for len(q.q) > 0 && time.Since(q.q[0].at) > time.Minute {
			q.q = q.q[1:]
		}
		batch := make([]api.Report, 0, min(len(q.q), 256))
		for _, e := range q.q[:min(len(q.q), 256)] {
			batch = append(batch, e.r)
		}
		q.mu.Unlock()
		if len(batch) == 0 {
			select {
			case <-q.a.quit:
				return
			case <-q.wake:
				continue
			}
		}
		if err := q.send(batch); err != nil {
			q.a.log.Debug("reports not delivered, retrying", "n", len(batch), "err", err)
			select {
			case <-q.a.quit:
				return
			case <-time.After(backoff):
				backoff = min(backoff*2, time.Second)
			case <-leaderChanged:
				backoff = 50 * time.Millisecond
			case <-q.up:
				backoff = 50 * time.Millisecond
			}
			continue
		}
		backoff = 50 * time.Millisecond
		q.mu.Lock()
		q.q = q.q[min(len(batch), len(q.q)):]
		q.mu.Unlock()
	}
}

func (q *reportQueue) send(batch []api.Report) error {
	if ctl := q.a.controller(); ctl != nil {
		for _, r := range batch {
			ctl.Report(r)
		}
		return nil
	}
	name, addr := q.a.leader()
	if addr == "" {
		return fmt.Errorf("no leader")
	}
	if name == q.a.cfg.Name {
		return fmt.Errorf("leading but the controller is not up yet")
	}
	c := api.NewClient(addr)
	c.HTTP = internalHTTP
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	// A leader that died or froze does not answer (a paused process, a dead container's address): its
	// successor must not wait out the timeout for the reports, which its reset of the region waits for.
	return whileLeads(ctx, name, func() string { n, _ := q.a.leader(); return n }, func(ctx context.Context) error {
		return c.Do(ctx, http.MethodPost, "/internal/v1/reports", batch, nil)
	})
}

// leaderWatch is how often a request to the leader checks that it still leads.
const leaderWatch = 50 * time.Millisecond

// whileLeads runs f with a context that also ends as soon as leader() stops naming name, and returns f's
// error (or, when the leader changed, one that says so).
func whileLeads(ctx context.Context, name string, leader func() string, f func(context.Context) error) error {
	ctx, stop := watch.While(ctx, leaderWatch, func() bool { return leader() == name })
	err := f(ctx)
	if stop() && err != nil {
		return fmt.Errorf("%s stopped leading during the request: %w", name, err)
	}
	return err
}
