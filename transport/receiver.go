package transport

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"time"

	"github.com/weirstream/weir/flow"
)

// expectation is a registered reader: the local edge into which stream key delivers.
type expectation struct {
	key  StreamKey
	edge flow.AnyEdge
	typ  string
	wire flow.Wire

	mu   sync.Mutex
	dead bool
	cur  *inConn // the connection delivering into edge, if any
}

// attach makes c the connection that delivers into x. The previous one, if any, is stopped and waited for:
// a sender dials again only after its old connection broke, so the newest connection is the live one, and
// two connections must never deliver into one edge at once (their batches would interleave).
func (x *expectation) attach(c *inConn) bool {
	x.mu.Lock()
	if x.dead {
		x.mu.Unlock()
		return false
	}
	prev := x.cur
	x.cur = c
	x.mu.Unlock()
	if prev != nil {
		prev.supersede(fmt.Errorf("superseded by a new connection from %s", c.peer))
		<-prev.done
	}
	return true
}

// detach forgets c if it is still x's connection.
func (x *expectation) detach(c *inConn) {
	x.mu.Lock()
	if x.cur == c {
		x.cur = nil
	}
	x.mu.Unlock()
}

// retire ends x: its connection is stopped, and once retire returns nothing more is delivered into its edge.
func (x *expectation) retire() {
	x.mu.Lock()
	x.dead = true
	c := x.cur
	x.cur = nil
	x.mu.Unlock()
	if c != nil {
		c.stop()
		<-c.done
	}
}

// inConn is one incoming stream connection.
type inConn struct {
	s     *Streams
	conn  net.Conn
	br    *bufio.Reader
	peer  string
	key   StreamKey
	known bool // key is set: the Hello was read

	endOnce sync.Once
	ended   chan struct{} // closed by end: interrupts a Deliver blocked on a full edge, and the reads
	endErr  error         // why it ended, read after ended is closed: nil when on purpose (no OnBroken)
	done    chan struct{} // closed when the connection no longer delivers

	wmu  sync.Mutex // the deliverer's credits and the reader's Error frames
	wbuf []byte
	tmp  [10]byte
}

// end closes the connection; the first call says why. err nil means on purpose: Close, or a cancelled or
// replaced Expect. A connection superseded by a newer one of the same stream ends with an error, because
// the sender dials again only after a break, and that break must be reported even if this side missed it.
func (c *inConn) end(err error) {
	c.endOnce.Do(func() {
		c.endErr = err
		close(c.ended)
		c.conn.Close()
	})
}

func (c *inConn) stop() { c.end(nil) }

func (c *inConn) supersede(why error) { c.end(why) }

func (c *inConn) isEnded() bool {
	select {
	case <-c.ended:
		return true
	default:
		return false
	}
}

func (c *inConn) stream() string {
	if !c.known {
		return "?"
	}
	return c.key.String()
}

func (s *Streams) accept() {
	defer s.wg.Done()
	for {
		conn, err := s.ln.Accept()
		if err != nil {
			// The virtual listener fails only when it, or its Mux, is closed.
			return
		}
		c := &inConn{
			s:     s,
			conn:  conn,
			peer:  conn.RemoteAddr().String(),
			ended: make(chan struct{}),
			done:  make(chan struct{}),
		}
		s.mu.Lock()
		if s.closed {
			s.mu.Unlock()
			conn.Close()
			return
		}
		s.incoming[c] = struct{}{}
		s.wg.Add(1)
		s.mu.Unlock()
		go s.serve(c)
	}
}

// protocolError is a peer's violation of the protocol: logged as an error, answered with an Error frame.
type protocolError struct{ err error }

func (e protocolError) Error() string { return e.err.Error() }
func (e protocolError) Unwrap() error { return e.err }

func (s *Streams) serve(c *inConn) {
	defer s.wg.Done()
	defer func() {
		s.mu.Lock()
		if s.incoming != nil {
			delete(s.incoming, c)
		}
		s.mu.Unlock()
	}()
	c.br = bufio.NewReaderSize(c.conn, 64<<10)
	x, err := s.handshake(c)
	if err != nil {
		ours := c.isEnded() || errors.Is(err, errClosed)
		c.stop()
		close(c.done)
		if !ours {
			s.logRefusal(c, err)
		}
		return
	}
	bye := s.receive(c, x)
	x.detach(c)
	close(c.done) // before OnBroken, which may cancel the Expect and so wait for done
	if bye || c.endErr == nil {
		return
	}
	err = streamErr(c.stream(), "from", c.peer, c.endErr)
	if isProtocolError(err) {
		s.log.Error("stream: closing a connection that broke the protocol", "stream", c.stream(), "peer", c.peer, "err", err)
	} else {
		s.log.Warn("stream: connection broke", "stream", c.stream(), "peer", c.peer, "err", err)
	}
	if s.o.OnBroken != nil {
		s.o.OnBroken(c.key, c.peer, err)
	}
}

func isProtocolError(err error) bool {
	var pe protocolError
	return errors.As(err, &pe)
}

// logRefusal logs why a connection ended before its stream was established.
func (s *Streams) logRefusal(c *inConn, err error) {
	err = streamErr(c.stream(), "from", c.peer, err)
	if isProtocolError(err) {
		s.log.Error("stream: refused a connection", "stream", c.stream(), "peer", c.peer, "err", err)
		return
	}
	s.log.Warn("stream: refused a connection", "stream", c.stream(), "peer", c.peer, "err", err)
}

// handshake reads the Hello, finds the stream's reader (waiting up to ExpectWait for it to register), checks
// the tuple type, attaches c to it and answers Accept. Refusals are answered with an Error frame.
func (s *Streams) handshake(c *inConn) (*expectation, error) {
	c.conn.SetReadDeadline(time.Now().Add(s.o.DialTimeout))
	kind, p, err := readFrame(c.br, maxControlFrame, nil)
	if err != nil {
		if errors.Is(err, errMalformed) || errors.Is(err, errFrameTooLarge) {
			return nil, s.refuse(c, protocolError{fmt.Errorf("read hello: %w", err)})
		}
		return nil, fmt.Errorf("read hello: %w", err)
	}
	if kind != frameHello {
		return nil, s.refuse(c, protocolError{fmt.Errorf("expected a Hello frame, got %q", kind)})
	}
	h, err := parseHello(p)
	if err != nil {
		return nil, s.refuse(c, protocolError{err})
	}
	c.key, c.known = h.key, true
	if h.version != protocolVersion {
		return nil, s.refuse(c, protocolError{fmt.Errorf("protocol version %d, this node speaks %d", h.version, protocolVersion)})
	}
	// The wait below may outlast the Hello deadline: lift it, the wait is bounded by ExpectWait.
	c.conn.SetReadDeadline(time.Time{})
	deadline := time.Now().Add(s.o.ExpectWait)
	var x *expectation
	for {
		x = s.await(c, h.key, deadline)
		if x == nil {
			if c.isEnded() || s.isClosed() {
				return nil, errClosed
			}
			return nil, s.refuse(c, fmt.Errorf("no reader registered within %v", s.o.ExpectWait))
		}
		if h.typ != x.typ {
			return nil, s.refuse(c, protocolError{fmt.Errorf("type mismatch: the sender sends %s, the reader takes %s", h.typ, x.typ)})
		}
		if x.attach(c) {
			break
		}
		// x was cancelled or replaced since await found it: look again.
	}
	if c.isEnded() {
		x.detach(c)
		return nil, errClosed
	}
	c.wbuf = appendFrame(c.wbuf[:0], frameAccept, appendCount(c.tmp[:0], s.o.Credits))
	if _, err := c.conn.Write(c.wbuf); err != nil {
		x.detach(c)
		return nil, fmt.Errorf("send accept: %w", err)
	}
	return x, nil
}

// await returns the expectation of key, waiting until deadline for it: the reader's PE may start after its
// writer has dialled. nil if it does not come, or if c or s closes first.
func (s *Streams) await(c *inConn, key StreamKey, deadline time.Time) *expectation {
	t := time.NewTimer(time.Until(deadline))
	defer t.Stop()
	for {
		s.mu.Lock()
		if s.closed {
			s.mu.Unlock()
			return nil
		}
		x := s.expects[key]
		changed := s.changed
		s.mu.Unlock()
		if x != nil {
			return x
		}
		select {
		case <-changed:
		case <-t.C:
			return nil
		case <-c.ended:
			return nil
		}
	}
}

// refuse answers an Error frame (best effort: the peer may be gone or hostile) and returns err.
func (s *Streams) refuse(c *inConn, err error) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	c.conn.SetWriteDeadline(time.Now().Add(time.Second))
	c.wbuf = appendFrame(c.wbuf[:0], frameError, []byte(safeText(err.Error())))
	c.conn.Write(c.wbuf)
	return err
}

// dataFrame is a Data frame read ahead of its delivery.
type dataFrame struct {
	h     dataHeader
	items []byte
}

// receive delivers the stream's Data frames into x's edge until the connection ends. It reports whether
// the sender said Bye; if not, c.endErr says whether the end was a break. Each frame is delivered (which blocks while the edge is full) before its credit
// goes back: that is the whole of the backpressure. A reader goroutine reads ahead — at most Credits frames,
// all the sender may have in flight — so that a break is noticed, and reported, even while a delivery is
// blocked on a full edge: a reader held back by marker alignment would otherwise learn of it only at its
// drain timeout.
func (s *Streams) receive(c *inConn, x *expectation) (bye bool) {
	frames := make(chan dataFrame, s.o.Credits)
	readDone := make(chan struct{})
	go func() {
		defer close(readDone)
		bye = s.readAhead(c, frames) // read by the deliverer only once readDone is closed
	}()
	defer func() {
		c.end(nil) // a no-op unless we are the ones stopping: the reader must end before we return
		<-readDone
	}()
	deliver := func(f dataFrame) bool {
		ok, err := x.wire.Deliver(x.edge, f.h.gen, f.h.ctl, f.h.count, f.items, c.ended)
		if err != nil {
			c.end(s.refuse(c, protocolError{fmt.Errorf("batch of generation %d: %w", f.h.gen, err)}))
			return false
		}
		return ok
	}
	pending := 0
	group := max(1, s.o.Credits/4)
	for {
		select {
		case f := <-frames:
			if !deliver(f) {
				return
			}
			pending++
			// Credits go back in small groups while more frames wait, to save writes under load.
			if pending >= group || len(frames) == 0 {
				if err := c.credit(pending); err != nil {
					// A sender that said Bye closes without waiting for credit. The reader has read the Bye
					// by now or soon will, since the connection is gone.
					t := time.NewTimer(time.Second)
					select {
					case <-readDone:
					case <-t.C:
					}
					t.Stop()
					if !isClosed(readDone) || !bye {
						c.end(fmt.Errorf("return credit: %w", err))
						return
					}
				}
				pending = 0
			}
		case <-readDone:
			if !bye {
				return
			}
			// Everything sent before the Bye is delivered; its credit no longer matters.
			for len(frames) > 0 {
				if !deliver(<-frames) {
					return
				}
			}
			s.log.Debug("stream: the sender closed the stream", "stream", c.stream(), "peer", c.peer)
			return
		case <-c.ended:
			return
		}
	}
}

// readAhead reads Data frames into frames until the connection ends (it ends c with the reason) or the
// sender says Bye (it returns true and leaves c alone).
func (s *Streams) readAhead(c *inConn, frames chan<- dataFrame) (bye bool) {
	for {
		// A fresh payload every frame: codecs may keep references into what they decode.
		kind, p, err := readFrame(c.br, s.o.MaxFrame, nil)
		switch {
		case err == nil:
		case errors.Is(err, errMalformed) || errors.Is(err, errFrameTooLarge):
			c.end(s.refuse(c, protocolError{err}))
			return false
		case errors.Is(err, io.EOF):
			c.end(errors.New("closed by the sender"))
			return false
		default:
			c.end(err)
			return false
		}
		if kind == frameBye && len(p) == 0 {
			return true
		}
		if kind != frameData {
			c.end(s.refuse(c, protocolError{fmt.Errorf("unexpected frame %q", kind)}))
			return false
		}
		h, items, err := parseData(p)
		if err != nil {
			c.end(s.refuse(c, protocolError{err}))
			return false
		}
		select {
		case frames <- dataFrame{h, items}:
		default:
			c.end(s.refuse(c, protocolError{fmt.Errorf("more than the %d frames of credit in flight", s.o.Credits)}))
			return false
		}
	}
}

func isClosed(ch <-chan struct{}) bool {
	select {
	case <-ch:
		return true
	default:
		return false
	}
}

// credit returns n credits to the sender.
func (c *inConn) credit(n int) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	c.wbuf = appendFrame(c.wbuf[:0], frameCredit, appendCount(c.tmp[:0], n))
	_, err := c.conn.Write(c.wbuf)
	return err
}
