package agent

import (
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/weirstream/weir/agent/api"
	"github.com/weirstream/weir/topology"
)

// counter is a stateful Go source: 0, 1, …, Count-1.
type counter struct {
	N, Count int
}

func (c *counter) Next() (int, bool, error) {
	if c.N >= c.Count {
		return 0, false, nil
	}
	c.N++
	return c.N - 1, true, nil
}

// tally is a Go sink whose state is the sum and number of what it consumed; at every commit it publishes
// its state under Key, so what the test reads counts every committed tuple exactly once.
type tally struct {
	Key    string
	Sum, N int
}

func (s *tally) Consume(v int) error {
	s.Sum += v
	s.N++
	return nil
}

func (s *tally) RegionCheckpointed(uint64) error {
	tallies.Lock()
	defer tallies.Unlock()
	tallies.m[s.Key] = [2]int{s.Sum, s.N}
	return nil
}

var tallies = struct {
	sync.Mutex
	m map[string][2]int
}{m: map[string][2]int{}}

func tallyOf(key string) (sum, n int) {
	tallies.Lock()
	defer tallies.Unlock()
	v := tallies.m[key]
	return v[0], v[1]
}

func triple(v int) int    { return 3 * v }
func quadruple(v int) int { return 4 * v }
func ident(v int) int     { return v }

// spread is a Go job whose tuples cross nodes: a source, a parallel region of width 3 (one PE per
// channel, spread over distinct nodes), and a sink isolated in a PE of its own.
func spread(f func(int) int) topology.Builder {
	return func(p *topology.Params) *topology.Topology {
		count := p.Int("count", 1000)
		key := p.String("key", "")
		topo := topology.New("spread")
		s := topology.SourceOf[int](topo, &counter{Count: count})
		s.SetConsistent(topology.Periodic(100 * time.Millisecond))
		m := topology.Map(s.Parallel(3, topology.HashBy(ident)), f)
		m.EndParallel().Sink(&tally{Key: key}, topology.Isolate())
		return topo
	}
}

func jobsWith(name string, b topology.Builder) *topology.Jobs {
	j := topology.NewJobs()
	j.Register(name, b)
	return j
}

// The same Go job registered in every agent runs across the nodes by name.
func TestGoJobAcrossNodes(t *testing.T) {
	c := newCluster(t, clusterOpts{Nodes: 3, Jobs: func(int) *topology.Jobs { return jobsWith("spread", spread(triple)) }})
	f := c.follower()
	const n = 3000
	id, err := client(f).Submit(ctxT(t), api.SubmitRequest{GoJob: "spread", Params: map[string]string{"count": strconv.Itoa(n), "key": t.Name()}})
	if err != nil {
		t.Fatal(err)
	}
	j := c.placed(id)
	if len(j.PEs) != 5 {
		t.Fatalf("%d PEs, want 5: %+v", len(j.PEs), j.PEs)
	}
	if nodes := nodesOf(j); len(nodes) != 3 {
		t.Fatalf("the job's PEs are on %d nodes, want 3: %+v", len(nodes), j.PEs)
	}
	j = c.waitJob(id, "finished", 30*time.Second)
	if j.Origin != "go" {
		t.Fatalf("origin %q, want go", j.Origin)
	}
	sum, cnt := tallyOf(t.Name())
	if cnt != n || sum != 3*n*(n-1)/2 {
		t.Fatalf("the sink tallied %d tuples summing to %d, want %d summing to %d", cnt, sum, n, 3*n*(n-1)/2)
	}
	// A Go job this binary lacks is refused, naming the ones it has.
	_, err = client(f).Submit(ctxT(t), api.SubmitRequest{GoJob: "nope"})
	if !isStatus(err, 400) || !strings.Contains(err.Error(), `no Go job "nope"`) || !strings.Contains(err.Error(), "spread") {
		t.Fatalf("submit of an unknown Go job: %v", err)
	}
}

// A node whose binary builds the Go job differently refuses to run its PEs: the job fails, naming the
// fingerprint mismatch.
func TestGoJobFingerprintMismatch(t *testing.T) {
	c := newCluster(t, clusterOpts{Nodes: 2, Jobs: func(i int) *topology.Jobs {
		if i == 1 {
			return jobsWith("spread", spread(quadruple))
		}
		return jobsWith("spread", spread(triple))
	}})
	id, err := client(c.agents[0]).Submit(ctxT(t), api.SubmitRequest{GoJob: "spread", Params: map[string]string{"count": "1000000", "key": t.Name()}})
	if err != nil {
		t.Fatal(err)
	}
	j := c.placed(id)
	if nodes := nodesOf(j); len(nodes) != 2 {
		t.Fatalf("the job's PEs are on %d nodes, want both: %+v", len(nodes), j.PEs)
	}
	j = c.waitJob(id, "failed", 20*time.Second)
	if !strings.Contains(j.Error, "fingerprint") {
		t.Fatalf("the job failed with %q, want a fingerprint mismatch", j.Error)
	}
	t.Logf("failed as expected: %s", j.Error)
	waitFor(t, 10*time.Second, "the failed job's PEs to stop", func() bool {
		for _, a := range c.live() {
			if len(pesRunning(t, a, id)) > 0 {
				return false
			}
		}
		return true
	})
}
