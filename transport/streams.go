package transport

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"sync"
	"time"

	"github.com/weirstream/weir/flow"
)

// StreamKey names a stream: link Link (an index into the job's physical plan) of job Job.
type StreamKey struct {
	Job  string
	Link int
}

func (k StreamKey) String() string { return k.Job + "/" + strconv.Itoa(k.Link) }

// StreamOptions configure Streams. Zero values take the defaults.
type StreamOptions struct {
	// MaxFrame is the largest frame payload accepted or sent (default 16 MiB). A batch whose encoding is
	// bigger is split by the sender into several frames; a single tuple bigger than that fails its PE.
	MaxFrame int
	// Credits is the number of batches (frames) a receiver accepts before it returns credit (default 8). The
	// receiver's value governs: it grants it in Accept.
	Credits int
	// DialTimeout bounds a dial, and a receiver's wait for a new connection's Hello (default 5 s).
	DialTimeout time.Duration
	// ExpectWait is how long an incoming stream waits for its reader to register (default 10 s).
	ExpectWait time.Duration
	// OnBroken is called when an established stream to or from peer breaks: the fast failure signal. The
	// agent turns it into a failure of the PE's region. It is called once per connection, from a transport
	// goroutine; it must not block, nor call Close (CloseJob and an Expect's cancel are fine). It is not
	// called for connections this node closes on purpose (a cancelled or replaced Expect, a replaced Link,
	// CloseJob, Close), nor on the receiving side after the sender's Bye.
	OnBroken func(key StreamKey, peer string, err error)
	// Log receives the transport's warnings and errors (default: discarded).
	Log *slog.Logger
}

const (
	defaultMaxFrame    = 16 << 20
	defaultCredits     = 8
	defaultDialTimeout = 5 * time.Second
	defaultExpectWait  = 10 * time.Second
	// minMaxFrame leaves room for a Data header and some items.
	minMaxFrame = 64
)

// Streams carries tuple streams between the PEs of different nodes over a Mux's KindStream connections. One
// Streams serves a node: it receives the streams whose readers run here (Expect) and sends those whose
// writers run here (Link). Each stream has its own TCP connection, so a slow reader slows only its writers.
type Streams struct {
	o      StreamOptions
	log    *slog.Logger
	ln     net.Listener
	ctx    context.Context // cancelled by Close: ends dials and waits
	cancel context.CancelFunc

	mu       sync.Mutex
	closed   bool
	expects  map[StreamKey]*expectation
	changed  chan struct{} // closed (and replaced) whenever an expectation is added
	senders  map[StreamKey]*sender
	incoming map[*inConn]struct{}

	wg sync.WaitGroup
}

// NewStreams starts receiving streams on m's KindStream listener.
func NewStreams(m *Mux, o StreamOptions) *Streams {
	if o.MaxFrame <= 0 {
		o.MaxFrame = defaultMaxFrame
	}
	o.MaxFrame = max(o.MaxFrame, minMaxFrame)
	if o.Credits <= 0 {
		o.Credits = defaultCredits
	}
	o.Credits = min(o.Credits, maxCredits)
	if o.DialTimeout <= 0 {
		o.DialTimeout = defaultDialTimeout
	}
	if o.ExpectWait <= 0 {
		o.ExpectWait = defaultExpectWait
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	ctx, cancel := context.WithCancel(context.Background())
	s := &Streams{
		o:        o,
		log:      o.Log,
		ln:       m.Listener(KindStream),
		ctx:      ctx,
		cancel:   cancel,
		expects:  make(map[StreamKey]*expectation),
		changed:  make(chan struct{}),
		senders:  make(map[StreamKey]*sender),
		incoming: make(map[*inConn]struct{}),
	}
	s.wg.Add(1)
	go s.accept()
	return s
}

// Expect registers the local edge that receives stream key (the reader PE of link key.Link runs here). A
// later Expect of the same key replaces the earlier one (and closes its connection). cancel unregisters e and
// closes its connection; when it returns, nothing more will be delivered into e. It is idempotent.
func (s *Streams) Expect(key StreamKey, e flow.AnyEdge) (cancel func()) {
	if e == nil {
		return func() {}
	}
	x := &expectation{key: key, edge: e, typ: e.Type().String(), wire: e.Type().Wire()}
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return func() {}
	}
	old := s.expects[key]
	s.expects[key] = x
	close(s.changed)
	s.changed = make(chan struct{})
	s.mu.Unlock()
	if old != nil {
		old.retire()
	}
	return func() {
		s.mu.Lock()
		if s.expects[key] == x {
			delete(s.expects, key)
		}
		s.mu.Unlock()
		x.retire()
	}
}

// Link returns the sending side of stream key for tuple type t: a flow.Link[T] (as any, made with
// t.Wire().NewLink) whose Send encodes each batch and sends it as frames. It dials lazily, on the first send
// and again on the first send after a break, calling target for the reader's address every time, so a reader
// that moved is found. fail is passed to NewLink (a tuple that cannot be encoded, or that alone exceeds
// MaxFrame, fails the sending PE). A later Link of the same key closes the earlier one.
//
// Send blocks while the stream has no credit or while it (re)connects, and returns false as soon as abort
// fires. When the connection breaks, OnBroken is called once, and the batch in hand, if any, is dropped and
// Send returns false (the outbox halts its PE): whether any of it arrived is unknown, which is fine because
// the PE's consistent region resets on the break anyway. The next Send re-dials, with capped backoff.
func (s *Streams) Link(key StreamKey, t flow.Type, batchSize int, target func() (string, error), fail func(error)) (any, error) {
	switch {
	case key.Link < 0 || key.Link > maxLinkIndex:
		return nil, fmt.Errorf("stream %s: link index out of range", key)
	case t == nil:
		return nil, fmt.Errorf("stream %s: no tuple type", key)
	case target == nil:
		return nil, fmt.Errorf("stream %s: no target", key)
	}
	if fail == nil {
		fail = func(error) {}
	}
	snd := newSender(s, key, t, target, fail)
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil, fmt.Errorf("stream %s: %w", key, net.ErrClosed)
	}
	old := s.senders[key]
	s.senders[key] = snd
	s.mu.Unlock()
	if old != nil {
		old.close()
	}
	return t.Wire().NewLink(snd.send, batchSize, fail), nil
}

// CloseJob forgets every stream of job: its links close (their later sends return false) and its
// expectations are cancelled, all without OnBroken. The agent calls it when a job stops on this node, since
// a flow.Link has no Close of its own.
func (s *Streams) CloseJob(job string) {
	var senders []*sender
	var expects []*expectation
	s.mu.Lock()
	for k, snd := range s.senders {
		if k.Job == job {
			senders = append(senders, snd)
			delete(s.senders, k)
		}
	}
	for k, x := range s.expects {
		if k.Job == job {
			expects = append(expects, x)
			delete(s.expects, k)
		}
	}
	s.mu.Unlock()
	for _, snd := range senders {
		snd.close()
	}
	for _, x := range expects {
		x.retire()
	}
}

// Close stops receiving, closes every stream (without OnBroken) and waits for the transport's goroutines.
// Links made earlier return false from then on. The Mux stays open.
func (s *Streams) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	senders, expects := s.senders, s.expects
	s.senders, s.expects = nil, nil
	incoming := s.incoming
	s.incoming = nil
	s.mu.Unlock()
	s.cancel()
	s.ln.Close()
	for _, snd := range senders {
		snd.close()
	}
	for _, x := range expects {
		x.retire()
	}
	for c := range incoming {
		c.stop()
	}
	s.wg.Wait()
	return nil
}

func (s *Streams) isClosed() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.closed
}

// streamErr wraps err with the stream and the peer, the context every log line and OnBroken error needs.
func streamErr(stream, dir, peer string, err error) error {
	return fmt.Errorf("stream %s %s %s: %w", stream, dir, peer, err)
}

var (
	errClosed  = errors.New("stream closed")
	errAborted = errors.New("send aborted")
	errBye     = errors.New("closed by the sender on purpose")
)
