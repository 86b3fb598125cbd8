package chaos

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"time"

	"github.com/weirstream/weir/agent/api"
	"github.com/weirstream/weir/cluster"
)

// target is a cluster the runner injects faults into: local processes or containers. Fault operations are
// serialized; Client and the other readers never wait for one, so that the history goes on being recorded
// while a fault is carried out.
type target interface {
	Names() []string
	// Client returns a client of the node's API if this host can reach the node now: neither killed,
	// paused nor cut off.
	Client(name string) (*api.Client, bool)
	// Incarnation counts the node's starts: a node that starts again numbers its events from 1 again.
	Incarnation(name string) int
	Kill(name string) error
	Pause(name string) error
	Resume(name string) error
	// Start starts a killed node again on its data.
	Start(name string) error
	Partition(names ...string) error
	Heal() error
	// Down removes the cluster.
	Down() error
	// Where tells where the cluster's logs are.
	Where() string
	// SaveLogs copies the nodes' logs into dir, if they live where Down removes them.
	SaveLogs(dir string) error
}

// nodeView is what readers know of a node.
type nodeView struct {
	http                   string
	killed, paused, cutOff bool
	inc                    int
}

// views holds the readers' view of the nodes, updated around every fault operation.
type views struct {
	ops   sync.Mutex // serializes fault operations
	mu    sync.Mutex
	nodes map[string]*nodeView
	order []string
}

func newViews() *views { return &views{nodes: map[string]*nodeView{}} }

func (v *views) add(name, http string) {
	v.nodes[name] = &nodeView{http: http, inc: 1}
	v.order = append(v.order, name)
}

func (v *views) Names() []string { return slices.Clone(v.order) }

func (v *views) Client(name string) (*api.Client, bool) {
	v.mu.Lock()
	n, ok := v.nodes[name]
	if !ok || n.killed || n.paused || n.cutOff || n.http == "" {
		v.mu.Unlock()
		return nil, false
	}
	addr := n.http
	v.mu.Unlock()
	return quickClient(addr), true
}

func (v *views) Incarnation(name string) int {
	v.mu.Lock()
	defer v.mu.Unlock()
	if n, ok := v.nodes[name]; ok {
		return n.inc
	}
	return 0
}

// update changes a node's view under the readers' lock.
func (v *views) update(name string, f func(n *nodeView)) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if n, ok := v.nodes[name]; ok {
		f(n)
	}
}

// quickClient is a client for the runner's polls: short timeouts, no retries.
func quickClient(addr string) *api.Client {
	c := api.NewClient(addr)
	c.HTTP = &http.Client{Timeout: 2 * time.Second}
	c.RetryNoLeader = 0
	return c
}

// localTarget is a cluster of local agent processes.
type localTarget struct {
	*views
	c *cluster.Cluster
}

func newLocalTarget(c *cluster.Cluster) *localTarget {
	t := &localTarget{views: newViews(), c: c}
	for _, n := range c.Nodes {
		t.add(n.Name, n.HTTP)
	}
	return t
}

func (t *localTarget) Kill(name string) error {
	t.ops.Lock()
	defer t.ops.Unlock()
	t.update(name, func(n *nodeView) { n.killed = true })
	if n, ok := t.c.Node(name); ok && !n.Alive() {
		return nil
	}
	return t.c.Kill(name)
}

func (t *localTarget) Pause(name string) error {
	t.ops.Lock()
	defer t.ops.Unlock()
	t.update(name, func(n *nodeView) { n.paused = true })
	return t.c.Pause(name)
}

func (t *localTarget) Resume(name string) error {
	t.ops.Lock()
	defer t.ops.Unlock()
	if err := t.c.Resume(name); err != nil {
		return err
	}
	t.update(name, func(n *nodeView) { n.paused = false })
	return nil
}

func (t *localTarget) Start(name string) error {
	t.ops.Lock()
	defer t.ops.Unlock()
	if n, ok := t.c.Node(name); ok && n.Alive() {
		t.update(name, func(n *nodeView) { n.killed = false })
		return nil
	}
	if err := t.c.Restart(name); err != nil {
		return err
	}
	t.update(name, func(n *nodeView) { n.killed, n.paused = false, false; n.inc++ })
	return nil
}

func (t *localTarget) Partition(...string) error {
	return errors.New("chaos: partitions need --docker (local processes share one network)")
}

func (t *localTarget) Heal() error { return nil }

func (t *localTarget) Down() error { return t.c.Down() }

func (t *localTarget) Where() string { return t.c.Dir }

// SaveLogs does nothing: the logs are in the cluster's directory, which stays.
func (t *localTarget) SaveLogs(string) error { return nil }

// dockerTarget is a cluster of agent containers.
type dockerTarget struct {
	*views
	c *cluster.DockerCluster
}

func newDockerTarget(c *cluster.DockerCluster) *dockerTarget {
	t := &dockerTarget{views: newViews(), c: c}
	for _, n := range c.Nodes {
		t.add(n.Name, n.HTTP)
	}
	return t
}

// sync copies the cluster's view of every node (addresses change on restarts and heals). The caller holds
// ops.
func (t *dockerTarget) sync() {
	for _, dn := range t.c.Nodes {
		t.update(dn.Name, func(n *nodeView) {
			n.http, n.killed, n.paused, n.cutOff = dn.HTTP, dn.Killed, dn.Paused, dn.Partitioned
		})
	}
}

// op runs a fault operation: first the readers stop using the nodes it touches, then their view follows
// the cluster's.
func (t *dockerTarget) op(names []string, f func() error) error {
	t.ops.Lock()
	defer t.ops.Unlock()
	for _, name := range names {
		t.update(name, func(n *nodeView) { n.http = "" })
	}
	err := f()
	t.sync()
	return err
}

func (t *dockerTarget) Kill(name string) error {
	return t.op([]string{name}, func() error { return t.c.Kill(name) })
}

func (t *dockerTarget) Pause(name string) error {
	return t.op([]string{name}, func() error { return t.c.Pause(name) })
}

func (t *dockerTarget) Resume(name string) error {
	return t.op(nil, func() error { return t.c.Resume(name) })
}

func (t *dockerTarget) Start(name string) error {
	return t.op([]string{name}, func() error {
		if t.c.Running(name) {
			return nil
		}
		if err := t.c.Restart(name); err != nil {
			return err
		}
		t.update(name, func(n *nodeView) { n.inc++ })
		return nil
	})
}

func (t *dockerTarget) Partition(names ...string) error {
	return t.op(names, func() error { return t.c.Partition(names...) })
}

func (t *dockerTarget) Heal() error {
	t.ops.Lock()
	defer t.ops.Unlock()
	err := t.c.Heal()
	t.sync()
	return err
}

func (t *dockerTarget) Down() error { return t.c.Down() }

func (t *dockerTarget) Where() string {
	return fmt.Sprintf("containers %s-n1… (docker logs)", t.c.Prefix)
}

// SaveLogs writes each container's log to dir/NODE.log.
func (t *dockerTarget) SaveLogs(dir string) error {
	t.ops.Lock()
	defer t.ops.Unlock()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	var errs []error
	for _, n := range t.c.Nodes {
		logs, err := t.c.Logs(n.Name, 0)
		if err != nil {
			errs = append(errs, err)
		}
		if err := os.WriteFile(filepath.Join(dir, n.Name+".log"), []byte(logs), 0o644); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// leaderOf asks the reachable nodes who leads; "" when none knows.
func leaderOf(ctx context.Context, t target) string {
	for _, name := range t.Names() {
		cl, ok := t.Client(name)
		if !ok {
			continue
		}
		qctx, cancel := context.WithTimeout(ctx, time.Second)
		leader, err := cl.Leader(qctx)
		cancel()
		if err == nil && leader != "" {
			if _, ok := t.Client(leader); ok {
				return leader
			}
		}
	}
	return ""
}
