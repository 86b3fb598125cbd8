package transport

import (
	"context"
	"net"
	"time"

	"github.com/hashicorp/raft"
)

// NewRaftLayer returns the raft.StreamLayer that carries Raft's RPCs through m: it accepts the Mux's KindRaft
// connections and dials peers with KindRaft. advertise is the address other nodes reach this one at (raft
// uses it as this node's ServerAddress); nil means m.Addr(). Closing the layer closes only the KindRaft
// listener, so a new layer may be made on the same Mux later.
func NewRaftLayer(m *Mux, advertise net.Addr) raft.StreamLayer {
	if advertise == nil {
		advertise = m.Addr()
	}
	return &raftLayer{ln: m.Listener(KindRaft), advertise: advertise}
}

type raftLayer struct {
	ln        net.Listener
	advertise net.Addr
}

func (l *raftLayer) Accept() (net.Conn, error) { return l.ln.Accept() }
func (l *raftLayer) Close() error              { return l.ln.Close() }
func (l *raftLayer) Addr() net.Addr            { return l.advertise }

// Dial connects to the Raft layer of the node at address.
func (l *raftLayer) Dial(address raft.ServerAddress, timeout time.Duration) (net.Conn, error) {
	ctx := context.Background()
	if timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, timeout)
		defer cancel()
	}
	return Dial(ctx, string(address), KindRaft)
}
