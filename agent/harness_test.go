package agent

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"runtime/pprof"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/weirstream/weir/agent/api"
	"github.com/weirstream/weir/internal/testutil"
	"github.com/weirstream/weir/topology"
)

// TestMain fails the package if any goroutine of an agent (Raft, gossip, streams, PEs, HTTP) outlives its
// Shutdown.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

var waitFor = testutil.Waiter(20 * time.Millisecond)

// testLog sends a node's log lines to t.Log until the test ends (a goroutine that logs later must not
// make t.Log panic), and keeps them for tests that look for a line.
type testLog struct {
	mu    sync.Mutex
	t     testing.TB
	ended bool
	lines []string
}

func newTestLog(t testing.TB) *testLog {
	l := &testLog{t: t}
	t.Cleanup(func() {
		l.mu.Lock()
		l.ended = true
		l.mu.Unlock()
	})
	return l
}

func (l *testLog) Write(b []byte) (int, error) {
	s := strings.TrimRight(string(b), "\n")
	l.mu.Lock()
	defer l.mu.Unlock()
	l.lines = append(l.lines, s)
	if !l.ended {
		l.t.Log(s)
	}
	return len(b), nil
}

// has reports whether a logged line contains all the given parts.
func (l *testLog) has(parts ...string) bool { return l.count(parts...) > 0 }

// count counts the logged lines that contain all the given parts.
func (l *testLog) count(parts ...string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := 0
	for _, s := range l.lines {
		ok := true
		for _, p := range parts {
			if !strings.Contains(s, p) {
				ok = false
				break
			}
		}
		if ok {
			n++
		}
	}
	return n
}

func (l *testLog) logger() *slog.Logger {
	return slog.New(slog.NewTextHandler(l, &slog.HandlerOptions{Level: slog.LevelInfo}))
}

// syncBuffer is a bytes.Buffer safe for the stdout sinks' writes and the test's reads.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// cluster is a set of agents in this process.
type cluster struct {
	t      *testing.T
	log    *testLog
	cfgs   []Config
	agents []*Agent // nil while a node is down
}

type clusterOpts struct {
	// Nodes to start now; Bootstrap is BootstrapExpect (default Nodes).
	Nodes, Bootstrap int
	MaxVoters        int
	// Jobs gives node i its Go jobs (default: none).
	Jobs func(i int) *topology.Jobs
}

// newCluster starts o.Nodes agents that join the first one, and waits for a leader.
func newCluster(t *testing.T, o clusterOpts) *cluster {
	t.Helper()
	if o.Bootstrap == 0 {
		o.Bootstrap = o.Nodes
	}
	c := &cluster{t: t, log: newTestLog(t)}
	t.Cleanup(c.shutdownAll)
	for i := 0; i < o.Nodes; i++ {
		cfg := Config{
			Name: fmt.Sprintf("n%d", i+1), DataDir: t.TempDir(), BootstrapExpect: o.Bootstrap, MaxVoters: o.MaxVoters,
			Fast: true, Stdout: &syncBuffer{},
		}
		if o.Jobs != nil {
			cfg.Jobs = o.Jobs(i)
		}
		c.add(cfg)
	}
	c.waitLeader(nil)
	return c
}

// add starts one more agent from cfg (joining the cluster's first live node) and returns its index.
func (c *cluster) add(cfg Config) int {
	c.t.Helper()
	if cfg.Logger == nil {
		cfg.Logger = c.log.logger()
	}
	if len(cfg.Join) == 0 {
		for _, a := range c.agents {
			if a != nil {
				cfg.Join = []string{a.GossipAddr()}
				break
			}
		}
	}
	a, err := Start(cfg)
	if err != nil {
		c.t.Fatalf("start %s: %v", cfg.Name, err)
	}
	// A restart must find the node where it was: pin the ports it got.
	cfg.GossipAddr, cfg.RPCAddr, cfg.HTTPAddr = a.GossipAddr(), a.RPCAddr(), a.HTTPAddr()
	c.cfgs = append(c.cfgs, cfg)
	c.agents = append(c.agents, a)
	return len(c.agents) - 1
}

// restart starts node i again on its data directory and addresses.
func (c *cluster) restart(i int) *Agent {
	c.t.Helper()
	if c.agents[i] != nil {
		c.t.Fatalf("%s is running", c.cfgs[i].Name)
	}
	cfg := c.cfgs[i]
	cfg.Join = nil
	for _, a := range c.agents {
		if a != nil {
			cfg.Join = append(cfg.Join, a.GossipAddr())
		}
	}
	a, err := Start(cfg)
	if err != nil {
		c.t.Fatalf("restart %s: %v", cfg.Name, err)
	}
	c.agents[i] = a
	return a
}

// kill shuts node i down without leaving: to the others, a crash.
func (c *cluster) kill(i int) {
	c.t.Helper()
	a := c.agents[i]
	c.agents[i] = nil
	c.t.Logf("---- shutting down %s", a.Name())
	a.Shutdown()
}

func (c *cluster) shutdownAll() {
	var wg sync.WaitGroup
	for i, a := range c.agents {
		if a == nil {
			continue
		}
		c.agents[i] = nil
		wg.Add(1)
		go func() {
			defer wg.Done()
			a.Shutdown()
		}()
	}
	wg.Wait()
}

func (c *cluster) live() []*Agent {
	var out []*Agent
	for _, a := range c.agents {
		if a != nil {
			out = append(out, a)
		}
	}
	return out
}

func (c *cluster) index(name string) int {
	for i, cfg := range c.cfgs {
		if cfg.Name == name {
			return i
		}
	}
	c.t.Fatalf("no node %s", name)
	return -1
}

// leader returns the live agent that leads with its controller up, or nil.
func (c *cluster) leader() *Agent {
	for _, a := range c.live() {
		if a.IsLeader() && a.controller() != nil {
			return a
		}
	}
	return nil
}

// waitLeader waits for a leader other than the excluded node.
func (c *cluster) waitLeader(except *Agent) *Agent {
	c.t.Helper()
	var l *Agent
	waitFor(c.t, 30*time.Second, "a leader", func() bool {
		l = c.leader()
		return l != nil && l != except
	})
	return l
}

// follower returns a live agent that does not lead.
func (c *cluster) follower() *Agent {
	c.t.Helper()
	for _, a := range c.live() {
		if !a.IsLeader() {
			return a
		}
	}
	c.t.Fatal("no follower")
	return nil
}

// client of agent a that does not retry "no leader" answers (tests poll themselves).
func client(a *Agent) *api.Client {
	cl := api.NewClient(a.HTTPAddr())
	cl.HTTP.Timeout = 10 * time.Second
	return cl
}

func ctxT(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// job asks any live node about a job.
func (c *cluster) job(id string) (api.Job, error) {
	var last error = errors.New("no live node")
	for _, a := range c.live() {
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		cl := client(a)
		cl.RetryNoLeader = 0
		j, err := cl.Job(ctx, id, false)
		cancel()
		if err == nil {
			return j, nil
		}
		last = err
	}
	return api.Job{}, last
}

// waitJob waits until the job reaches a terminal state and returns it; it fails the test on a state other
// than want. With WEIR_DUMP set, a timeout dumps every goroutine (where a stuck PE waits) to stderr.
func (c *cluster) waitJob(id string, want string, d time.Duration) api.Job {
	c.t.Helper()
	var j api.Job
	deadline := time.Now().Add(d)
	for {
		var err error
		j, err = c.job(id)
		if err == nil && j.State != "running" {
			break
		}
		if time.Now().After(deadline) {
			if os.Getenv("WEIR_DUMP") != "" {
				pprof.Lookup("goroutine").WriteTo(os.Stderr, 1)
			}
			c.t.Fatalf("timed out after %s waiting for job %s to end %s: %+v (%v)", d, id, want, j, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if j.State != want {
		c.t.Fatalf("job %s is %s (%s), want %s", id, j.State, j.Error, want)
	}
	return j
}

func committed(j api.Job) uint64 {
	if len(j.Regions) == 0 {
		return 0
	}
	return j.Regions[0].Committed
}

// pesRunning asks a node's worker what it runs of a job.
func pesRunning(t testing.TB, a *Agent, job string) []string {
	t.Helper()
	var out api.NodePEs
	if err := client(a).Do(ctxT(t), "GET", "/internal/v1/pes", nil, &out); err != nil {
		t.Fatalf("pes of %s: %v", a.Name(), err)
	}
	return slices.Sorted(slices.Values(out.Running[job]))
}

// nodesOf lists the nodes a job's PEs are placed on, per the given job status.
func nodesOf(j api.Job) map[string]int {
	out := map[string]int{}
	for _, pe := range j.PEs {
		out[pe.Node]++
	}
	return out
}

// placed waits until a node's replica knows the job's placements, and returns the job.
func (c *cluster) placed(id string) api.Job {
	c.t.Helper()
	var j api.Job
	waitFor(c.t, 10*time.Second, "job "+id+" placed", func() bool {
		var err error
		j, err = c.job(id)
		return err == nil && len(j.PEs) > 0
	})
	return j
}
