package agent

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"path/filepath"
	"sync"
	"time"

	"github.com/hashicorp/raft"

	"github.com/weirstream/weir/agent/api"
	"github.com/weirstream/weir/agent/controller"
	"github.com/weirstream/weir/agent/worker"
	"github.com/weirstream/weir/checkpoint"
	"github.com/weirstream/weir/fsm"
	"github.com/weirstream/weir/membership"
	"github.com/weirstream/weir/operator/builtin"
	"github.com/weirstream/weir/transport"
)

// Agent is a running node.
type Agent struct {
	cfg Config
	log *slog.Logger

	mux      *transport.Mux
	streams  *transport.Streams
	gossip   *membership.Gossip
	fsm      *fsm.FSM
	raft     *raft.Raft
	hadState bool
	store    *worker.ReplicatedStore
	worker   *worker.Worker
	http     *http.Server
	httpLn   net.Listener
	reports  *reportQueue
	// caughtUp is closed once the replica has caught up with the leader: the worker waits for it.
	caughtUp chan struct{}

	rpcAddr, httpAddr string

	mu      sync.Mutex
	ctl     *controller.Controller
	closers []func() error
	quit    chan struct{}
	events  *api.EventLog
	done    chan struct{}
	stop    sync.Once
	wg      sync.WaitGroup
}

// Start starts a node: it listens, starts gossip and Raft, joins the given nodes (retrying), bootstraps a
// new cluster when BootstrapExpect nodes have met, and serves its API.
func Start(cfg Config) (*Agent, error) {
	if err := cfg.defaults(); err != nil {
		return nil, err
	}
	a := &Agent{cfg: cfg, log: cfg.Logger.With("node", cfg.Name), quit: make(chan struct{}), done: make(chan struct{}), fsm: fsm.New(), caughtUp: make(chan struct{}), events: api.NewEventLog(cfg.Name, 20000)}
	if cfg.Registry == nil {
		a.cfg.Registry = builtin.NewRegistryWithStdout(cfg.Stdout)
	}
	if err := a.start(); err != nil {
		a.Shutdown()
		return nil, err
	}
	return a, nil
}

func (a *Agent) start() error {
	c := &a.cfg
	ln, err := net.Listen("tcp", c.RPCAddr)
	if err != nil {
		return fmt.Errorf("agent: listen on %s for raft and streams: %w", c.RPCAddr, err)
	}
	if a.rpcAddr, err = c.advertised(ln.Addr()); err != nil {
		ln.Close()
		return err
	}
	a.mux = transport.NewMux(ln, a.log.With("component", "mux"))
	a.closers = append(a.closers, a.mux.Close)
	if a.httpLn, err = net.Listen("tcp", c.HTTPAddr); err != nil {
		return fmt.Errorf("agent: listen on %s for the API: %w", c.HTTPAddr, err)
	}
	if a.httpAddr, err = c.advertised(a.httpLn.Addr()); err != nil {
		return err
	}
	a.streams = transport.NewStreams(a.mux, transport.StreamOptions{
		Log: a.log.With("component", "streams"),
		OnBroken: func(key transport.StreamKey, peer string, err error) {
			if w := a.worker; w != nil {
				w.Broken(key, a.nodeOf(peer), err)
			}
		},
	})
	a.closers = append(a.closers, a.streams.Close)
	var local checkpoint.Store = checkpoint.NewMemStore()
	if !c.Dev {
		if local, err = checkpoint.OpenDirStore(filepath.Join(c.DataDir, "checkpoints")); err != nil {
			return err
		}
	}
	a.store = worker.NewReplicatedStore(local, c.Replicas, a.peers)
	a.store.Log = a.log.With("component", "checkpoints").Warn
	a.reports = newReportQueue(a)
	a.worker = worker.New(worker.Config{
		Events: a.events,
		Node:   c.Name, State: a.fsm.State(), Streams: a.streams, Store: a.store, Jobs: c.Jobs, Registry: c.Registry,
		Report: a.reports.add, BatchSize: c.BatchSize, Credits: c.Credits, Logger: a.log, Ready: a.caughtUp,
	})
	gossipAdvertise, err := advertiseGossip(c)
	if err != nil {
		return err
	}
	if a.gossip, err = membership.Start(membership.Config{
		Name: c.Name, Bind: c.GossipAddr, Advertise: gossipAdvertise, Fast: c.Fast, Logger: a.log.With("component", "gossip"),
		Meta: membership.Meta{RPC: a.rpcAddr, HTTP: a.httpAddr, Server: true},
	}); err != nil {
		return err
	}
	if err := a.startRaft(); err != nil {
		return err
	}
	a.http = api.ServeWithTimeouts(api.NewServer(backend{a}, a.log.With("component", "api")))
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		<-a.quit
		cancel()
	}()
	a.spawn(func() {
		if err := a.http.Serve(a.httpLn); err != nil && !errors.Is(err, http.ErrServerClosed) {
			a.log.Error("API server stopped", "err", err)
		}
	})
	a.spawn(a.worker.Run)
	a.spawn(func() { a.awaitCaughtUp(ctx) })
	a.spawn(a.reports.run)
	a.spawn(func() { a.watchFatal(a.fsm) })
	a.spawn(a.monitorLeadership)
	a.spawn(a.watchMembers)
	if len(c.Join) > 0 {
		a.spawn(func() { a.join(ctx) })
	}
	a.spawn(func() { a.reconnect(ctx) })
	a.spawn(func() { a.bootstrap(ctx) })
	a.log.Info("node started", "gossip", a.gossip.Addr(), "rpc", a.rpcAddr, "http", a.httpAddr)
	return nil
}

// join joins the cluster through the Join addresses, retrying until this node has met another one. A join
// list may name this node too (docker-compose.yml gives every node the same list): while the others do not
// answer yet, the node itself answers, and a join that met only itself made no cluster.
func (a *Agent) join(ctx context.Context) {
	for {
		if err := a.gossip.JoinRetry(ctx, a.cfg.Join, time.Second); err != nil {
			return
		}
		for _, m := range a.gossip.Members() {
			if m.Name != a.cfg.Name && m.Status == membership.Alive {
				a.log.Info("joined the cluster", "via", a.cfg.Join)
				return
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(time.Second):
		}
	}
}

// reconnect keeps trying to reach the members gossip declared failed, as serf does. Gossip stops talking to
// a dead member after a while (15 to 30 s), so without this two sides of a partition that lasted longer
// would never merge again once it heals: each believes the other dead. A member that really died costs a
// failed connection attempt per round.
func (a *Agent) reconnect(ctx context.Context) {
	every := 10 * time.Second
	if a.cfg.Fast {
		every = time.Second
	}
	tick := time.NewTicker(every)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		for _, m := range a.gossip.Members() {
			if m.Status != membership.Failed || m.Name == a.cfg.Name || ctx.Err() != nil {
				continue
			}
			if _, err := a.gossip.Join([]string{m.Addr}); err == nil {
				a.log.Info("reconnected to a member gossip had declared failed", "member", m.Name, "addr", m.Addr)
			}
		}
	}
}

// advertiseGossip is the gossip address others dial, when Advertise is set and the gossip port is fixed
// ("" lets memberlist choose). Memberlist wants an IP: a host name is resolved.
func advertiseGossip(c *Config) (string, error) {
	if c.Advertise == "" {
		return "", nil
	}
	_, port, err := net.SplitHostPort(c.GossipAddr)
	if err != nil || port == "0" {
		return "", nil
	}
	host, err := c.advertiseIP()
	if err != nil {
		return "", err
	}
	return net.JoinHostPort(host, port), nil
}

func (a *Agent) spawn(f func()) {
	a.wg.Add(1)
	go func() {
		defer a.wg.Done()
		f()
	}()
}

// Name is the node's name.
func (a *Agent) Name() string { return a.cfg.Name }

// HTTPAddr is the address of the node's API.
func (a *Agent) HTTPAddr() string { return a.httpAddr }

// RPCAddr is the address of the node's Raft and stream port.
func (a *Agent) RPCAddr() string { return a.rpcAddr }

// GossipAddr is the address others join.
func (a *Agent) GossipAddr() string { return a.gossip.Addr() }

// Done is closed when the agent has stopped.
func (a *Agent) Done() <-chan struct{} { return a.done }

// State is the node's FSM replica.
func (a *Agent) State() *fsm.State { return a.fsm.State() }

// IsLeader reports whether the node leads the cluster.
func (a *Agent) IsLeader() bool { return a.raft != nil && a.raft.State() == raft.Leader }

// Shutdown stops the node without leaving: to the others this looks like a failure.
func (a *Agent) Shutdown() {
	a.stop.Do(func() {
		close(a.quit)
		a.stopController()
		if a.worker != nil {
			a.worker.Stop()
		}
		if a.http != nil {
			// A grace period for requests in flight, then every connection closes: Shutdown alone leaves
			// open those it gave up waiting for, among them connections a client dialled but has not used
			// yet (they count as new, not idle, for five seconds).
			ctx, cancel := context.WithTimeout(context.Background(), time.Second)
			_ = a.http.Shutdown(ctx)
			cancel()
			_ = a.http.Close()
		}
		if a.raft != nil {
			// A snapshot, so that a restart on the data directory has its replica at once: Raft restores a
			// snapshot when it starts, but applies its log only once a leader says how much is committed.
			if !a.cfg.Dev && a.fsm.Fatal() == nil {
				_ = a.raft.Snapshot().Error()
			}
			if err := a.raft.Shutdown().Error(); err != nil {
				a.log.Warn("raft shutdown", "err", err)
			}
		}
		if a.gossip != nil {
			_ = a.gossip.Shutdown()
		}
		for i := len(a.closers) - 1; i >= 0; i-- {
			if err := a.closers[i](); err != nil {
				a.log.Debug("close", "err", err)
			}
		}
		a.wg.Wait()
		close(a.done)
		a.log.Info("node stopped")
	})
}

// Leave leaves the cluster gracefully: leadership is handed over, the leader removes the node from Raft
// and places its PEs elsewhere, then the node stops.
func (a *Agent) Leave() {
	select {
	case <-a.quit:
		return
	default:
	}
	a.log.Info("leaving the cluster")
	if a.lastVoter() {
		// No one to hand leadership to or to be removed by: leaving is stopping.
		a.log.Info("the last voter leaves: the cluster stops with it")
		a.Shutdown()
		return
	}
	if a.IsLeader() {
		if err := a.raft.LeadershipTransfer().Error(); err != nil {
			a.log.Warn("leadership transfer", "err", err)
		}
	}
	if err := a.gossip.Leave(5 * time.Second); err != nil {
		a.log.Warn("gossip leave", "err", err)
	}
	a.announceLeave()
	// Wait (a while) for the leader to take this node out of the Raft configuration.
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		f := a.raft.GetConfiguration()
		if f.Error() != nil {
			break
		}
		in := false
		for _, s := range f.Configuration().Servers {
			if s.ID == raft.ServerID(a.cfg.Name) {
				in = true
			}
		}
		if !in {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	a.Shutdown()
}

// lastVoter reports whether this node is the only voter of the Raft configuration.
func (a *Agent) lastVoter() bool {
	f := a.raft.GetConfiguration()
	if f.Error() != nil {
		return false
	}
	voters, me := 0, false
	for _, s := range f.Configuration().Servers {
		if s.Suffrage == raft.Voter {
			voters++
			me = me || s.ID == raft.ServerID(a.cfg.Name)
		}
	}
	return me && voters == 1
}

// nodeOf names the node listening at a stream peer address, or "" when the address is not a node's (the
// ephemeral port of an incoming connection: the sender's side names the node).
func (a *Agent) nodeOf(addr string) string {
	for _, n := range a.fsm.State().Nodes() {
		if n.RPCAddr == addr {
			return n.Name
		}
	}
	return ""
}

// peers lists the other alive nodes for checkpoint replication.
func (a *Agent) peers() []worker.Peer {
	var out []worker.Peer
	for _, name := range a.alive() {
		if name == a.cfg.Name {
			continue
		}
		if n, ok := a.fsm.State().Node(name); ok {
			out = append(out, worker.Peer{Name: n.Name, HTTP: n.HTTPAddr})
		}
	}
	return out
}

// alive lists the nodes that can run PEs: alive in the FSM and to gossip, sorted.
func (a *Agent) alive() []string {
	var out []string
	for _, n := range a.fsm.State().Nodes() {
		if n.Status != fsm.NodeAlive {
			continue
		}
		if m, ok := a.gossip.Member(n.Name); ok && m.Status == membership.Alive {
			out = append(out, n.Name)
		}
	}
	return out
}

// leader returns the leader's name and HTTP address.
func (a *Agent) leader() (string, string) {
	_, id := a.raft.LeaderWithID()
	if id == "" {
		return "", ""
	}
	name := string(id)
	if n, ok := a.fsm.State().Node(name); ok && n.HTTPAddr != "" {
		return name, n.HTTPAddr
	}
	if m, ok := a.gossip.Member(name); ok {
		return name, m.Meta.HTTP
	}
	return name, ""
}

func (a *Agent) controller() *controller.Controller {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.ctl
}

func (a *Agent) stopController() {
	a.mu.Lock()
	ctl := a.ctl
	a.ctl = nil
	a.mu.Unlock()
	if ctl != nil {
		ctl.Stop()
	}
}
