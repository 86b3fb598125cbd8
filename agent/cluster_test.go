package agent

import (
	"fmt"
	"testing"
	"time"

	"github.com/weirstream/weir/agent/api"
)

// roles maps each member to its Raft role, as node a sees them.
func roles(t *testing.T, a *Agent) map[string]api.Member {
	t.Helper()
	ms, err := client(a).Members(ctxT(t))
	if err != nil {
		t.Fatalf("members from %s: %v", a.Name(), err)
	}
	out := map[string]api.Member{}
	for _, m := range ms {
		out[m.Name] = m
	}
	return out
}

func countRoles(ms map[string]api.Member) (voters, nonvoters, alive int) {
	for _, m := range ms {
		switch m.Role {
		case "voter":
			voters++
		case "nonvoter":
			nonvoters++
		}
		if m.Status == "alive" {
			alive++
		}
	}
	return
}

// Three agents expecting three bootstrap a cluster; with MaxVoters 3 two more join as non-voters; when a
// voter leaves gracefully, a non-voter takes its seat.
func TestBootstrapVotersAndNonVoters(t *testing.T) {
	c := newCluster(t, clusterOpts{Nodes: 3, MaxVoters: 3})
	leader := c.leader()
	waitFor(t, 15*time.Second, "3 alive voters", func() bool {
		v, nv, alive := countRoles(roles(t, leader))
		return v == 3 && nv == 0 && alive == 3
	})
	f := c.follower()
	st, err := client(f).Status(ctxT(t), false)
	if err != nil {
		t.Fatal(err)
	}
	if st.Leader != leader.Name() || st.Node != f.Name() {
		t.Fatalf("status from follower %s: node %q, leader %q; want leader %s", f.Name(), st.Node, st.Leader, leader.Name())
	}
	if len(st.Peers) != 3 {
		t.Fatalf("status from follower: %d raft peers, want 3: %+v", len(st.Peers), st.Peers)
	}

	for i := 4; i <= 5; i++ {
		c.add(Config{Name: fmt.Sprintf("n%d", i), DataDir: t.TempDir(), BootstrapExpect: 3, MaxVoters: 3, Fast: true})
	}
	waitFor(t, 20*time.Second, "3 voters and 2 non-voters", func() bool {
		ms := roles(t, c.leader())
		v, nv, alive := countRoles(ms)
		return v == 3 && nv == 2 && alive == 5 && ms["n4"].Role == "nonvoter" && ms["n5"].Role == "nonvoter"
	})
	// Every node, non-voters included, has the FSM's node table.
	waitFor(t, 10*time.Second, "every replica to know 5 nodes", func() bool {
		for _, a := range c.live() {
			if len(a.State().Nodes()) != 5 {
				return false
			}
		}
		return true
	})

	// A voter (not the leader) leaves gracefully: a non-voter is promoted.
	var leaving *Agent
	for _, a := range c.live() {
		if !a.IsLeader() && roles(t, a)[a.Name()].Role == "voter" {
			leaving = a
			break
		}
	}
	i := c.index(leaving.Name())
	c.agents[i] = nil
	leaving.Leave()
	waitFor(t, 20*time.Second, "a non-voter promoted after "+leaving.Name()+" left", func() bool {
		l := c.leader()
		if l == nil {
			return false
		}
		ms := roles(t, l)
		v, nv, _ := countRoles(ms)
		_, still := ms[leaving.Name()]
		return v == 3 && nv == 1 && (!still || ms[leaving.Name()].Role == "none")
	})
	// The leader itself leaves: leadership moves, and the last non-voter is promoted.
	old := c.leader()
	c.agents[c.index(old.Name())] = nil
	old.Leave()
	nl := c.waitLeader(old)
	waitFor(t, 20*time.Second, "the last non-voter promoted after the leader left", func() bool {
		l := c.leader()
		if l == nil {
			return false
		}
		v, nv, _ := countRoles(roles(t, l))
		return v == 3 && nv == 0
	})
	t.Logf("leader %s left; new leader %s", old.Name(), nl.Name())
	// Reconciling a departed node again (gossip keeps it as left, and the leader reconciles every few
	// seconds) changes nothing: no Raft entry.
	// Other writes (the periodic reconciliation, region states) may land in the same window: a bug writes
	// every time, so one clean window of several proves it.
	l := c.leader()
	var wrote uint64
	for try := 0; try < 5; try++ {
		last := l.raft.LastIndex()
		for _, gone := range []*Agent{leaving, old} {
			if err := l.nodeLeft(gone.Name()); err != nil {
				t.Fatal(err)
			}
		}
		if wrote = l.raft.LastIndex() - last; wrote == 0 {
			return
		}
	}
	t.Fatalf("reconciling departed nodes again wrote %d Raft entries, every time", wrote)
}

// A non-voter that comes back on another address keeps its role: updating its address used to make it a
// voter, past MaxVoters.
func TestNonVoterMovesAddress(t *testing.T) {
	if raceDetector {
		// hashicorp/raft v1.7.3 reads a follower's peer without its lock while a new address is written
		// (pipelineSend's error log, updateLastAppended): hashicorp/raft#681, fixed by #682, unreleased; a
		// newer raft breaks the build with raft-boltdb/v2 (../shared/DESIGN.md). The race is the library's;
		// scripts/test.sh runs this test again without the race detector.
		t.Skip("moving a Raft server's address races inside hashicorp/raft v1.7.3 (hashicorp/raft#681); run without -race")
	}
	c := newCluster(t, clusterOpts{Nodes: 3, MaxVoters: 3})
	i := c.add(Config{Name: "n4", DataDir: t.TempDir(), BootstrapExpect: 3, MaxVoters: 3, Fast: true})
	waitFor(t, 20*time.Second, "n4 a non-voter", func() bool {
		l := c.leader()
		return l != nil && roles(t, l)["n4"].Role == "nonvoter"
	})
	old := c.cfgs[i].RPCAddr
	c.kill(i)
	c.cfgs[i].RPCAddr = "127.0.0.1:0"
	a := c.restart(i)
	waitFor(t, 20*time.Second, "n4 back on its new address", func() bool {
		l := c.leader()
		if l == nil {
			return false
		}
		m := roles(t, l)["n4"]
		return m.Status == "alive" && m.RPC == a.RPCAddr() && a.RPCAddr() != old
	})
	waitFor(t, 10*time.Second, "the Raft configuration to hold n4's new address", func() bool {
		peers, err := backend{c.leader()}.RaftPeers()
		if err != nil {
			return false
		}
		for _, p := range peers {
			if p.ID == "n4" {
				return p.Address == a.RPCAddr()
			}
		}
		return false
	})
	v, nv, _ := countRoles(roles(t, c.leader()))
	if v != 3 || nv != 1 || roles(t, c.leader())["n4"].Role != "nonvoter" {
		t.Fatalf("after n4 moved: %d voters, %d non-voters, n4 %s", v, nv, roles(t, c.leader())["n4"].Role)
	}
}
