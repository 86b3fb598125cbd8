package cluster

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	mrand "math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/weirstream/weir/agent/api"
)

// DefaultImage is the image scripts/docker-build.sh builds and docker-compose.yml runs.
const DefaultImage = "weir:dev"

// The ports an agent listens on inside its container (on all interfaces), as in docker-compose.yml.
const (
	containerHTTPPort   = 7410
	containerRPCPort    = 7411
	containerGossipPort = 7412
)

// DockerSpec describes a cluster of agent containers.
type DockerSpec struct {
	Nodes int
	// Image runs the agents (default DefaultImage): a weir binary at /weir, its entry point.
	Image string
	// Prefix names the cluster's network (PREFIX) and containers (PREFIX-n1, …); default "weir-" and a
	// random suffix, so that clusters never collide.
	Prefix string
	// Out, if set, is a host directory mounted at /out in every container: the shared storage a file
	// sink's directory must be on in a cluster (its PE may move to another node).
	Out string
	// User is the UID:GID the agents run as (default this process's), so that what they write into Out
	// belongs to the caller.
	User string
	// Args are extra arguments for every agent; Fast adds --fast (failure verdicts in about a second).
	Args []string
	Fast bool
}

// DockerNode is one agent container.
type DockerNode struct {
	Name      string `json:"name"`
	Container string `json:"container"`
	// IP is the node's fixed address on the cluster's network.
	IP string `json:"ip"`
	// HTTP is the node's API as published on the host's loopback. Docker picks the port and picks a new
	// one when the container restarts or is reconnected: read it again after Restart and Heal.
	HTTP string `json:"http"`
	// Killed: stopped by Kill, until Restart; Partitioned: cut off from the network (Partition); Paused:
	// frozen (Pause).
	Killed      bool `json:"killed,omitempty"`
	Partitioned bool `json:"partitioned,omitempty"`
	Paused      bool `json:"paused,omitempty"`
}

// Client returns a client of the node's API, through its published port.
func (n *DockerNode) Client() *api.Client { return api.NewClient(n.HTTP) }

// DockerCluster is a cluster of agent containers on a private network of their own, driven through the
// docker CLI: failures are real kills, freezes and network cuts. Its methods are not safe for concurrent
// use.
type DockerCluster struct {
	Prefix  string       `json:"prefix"`
	Network string       `json:"network"`
	Subnet  string       `json:"subnet"`
	Image   string       `json:"image"`
	Out     string       `json:"out,omitempty"`
	Nodes   []DockerNode `json:"nodes"`
}

// dockerLabel marks every network and container of a DockerCluster, with the cluster's prefix as value.
const dockerLabel = "io.weir.cluster"

// DockerAvailable reports why no Docker engine can run containers here (nil when one can). WEIR_DOCKER=0
// in the environment says none may be used. (WEIR_DOCKER=1 tells the Docker tests that one must be: they
// fail instead of skipping.)
func DockerAvailable(ctx context.Context) error {
	if v := os.Getenv("WEIR_DOCKER"); v == "0" || strings.EqualFold(v, "false") {
		return errors.New("WEIR_DOCKER=0 says not to use Docker")
	}
	if _, err := exec.LookPath("docker"); err != nil {
		return errors.New("no docker command on PATH")
	}
	ctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	if _, err := docker(ctx, "info", "--format", "{{.ServerVersion}}"); err != nil {
		return fmt.Errorf("no Docker engine answers: %w", err)
	}
	return nil
}

// docker runs a docker command and returns its standard output; the error carries its standard error.
func docker(ctx context.Context, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, "docker", args...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		msg := strings.TrimSpace(stderr.String())
		if msg == "" {
			msg = err.Error()
		}
		return stdout.String(), fmt.Errorf("docker %s: %s", strings.Join(args, " "), msg)
	}
	return stdout.String(), nil
}

// BuildImage builds the image tag from a Dockerfile (the repository's) around binary, a static weir binary
// (CGO_ENABLED=0: the image has no libc), in a fresh build context as scripts/docker-build.sh makes it.
func BuildImage(ctx context.Context, tag, dockerfile, binary string) error {
	dir, err := os.MkdirTemp("", "weir-image-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	if err := copyFile(binary, filepath.Join(dir, "weir"), 0o755); err != nil {
		return err
	}
	data := filepath.Join(dir, "data")
	if err := os.Mkdir(data, 0o755); err != nil {
		return err
	}
	if err := os.Chmod(data, os.ModePerm|os.ModeSticky); err != nil {
		return err
	}
	_, err = docker(ctx, "build", "-q", "-f", dockerfile, "-t", tag, dir)
	return err
}

func copyFile(src, dst string, mode os.FileMode) error {
	b, err := os.ReadFile(src)
	if err != nil {
		return err
	}
	return os.WriteFile(dst, b, mode)
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// UpDocker creates the cluster's network, starts its containers and waits until it has a leader. On
// failure it removes what it made.
func UpDocker(ctx context.Context, s DockerSpec) (*DockerCluster, error) {
	if s.Nodes < 1 {
		return nil, errors.New("cluster: at least one node")
	}
	if s.Image == "" {
		s.Image = DefaultImage
	}
	// Without a registry, docker run would try to pull a missing image and fail on the network: say what
	// is missing and how to make it instead.
	if _, err := docker(ctx, "image", "inspect", "--format", "{{.Id}}", s.Image); err != nil {
		return nil, fmt.Errorf("cluster: no image %s on this Docker engine (scripts/docker-build.sh %s builds one from the checkout): %w", s.Image, s.Image, err)
	}
	if s.Prefix == "" {
		s.Prefix = "weir-" + randomHex(4)
	}
	if s.User == "" {
		s.User = fmt.Sprintf("%d:%d", os.Getuid(), os.Getgid())
	}
	if s.Out != "" {
		abs, err := filepath.Abs(s.Out)
		if err != nil {
			return nil, err
		}
		s.Out = abs
	}
	c := &DockerCluster{Prefix: s.Prefix, Network: s.Prefix, Image: s.Image, Out: s.Out}
	if err := c.createNetwork(ctx); err != nil {
		return nil, err
	}
	base := c.subnetBase()
	for i := 1; i <= s.Nodes; i++ {
		name := fmt.Sprintf("n%d", i)
		ip := base + strconv.Itoa(10+i)
		c.Nodes = append(c.Nodes, DockerNode{Name: name, Container: s.Prefix + "-" + name, IP: ip})
	}
	for i := range c.Nodes {
		if err := c.run(ctx, i, s); err != nil {
			c.Down()
			return nil, err
		}
	}
	for i := range c.Nodes {
		if err := c.refreshPort(ctx, &c.Nodes[i]); err != nil {
			c.Down()
			return nil, err
		}
	}
	if _, err := c.WaitLeader(ctx); err != nil {
		c.Down()
		return nil, err
	}
	return c, nil
}

// createNetwork creates a bridge network on a /24 of 10.0.0.0/8 chosen at random, avoiding this host's own
// networks and, by retrying, Docker's others. The subnet is explicit so that a node reconnected after a
// partition gets its address back (Docker gives fixed addresses only on such networks).
func (c *DockerCluster) createNetwork(ctx context.Context) error {
	var last error
	for attempt := 0; attempt < 30; attempt++ {
		subnet := fmt.Sprintf("10.%d.%d.0/24", 64+mrand.IntN(160), mrand.IntN(256))
		if hostUses(subnet) {
			continue
		}
		_, last = docker(ctx, "network", "create", "--driver", "bridge", "--subnet", subnet, "--label", dockerLabel+"="+c.Prefix, c.Network)
		if last == nil {
			c.Subnet = subnet
			return nil
		}
		if !strings.Contains(last.Error(), "overlap") {
			return last
		}
	}
	return fmt.Errorf("cluster: no free subnet for network %s: %v", c.Network, last)
}

// hostUses reports whether one of this host's interfaces is on subnet.
func hostUses(subnet string) bool {
	_, sn, err := net.ParseCIDR(subnet)
	if err != nil {
		return true
	}
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		return false
	}
	for _, a := range addrs {
		if n, ok := a.(*net.IPNet); ok && (sn.Contains(n.IP) || n.Contains(sn.IP)) {
			return true
		}
	}
	return false
}

// subnetBase is the subnet's first three octets and a dot.
func (c *DockerCluster) subnetBase() string {
	ip := strings.SplitN(c.Subnet, "/", 2)[0]
	return ip[:strings.LastIndex(ip, ".")+1]
}

// agentArgs are the agent's arguments in node i's container, as in docker-compose.yml.
func (c *DockerCluster) agentArgs(i int, s DockerSpec) []string {
	n := c.Nodes[i]
	args := []string{"agent", "--name", n.Name, "--data-dir", "/data",
		"--http-addr", fmt.Sprintf("0.0.0.0:%d", containerHTTPPort),
		"--rpc-addr", fmt.Sprintf("0.0.0.0:%d", containerRPCPort),
		"--bind", fmt.Sprintf("0.0.0.0:%d", containerGossipPort),
		"--advertise", n.Name}
	for _, o := range c.Nodes {
		args = append(args, "--join", fmt.Sprintf("%s:%d", o.Name, containerGossipPort))
	}
	args = append(args, "--bootstrap-expect", strconv.Itoa(len(c.Nodes)))
	if s.Fast {
		args = append(args, "--fast")
	}
	return append(args, s.Args...)
}

// run starts node i's container, its API published on a free port of the host's loopback.
func (c *DockerCluster) run(ctx context.Context, i int, s DockerSpec) error {
	n := c.Nodes[i]
	args := []string{"run", "-d", "--name", n.Container, "--hostname", n.Name,
		"--network", c.Network, "--ip", n.IP, "--network-alias", n.Name,
		"--user", s.User, "--label", dockerLabel + "=" + c.Prefix,
		"-p", fmt.Sprintf("127.0.0.1::%d", containerHTTPPort)}
	if c.Out != "" {
		args = append(args, "-v", c.Out+":/out")
	}
	args = append(args, c.Image)
	args = append(args, c.agentArgs(i, s)...)
	if _, err := docker(ctx, args...); err != nil {
		return fmt.Errorf("cluster: start %s: %w", n.Name, err)
	}
	return nil
}

// refreshPort reads the host port Docker published the node's API on.
func (c *DockerCluster) refreshPort(ctx context.Context, n *DockerNode) error {
	deadline := time.Now().Add(10 * time.Second)
	for {
		out, err := docker(ctx, "port", n.Container, fmt.Sprintf("%d/tcp", containerHTTPPort))
		if err == nil {
			for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
				if strings.HasPrefix(line, "127.0.0.1:") {
					n.HTTP = strings.TrimSpace(line)
					return nil
				}
			}
			err = fmt.Errorf("no port published on 127.0.0.1 in %q", out)
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			return fmt.Errorf("cluster: API port of %s: %w", n.Name, err)
		}
		select {
		case <-ctx.Done():
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// Node returns a node by name.
func (c *DockerCluster) Node(name string) (*DockerNode, bool) {
	for i := range c.Nodes {
		if c.Nodes[i].Name == name {
			return &c.Nodes[i], true
		}
	}
	return nil, false
}

func (c *DockerCluster) node(name string) (*DockerNode, error) {
	if n, ok := c.Node(name); ok {
		return n, nil
	}
	return nil, fmt.Errorf("cluster: no node %s", name)
}

// Running reports whether the node's container runs (paused or cut off included).
func (c *DockerCluster) Running(name string) bool {
	n, err := c.node(name)
	if err != nil {
		return false
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	out, err := docker(ctx, "inspect", "-f", "{{.State.Running}}", n.Container)
	return err == nil && strings.TrimSpace(out) == "true"
}

// Live returns the nodes this host can talk to, as far as this handle knows: neither killed, paused nor
// cut off. (Running asks Docker whether a container runs.)
func (c *DockerCluster) Live() []*DockerNode {
	var out []*DockerNode
	for i := range c.Nodes {
		n := &c.Nodes[i]
		if !n.Killed && !n.Paused && !n.Partitioned {
			out = append(out, n)
		}
	}
	return out
}

// WaitLeader waits until a node this host reaches names a leader among them, and returns its name.
func (c *DockerCluster) WaitLeader(ctx context.Context) (string, error) {
	return c.WaitLeaderExcept(ctx, "")
}

// WaitLeaderExcept waits until a node this host reaches names a leader among them other than old.
func (c *DockerCluster) WaitLeaderExcept(ctx context.Context, old string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, 90*time.Second)
	defer cancel()
	for {
		live := c.Live()
		for _, n := range live {
			cl := n.Client()
			cl.RetryNoLeader = 0
			qctx, qcancel := context.WithTimeout(ctx, 2*time.Second)
			leader, err := cl.Leader(qctx)
			qcancel()
			if err == nil && leader != "" && leader != old && slices.ContainsFunc(live, func(l *DockerNode) bool { return l.Name == leader }) {
				return leader, nil
			}
		}
		select {
		case <-ctx.Done():
			return "", fmt.Errorf("cluster: no leader (other than %q) within 90 s", old)
		case <-time.After(200 * time.Millisecond):
		}
	}
}

func opContext() (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), 60*time.Second)
}

// Kill kills a node's agent (SIGKILL; docker kill). Its container stays, to Restart.
func (c *DockerCluster) Kill(name string) error {
	n, err := c.node(name)
	if err != nil {
		return err
	}
	ctx, cancel := opContext()
	defer cancel()
	if n.Paused {
		// A frozen process takes its SIGKILL when thawed.
		if _, err := docker(ctx, "unpause", n.Container); err == nil {
			n.Paused = false
		}
	}
	if _, err := docker(ctx, "kill", n.Container); err != nil {
		return fmt.Errorf("cluster: kill %s: %w", name, err)
	}
	n.Killed = true
	_, _ = docker(ctx, "wait", n.Container)
	return nil
}

// Pause freezes a node's processes (docker pause): to the others it stops answering, but keeps its
// connections. Resume thaws it.
func (c *DockerCluster) Pause(name string) error {
	n, err := c.node(name)
	if err != nil {
		return err
	}
	ctx, cancel := opContext()
	defer cancel()
	if _, err := docker(ctx, "pause", n.Container); err != nil {
		return fmt.Errorf("cluster: pause %s: %w", name, err)
	}
	n.Paused = true
	return nil
}

// Resume thaws a paused node (docker unpause).
func (c *DockerCluster) Resume(name string) error {
	n, err := c.node(name)
	if err != nil {
		return err
	}
	ctx, cancel := opContext()
	defer cancel()
	if _, err := docker(ctx, "unpause", n.Container); err != nil {
		return fmt.Errorf("cluster: resume %s: %w", name, err)
	}
	n.Paused = false
	return nil
}

// Restart starts a killed node's container again: the agent comes back on its data directory (it rejoins
// with its state) at its address. The node must not run. Its API port changes.
func (c *DockerCluster) Restart(name string) error {
	n, err := c.node(name)
	if err != nil {
		return err
	}
	if c.Running(name) {
		return fmt.Errorf("cluster: %s still runs", name)
	}
	ctx, cancel := opContext()
	defer cancel()
	if _, err := docker(ctx, "start", n.Container); err != nil {
		return fmt.Errorf("cluster: restart %s: %w", name, err)
	}
	n.Killed, n.Paused = false, false
	if n.Partitioned {
		// A container cut off stays cut off across a restart.
		return nil
	}
	return c.refreshPort(ctx, n)
}

// Partition cuts the named nodes off the cluster's network (docker network disconnect): each can reach
// no other node, nor they it, nor this host its API; its processes run on. Heal reconnects them.
func (c *DockerCluster) Partition(names ...string) error {
	ctx, cancel := opContext()
	defer cancel()
	for _, name := range names {
		n, err := c.node(name)
		if err != nil {
			return err
		}
		if n.Partitioned {
			continue
		}
		if _, err := docker(ctx, "network", "disconnect", "-f", c.Network, n.Container); err != nil {
			return fmt.Errorf("cluster: partition %s: %w", name, err)
		}
		n.Partitioned = true
	}
	return nil
}

// Heal reconnects every node Partition cut off, at its address. Their API ports change.
func (c *DockerCluster) Heal() error {
	ctx, cancel := opContext()
	defer cancel()
	var errs []error
	for i := range c.Nodes {
		n := &c.Nodes[i]
		if !n.Partitioned {
			continue
		}
		if _, err := docker(ctx, "network", "connect", "--ip", n.IP, "--alias", n.Name, c.Network, n.Container); err != nil {
			errs = append(errs, fmt.Errorf("cluster: heal %s: %w", n.Name, err))
			continue
		}
		n.Partitioned = false
		if c.Running(n.Name) {
			if err := c.refreshPort(ctx, n); err != nil {
				errs = append(errs, err)
			}
		}
	}
	return errors.Join(errs...)
}

// Logs returns the last lines of a node's log (all of it for lines <= 0).
func (c *DockerCluster) Logs(name string, lines int) (string, error) {
	n, err := c.node(name)
	if err != nil {
		return "", err
	}
	ctx, cancel := opContext()
	defer cancel()
	tail := "all"
	if lines > 0 {
		tail = strconv.Itoa(lines)
	}
	cmd := exec.CommandContext(ctx, "docker", "logs", "--tail", tail, n.Container)
	out, err := cmd.CombinedOutput()
	if err != nil {
		return string(out), fmt.Errorf("cluster: logs of %s: %w", name, err)
	}
	return string(out), nil
}

// Down removes the cluster's containers (with their data) and its network. The Out directory stays.
func (c *DockerCluster) Down() error {
	ctx, cancel := opContext()
	defer cancel()
	var errs []error
	if len(c.Nodes) > 0 {
		args := []string{"rm", "-f", "-v"}
		for _, n := range c.Nodes {
			args = append(args, n.Container)
		}
		if _, err := docker(ctx, args...); err != nil && !strings.Contains(err.Error(), "No such container") {
			errs = append(errs, err)
		}
	}
	if c.Network != "" {
		if _, err := docker(ctx, "network", "rm", c.Network); err != nil && !strings.Contains(err.Error(), "not found") {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// Faults are the failures both kinds of cluster inject; a DockerCluster also partitions.
type Faults interface {
	Kill(node string) error
	Pause(node string) error
	Resume(node string) error
	Restart(node string) error
}

var (
	_ Faults = (*Cluster)(nil)
	_ Faults = (*DockerCluster)(nil)
)
