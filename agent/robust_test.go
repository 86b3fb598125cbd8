package agent

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/weirstream/weir/agent/api"
	"github.com/weirstream/weir/fsm"
	"github.com/weirstream/weir/internal/testutil"
)

// A node shut down and started again on its data directory and addresses rejoins with its Raft state: its
// FSM replica knows the jobs at once (from the snapshot it took when it stopped), it takes part in the
// cluster again, and it runs none of the PEs that moved away while it was down (its old replica still
// places them on it: they would run as zombies).
func TestRestartOnDataDir(t *testing.T) {
	c := newCluster(t, clusterOpts{Nodes: 3})
	out := filepath.Join(t.TempDir(), "out")
	id, err := client(c.follower()).Submit(ctxT(t), api.SubmitRequest{JobFile: doublesJob(1000, 0, 3, true, out)})
	if err != nil {
		t.Fatal(err)
	}
	c.waitJob(id, "finished", 30*time.Second)
	// A job without a consistent region that runs on: its source would start from scratch on a zombie.
	long, err := client(c.follower()).Submit(ctxT(t), api.SubmitRequest{JobFile: doublesJob(1_000_000, 1000, 3, false, filepath.Join(t.TempDir(), "long"))})
	if err != nil {
		t.Fatal(err)
	}
	f := c.follower()
	i := c.index(f.Name())
	waitFor(t, 10*time.Second, f.Name()+" to know the job finished and run PEs of the long one", func() bool {
		j, ok := f.State().Job(id)
		return ok && j.State == fsm.JobFinished && len(pesRunning(t, f, long)) > 0
	})
	index := f.State().Index()
	c.kill(i)
	waitFor(t, 20*time.Second, "the PEs of "+f.Name()+" placed elsewhere", func() bool {
		j, err := c.job(long)
		return err == nil && nodesOf(j)[f.Name()] == 0
	})
	started := c.log.count(`msg="PE started"`, "node="+f.Name()+" ")
	a := c.restart(i)
	if a.RPCAddr() != c.cfgs[i].RPCAddr || a.HTTPAddr() != c.cfgs[i].HTTPAddr || a.GossipAddr() != c.cfgs[i].GossipAddr {
		t.Fatalf("restarted on other addresses: %s %s %s, was %s %s %s", a.RPCAddr(), a.HTTPAddr(), a.GossipAddr(),
			c.cfgs[i].RPCAddr, c.cfgs[i].HTTPAddr, c.cfgs[i].GossipAddr)
	}
	if !a.hadState {
		t.Fatal("the restarted node found no Raft state in its data directory")
	}
	// Its replica is back at once, before any leader told it anything.
	if j, ok := a.State().Job(id); !ok || j.State != fsm.JobFinished || a.State().Index() < index {
		t.Fatalf("the restarted node's replica: job %+v (known: %v), index %d, was %d", j, ok, a.State().Index(), index)
	}
	// It is an alive voter again, caught up, and runs nothing of the long job, which moved away.
	waitFor(t, 15*time.Second, a.Name()+" an alive voter again, caught up", func() bool {
		l := c.leader()
		if l == nil {
			return false
		}
		m := roles(t, l)[a.Name()]
		return m.Status == "alive" && m.Role == "voter" && c.log.has("replica caught up", "node="+a.Name()+" ")
	})
	if n := c.log.count(`msg="PE started"`, "node="+a.Name()+" "); n != started {
		t.Fatalf("the restarted node started %d PEs of jobs placed elsewhere", n-started)
	}
	if pes := pesRunning(t, a, long); len(pes) > 0 {
		t.Fatalf("the restarted node runs %v of the long job", pes)
	}
	// A job submitted through it runs.
	out2 := filepath.Join(t.TempDir(), "out2")
	id2, err := client(a).Submit(ctxT(t), api.SubmitRequest{JobFile: doublesJob(1000, 0, 3, true, out2)})
	if err != nil {
		t.Fatal(err)
	}
	c.waitJob(id2, "finished", 30*time.Second)
	testutil.CheckExactlyOnce(t, testutil.ReadInts(t, out2), 1000, 2)
	if err := client(a).Cancel(ctxT(t), long); err != nil {
		t.Fatal(err)
	}
}

// post sends a raw request and returns the status and the decoded error message.
func post(t *testing.T, a *Agent, method, path, contentType string, body []byte) (int, api.Error) {
	t.Helper()
	req, err := http.NewRequestWithContext(ctxT(t), method, "http://"+a.HTTPAddr()+path, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	var e api.Error
	_ = json.NewDecoder(resp.Body).Decode(&e)
	return resp.StatusCode, e
}

// Bad requests get clear answers, and the node keeps serving.
func TestBadInput(t *testing.T) {
	c := newCluster(t, clusterOpts{Nodes: 2})
	leader := c.leader()
	f := c.follower()
	ctx := ctxT(t)
	stillServes := func(a *Agent) {
		t.Helper()
		if _, err := client(a).Jobs(ctx, false); err != nil {
			t.Fatalf("%s no longer serves: %v", a.Name(), err)
		}
	}

	for _, a := range []*Agent{leader, f} {
		code, e := post(t, a, "POST", "/v1/jobs", "application/json", []byte(`{"job_file": "name: x`))
		if code != 400 || !strings.Contains(e.Error, "JSON") {
			t.Fatalf("malformed JSON to %s: %d %q", a.Name(), code, e.Error)
		}
		code, e = post(t, a, "POST", "/v1/jobs", "application/json", []byte(`{"job_flie": "name: x"}`))
		if code != 400 || !strings.Contains(e.Error, "job_flie") {
			t.Fatalf("unknown field to %s: %d %q", a.Name(), code, e.Error)
		}
		stillServes(a)
	}

	// An unknown operator: named, with the known ones, at its file and line.
	_, err := client(f).Submit(ctx, api.SubmitRequest{FileName: "bad.yaml", JobFile: "name: bad\nsteps:\n  - source: sequence\n    count: 10\n  - mapp: \"it\"\n  - sink: stdout\n"})
	if !isStatus(err, 400) || !strings.Contains(err.Error(), "mapp") || !strings.Contains(err.Error(), "bad.yaml:5") || !strings.Contains(err.Error(), "known transforms: aggregate, dedup, filter, flat_map, map") {
		t.Fatalf("unknown operator: %v", err)
	}
	_, err = client(f).Submit(ctx, api.SubmitRequest{JobFile: "name: bad\nsteps:\n  - source: sequenze\n  - sink: stdout\n"})
	if !isStatus(err, 400) || !strings.Contains(err.Error(), "job.yaml:3") || !strings.Contains(err.Error(), "known sources: file, gauss, sequence") {
		t.Fatalf("unknown source: %v", err)
	}
	_, err = client(f).Submit(ctx, api.SubmitRequest{})
	if !isStatus(err, 400) {
		t.Fatalf("empty submission: %v", err)
	}
	stillServes(f)

	// Unknown job IDs.
	if _, err := client(f).Job(ctx, "nope", false); !isStatus(err, 404) {
		t.Fatalf("unknown job: %v", err)
	}
	if _, err := client(f).Job(ctx, "nope", true); !isStatus(err, 404) {
		t.Fatalf("unknown job, consistent read: %v", err)
	}

	// An internal report to a follower: 421, naming the leader.
	code, e := post(t, f, "POST", "/internal/v1/reports", "application/json", []byte(`[{"kind":"finished","job":"nope"}]`))
	if code != http.StatusMisdirectedRequest || e.Leader != leader.Name() {
		t.Fatalf("report to a follower: %d %+v", code, e)
	}
	// Reports about unknown jobs to the leader are harmless; malformed ones are refused.
	code, _ = post(t, leader, "POST", "/internal/v1/reports", "application/json", []byte(`[{"kind":"finished","job":"nope","pe":"x"},{"kind":"drained","job":"nope","region":3}]`))
	if code != http.StatusNoContent {
		t.Fatalf("reports about an unknown job: %d", code)
	}
	code, _ = post(t, leader, "POST", "/internal/v1/reports", "application/json", []byte(`[{"kind":`))
	if code != 400 {
		t.Fatalf("malformed reports: %d", code)
	}

	// A command for a job a worker does not know is harmless.
	for _, a := range []*Agent{leader, f} {
		for _, cmd := range []api.Command{
			{Kind: api.CmdDrain, Job: "nope", Region: 0, Epoch: 1},
			{Kind: api.CmdReset, Job: "nope", Region: 2, Epoch: 0},
			{Kind: api.CmdCommitted, Job: "nope", Region: 0, Epoch: 3, Final: true},
		} {
			b, _ := json.Marshal(cmd)
			if code, e := post(t, a, "POST", "/internal/v1/command", "application/json", b); code != http.StatusNoContent {
				t.Fatalf("command %+v to %s: %d %q", cmd, a.Name(), code, e.Error)
			}
		}
		code, _ := post(t, a, "POST", "/internal/v1/command", "application/json", []byte(`{"kind":"explode","job":"nope"}`))
		if code != 400 {
			t.Fatalf("unknown command kind: %d", code)
		}
		if pes := pesRunning(t, a, "nope"); len(pes) > 0 {
			t.Fatalf("%s runs %v for an unknown job", a.Name(), pes)
		}
		stillServes(a)
	}

	// A submission over 16 MiB is refused, through a follower and on the leader.
	big, _ := json.Marshal(api.SubmitRequest{JobFile: "name: big\n# " + strings.Repeat("x", 17<<20) + "\nsteps: []\n"})
	for _, a := range []*Agent{f, leader} {
		code, e := post(t, a, "POST", "/v1/jobs", "application/json", big)
		if code != http.StatusRequestEntityTooLarge || !strings.Contains(e.Error, "16 MiB") {
			t.Fatalf("oversized submission to %s: %d %q", a.Name(), code, e.Error)
		}
		stillServes(a)
	}

	// After all that, a good job runs.
	out := filepath.Join(t.TempDir(), "out")
	id, err := client(f).Submit(ctx, api.SubmitRequest{JobFile: doublesJob(500, 0, 2, true, out)})
	if err != nil {
		t.Fatal(err)
	}
	c.waitJob(id, "finished", 30*time.Second)
	testutil.CheckExactlyOnce(t, testutil.ReadInts(t, out), 500, 2)
}

// A committed entry of a type this binary does not know (a newer binary's command) stops every node that
// applies it, with a clear log line and without a panic: going on would make the replicas diverge.
func TestUnknownCommandStopsNodes(t *testing.T) {
	c := newCluster(t, clusterOpts{Nodes: 3})
	leader := c.leader()
	entry := []byte{200, 0x80} // type 200, an empty msgpack map
	err := leader.Apply(entry, 5*time.Second)
	if err == nil || !strings.Contains(err.Error(), "unknown command type") {
		t.Fatalf("apply of an unknown command type: %v", err)
	}
	for _, a := range c.live() {
		select {
		case <-a.Done():
		case <-time.After(20 * time.Second):
			t.Fatalf("%s did not stop", a.Name())
		}
		if a.fsm.Fatal() == nil {
			t.Fatalf("%s stopped without a fatal FSM error", a.Name())
		}
	}
	waitFor(t, 5*time.Second, "the log line of every node", func() bool {
		for _, a := range c.live() {
			if !c.log.has("node="+a.Name(), "binary is older than the cluster") {
				return false
			}
		}
		return true
	})
	_ = context.Background
}
