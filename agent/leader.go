package agent

import (
	"time"

	"github.com/hashicorp/raft"

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
				a.stopController()
			}
		}
	}
}

func (a *Agent) becomeLeader() {
	// The FSM must hold everything the previous leader committed before the controller reads it.
	if err := a.raft.Barrier(10 * time.Second).Error(); err != nil {
		a.log.Error("leader barrier failed; stepping back", "err", err)
		return
	}
	a.log.Info("leading the cluster")
	a.reconcileMembers()
	ctl := controller.Start(controller.Config{
		State: a.fsm.State(), Raft: a, Send: messenger{a}, Jobs: a.cfg.Jobs, Registry: a.cfg.Registry,
		Alive: a.alive, Logger: a.log,
	})
	a.mu.Lock()
	old := a.ctl
	a.ctl = ctl
	a.mu.Unlock()
	if old != nil {
		old.Stop()
	}
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
		if known && n.Status != fsm.NodeLeft {
			if err := a.applyCmd(fsm.NodeStatusType, fsm.SetNodeStatus{Name: m.Name, Status: fsm.NodeLeft, Since: time.Now()}); err != nil {
				a.log.Warn("record leave", "node", m.Name, "err", err)
			}
			if ctl := a.controller(); ctl != nil {
				ctl.NodeFailed(m.Name, "it left the cluster")
			}
		}
		if m.Name != a.cfg.Name {
			if err := a.raft.RemoveServer(raft.ServerID(m.Name), 0, 5*time.Second).Error(); err != nil {
				a.log.Warn("remove server", "node", m.Name, "err", err)
			}
		}
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
		err := a.raft.AddVoter(id, addr, 0, 10*time.Second).Error()
		if self.Suffrage != raft.Voter {
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
