package fsm

import (
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/raft"
)

// These tests run the FSM inside real hashicorp/raft clusters on InmemTransport, InmemStore and
// InmemSnapshotStore with 50 ms timeouts (as hashicorp/raft's testing.go does), raft's logs going to t.Log.

const converge = 10 * time.Second

// testLogWriter sends raft's log lines to t.Log, and drops them once the test is over (t.Log would panic).
type testLogWriter struct {
	mu   sync.Mutex
	t    testing.TB
	done bool
}

func (w *testLogWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if !w.done {
		w.t.Log(strings.TrimSuffix(string(p), "\n"))
	}
	return len(p), nil
}

type raftNode struct {
	id       raft.ServerID
	addr     raft.ServerAddress
	trans    *raft.InmemTransport
	logs     *raft.InmemStore
	snaps    *raft.InmemSnapshotStore
	fsm      *FSM
	raft     *raft.Raft
	restores atomic.Int32 // snapshots restored into fsm
	down     bool
}

// countingFSM counts restores, so tests can tell that a node caught up by installing a snapshot.
type countingFSM struct {
	*FSM
	n *raftNode
}

func (c countingFSM) Restore(rc io.ReadCloser) error {
	c.n.restores.Add(1)
	return c.FSM.Restore(rc)
}

type testCluster struct {
	t     *testing.T
	log   *testLogWriter
	tune  func(*raft.Config)
	nodes []*raftNode
}

// newTestCluster starts n bootstrapped voters; tune adjusts every node's config.
func newTestCluster(t *testing.T, n int, tune func(*raft.Config)) *testCluster {
	w := &testLogWriter{t: t}
	// Registered first, so it runs last: after every raft instance below has shut down.
	t.Cleanup(func() { w.mu.Lock(); w.done = true; w.mu.Unlock() })
	c := &testCluster{t: t, log: w, tune: tune}
	var conf raft.Configuration
	for i := range n {
		node := c.addNode(fmt.Sprintf("s%d", i))
		conf.Servers = append(conf.Servers, raft.Server{Suffrage: raft.Voter, ID: node.id, Address: node.addr})
	}
	for _, node := range c.nodes {
		c.start(node, &conf)
	}
	return c
}

// addNode creates a node with empty stores, connected to every live node, not started.
func (c *testCluster) addNode(id string) *raftNode {
	addr, trans := raft.NewInmemTransport(raft.ServerAddress(id))
	n := &raftNode{id: raft.ServerID(id), addr: addr, trans: trans, logs: raft.NewInmemStore(),
		snaps: raft.NewInmemSnapshotStore(), fsm: New()}
	for _, o := range c.live() {
		c.connect(n, o)
	}
	c.nodes = append(c.nodes, n)
	return n
}

func (c *testCluster) connect(a, b *raftNode) {
	a.trans.Connect(b.addr, b.trans)
	b.trans.Connect(a.addr, a.trans)
}

func (c *testCluster) disconnect(n *raftNode) {
	n.trans.DisconnectAll()
	for _, o := range c.live() {
		if o != n {
			o.trans.Disconnect(n.addr)
		}
	}
}

func (c *testCluster) start(n *raftNode, bootstrap *raft.Configuration) {
	conf := raft.DefaultConfig()
	conf.LocalID = n.id
	conf.HeartbeatTimeout = 50 * time.Millisecond
	conf.ElectionTimeout = 50 * time.Millisecond
	conf.LeaderLeaseTimeout = 50 * time.Millisecond
	conf.CommitTimeout = 5 * time.Millisecond
	conf.Logger = hclog.New(&hclog.LoggerOptions{Name: string(n.id), Output: c.log, Level: hclog.Debug})
	if c.tune != nil {
		c.tune(conf)
	}
	if bootstrap != nil {
		if err := raft.BootstrapCluster(conf, n.logs, n.logs, n.snaps, n.trans, *bootstrap); err != nil {
			c.t.Fatalf("bootstrap %s: %v", n.id, err)
		}
	}
	r, err := raft.NewRaft(conf, countingFSM{FSM: n.fsm, n: n}, n.logs, n.logs, n.snaps, n.trans)
	if err != nil {
		c.t.Fatalf("start %s: %v", n.id, err)
	}
	n.raft = r
	c.t.Cleanup(func() { c.shutdown(n) })
}

// shutdown kills a node. It first cuts the node off from everyone, as a crashed process refuses connections:
// otherwise the others' transports would keep handing RPCs to a consumer nobody reads, and each one would
// wait out the transport's timeout (5 s for InstallSnapshot).
func (c *testCluster) shutdown(n *raftNode) {
	if n.down {
		return
	}
	c.disconnect(n)
	n.down = true
	if err := n.raft.Shutdown().Error(); err != nil {
		c.t.Errorf("shutdown %s: %v", n.id, err)
	}
}

func (c *testCluster) live() []*raftNode {
	var out []*raftNode
	for _, n := range c.nodes {
		if !n.down {
			out = append(out, n)
		}
	}
	return out
}

// leader waits until exactly one live node is leader and returns it.
func (c *testCluster) leader() *raftNode {
	c.t.Helper()
	var l *raftNode
	waitFor(c.t, converge, func() error {
		l = nil
		for _, n := range c.live() {
			if n.raft != nil && n.raft.State() == raft.Leader {
				if l != nil {
					return fmt.Errorf("two leaders: %s and %s", l.id, n.id)
				}
				l = n
			}
		}
		if l == nil {
			return errors.New("no leader")
		}
		return nil
	})
	return l
}

// apply submits a command through the leader and returns the FSM's response. When leadership moves it
// retries: after ErrLeadershipLost the first attempt may have committed anyway, so retried reports that
// a rejection may be the echo of our own first attempt.
func (c *testCluster) apply(typ CommandType, body any) (resp error, retried bool) {
	c.t.Helper()
	data := entry(c.t, typ, body)
	deadline := time.Now().Add(converge)
	for {
		f := c.leader().raft.Apply(data, converge)
		err := f.Error()
		if err == nil {
			if r := f.Response(); r != nil {
				return r.(error), retried
			}
			return nil, retried
		}
		if !errors.Is(err, raft.ErrNotLeader) && !errors.Is(err, raft.ErrLeadershipLost) || time.Now().After(deadline) {
			c.t.Fatalf("apply %s: %v", typ, err)
		}
		retried = true
	}
}

// applyOK applies a command that must be accepted (or, after a retry, may have been accepted the first time).
func (c *testCluster) applyOK(typ CommandType, body any) {
	c.t.Helper()
	if err, retried := c.apply(typ, body); err != nil && !retried {
		c.t.Fatalf("apply %s %+v: %v", typ, body, err)
	}
}

// waitConverged waits until every live node's FSM equals the leader's. The leader has applied every entry
// whose future returned, so equality with it means the others caught up.
func (c *testCluster) waitConverged() *raftNode {
	c.t.Helper()
	l := c.leader()
	waitFor(c.t, converge, func() error {
		want := tablesOf(l.fsm)
		for _, n := range c.live() {
			if d := diffTables(want, tablesOf(n.fsm)); d != nil {
				return fmt.Errorf("%s differs from leader %s: %v", n.id, l.id, d)
			}
		}
		return nil
	})
	return l
}

func (c *testCluster) commitEpochs(job string, gen uint64, from, to uint64) {
	c.t.Helper()
	for e := from; e <= to; e++ {
		c.applyOK(BeginEpochType, BeginEpoch{Job: job, Region: 0, Epoch: e, Generation: gen})
		c.applyOK(CommitEpochType, CommitEpoch{Job: job, Region: 0, Epoch: e, Generation: gen,
			Manifest: map[string]string{"pe0": fmt.Sprintf("ckpt/%d/pe0", e), "pe1": fmt.Sprintf("ckpt/%d/pe1", e)},
			At:       t0.Add(time.Duration(e) * time.Second)})
	}
}

func TestRaftClusterSurvivesLeaderLossAndInstallsSnapshot(t *testing.T) {
	c := newTestCluster(t, 3, func(conf *raft.Config) {
		conf.TrailingLogs = 4 // so that the manual snapshot compacts the log and a new node must install it
	})
	for _, n := range c.nodes {
		c.applyOK(RegisterNodeType, RegisterNode{Node{Name: string(n.id), RPCAddr: string(n.addr), Voter: true, Since: t0}})
	}
	c.applyOK(SubmitJobType, SubmitJob{Job: Job{ID: "j1", Name: "wordcount", Plan: []byte("plan"), Origin: "file", Submitted: t0}})
	c.applyOK(PlaceType, Place{Job: "j1", Placements: map[string]string{"pe0": "s0", "pe1": "s1", "pe2": "s2"},
		Regions: []RegionGeneration{{0, 1}}})
	c.commitEpochs("j1", 1, 1, 5)
	// A rejected command travels back through the future as an *ApplyError.
	err, _ := c.apply(CommitEpochType, CommitEpoch{Job: "j1", Region: 0, Epoch: 3, Generation: 1})
	var ae *ApplyError
	if !errors.As(err, &ae) || !errors.Is(err, ErrStale) || ae.Command != CommitEpochType {
		t.Fatalf("stale commit answered %v", err)
	}

	l := c.waitConverged()
	if r, _ := l.fsm.State().Region("j1", 0); r.Committed != 5 || r.Generation != 1 {
		t.Fatalf("region 0 = %+v", r)
	}

	// Kill the leader: the survivors elect another and keep the state.
	old := l
	c.shutdown(old)
	l = c.leader()
	if l == old {
		t.Fatal("dead leader still leads")
	}
	c.applyOK(NodeStatusType, SetNodeStatus{Name: string(old.id), Status: NodeFailed, Since: t1})
	c.applyOK(NewGenerationType, NewGeneration{Job: "j1", Region: 0, Generation: 2, Attempts: 1, Reason: "node " + string(old.id) + " lost"})
	var live []string
	for _, n := range c.live() {
		live = append(live, string(n.id))
	}
	c.applyOK(PlaceType, Place{Job: "j1", Placements: map[string]string{"pe0": live[0], "pe1": live[1], "pe2": live[0]},
		Regions: []RegionGeneration{{0, 2}}})
	c.commitEpochs("j1", 2, 6, 8)
	l = c.waitConverged()
	r, _ := l.fsm.State().Region("j1", 0)
	if r.Committed != 8 || r.Generation != 2 || r.Resets != 1 || r.Manifest["pe0"] != "ckpt/8/pe0" {
		t.Fatalf("region 0 after failover = %+v", r)
	}
	if n, _ := l.fsm.State().Node(string(old.id)); n.Status != NodeFailed {
		t.Fatalf("old leader = %+v", n)
	}

	// Force a snapshot: what it holds restores into a fresh FSM as the leader's state.
	sf := l.raft.Snapshot()
	if err := sf.Error(); err != nil {
		t.Fatalf("snapshot: %v", err)
	}
	meta, rc, err := sf.Open()
	if err != nil {
		t.Fatalf("open snapshot: %v", err)
	}
	standalone := New()
	if err := standalone.Restore(rc); err != nil {
		t.Fatalf("restore snapshot: %v", err)
	}
	if d := diffTables(tablesOf(l.fsm), tablesOf(standalone)); d != nil {
		t.Fatalf("snapshot at raft index %d differs from the leader: %v", meta.Index, d)
	}
	if meta.Index < standalone.State().Index() {
		t.Fatalf("snapshot meta index %d below the FSM's %d", meta.Index, standalone.State().Index())
	}

	// Replace the dead server with a fresh one: the compacted log leaves the leader no choice but to send it
	// the snapshot.
	if err := l.raft.RemoveServer(old.id, 0, 0).Error(); err != nil {
		t.Fatalf("remove %s: %v", old.id, err)
	}
	fresh := c.addNode("s3")
	c.start(fresh, nil)
	if err := c.leader().raft.AddVoter(fresh.id, fresh.addr, 0, 0).Error(); err != nil {
		t.Fatalf("add %s: %v", fresh.id, err)
	}
	c.waitConverged()
	if fresh.restores.Load() == 0 {
		t.Fatal("the fresh node caught up without installing a snapshot")
	}
	c.applyOK(RegisterNodeType, RegisterNode{Node{Name: "s3", RPCAddr: string(fresh.addr), Voter: true, Since: t2}})
	c.commitEpochs("j1", 2, 9, 9)
	l = c.waitConverged()
	if r, _ := fresh.fsm.State().Region("j1", 0); r.Committed != 9 {
		t.Fatalf("fresh node region 0 = %+v", r)
	}
	for _, n := range c.live() {
		if err := n.fsm.Fatal(); err != nil {
			t.Fatalf("%s fatal: %v", n.id, err)
		}
	}
}

func TestRaftLaggingFollowerInstallsSnapshot(t *testing.T) {
	c := newTestCluster(t, 3, func(conf *raft.Config) {
		// Snapshot automatically and often, keeping few logs, so a follower that misses a few dozen entries
		// can only catch up from a snapshot.
		conf.SnapshotThreshold = 8
		conf.SnapshotInterval = 10 * time.Millisecond
		conf.TrailingLogs = 4
	})
	c.applyOK(SubmitJobType, SubmitJob{Job: Job{ID: "j1", Submitted: t0}})
	c.applyOK(PlaceType, Place{Job: "j1", Placements: map[string]string{"pe0": "s0"}, Regions: []RegionGeneration{{0, 1}}})
	l := c.waitConverged()

	var lag *raftNode
	for _, n := range c.live() {
		if n != l {
			lag = n
			break
		}
	}
	c.disconnect(lag)
	c.commitEpochs("j1", 1, 1, 30)
	// Wait until the leader has compacted away entries the lagging follower still needs.
	waitFor(t, converge, func() error {
		first, err := c.leader().logs.FirstIndex()
		if err != nil {
			return err
		}
		if need := lag.raft.LastIndex() + 1; first <= need {
			return fmt.Errorf("leader still has entry %d (first %d) the follower needs", need, first)
		}
		return nil
	})
	before := lag.restores.Load()
	for _, o := range c.live() {
		if o != lag {
			c.connect(lag, o)
		}
	}
	l = c.waitConverged()
	if lag.restores.Load() == before {
		t.Fatal("the lagging follower caught up without installing a snapshot")
	}
	if r, _ := lag.fsm.State().Region("j1", 0); r.Committed != 30 || r.Commits != 30 {
		t.Fatalf("lagging follower region 0 = %+v", r)
	}
	// And it keeps up afterwards.
	c.commitEpochs("j1", 1, 31, 32)
	c.waitConverged()
}
