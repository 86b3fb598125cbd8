package agent

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"time"

	"github.com/hashicorp/raft"

	"github.com/weirstream/weir/agent/api"
	"github.com/weirstream/weir/agent/controller"
	"github.com/weirstream/weir/fsm"
	"github.com/weirstream/weir/membership"
)

// monitorLeadership starts the controller when this node becomes leader and stops it when it is not.
func (a *Agent) monitorLeadership() {
	for {
		select {
		case <-a.quit:
			return
		case leading := <-a.raft.LeaderCh():
			if leading {
				a.becomeLeader()
			} else {
				a.log.Info("leadership lost")
				a.events.Add(api.Event{Kind: api.EvLeaderLost, Region: -1})
				a.stopController()
			}
		}
	}
}

func (a *Agent) becomeLeader() {
	if a.fsm.Fatal() != nil {
		return // the node is stopping: see watchFatal
	}
	// The FSM must hold everything the previous leader committed before the controller reads it.
	if err := a.raft.Barrier(10 * time.Second).Error(); err != nil {
		a.log.Error("leader barrier failed; stepping back", "err", err)
		return
	}
	a.log.Info("leading the cluster")
	a.events.Add(api.Event{Kind: api.EvLeaderElected, Region: -1})
	a.reconcileMembers()
	ctl := controller.Start(controller.Config{
		Events: a.events,
		State:  a.fsm.State(), Raft: a, Send: messenger{a}, Jobs: a.cfg.Jobs, Registry: a.cfg.Registry,
		Alive: a.alive, Logger: a.log,
	})
	a.mu.Lock()
	old := a.ctl
	a.ctl = ctl
	a.mu.Unlock()
	if old != nil {
		old.Stop()
	}
	a.reports.wakeUp() // this node's own reports waited for the controller
}

// watchMembers passes gossip's membership changes to the leader's reconciliation, and reconciles
// periodically too, to catch what an event missed.
func (a *Agent) watchMembers() {
	tick := time.NewTicker(2 * time.Second)
	defer tick.Stop()
	for {
		select {
		case <-a.quit:
			return
		case e, ok := <-a.gossip.Events():
			if !ok {
				return
			}
			if a.IsLeader() {
				a.reconcileMember(e.Member)
			}
		case <-tick.C:
			if a.IsLeader() {
				a.reconcileMembers()
			}
		}
	}
}

func (a *Agent) reconcileMembers() {
	for _, m := range a.gossip.Members() {
		a.reconcileMember(m)
	}
}

// reconcileMember brings Raft in line with what gossip says of a member: a live node is registered and is a
// voter while there are fewer than MaxVoters, else a non-voter; a failed node is marked failed and its PEs
// are placed elsewhere, but a voter keeps its seat until it returns or leaves; a node that left is removed.
func (a *Agent) reconcileMember(m membership.Member) {
	if !m.Meta.Server {
		return
	}
	st := a.fsm.State()
	n, known := st.Node(m.Name)
	switch m.Status {
	case membership.Alive:
		// A node on its way out is not registered again: it still gossips until its leave message is out,
		// and it may have told the leader already (announceLeave).
		if m.Meta.Leaving || (known && n.Status == fsm.NodeLeft && time.Since(n.Since) < 20*time.Second) {
			return
		}
		if !known || n.Status != fsm.NodeAlive || n.RPCAddr != m.Meta.RPC || n.HTTPAddr != m.Meta.HTTP {
			node := fsm.Node{Name: m.Name, RPCAddr: m.Meta.RPC, HTTPAddr: m.Meta.HTTP, GossipAddr: m.Addr, Status: fsm.NodeAlive, Since: time.Now()}
			if err := a.applyCmd(fsm.RegisterNodeType, fsm.RegisterNode{Node: node}); err != nil {
				a.log.Warn("register node", "node", m.Name, "err", err)
				return
			}
		}
		a.ensureRaftMember(m)
	case membership.Failed:
		if known && n.Status == fsm.NodeAlive {
			if ctl := a.controller(); ctl != nil {
				ctl.NodeFailed(m.Name, "gossip declared it dead")
			}
		}
	case membership.Left:
		if m.Name != a.cfg.Name {
			if err := a.nodeLeft(m.Name); err != nil {
				a.log.Warn("record leave", "node", m.Name, "err", err)
			}
		}
	}
}

// nodeLeft records on the leader that a node left the cluster for good: its PEs are placed elsewhere and
// it leaves the Raft configuration. Only a configuration that still holds it changes: every change is a
// Raft entry, and reconciliation sees a node that left again every few seconds, forever.
func (a *Agent) nodeLeft(name string) error {
	if n, ok := a.fsm.State().Node(name); ok && n.Status != fsm.NodeLeft {
		if err := a.applyCmd(fsm.NodeStatusType, fsm.SetNodeStatus{Name: name, Status: fsm.NodeLeft, Since: time.Now()}); err != nil {
			return err
		}
		if ctl := a.controller(); ctl != nil {
			ctl.NodeFailed(name, "it left the cluster")
		}
	}
	f := a.raft.GetConfiguration()
	if err := f.Error(); err != nil {
		return err
	}
	for _, s := range f.Configuration().Servers {
		if s.ID == raft.ServerID(name) {
			if err := a.raft.RemoveServer(s.ID, 0, 5*time.Second).Error(); err != nil {
				return fmt.Errorf("remove server: %w", err)
			}
			a.log.Info("raft membership: removed", "node", name)
			return nil
		}
	}
	return nil
}

// announceLeave tells the leader that this node leaves, once gossip has spread its leave. Gossip alone
// cannot be trusted with it: memberlist reports a leave to its event delegate as a failure, and the departing node's last
// meta update (Leaving) may reach the leader after its leave message, or never (a dead node's older
// incarnation is ignored). A leave taken for a failure keeps the node's Raft seat: the cluster counts a
// voter that will never return, and no non-voter takes its place.
func (a *Agent) announceLeave() {
	c := api.NewClient(a.httpAddr) // this node's API forwards it to the leader
	c.HTTP = internalHTTP
	c.RetryNoLeader = 5 * time.Second
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := c.Do(ctx, http.MethodPost, "/internal/v1/leave/"+url.PathEscape(a.cfg.Name), nil, nil); err != nil {
		a.log.Warn("telling the leader that this node leaves", "err", err)
	}
}

// ensureRaftMember adds a live node to the Raft configuration, as a voter while seats remain, and promotes
// non-voters when a seat frees up.
func (a *Agent) ensureRaftMember(m membership.Member) {
	f := a.raft.GetConfiguration()
	if err := f.Error(); err != nil {
		return
	}
	voters := 0
	var self *raft.Server
	for _, s := range f.Configuration().Servers {
		if s.Suffrage == raft.Voter {
			voters++
		}
		if s.ID == raft.ServerID(m.Name) {
			s := s
			self = &s
		}
	}
	id, addr := raft.ServerID(m.Name), raft.ServerAddress(m.Meta.RPC)
	switch {
	case self == nil && voters < a.cfg.MaxVoters:
		err := a.raft.AddVoter(id, addr, 0, 10*time.Second).Error()
		a.logMembership("added voter", m.Name, err)
	case self == nil:
		err := a.raft.AddNonvoter(id, addr, 0, 10*time.Second).Error()
		a.logMembership("added non-voter", m.Name, err)
	case self.Address != addr:
		// Each kind of add keeps the role and changes the address; AddVoter would promote a non-voter,
		// past MaxVoters.
		var err error
		if self.Suffrage == raft.Voter {
			err = a.raft.AddVoter(id, addr, 0, 10*time.Second).Error()
		} else {
			err = a.raft.AddNonvoter(id, addr, 0, 10*time.Second).Error()
		}
		a.logMembership("updated address", m.Name, err)
	case self.Suffrage != raft.Voter && voters < a.cfg.MaxVoters:
		err := a.raft.AddVoter(id, addr, 0, 10*time.Second).Error()
		a.logMembership("promoted to voter", m.Name, err)
	}
}

func (a *Agent) logMembership(what, node string, err error) {
	if err != nil {
		a.log.Warn("raft membership: "+what+" failed", "node", node, "err", err)
		return
	}
	a.log.Info("raft membership: "+what, "node", node)
}

func (a *Agent) applyCmd(t fsm.CommandType, body any) error {
	b, err := fsm.Encode(t, body)
	if err != nil {
		return err
	}
	return a.Apply(b, 10*time.Second)
}
