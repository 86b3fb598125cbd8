package cluster

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/weirstream/weir/agent/api"
	"github.com/weirstream/weir/internal/testutil"
)

// The Docker suite: clusters of agent containers built from this checkout, with real network cuts. It
// skips, saying why, where no Docker engine answers (or WEIR_DOCKER=0); with WEIR_DOCKER=1 (CI) it fails
// there instead.

// testImage is an image of this checkout's weir, built once per test process; TestMain removes it.
var testImage SourceImage

func dockerImage(t *testing.T) string {
	return testImage.ForTest(t, testing.Short(), filepath.Join("..", "Dockerfile"))
}

// sharedDir is a directory the containers mount at /out. The agents run as this process's user, but the
// directory is world-writable in case they cannot (a rootless engine maps users).
func sharedDir(t *testing.T) string {
	dir := t.TempDir()
	if err := os.Chmod(dir, 0o777); err != nil {
		t.Fatal(err)
	}
	return dir
}

// upDocker starts a cluster of n containers whose /out is out; it is removed at the end of the test, and
// when the test failed, every node's last log lines are logged first.
func upDocker(t *testing.T, n int, out string) *DockerCluster {
	t.Helper()
	image := dockerImage(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	c, err := UpDocker(ctx, DockerSpec{Nodes: n, Image: image, Out: out, Fast: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			for _, n := range c.Nodes {
				logs, _ := c.Logs(n.Name, 150)
				t.Logf("---- %s (%s) log ----\n%s", n.Name, n.Container, logs)
			}
		}
		if err := c.Down(); err != nil {
			t.Errorf("removing the cluster: %v", err)
		}
	})
	t.Logf("cluster %s on %s: %d nodes", c.Prefix, c.Subnet, n)
	return c
}

// dockerJob reads a job's status from the leader (a consistent read, through the first node this host
// reaches that answers): a node that was cut off may still show the placements of before.
func dockerJob(c *DockerCluster, id string) (api.Job, error) {
	var last error = fmt.Errorf("no node reachable")
	for _, n := range c.Live() {
		cl := n.Client()
		cl.RetryNoLeader = 0
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		j, err := cl.Job(ctx, id, true)
		cancel()
		if err == nil {
			return j, nil
		}
		last = err
	}
	return api.Job{}, last
}

// waitFinished waits for a job to finish; a failed job fails the test at once.
func waitFinished(t *testing.T, d time.Duration, id string, status func() (api.Job, error)) {
	t.Helper()
	waitFor(t, d, "the job to finish", func() bool {
		j, err := status()
		if err == nil && j.State == "failed" {
			t.Fatalf("job failed: %s", j.Error)
		}
		return err == nil && j.State == "finished"
	})
}

func placedOn(j api.Job, pe string) string {
	for _, p := range j.PEs {
		if p.ID == pe {
			return p.Node
		}
	}
	return ""
}

// nodePEs asks a node what it runs (the internal endpoint the leader asks on taking over).
func nodePEs(n *DockerNode) (api.NodePEs, error) {
	cl := n.Client()
	cl.RetryNoLeader = 0
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	var out api.NodePEs
	err := cl.Do(ctx, http.MethodGet, "/internal/v1/pes", nil, &out)
	return out, err
}

// aliveEverywhere reports whether every reachable node sees every node alive, as a voter.
func aliveEverywhere(c *DockerCluster) bool {
	live := c.Live()
	if len(live) != len(c.Nodes) {
		return false
	}
	for _, n := range live {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		ms, err := n.Client().Members(ctx)
		cancel()
		if err != nil || len(ms) != len(c.Nodes) {
			return false
		}
		for _, m := range ms {
			if m.Status != "alive" || m.Role != "voter" {
				return false
			}
		}
	}
	return true
}

const (
	partitionCount = 300000
	partitionRate  = 15000 // about 20 s of source
)

// startPartitionJob submits the exactly-once job of the multi-process test (a sequence at a rate, a
// hash-partitioned parallel region of 4 channels, an exactly-once file sink on the shared mount) through
// a follower, and waits for its first committed epoch. It returns the job's ID and the host directory of
// its output.
func startPartitionJob(t *testing.T, c *DockerCluster, out string) (string, string) {
	t.Helper()
	ctx := context.Background()
	leader, err := c.WaitLeader(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var via *DockerNode
	for _, n := range c.Live() {
		if n.Name != leader {
			via = n
			break
		}
	}
	id, err := via.Client().Submit(ctx, api.SubmitRequest{JobFile: exactlyOnceJob, FileName: "eo.yaml", Params: map[string]string{
		"out": "/out/eo", "count": strconv.Itoa(partitionCount), "rate": strconv.Itoa(partitionRate)}})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("submitted %s through %s (leader %s)", id, via.Name, leader)
	waitFor(t, 60*time.Second, "a first committed epoch", func() bool {
		j, err := dockerJob(c, id)
		return err == nil && committed(j) > 0
	})
	return id, filepath.Join(out, "eo")
}

// partitionHold is how long a partition lasts at least: longer than gossip's time of talking to the dead
// (15 s with --fast), so that only the agents' reconnection can merge the two sides again.
const partitionHold = 16 * time.Second

// hold keeps the partition made at cut until partitionHold has passed, checking meanwhile that the job
// does not fail.
func hold(t *testing.T, c *DockerCluster, id string, cut time.Time) {
	t.Helper()
	waitFor(t, partitionHold+30*time.Second, "the partition's planned end", func() bool {
		if j, err := dockerJob(c, id); err == nil && j.State == "failed" {
			t.Fatalf("job failed during the partition: %s", j.Error)
		}
		return time.Since(cut) >= partitionHold
	})
}

// healAndFinish heals the partition, checks that the cut-off node comes back and that its stale PEs
// (those placed elsewhere meanwhile) stopped, waits for the job to finish, and checks that the sink holds
// every record exactly once: nothing the zombies did while cut off reached the output.
func healAndFinish(t *testing.T, c *DockerCluster, id, victim string, moved []string, outDir string) {
	t.Helper()
	if err := c.Heal(); err != nil {
		t.Fatal(err)
	}
	vn, _ := c.Node(victim)
	if pes, err := nodePEs(vn); err == nil {
		t.Logf("healed %s, which runs %v", victim, pes.Running[id])
	} else {
		t.Logf("healed %s (what it runs: %v)", victim, err)
	}
	waitFor(t, 60*time.Second, victim+" back in the cluster, seen alive by every node", func() bool { return aliveEverywhere(c) })
	waitFor(t, 30*time.Second, victim+"'s stale PEs stopped", func() bool {
		pes, err := nodePEs(vn)
		if err != nil {
			return false
		}
		j, err := dockerJob(c, id)
		if err != nil {
			return false
		}
		for _, pe := range pes.Running[id] {
			// A PE may run on the healed node only where the placement puts it now.
			if placedOn(j, pe) != victim {
				return false
			}
		}
		return true
	})
	j, err := dockerJob(c, id)
	if err != nil {
		t.Fatal(err)
	}
	for _, pe := range moved {
		if n := placedOn(j, pe); n == victim {
			t.Errorf("PE %s is placed on %s again", pe, victim)
		}
	}
	waitFinished(t, 3*time.Minute, id, func() (api.Job, error) { return dockerJob(c, id) })
	j, _ = dockerJob(c, id)
	if len(j.Regions) > 0 {
		r := j.Regions[0]
		t.Logf("finished: epoch %d committed, generation %d, %d commits, %d resets", r.Committed, r.Generation, r.Commits, r.Resets)
	}
	testutil.CheckExactlyOnce(t, testutil.ReadInts(t, outDir), partitionCount, 2)
}

// pesOn lists the PEs of a job placed on node.
func pesOn(j api.Job, node string) []string {
	var out []string
	for _, p := range j.PEs {
		if p.Node == node {
			out = append(out, p.ID)
		}
	}
	slices.Sort(out)
	return out
}

// cutOff is the partition scenario: a three-node cluster runs the exactly-once job; once an epoch has
// committed, the node pick names is cut off the network. The majority must go on without it (a leader
// among them, the node's PEs placed on them, an epoch committed after the cut); after partitionHold the
// network heals; the node must come back, its zombie PEs stopped, the job finish, and the sink hold every
// record exactly once: nothing the zombies did while cut off, nor after, reached the output.
func cutOff(t *testing.T, what string, pick func(j api.Job, leader string) string) {
	out := sharedDir(t)
	c := upDocker(t, 3, out)
	id, outDir := startPartitionJob(t, c, out)
	ctx := context.Background()
	leader, err := c.WaitLeader(ctx)
	if err != nil {
		t.Fatal(err)
	}
	j, err := dockerJob(c, id)
	if err != nil {
		t.Fatal(err)
	}
	victim := pick(j, leader)
	if victim == "" {
		t.Fatalf("no node is %s: placements %+v, leader %s", what, j.PEs, leader)
	}
	moved := pesOn(j, victim)
	before := committed(j)
	cut := time.Now()
	if err := c.Partition(victim); err != nil {
		t.Fatal(err)
	}
	t.Logf("cut off %s, %s (holding %v; leader %s), at epoch %d", victim, what, moved, leader, before)
	if victim == leader {
		newLeader, err := c.WaitLeaderExcept(ctx, victim)
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("new leader %s", newLeader)
	}
	waitFor(t, 60*time.Second, "an epoch committed after the cut, nothing placed on "+victim, func() bool {
		j, err := dockerJob(c, id)
		return err == nil && committed(j) > before+1 && len(pesOn(j, victim)) == 0
	})
	j, _ = dockerJob(c, id)
	t.Logf("going on without %s: epoch %d committed, placements %+v", victim, committed(j), j.PEs)
	hold(t, c, id, cut)
	healAndFinish(t, c, id, victim, moved, outDir)
	if victim == leader {
		// The old leader follows the new one.
		vn, _ := c.Node(victim)
		qctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		if got, err := vn.Client().Leader(qctx); err != nil || got == "" || got == victim {
			t.Errorf("the healed old leader names leader %q (%v)", got, err)
		}
	}
}

// Cut off the node that runs the job's source: a minority of one, holding a source.
func TestPartitionMinorityHoldingTheSource(t *testing.T) {
	cutOff(t, "the source's node", func(j api.Job, _ string) string { return placedOn(j, "sequence") })
}

// Cut off the leader: the majority elects another, which takes the job over; the old leader, cut off,
// commits nothing more, and once healed it follows.
func TestIsolateTheLeader(t *testing.T) {
	cutOff(t, "the leader", func(_ api.Job, leader string) string { return leader })
}

// Cut off the node that runs the exactly-once sink: the zombie sink, and whatever it staged, must publish
// nothing more; its successor publishes every committed epoch once.
func TestPartitionTheSinkNode(t *testing.T) {
	cutOff(t, "the sink's node", func(j api.Job, _ string) string { return placedOn(j, "file") })
}

// composeCommand returns how to run Docker Compose here: `docker compose` (v2), else `docker-compose`
// (v1); nil when neither works.
func composeCommand() []string {
	for _, c := range [][]string{{"docker", "compose"}, {"docker-compose"}} {
		ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
		err := exec.CommandContext(ctx, c[0], append(c[1:], "version")...).Run()
		cancel()
		if err == nil {
			return c
		}
	}
	return nil
}

// The repository's docker-compose.yml starts a three-node cluster that runs an exactly-once job into the
// shared /out.
func TestComposeClusterRunsAJob(t *testing.T) {
	image := dockerImage(t)
	composeCmd := composeCommand()
	if composeCmd == nil {
		SkipWithoutDocker(t, "neither `docker compose` nor `docker-compose` works here")
	}
	out := sharedDir(t)
	ports, err := freePorts(1)
	if err != nil {
		t.Fatal(err)
	}
	project := "weirc" + randomHex(4)
	file, err := filepath.Abs(filepath.Join("..", "docker-compose.yml"))
	if err != nil {
		t.Fatal(err)
	}
	env := append(os.Environ(), "WEIR_IMAGE="+image, "WEIR_OUT="+out, "WEIR_PORT="+strconv.Itoa(ports[0]),
		fmt.Sprintf("WEIR_USER=%d:%d", os.Getuid(), os.Getgid()))
	compose := func(args ...string) (string, error) {
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
		defer cancel()
		full := append(append(slices.Clone(composeCmd[1:]), "-f", file, "-p", project), args...)
		cmd := exec.CommandContext(ctx, composeCmd[0], full...)
		cmd.Env = env
		b, err := cmd.CombinedOutput()
		if err != nil {
			return string(b), fmt.Errorf("%s %s: %v\n%s", strings.Join(composeCmd, " "), strings.Join(full, " "), err, b)
		}
		return string(b), nil
	}
	t.Cleanup(func() {
		if t.Failed() {
			logs, _ := compose("logs", "--no-color", "--tail", "150")
			t.Logf("---- compose logs ----\n%s", logs)
		}
		if _, err := compose("down", "-v", "--remove-orphans"); err != nil {
			t.Errorf("compose down: %v", err)
		}
	})
	if _, err := compose("up", "-d"); err != nil {
		t.Fatal(err)
	}
	n1 := api.NewClient(fmt.Sprintf("127.0.0.1:%d", ports[0]))
	waitFor(t, 90*time.Second, "a leader, and three alive voters, through n1's published API", func() bool {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		ms, err := n1.Members(ctx)
		if err != nil || len(ms) != 3 {
			return false
		}
		leaders := 0
		for _, m := range ms {
			if m.Status != "alive" || m.Role != "voter" {
				return false
			}
			if m.Leader {
				leaders++
			}
		}
		return leaders == 1
	})
	// --advertise nX: every node advertises its address on the network, not its name.
	ctx := context.Background()
	ms, err := n1.Members(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range ms {
		for _, a := range []string{m.Addr, m.RPC, m.HTTP} {
			if host, _, err := net.SplitHostPort(a); err != nil || net.ParseIP(host) == nil {
				t.Errorf("member %s advertises %q, not an IP address", m.Name, a)
			}
		}
	}
	port, err := compose("port", "n2", "7410")
	if err != nil {
		t.Fatal(err)
	}
	n2 := api.NewClient(strings.TrimSpace(port))
	const count = 20000
	id, err := n2.Submit(ctx, api.SubmitRequest{JobFile: exactlyOnceJob, FileName: "eo.yaml", Params: map[string]string{
		"out": "/out/eo", "count": strconv.Itoa(count), "rate": "10000"}})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("submitted %s through n2 at %s", id, n2.Addr)
	waitFinished(t, 2*time.Minute, id, func() (api.Job, error) {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		return n1.Job(ctx, id, false)
	})
	testutil.CheckExactlyOnce(t, testutil.ReadInts(t, filepath.Join(out, "eo")), count, 2)
}

// A cluster of an image the engine does not have is refused at once, naming the image and how to build
// it, instead of failing on a pull from a registry that cannot be reached.
func TestUpDockerMissingImage(t *testing.T) {
	if testing.Short() {
		t.Skip("Docker test: skipped with -short")
	}
	if err := DockerAvailable(context.Background()); err != nil {
		SkipWithoutDocker(t, err.Error())
	}
	_, err := UpDocker(context.Background(), DockerSpec{Nodes: 1, Image: "weir-missing:" + randomHex(4)})
	if err == nil || !strings.Contains(err.Error(), "no image weir-missing:") || !strings.Contains(err.Error(), "docker-build.sh") {
		t.Fatalf("UpDocker with a missing image: %v", err)
	}
}
