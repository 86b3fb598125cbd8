package transport

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"time"
)

// Connection kinds: the first byte a dialer writes on a connection to a Mux.
const (
	KindRaft   byte = 'R'
	KindStream byte = 'S'
)

// DefaultHandshakeTimeout is how long a Mux waits for a new connection's kind byte, and then for the virtual
// listener of that kind to accept it.
const DefaultHandshakeTimeout = 5 * time.Second

// Mux serves several protocols on one TCP listener. Every connection starts with one byte, its kind; the Mux
// reads it and hands the rest of the connection to the virtual listener of that kind. A connection with an
// unknown kind, or that says nothing within the handshake timeout, is closed and logged; it never holds up
// anyone else, since each handshake runs in its own goroutine.
type Mux struct {
	ln        net.Listener
	log       *slog.Logger
	handshake atomic.Int64 // time.Duration

	mu      sync.Mutex
	subs    map[byte]*virtualListener
	pending map[net.Conn]struct{} // connections between Accept and their hand-over
	closed  bool

	done chan struct{}
	wg   sync.WaitGroup
}

// NewMux serves ln until Close. Listeners of KindRaft and KindStream exist from the start, so a connection of
// either kind that arrives before its user calls Listener waits (up to the handshake timeout) rather than
// being refused. log may be nil.
func NewMux(ln net.Listener, log *slog.Logger) *Mux {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	m := &Mux{
		ln:      ln,
		log:     log,
		subs:    make(map[byte]*virtualListener),
		pending: make(map[net.Conn]struct{}),
		done:    make(chan struct{}),
	}
	m.handshake.Store(int64(DefaultHandshakeTimeout))
	m.subs[KindRaft] = m.newVirtual(KindRaft)
	m.subs[KindStream] = m.newVirtual(KindStream)
	m.wg.Add(1)
	go m.serve()
	return m
}

// SetHandshakeTimeout changes the handshake timeout (DefaultHandshakeTimeout) for connections accepted from
// now on. Tests shorten it.
func (m *Mux) SetHandshakeTimeout(d time.Duration) {
	if d > 0 {
		m.handshake.Store(int64(d))
	}
}

// Addr is the address of the real listener.
func (m *Mux) Addr() net.Addr { return m.ln.Addr() }

// Listener returns the virtual listener for connections of kind. Asking twice returns the same listener until
// it is closed; after that, a new one. Closing it refuses connections of its kind until the next call. After
// the Mux is closed it returns a closed listener.
func (m *Mux) Listener(kind byte) net.Listener {
	m.mu.Lock()
	defer m.mu.Unlock()
	if v, ok := m.subs[kind]; ok && !v.isClosed() {
		return v
	}
	v := m.newVirtual(kind)
	if m.closed {
		v.Close()
		return v
	}
	m.subs[kind] = v
	return v
}

// Close closes the real listener, every virtual listener and every connection not yet handed over, and waits
// for the Mux's goroutines. Connections already accepted through a virtual listener belong to their users.
func (m *Mux) Close() error {
	m.mu.Lock()
	if m.closed {
		m.mu.Unlock()
		return nil
	}
	m.closed = true
	close(m.done)
	for c := range m.pending {
		c.Close()
	}
	subs := m.subs
	m.mu.Unlock()
	err := m.ln.Close()
	for _, v := range subs {
		v.Close()
	}
	m.wg.Wait()
	if errors.Is(err, net.ErrClosed) {
		err = nil
	}
	return err
}

func (m *Mux) serve() {
	defer m.wg.Done()
	var backoff time.Duration
	for {
		c, err := m.ln.Accept()
		if err != nil {
			select {
			case <-m.done:
				return
			default:
			}
			if errors.Is(err, net.ErrClosed) {
				return
			}
			// Running out of file descriptors and the like: wait and retry, as net/http does, rather than
			// spin or give up on the whole node.
			backoff = min(max(2*backoff, 5*time.Millisecond), time.Second)
			m.log.Warn("mux: accept failed; retrying", "addr", m.ln.Addr().String(), "err", err, "backoff", backoff)
			t := time.NewTimer(backoff)
			select {
			case <-m.done:
				t.Stop()
				return
			case <-t.C:
			}
			continue
		}
		backoff = 0
		m.mu.Lock()
		if m.closed {
			m.mu.Unlock()
			c.Close()
			return
		}
		m.pending[c] = struct{}{}
		m.wg.Add(1)
		m.mu.Unlock()
		go m.route(c)
	}
}

// route reads c's kind byte and hands c to the listener of that kind.
func (m *Mux) route(c net.Conn) {
	defer m.wg.Done()
	handed := false
	defer func() {
		m.mu.Lock()
		delete(m.pending, c)
		m.mu.Unlock()
		if !handed {
			c.Close()
		}
	}()
	timeout := time.Duration(m.handshake.Load())
	var b [1]byte
	c.SetReadDeadline(time.Now().Add(timeout))
	if _, err := io.ReadFull(c, b[:]); err != nil {
		select {
		case <-m.done:
		default:
			m.log.Warn("mux: closing a connection that sent no kind byte", "remote", c.RemoteAddr().String(), "err", err)
		}
		return
	}
	c.SetReadDeadline(time.Time{})
	m.mu.Lock()
	v, ok := m.subs[b[0]]
	m.mu.Unlock()
	if !ok || v.isClosed() {
		m.log.Warn("mux: closing a connection of unknown kind", "remote", c.RemoteAddr().String(), "kind", fmt.Sprintf("%q", b[0]))
		return
	}
	t := time.NewTimer(timeout)
	defer t.Stop()
	select {
	case v.ch <- c:
		handed = true
	case <-v.done:
		m.log.Warn("mux: closing a connection: its listener closed", "remote", c.RemoteAddr().String(), "kind", fmt.Sprintf("%q", b[0]))
	case <-m.done:
	case <-t.C:
		m.log.Warn("mux: closing a connection nobody accepted", "remote", c.RemoteAddr().String(), "kind", fmt.Sprintf("%q", b[0]), "waited", timeout)
	}
}

func (m *Mux) newVirtual(kind byte) *virtualListener {
	return &virtualListener{m: m, kind: kind, ch: make(chan net.Conn), done: make(chan struct{})}
}

// virtualListener is the net.Listener of one connection kind. Hand-over is synchronous (an unbuffered
// channel), so no connection ever sits in a queue that Close would have to drain.
type virtualListener struct {
	m    *Mux
	kind byte
	ch   chan net.Conn
	done chan struct{}
	once sync.Once
}

func (v *virtualListener) Accept() (net.Conn, error) {
	select {
	case c := <-v.ch:
		return c, nil
	case <-v.done:
	case <-v.m.done:
	}
	return nil, fmt.Errorf("mux listener %q: %w", v.kind, net.ErrClosed)
}

func (v *virtualListener) Close() error {
	v.once.Do(func() { close(v.done) })
	return nil
}

func (v *virtualListener) Addr() net.Addr { return v.m.Addr() }

func (v *virtualListener) isClosed() bool {
	select {
	case <-v.done:
		return true
	default:
		return false
	}
}

// Dial connects to the Mux at addr and announces kind. ctx bounds the dial and the announcement.
func Dial(ctx context.Context, addr string, kind byte) (net.Conn, error) {
	var d net.Dialer
	c, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, err
	}
	if dl, ok := ctx.Deadline(); ok {
		c.SetWriteDeadline(dl)
	}
	if _, err := c.Write([]byte{kind}); err != nil {
		c.Close()
		return nil, fmt.Errorf("announce kind %q to %s: %w", kind, addr, err)
	}
	c.SetWriteDeadline(time.Time{})
	return c, nil
}
