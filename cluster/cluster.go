package cluster

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/weirstream/weir/agent/api"
)

// Node is one agent of a local cluster.
type Node struct {
	Name    string `json:"name"`
	PID     int    `json:"pid"`
	HTTP    string `json:"http"`
	RPC     string `json:"rpc"`
	Gossip  string `json:"gossip"`
	DataDir string `json:"data_dir"`
	Log     string `json:"log"`
}

// Cluster is a local cluster, as recorded in DIR/cluster.json.
type Cluster struct {
	Dir    string   `json:"dir"`
	Binary string   `json:"binary"`
	Args   []string `json:"args,omitempty"`
	Nodes  []Node   `json:"nodes"`
}

// Spec describes a cluster to start.
type Spec struct {
	Nodes int
	Dir   string
	// Binary is the weir binary (default: this executable); Args are extra arguments for every agent.
	Binary string
	Args   []string
	// Fast uses the agents' short failure-detection timeouts (loopback clusters).
	Fast bool
}

const stateFile = "cluster.json"

// Up starts a cluster and waits until it has a leader.
func Up(ctx context.Context, s Spec) (*Cluster, error) {
	if s.Nodes < 1 {
		return nil, errors.New("cluster: at least one node")
	}
	if s.Binary == "" {
		exe, err := os.Executable()
		if err != nil {
			return nil, err
		}
		s.Binary = exe
	}
	dir, err := filepath.Abs(s.Dir)
	if err != nil {
		return nil, err
	}
	if _, err := os.Stat(filepath.Join(dir, stateFile)); err == nil {
		return nil, fmt.Errorf("cluster: %s already holds a cluster: bring it down first (weir cluster down --dir %s)", dir, s.Dir)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	c := &Cluster{Dir: dir, Binary: s.Binary, Args: s.Args}
	if s.Fast {
		c.Args = append(c.Args, "--fast")
	}
	for i := 1; i <= s.Nodes; i++ {
		ports, err := freePorts(3)
		if err != nil {
			return nil, err
		}
		name := fmt.Sprintf("n%d", i)
		c.Nodes = append(c.Nodes, Node{
			Name: name, DataDir: filepath.Join(dir, name), Log: filepath.Join(dir, name+".log"),
			HTTP: loopback(ports[0]), RPC: loopback(ports[1]), Gossip: loopback(ports[2]),
		})
	}
	for i := range c.Nodes {
		if err := c.start(i, s.Nodes); err != nil {
			c.Down()
			return nil, err
		}
	}
	if err := c.save(); err != nil {
		c.Down()
		return nil, err
	}
	if _, err := c.WaitLeader(ctx); err != nil {
		c.Down()
		return nil, err
	}
	return c, nil
}

func loopback(port int) string { return net.JoinHostPort("127.0.0.1", strconv.Itoa(port)) }

// args are the agent arguments of node i.
func (c *Cluster) args(i, expect int) []string {
	n := c.Nodes[i]
	args := []string{"agent", "--name", n.Name, "--data-dir", n.DataDir,
		"--http-addr", n.HTTP, "--rpc-addr", n.RPC, "--bind", n.Gossip}
	for j, o := range c.Nodes {
		if j != i {
			args = append(args, "--join", o.Gossip)
		}
	}
	if expect > 0 {
		args = append(args, "--bootstrap-expect", strconv.Itoa(expect))
	}
	return append(args, c.Args...)
}

// start starts node i as a detached process (its own session: it outlives `weir cluster up`).
func (c *Cluster) start(i, expect int) error {
	n := &c.Nodes[i]
	logf, err := os.OpenFile(n.Log, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	defer logf.Close()
	cmd := exec.Command(c.Binary, c.args(i, expect)...)
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("cluster: start %s: %w", n.Name, err)
	}
	n.PID = cmd.Process.Pid
	// Reap the process when it ends, so that it does not linger as a zombie of this one.
	go func() { _ = cmd.Wait() }()
	return nil
}

func (c *Cluster) save() error {
	b, err := json.MarshalIndent(c, "", "  ")
	if err != nil {
		return err
	}
	tmp := filepath.Join(c.Dir, stateFile+".tmp")
	if err := os.WriteFile(tmp, b, 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, filepath.Join(c.Dir, stateFile))
}

// Load reads the cluster recorded in dir.
func Load(dir string) (*Cluster, error) {
	b, err := os.ReadFile(filepath.Join(dir, stateFile))
	if err != nil {
		return nil, fmt.Errorf("cluster: no cluster in %s: %w", dir, err)
	}
	var c Cluster
	if err := json.Unmarshal(b, &c); err != nil {
		return nil, fmt.Errorf("cluster: %s: %w", filepath.Join(dir, stateFile), err)
	}
	return &c, nil
}

// Node returns a node by name.
func (c *Cluster) Node(name string) (*Node, bool) {
	for i := range c.Nodes {
		if c.Nodes[i].Name == name {
			return &c.Nodes[i], true
		}
	}
	return nil, false
}

// Client returns a client of the node's API.
func (n *Node) Client() *api.Client { return api.NewClient(n.HTTP) }

// Alive reports whether the node's process runs.
func (n *Node) Alive() bool {
	if n.PID <= 0 {
		return false
	}
	return syscall.Kill(n.PID, 0) == nil
}

// WaitLeader waits until a live node names a leader, and returns its name.
func (c *Cluster) WaitLeader(ctx context.Context) (string, error) {
	return c.WaitLeaderExcept(ctx, "")
}

// WaitLeaderExcept waits until a live node names a leader other than old.
func (c *Cluster) WaitLeaderExcept(ctx context.Context, old string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	for {
		for i := range c.Nodes {
			n := &c.Nodes[i]
			if !n.Alive() {
				continue
			}
			cl := n.Client()
			cl.RetryNoLeader = 0
			qctx, qcancel := context.WithTimeout(ctx, time.Second)
			leader, err := cl.Leader(qctx)
			qcancel()
			if err == nil && leader != "" && leader != old {
				if ln, ok := c.Node(leader); ok && ln.Alive() {
					return leader, nil
				}
			}
		}
		select {
		case <-ctx.Done():
			return "", fmt.Errorf("cluster: no leader within a minute (logs in %s)%s", c.Dir, c.exited())
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// Live returns the nodes whose process runs.
func (c *Cluster) Live() []*Node {
	var out []*Node
	for i := range c.Nodes {
		if c.Nodes[i].Alive() {
			out = append(out, &c.Nodes[i])
		}
	}
	return out
}

// Kill sends SIGKILL to a node.
func (c *Cluster) Kill(name string) error { return c.signal(name, syscall.SIGKILL) }

// Pause stops a node's process (SIGSTOP); Resume continues it.
func (c *Cluster) Pause(name string) error  { return c.signal(name, syscall.SIGSTOP) }
func (c *Cluster) Resume(name string) error { return c.signal(name, syscall.SIGCONT) }

func (c *Cluster) signal(name string, sig syscall.Signal) error {
	n, ok := c.Node(name)
	if !ok {
		return fmt.Errorf("cluster: no node %s", name)
	}
	if err := syscall.Kill(n.PID, sig); err != nil {
		return fmt.Errorf("cluster: %s to %s (pid %d): %w", sig, name, n.PID, err)
	}
	if sig == syscall.SIGKILL {
		waitGone(n.PID, 5*time.Second)
	}
	return nil
}

// Restart starts a node again on its data directory (it rejoins with its state). The node must not run.
func (c *Cluster) Restart(name string) error {
	i := slices.IndexFunc(c.Nodes, func(n Node) bool { return n.Name == name })
	if i < 0 {
		return fmt.Errorf("cluster: no node %s", name)
	}
	if c.Nodes[i].Alive() {
		return fmt.Errorf("cluster: %s still runs (pid %d)", name, c.Nodes[i].PID)
	}
	if err := c.start(i, 0); err != nil {
		return err
	}
	return c.save()
}

// Down stops every node (SIGTERM, then SIGKILL for those that do not stop in time) and forgets the
// cluster. Data directories and logs stay.
func (c *Cluster) Down() error {
	for i := range c.Nodes {
		if n := &c.Nodes[i]; n.Alive() {
			_ = syscall.Kill(n.PID, syscall.SIGCONT) // a paused node cannot handle SIGTERM
			_ = syscall.Kill(n.PID, syscall.SIGKILL)
		}
	}
	for i := range c.Nodes {
		waitGone(c.Nodes[i].PID, 10*time.Second)
	}
	err := os.Remove(filepath.Join(c.Dir, stateFile))
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	return err
}

func waitGone(pid int, d time.Duration) {
	deadline := time.Now().Add(d)
	for pid > 0 && time.Now().Before(deadline) {
		if syscall.Kill(pid, 0) != nil {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// exited describes the nodes whose process is gone, each with the end of its log: what a caller who
// cannot read the logs (a CI machine) needs to know why a cluster did not come up.
func (c *Cluster) exited() string {
	var b strings.Builder
	for i := range c.Nodes {
		n := &c.Nodes[i]
		if n.Alive() {
			continue
		}
		fmt.Fprintf(&b, "\n%s (pid %d) is not running; its log ends:\n    %s", n.Name, n.PID,
			strings.ReplaceAll(Tail(n.Log, 10), "\n", "\n    "))
	}
	return b.String()
}

// Tail returns the last lines of a file (or why it cannot be read): for diagnostics.
func Tail(path string, lines int) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return err.Error()
	}
	parts := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(parts) > lines {
		parts = parts[len(parts)-lines:]
	}
	return strings.Join(parts, "\n")
}
