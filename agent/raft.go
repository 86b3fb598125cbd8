package agent

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/raft"
	raftboltdb "github.com/hashicorp/raft-boltdb/v2"

	"github.com/weirstream/weir/agent/api"
	"github.com/weirstream/weir/fsm"
	"github.com/weirstream/weir/membership"
	"github.com/weirstream/weir/transport"
)

// startRaft opens the node's Raft server: raft-boltdb log and stable store and file snapshots under the
// data directory (in memory for a dev node), over the multiplexed port.
func (a *Agent) startRaft() error {
	c := &a.cfg
	rc := raft.DefaultConfig()
	rc.LocalID = raft.ServerID(c.Name)
	t := c.timing()
	rc.HeartbeatTimeout, rc.ElectionTimeout, rc.LeaderLeaseTimeout, rc.CommitTimeout = t.heartbeat, t.election, t.lease, t.commit
	rc.SnapshotThreshold = 4096
	rc.SnapshotInterval = 30 * time.Second
	rc.Logger = hclogger(a.log.With("component", "raft"))
	var logs raft.LogStore
	var stable raft.StableStore
	var snaps raft.SnapshotStore
	if c.Dev {
		store := raft.NewInmemStore()
		logs, stable, snaps = store, store, raft.NewInmemSnapshotStore()
	} else {
		dir := filepath.Join(c.DataDir, "raft")
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return fmt.Errorf("agent: raft directory: %w", err)
		}
		store, err := raftboltdb.New(raftboltdb.Options{Path: filepath.Join(dir, "raft.db")})
		if err != nil {
			return fmt.Errorf("agent: open raft store: %w", err)
		}
		a.closers = append(a.closers, store.Close)
		logs, stable = store, store
		if snaps, err = raft.NewFileSnapshotStoreWithLogger(dir, 2, rc.Logger); err != nil {
			return fmt.Errorf("agent: open raft snapshots: %w", err)
		}
	}
	addr, err := net.ResolveTCPAddr("tcp", a.rpcAddr)
	if err != nil {
		return err
	}
	tr := raft.NewNetworkTransportWithConfig(&raft.NetworkTransportConfig{
		Stream: transport.NewRaftLayer(a.mux, addr), MaxPool: 3, Timeout: 10 * time.Second, Logger: rc.Logger,
	})
	existing, err := raft.HasExistingState(logs, stable, snaps)
	if err != nil {
		return fmt.Errorf("agent: read raft state: %w", err)
	}
	a.hadState = existing
	r, err := raft.NewRaft(rc, a.fsm, logs, stable, snaps, tr)
	if err != nil {
		return fmt.Errorf("agent: start raft: %w", err)
	}
	a.raft = r
	return nil
}

// bootstrap forms a new cluster once BootstrapExpect servers have met through gossip: each of them
// bootstraps with the same configuration (the first BootstrapExpect servers by name), which Raft accepts
// as one. A node with Raft state, or without BootstrapExpect, never bootstraps: it waits for a leader to
// add it.
func (a *Agent) bootstrap(ctx context.Context) {
	n := a.cfg.BootstrapExpect
	if a.hadState || n <= 0 {
		return
	}
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for {
		var servers []membership.Member
		for _, m := range a.gossip.Members() {
			if m.Status == membership.Alive && m.Meta.Server {
				servers = append(servers, m)
			}
		}
		if len(servers) >= n {
			slices.SortFunc(servers, func(x, y membership.Member) int { return strings.Compare(x.Name, y.Name) })
			servers = servers[:n]
			var cfg raft.Configuration
			for _, s := range servers {
				cfg.Servers = append(cfg.Servers, raft.Server{Suffrage: raft.Voter, ID: raft.ServerID(s.Name), Address: raft.ServerAddress(s.Meta.RPC)})
			}
			if !slices.ContainsFunc(servers, func(m membership.Member) bool { return m.Name == a.cfg.Name }) {
				a.log.Info("not among the bootstrapping servers; waiting for the leader to add this node")
				return
			}
			err := a.raft.BootstrapCluster(cfg).Error()
			if err != nil && !errors.Is(err, raft.ErrCantBootstrap) {
				a.log.Error("bootstrap failed", "err", err)
				return
			}
			a.log.Info("cluster bootstrapped", "servers", len(cfg.Servers))
			return
		}
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

// Apply commits a command through Raft (the controller's Raft).
func (a *Agent) Apply(cmd []byte, timeout time.Duration) error {
	f := a.raft.Apply(cmd, timeout)
	if err := f.Error(); err != nil {
		return err
	}
	if resp, ok := f.Response().(error); ok && resp != nil {
		return resp
	}
	return nil
}

var _ interface {
	Apply([]byte, time.Duration) error
} = (*Agent)(nil)

// watchFatal shuts the node down when its FSM meets a command it does not know: its binary is older than
// the cluster's, and going on would diverge. Its controller and PEs stop at once; Raft runs a moment longer
// (a heartbeat timeout), so that the other nodes learn that the entry committed and stop too. A leader that
// stopped the instant it applied the entry left the followers waiting for a leader that never came: with
// one more fatal leader after it, the last node of three never learned of the entry at all.
func (a *Agent) watchFatal(f *fsm.FSM) {
	select {
	case <-a.quit:
	case <-f.FatalCh():
		a.log.Error("stopping: this node's binary is older than the cluster's; upgrade it and restart", "err", f.Fatal())
		a.stopController()
		a.worker.Stop()
		select {
		case <-a.quit:
		case <-time.After(a.cfg.timing().heartbeat):
		}
		go a.Shutdown()
	}
}

// hclogger adapts slog for Raft, which wants hclog.
func hclogger(l *slog.Logger) hclog.Logger {
	return hclog.New(&hclog.LoggerOptions{Name: "raft", Level: hclog.Warn, Output: slogWriter{l}, DisableTime: true})
}

type slogWriter struct{ l *slog.Logger }

func (w slogWriter) Write(b []byte) (int, error) {
	msg := string(bytes.TrimSpace(b))
	switch {
	case strings.Contains(msg, "use of closed network connection"):
		// This node's own connections, closed as it stops.
		w.l.Debug(msg)
	case strings.Contains(msg, "[ERROR]"):
		w.l.Error(msg)
	case strings.Contains(msg, "[WARN]"):
		w.l.Warn(msg)
	default:
		w.l.Debug(msg)
	}
	return len(b), nil
}

// awaitCaughtUp closes a.caughtUp once this node's replica holds what the leader had applied when this
// node first reached it (or once this node leads: its replica is the cluster's): the worker starts no PE
// before. A node that restarts on its data directory holds an old state, whose placements may name it for
// PEs that moved while it was away; started, they would run as zombies until the replica caught up — a
// source outside consistent regions emitting its input again from the start, say.
func (a *Agent) awaitCaughtUp(ctx context.Context) {
	defer close(a.caughtUp)
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	var target uint64
	known := false
	for {
		if a.controller() != nil {
			return
		}
		if !known {
			if name, addr := a.leader(); addr != "" && name != a.cfg.Name {
				c := api.NewClient(addr)
				c.HTTP, c.RetryNoLeader = internalHTTP, 0
				qctx, cancel := context.WithTimeout(ctx, 2*time.Second)
				st, err := c.Status(qctx, false)
				cancel()
				if err == nil && st.Node == name && st.Leader == name {
					target, known = st.Index, true
				}
			}
		}
		if known && a.fsm.State().Index() >= target {
			a.log.Info("replica caught up with the leader", "index", target)
			return
		}
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}
