package worker

import (
	"io"
	"net"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/raft"
	"go.uber.org/goleak"

	"github.com/weirstream/weir/agent/api"
	"github.com/weirstream/weir/checkpoint"
	"github.com/weirstream/weir/fsm"
	"github.com/weirstream/weir/internal/testutil"
	"github.com/weirstream/weir/jobfile"
	"github.com/weirstream/weir/operator/builtin"
	"github.com/weirstream/weir/transport"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

var waitFor = testutil.Waiter(time.Millisecond)

// rig is one worker over an FSM the test writes, with the reports it makes.
type rig struct {
	t   *testing.T
	f   *fsm.FSM
	idx uint64
	w   *Worker

	mu      sync.Mutex
	reports []api.Report
}

func newRig(t *testing.T, node string) *rig {
	t.Helper()
	r := &rig{t: t, f: fsm.New()}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	mux := transport.NewMux(ln, nil)
	streams := transport.NewStreams(mux, transport.StreamOptions{})
	reg := builtin.NewRegistryWithStdout(io.Discard)
	r.w = New(Config{
		Node: node, State: r.f.State(), Streams: streams, Store: NewReplicatedStore(checkpoint.NewMemStore(), 1, func() []Peer { return nil }),
		Registry: reg, Report: r.add,
	})
	t.Cleanup(func() {
		streams.Close()
		mux.Close()
	})
	return r
}

// run starts the worker's loop, stopped when the test ends.
func (r *rig) run() {
	go r.w.Run()
	r.t.Cleanup(r.w.Stop)
}

func (r *rig) add(rep api.Report) {
	r.mu.Lock()
	r.reports = append(r.reports, rep)
	r.mu.Unlock()
}

func (r *rig) find(match func(api.Report) bool) []api.Report {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []api.Report
	for _, rep := range r.reports {
		if match(rep) {
			out = append(out, rep)
		}
	}
	return out
}

func (r *rig) must(ct fsm.CommandType, body any) {
	r.t.Helper()
	b, err := fsm.Encode(ct, body)
	if err != nil {
		r.t.Fatal(err)
	}
	r.idx++
	if resp, ok := r.f.Apply(&raft.Log{Index: r.idx, Type: raft.LogCommand, Data: b}).(error); ok && resp != nil {
		r.t.Fatal(resp)
	}
}

// submit records a running job of a job file.
func (r *rig) submit(id, file string) {
	r.t.Helper()
	plan, err := jobfile.Parse(id+".yaml", []byte(file), jobfile.Options{Registry: builtin.NewRegistryWithStdout(io.Discard)})
	if err != nil {
		r.t.Fatal(err)
	}
	enc, err := plan.Encode()
	if err != nil {
		r.t.Fatal(err)
	}
	fp, _ := plan.Fingerprint()
	r.must(fsm.SubmitJobType, fsm.SubmitJob{Job: fsm.Job{ID: id, Name: plan.Name, Plan: enc, Fingerprint: fp, Origin: plan.Origin.Kind}})
}

func (r *rig) command(c api.Command) {
	r.t.Helper()
	if err := r.w.Command(c); err != nil {
		r.t.Fatalf("command %+v: %v", c, err)
	}
}

func kinds(reps []api.Report) []string {
	var out []string
	for _, r := range reps {
		out = append(out, r.Kind+"/"+r.PE)
	}
	slices.Sort(out)
	return out
}
