package transport

import (
	"context"
	"fmt"
	"net"
	"sync"
	"time"

	"github.com/hashicorp/raft"
)

// NewRaftLayer returns the raft.StreamLayer that carries Raft's RPCs through m: it accepts the Mux's KindRaft
// connections and dials peers with KindRaft. advertise is the address other nodes reach this one at (raft
// uses it as this node's ServerAddress); nil means m.Addr(). Closing the layer closes the KindRaft listener
// and every connection the layer accepted or dialled (raft.NetworkTransport closes neither when it shuts
// down: a stopped node would keep its peers' connections open, and their handler goroutines with them), but
// not the Mux, so a new layer may be made on the same Mux later.
func NewRaftLayer(m *Mux, advertise net.Addr) raft.StreamLayer {
	if advertise == nil {
		advertise = m.Addr()
	}
	return &raftLayer{ln: m.Listener(KindRaft), advertise: advertise, conns: map[*raftConn]struct{}{}}
}

type raftLayer struct {
	ln        net.Listener
	advertise net.Addr

	mu     sync.Mutex
	closed bool
	conns  map[*raftConn]struct{}
}

// raftConn is a connection of the layer; closing it forgets it.
type raftConn struct {
	net.Conn
	l    *raftLayer
	once sync.Once
}

func (c *raftConn) Close() error {
	err := c.Conn.Close()
	c.once.Do(func() {
		c.l.mu.Lock()
		delete(c.l.conns, c)
		c.l.mu.Unlock()
	})
	return err
}

// track registers a new connection, or closes it when the layer is closed.
func (l *raftLayer) track(c net.Conn) (net.Conn, error) {
	rc := &raftConn{Conn: c, l: l}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		c.Close()
		return nil, fmt.Errorf("raft layer: %w", net.ErrClosed)
	}
	l.conns[rc] = struct{}{}
	return rc, nil
}

func (l *raftLayer) Accept() (net.Conn, error) {
	c, err := l.ln.Accept()
	if err != nil {
		return nil, err
	}
	return l.track(c)
}

func (l *raftLayer) Close() error {
	l.mu.Lock()
	l.closed = true
	conns := make([]*raftConn, 0, len(l.conns))
	for c := range l.conns {
		conns = append(conns, c)
	}
	l.mu.Unlock()
	err := l.ln.Close()
	for _, c := range conns {
		c.Close()
	}
	return err
}

func (l *raftLayer) Addr() net.Addr { return l.advertise }

// Dial connects to the Raft layer of the node at address.
func (l *raftLayer) Dial(address raft.ServerAddress, timeout time.Duration) (net.Conn, error) {
	ctx := context.Background()
	if timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, timeout)
		defer cancel()
	}
	c, err := Dial(ctx, string(address), KindRaft)
	if err != nil {
		return nil, err
	}
	return l.track(c)
}
