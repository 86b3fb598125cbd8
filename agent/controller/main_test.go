package controller

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/raft"
	"go.uber.org/goleak"

	"github.com/weirstream/weir/agent/api"
	"github.com/weirstream/weir/fsm"
	"github.com/weirstream/weir/internal/testutil"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

var waitFor = testutil.Waiter(time.Millisecond)

// fakeRaft applies commands to an FSM in this process, one at a time; hold makes Apply wait (a slow Raft).
type fakeRaft struct {
	f    *fsm.FSM
	mu   sync.Mutex
	gate chan struct{} // nil: open
	idx  uint64
	// applied, if set, runs after each command is applied, as a node's worker reacts to the FSM.
	applied func()
}

func newFakeRaft() *fakeRaft { return &fakeRaft{f: fsm.New()} }

func (r *fakeRaft) hold() {
	r.mu.Lock()
	r.gate = make(chan struct{})
	r.mu.Unlock()
}

func (r *fakeRaft) release() {
	r.mu.Lock()
	if r.gate != nil {
		close(r.gate)
		r.gate = nil
	}
	r.mu.Unlock()
}

func (r *fakeRaft) Apply(cmd []byte, timeout time.Duration) error {
	r.mu.Lock()
	gate := r.gate
	r.mu.Unlock()
	if gate != nil {
		select {
		case <-gate:
		case <-time.After(timeout):
			return errors.New("timeout")
		}
	}
	r.mu.Lock()
	r.idx++
	resp, _ := r.f.Apply(&raft.Log{Index: r.idx, Type: raft.LogCommand, Data: cmd}).(error)
	applied := r.applied
	r.mu.Unlock()
	if applied != nil {
		applied()
	}
	return resp
}

func (r *fakeRaft) must(t testing.TB, ct fsm.CommandType, body any) {
	t.Helper()
	b, err := fsm.Encode(ct, body)
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Apply(b, time.Second); err != nil {
		t.Fatal(err)
	}
}

// fakeNodes answers for nodes: slow ones take their time, dead ones time out.
type fakeNodes struct {
	mu       sync.Mutex
	pes      map[string]api.NodePEs
	slow     map[string]time.Duration
	commands []api.Command
	to       []string // the node of each command
}

func (n *fakeNodes) Command(ctx context.Context, node string, c api.Command) error {
	n.mu.Lock()
	n.commands = append(n.commands, c)
	n.to = append(n.to, node)
	n.mu.Unlock()
	return nil
}

// count counts the commands sent to node that match.
func (n *fakeNodes) count(node string, match func(api.Command) bool) int {
	n.mu.Lock()
	defer n.mu.Unlock()
	k := 0
	for i, c := range n.commands {
		if n.to[i] == node && match(c) {
			k++
		}
	}
	return k
}

func (n *fakeNodes) NodePEs(ctx context.Context, node string) (api.NodePEs, error) {
	n.mu.Lock()
	d, pes := n.slow[node], n.pes[node]
	n.mu.Unlock()
	if d > 0 {
		select {
		case <-time.After(d):
		case <-ctx.Done():
			return api.NodePEs{}, ctx.Err()
		}
	}
	return pes, nil
}

func (n *fakeNodes) Ping(ctx context.Context, node string) error { return nil }
