package transport

import (
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/raft"
)

// listFSM appends every applied command to a list.
type listFSM struct {
	mu  sync.Mutex
	log []string
}

func (f *listFSM) Apply(l *raft.Log) any {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.log = append(f.log, string(l.Data))
	return len(f.log)
}

func (f *listFSM) entries() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.log...)
}

func (f *listFSM) Snapshot() (raft.FSMSnapshot, error) { return nil, fmt.Errorf("not supported") }
func (f *listFSM) Restore(io.ReadCloser) error         { return fmt.Errorf("not supported") }

type raftNode struct {
	id    raft.ServerID
	mux   *Mux
	trans *raft.NetworkTransport
	raft  *raft.Raft
	fsm   *listFSM
	down  bool
}

func (n *raftNode) shutdown(t *testing.T) {
	if n.down {
		return
	}
	n.down = true
	if err := n.raft.Shutdown().Error(); err != nil {
		t.Errorf("shutdown %s: %v", n.id, err)
	}
	n.trans.CloseStreams() // pooled connections: the peers' handlers end when these close
	n.trans.Close()
	n.mux.Close()
}

func TestRaftOverMux(t *testing.T) {
	_, lines := newLog(t)
	lines.quiet = testing.Short()
	hlog := hclog.New(&hclog.LoggerOptions{Name: "raft", Output: lines, Level: hclog.Info})

	var nodes []*raftNode
	var servers []raft.Server
	for i := range 3 {
		m := NewMux(listen(t), nil)
		n := &raftNode{id: raft.ServerID(fmt.Sprintf("n%d", i)), mux: m, fsm: &listFSM{}}
		n.trans = raft.NewNetworkTransportWithConfig(&raft.NetworkTransportConfig{
			Stream:  NewRaftLayer(m, m.Addr()),
			MaxPool: 3,
			Timeout: 2 * time.Second,
			Logger:  hlog.Named(string(n.id)),
		})
		nodes = append(nodes, n)
		servers = append(servers, raft.Server{ID: n.id, Address: n.trans.LocalAddr()})
	}
	t.Cleanup(func() {
		for _, n := range nodes {
			n.shutdown(t)
		}
	})
	for i, n := range nodes {
		conf := raft.DefaultConfig()
		conf.LocalID = n.id
		conf.HeartbeatTimeout = 100 * time.Millisecond
		conf.ElectionTimeout = 100 * time.Millisecond
		conf.LeaderLeaseTimeout = 50 * time.Millisecond
		conf.CommitTimeout = 5 * time.Millisecond
		conf.Logger = hlog.Named(string(n.id))
		store := raft.NewInmemStore()
		r, err := raft.NewRaft(conf, n.fsm, store, store, raft.NewInmemSnapshotStore(), n.trans)
		if err != nil {
			t.Fatal(err)
		}
		n.raft = r
		if i == 0 {
			if err := r.BootstrapCluster(raft.Configuration{Servers: servers}).Error(); err != nil {
				t.Fatal(err)
			}
		}
	}

	leader := func(except *raftNode) *raftNode {
		var found *raftNode
		waitFor(t, 10*time.Second, "a leader", func() bool {
			for _, n := range nodes {
				if n != except && !n.down && n.raft.State() == raft.Leader {
					found = n
					return true
				}
			}
			return false
		})
		return found
	}
	apply := func(l *raftNode, cmds ...string) {
		for _, c := range cmds {
			if err := l.raft.Apply([]byte(c), 5*time.Second).Error(); err != nil {
				t.Fatalf("apply %q on %s: %v", c, l.id, err)
			}
		}
	}
	replicated := func(want int) {
		waitFor(t, 10*time.Second, fmt.Sprintf("%d entries on every live node", want), func() bool {
			for _, n := range nodes {
				if !n.down && len(n.fsm.entries()) != want {
					return false
				}
			}
			return true
		})
	}

	first := leader(nil)
	t.Logf("leader: %s", first.id)
	apply(first, "a", "b", "c")
	replicated(3)

	first.shutdown(t)
	second := leader(first)
	t.Logf("new leader after %s stopped: %s", first.id, second.id)
	apply(second, "d", "e")
	replicated(5)
	for _, n := range nodes {
		if !n.down {
			if got := fmt.Sprint(n.fsm.entries()); got != "[a b c d e]" {
				t.Fatalf("%s applied %s", n.id, got)
			}
		}
	}
}

// Closing a Raft layer closes the connections it accepted and dialled: raft.NetworkTransport closes
// neither when Raft shuts down, so a stopped node kept its peers' connections open, and the goroutines
// that serve them, on both sides.
func TestRaftLayerCloseClosesConnections(t *testing.T) {
	ma, mb := NewMux(listen(t), nil), NewMux(listen(t), nil)
	t.Cleanup(func() { ma.Close(); mb.Close() })
	la, lb := NewRaftLayer(ma, nil), NewRaftLayer(mb, nil)
	t.Cleanup(func() { la.Close(); lb.Close() })

	accepted := make(chan io.ReadWriteCloser, 2)
	go func() {
		for {
			c, err := lb.Accept()
			if err != nil {
				return
			}
			accepted <- c
		}
	}()
	out, err := la.Dial(raft.ServerAddress(mb.Addr().String()), time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := out.Write([]byte("x")); err != nil {
		t.Fatal(err)
	}
	in := (<-accepted).(net.Conn)
	buf := make([]byte, 1)
	if _, err := io.ReadFull(in, buf); err != nil {
		t.Fatal(err)
	}
	// B stops: the connection it accepted closes, and A sees it end.
	lb.Close()
	in.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.ReadFull(in, buf); !errors.Is(err, net.ErrClosed) {
		t.Fatalf("read from a connection of a closed layer: %v, want it closed", err)
	}
	out.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.ReadFull(out, buf); err != io.EOF {
		t.Fatalf("the peer's side after the layer closed: %v, want EOF", err)
	}
	// A stops: its dialled connection closes, and it dials no more.
	la.Close()
	if _, err := out.Write([]byte("x")); err == nil {
		t.Fatal("write on a dialled connection of a closed layer succeeded")
	}
	if c, err := la.Dial(raft.ServerAddress(mb.Addr().String()), time.Second); err == nil {
		c.Close()
		t.Fatal("a closed layer dialled")
	}
}
