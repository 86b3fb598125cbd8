package transport

import (
	"io"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/weirstream/weir/flow"
)

type brokenEvent struct {
	key  StreamKey
	peer string
	err  error
}

// node is one Weir node's transport: a Mux and its Streams.
type node struct {
	mux    *Mux
	st     *Streams
	addr   string
	log    *logLines
	broken chan brokenEvent
}

func newNode(t testing.TB, o StreamOptions) *node {
	t.Helper()
	log, lines := newLog(t)
	n := &node{log: lines, broken: make(chan brokenEvent, 100)}
	n.mux = newTestMux(t, log)
	n.addr = n.mux.Addr().String()
	o.Log = log
	o.OnBroken = func(key StreamKey, peer string, err error) {
		select {
		case n.broken <- brokenEvent{key, peer, err}:
		default:
		}
	}
	n.st = NewStreams(n.mux, o)
	t.Cleanup(func() { n.st.Close() })
	return n
}

// awaitBroken waits for an OnBroken call of key.
func (n *node) awaitBroken(t testing.TB, key StreamKey) brokenEvent {
	t.Helper()
	select {
	case ev := <-n.broken:
		if ev.key != key {
			t.Fatalf("OnBroken for %s, want %s (%v)", ev.key, key, ev.err)
		}
		return ev
	case <-time.After(10 * time.Second):
		t.Fatalf("no OnBroken for %s", key)
	}
	return brokenEvent{}
}

// noBroken fails if OnBroken was called.
func (n *node) noBroken(t testing.TB) {
	t.Helper()
	select {
	case ev := <-n.broken:
		t.Fatalf("unexpected OnBroken for %s from %s: %v", ev.key, ev.peer, ev.err)
	default:
	}
}

func fixed(addr string) func() (string, error) { return func() (string, error) { return addr, nil } }

// link makes the sending side of key for T, failing the test on an encoding failure.
func link[T any](t testing.TB, n *node, key StreamKey, batch int, target func() (string, error)) flow.Link[T] {
	t.Helper()
	l, err := n.st.Link(key, flow.TypeOf[T](), batch, target, func(err error) { t.Errorf("link %s failed: %v", key, err) })
	if err != nil {
		t.Fatal(err)
	}
	return l.(flow.Link[T])
}

// collector consumes an edge through an Inbox in its own goroutine.
type collector[T any] struct {
	mu      sync.Mutex
	items   []T
	marks   []mark
	in      *flow.Inbox[T]
	stop    chan struct{}
	done    chan struct{}
	onCtl   func(in *flow.Inbox[T], c flow.Control) // called from the collector's goroutine
	discard bool                                    // count only
	count   int
}

type mark struct {
	at  int // items received before the control item
	ctl flow.Control
}

func collect[T any](t testing.TB, e *flow.Edge[T], onCtl func(*flow.Inbox[T], flow.Control), discard bool) *collector[T] {
	c := &collector[T]{stop: make(chan struct{}), done: make(chan struct{}), onCtl: onCtl, discard: discard}
	wake := make(chan struct{}, 1)
	var halt flow.Halt
	c.in = flow.NewInbox([]*flow.Edge[T]{e}, func(v T) {
		c.mu.Lock()
		c.count++
		if !c.discard {
			c.items = append(c.items, v)
		}
		c.mu.Unlock()
	}, &halt, wake)
	go func() {
		defer close(c.done)
		for {
			took, _, ctl := c.in.Poll()
			if ctl.Kind != flow.CtlNone {
				c.mu.Lock()
				c.marks = append(c.marks, mark{c.count, ctl})
				c.mu.Unlock()
				if c.onCtl != nil {
					c.onCtl(c.in, ctl)
				}
			}
			if took {
				continue
			}
			select {
			case <-wake:
			case <-c.stop:
				return
			}
		}
	}()
	t.Cleanup(c.close)
	return c
}

func (c *collector[T]) close() {
	select {
	case <-c.stop:
	default:
		close(c.stop)
	}
	<-c.done
}

func (c *collector[T]) n() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.count
}

func (c *collector[T]) snapshot() ([]T, []mark) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]T(nil), c.items...), append([]mark(nil), c.marks...)
}

// proxy forwards TCP connections to a backend and can kill them all: a network failure on demand.
type proxy struct {
	ln      net.Listener
	backend string
	mu      sync.Mutex
	conns   []net.Conn
	frozen  chan struct{} // while non-nil, nothing is forwarded towards the backend
	wg      sync.WaitGroup
}

// freeze stops forwarding towards the backend, as a stalled network would; thaw resumes it.
func (p *proxy) freeze() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.frozen == nil {
		p.frozen = make(chan struct{})
	}
}

func (p *proxy) thaw() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.frozen != nil {
		close(p.frozen)
		p.frozen = nil
	}
}

// forward copies src to dst in small reads, holding each while the proxy is frozen.
func (p *proxy) forward(dst, src net.Conn) {
	buf := make([]byte, 16<<10)
	for {
		n, err := src.Read(buf)
		p.mu.Lock()
		frozen := p.frozen
		p.mu.Unlock()
		if frozen != nil {
			<-frozen
		}
		if n > 0 {
			if _, werr := dst.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}

func newProxy(t testing.TB, backend string) *proxy {
	p := &proxy{ln: listen(t), backend: backend}
	p.wg.Add(1)
	go p.serve()
	t.Cleanup(func() {
		p.ln.Close()
		p.thaw()
		p.kill()
		p.wg.Wait()
	})
	return p
}

func (p *proxy) addr() string { return p.ln.Addr().String() }

func (p *proxy) serve() {
	defer p.wg.Done()
	for {
		a, err := p.ln.Accept()
		if err != nil {
			return
		}
		b, err := net.Dial("tcp", p.backend)
		if err != nil {
			a.Close()
			continue
		}
		p.mu.Lock()
		p.conns = append(p.conns, a, b)
		p.mu.Unlock()
		p.wg.Add(2)
		go func() { defer p.wg.Done(); p.forward(b, a); b.Close() }()
		go func() { defer p.wg.Done(); io.Copy(a, b); a.Close() }()
	}
}

// connected reports whether a connection is being proxied.
func (p *proxy) connected() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.conns) > 0
}

// kill closes every proxied connection.
func (p *proxy) kill() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, c := range p.conns {
		c.Close()
	}
	p.conns = nil
}

// emitter drives an Outbox from its own goroutine, as a PE would.
type emitter[T any] struct {
	out   *flow.Outbox[T]
	halt  flow.Halt
	abort chan struct{}
}

func newEmitter[T any](l flow.Link[T]) *emitter[T] {
	e := &emitter[T]{abort: make(chan struct{}, 1)}
	e.out = flow.NewOutbox(l, &e.halt, e.abort)
	return e
}
