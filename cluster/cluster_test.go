package cluster

import (
	"context"
	"flag"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/weirstream/weir/agent/api"
	"github.com/weirstream/weir/internal/testutil"
)

// weirBin is the weir binary the tests run as agents, built once.
var weirBin string

func TestMain(m *testing.M) {
	flag.Parse()
	os.Exit(RunWithWeir(m, testing.Short(), &weirBin, testImage.Remove))
}

func up(t *testing.T, n int) *Cluster {
	t.Helper()
	if testing.Short() {
		t.Skip("multi-process test: skipped with -short")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	c, err := Up(ctx, Spec{Nodes: n, Dir: t.TempDir(), Binary: weirBin, Fast: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			for _, n := range c.Nodes {
				t.Logf("---- %s log ----\n%s", n.Name, Tail(n.Log, 120))
			}
		}
		c.Down()
	})
	return c
}

var waitFor = testutil.Waiter(50 * time.Millisecond)

// follower returns a live node that does not lead.
func follower(t *testing.T, c *Cluster, leader string) *Node {
	for _, n := range c.Live() {
		if n.Name != leader {
			return n
		}
	}
	t.Fatal("no follower")
	return nil
}

func jobStatus(c *Cluster, id string) (api.Job, error) {
	var last error
	for _, n := range c.Live() {
		cl := n.Client()
		cl.RetryNoLeader = 0
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		j, err := cl.Job(ctx, id, false)
		cancel()
		if err == nil {
			return j, nil
		}
		last = err
	}
	return api.Job{}, last
}

func committed(j api.Job) uint64 {
	if len(j.Regions) == 0 {
		return 0
	}
	return j.Regions[0].Committed
}

const exactlyOnceJob = `name: eo
params:
  count: 300000
  rate: 15000
  out: out
consistent:
  period: 300ms
steps:
  - source: sequence
    count: ${count}
    rate: ${rate}
  - parallel: 4
    routing: hash
    key: "it % 13"
  - map: "it * 2"
  - end_parallel
  - sink: file
    path: ${out}
    exactly_once: true
`

// The proof: while an exactly-once job runs, kill -9 a worker, then the leader; the sink holds
// every record exactly once and the job finishes.
func TestKillWorkerThenLeaderExactlyOnce(t *testing.T) {
	c := up(t, 3)
	ctx := context.Background()
	leader, err := c.WaitLeader(ctx)
	if err != nil {
		t.Fatal(err)
	}
	job := filepath.Join(t.TempDir(), "eo.yaml")
	if err := os.WriteFile(job, []byte(exactlyOnceJob), 0o644); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(t.TempDir(), "out")
	f := follower(t, c, leader)
	id, err := f.Client().Submit(ctx, api.SubmitRequest{JobFile: exactlyOnceJob, FileName: "eo.yaml", Params: map[string]string{"out": out}})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("submitted %s through follower %s (leader %s)", id, f.Name, leader)
	waitFor(t, 30*time.Second, "a first committed epoch", func() bool {
		j, err := jobStatus(c, id)
		return err == nil && committed(j) > 0
	})

	// Kill a worker: a node that runs PEs but does not lead.
	j, _ := jobStatus(c, id)
	victim := ""
	for _, pe := range j.PEs {
		if pe.Node != leader {
			victim = pe.Node
			break
		}
	}
	before := committed(j)
	if err := c.Kill(victim); err != nil {
		t.Fatal(err)
	}
	t.Logf("killed worker %s at epoch %d", victim, before)
	waitFor(t, 30*time.Second, "an epoch committed after the worker's death", func() bool {
		j, err := jobStatus(c, id)
		return err == nil && committed(j) > before+1
	})

	// Three voters survive one loss: bring the worker back on its data directory (it rejoins with its Raft
	// state) before the leader goes, or the cluster would be left without a quorum.
	if err := c.Restart(victim); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 30*time.Second, victim+" alive again", func() bool {
		ms, err := c.Live()[0].Client().Members(ctx)
		if err != nil {
			return false
		}
		for _, m := range ms {
			if m.Name == victim && m.Status == "alive" && m.Role == "voter" {
				return true
			}
		}
		return false
	})
	t.Logf("restarted %s", victim)

	// Kill the leader.
	j, _ = jobStatus(c, id)
	before = committed(j)
	if err := c.Kill(leader); err != nil {
		t.Fatal(err)
	}
	t.Logf("killed leader %s at epoch %d", leader, before)
	newLeader, err := c.WaitLeaderExcept(ctx, leader)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("new leader %s", newLeader)
	waitFor(t, 120*time.Second, "the job to finish", func() bool {
		j, err := jobStatus(c, id)
		if err == nil && j.State == "failed" {
			t.Fatalf("job failed: %s", j.Error)
		}
		return err == nil && j.State == "finished"
	})
	testutil.CheckExactlyOnce(t, testutil.ReadInts(t, out), 300000, 2)
}
