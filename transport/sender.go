package transport

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/weirstream/weir/flow"
	"github.com/weirstream/weir/internal/watch"
)

const (
	// writeSlice is how long one write may block before Send checks abort again: a write blocks only when
	// the receiver's socket buffer is full, and abort must still interrupt it promptly.
	writeSlice = 50 * time.Millisecond
	// Re-dial backoff: the first attempt after a break is immediate, failures wait longer each time.
	backoffMin = 20 * time.Millisecond
	backoffMax = time.Second
)

// sender is the sending side of one stream. Its send method is the callback of a flow netLink and is called
// by one goroutine at a time (the writer PE's); close may be called from any goroutine.
type sender struct {
	s      *Streams
	key    StreamKey
	t      flow.Type
	typ    string
	target func() (string, error)
	fail   func(error)
	ctx    context.Context // cancelled by close
	cancel context.CancelFunc

	// Owned by the sending goroutine.
	gen      uint64 // of the last frame sent
	cur      *outConn
	dialing  chan dialResult // the dial in progress, if any: an abort does not waste it
	failures int
	retryAt  time.Time

	mu     sync.Mutex
	closed bool
	conns  map[*outConn]struct{} // established connections, for close
}

type dialResult struct {
	c   *outConn
	err error
}

func newSender(s *Streams, key StreamKey, t flow.Type, target func() (string, error), fail func(error)) *sender {
	ctx, cancel := context.WithCancel(s.ctx)
	return &sender{
		s: s, key: key, t: t, typ: t.String(), target: target, fail: fail,
		ctx: ctx, cancel: cancel, conns: make(map[*outConn]struct{}),
	}
}

// close ends the sender and its connections on purpose: no OnBroken, and later sends return false.
func (snd *sender) close() {
	snd.mu.Lock()
	snd.closed = true
	conns := make([]*outConn, 0, len(snd.conns))
	for c := range snd.conns {
		conns = append(conns, c)
	}
	snd.mu.Unlock()
	snd.cancel()
	for _, c := range conns {
		c.bye()
	}
}

// send is the netLink's send callback: it sends one encoded batch as one Data frame, or as several when it
// exceeds MaxFrame.
func (snd *sender) send(gen uint64, ctl flow.Control, count int, items []byte, abort <-chan struct{}) bool {
	h := dataHeader{gen: gen, ctl: ctl, count: count}
	if dataHeaderLen(h)+len(items) > snd.s.o.MaxFrame {
		return snd.sendSplit(h, items, abort)
	}
	return snd.sendFrame(h, items, abort)
}

// sendFrame sends one Data frame: it waits for a connection and a credit, then writes. Any failure drops
// the frame and returns false.
func (snd *sender) sendFrame(h dataHeader, items []byte, abort <-chan struct{}) bool {
	if h.gen != snd.gen {
		snd.gen = h.gen
		snd.checkTarget()
	}
	c, err := snd.connection(abort)
	if err != nil {
		return false
	}
	if err := c.acquire(abort, snd.ctx.Done()); err != nil {
		return false
	}
	c.wmu.Lock()
	defer c.wmu.Unlock()
	if c.isBroken() {
		c.credits.Add(1)
		return false
	}
	switch err := c.writeData(h, items, abort, snd.ctx.Done()); {
	case err == nil:
		return true
	case errors.Is(err, errPartial):
		// Our own PE is resetting (or the link closing): the receiver will see a truncated frame and report
		// the break; reporting it here too would only fail the region a second time.
		c.end(err, true)
	case errors.Is(err, errAborted) || errors.Is(err, errClosed):
		// Interrupted before a byte went out: the stream is intact and keeps its credit.
		c.credits.Add(1)
		c.signal()
	default:
		c.end(fmt.Errorf("write: %w", err), false)
	}
	return false
}

// checkTarget closes the connection, on purpose, when the reader is no longer where it leads. A new
// generation follows every placement change, so the sender checks at each: the reader may have moved
// while the connection to where it ran stays up, as one to a node cut off by a partition does (such a node
// neither answers nor closes); sends on it would wait for credit until the region's drain timeout, again
// and again.
func (snd *sender) checkTarget() {
	c := snd.cur
	if c == nil || c.isBroken() {
		return
	}
	addr, err := snd.target()
	if err != nil || addr == c.addr {
		return
	}
	snd.s.log.Info("stream: the reader moved; reconnecting", "stream", snd.key.String(), "from", c.addr, "to", addr)
	c.bye()
	snd.cur = nil
}

// connection returns a healthy connection, dialling (with backoff after failures) when there is none.
func (snd *sender) connection(abort <-chan struct{}) (*outConn, error) {
	for {
		if snd.ctx.Err() != nil {
			return nil, errClosed
		}
		if c := snd.cur; c != nil {
			if !c.isBroken() {
				return c, nil
			}
			snd.cur = nil
		}
		if snd.dialing == nil {
			if wait := time.Until(snd.retryAt); wait > 0 {
				t := time.NewTimer(wait)
				select {
				case <-t.C:
				case <-abort:
					t.Stop()
					return nil, errAborted
				case <-snd.ctx.Done():
					t.Stop()
					return nil, errClosed
				}
			}
			snd.dialing = snd.dial()
		}
		select {
		case r := <-snd.dialing:
			snd.dialing = nil
			if errors.Is(r.err, errReaderMoved) {
				// Not a failure: the next attempt goes to where the reader is now, at once.
				snd.s.log.Info("stream: the reader moved while connecting; connecting to its new node", "stream", snd.key.String(), "err", r.err)
				continue
			}
			if r.err != nil {
				snd.failures++
				d := min(backoffMin<<min(snd.failures-1, 10), backoffMax)
				d = d/2 + rand.N(d/2+1) // jitter: peers that broke together do not dial together
				snd.retryAt = time.Now().Add(d)
				if snd.ctx.Err() == nil {
					lvl := snd.s.log.Debug
					if snd.failures == 1 {
						lvl = snd.s.log.Warn
					}
					lvl("stream: cannot connect; retrying", "stream", snd.key.String(), "attempt", snd.failures, "retry_in", d, "err", r.err)
				}
				continue
			}
			if snd.failures > 0 {
				snd.s.log.Info("stream: connected", "stream", snd.key.String(), "peer", r.c.addr, "after_attempts", snd.failures+1)
			}
			snd.failures = 0
			snd.cur = r.c
		case <-abort:
			return nil, errAborted
		case <-snd.ctx.Done():
			return nil, errClosed
		}
	}
}

// dial starts connecting in a goroutine, so that Send can give up on abort while the dial goes on (its
// result serves the next Send).
func (snd *sender) dial() chan dialResult {
	ch := make(chan dialResult, 1)
	snd.mu.Lock()
	if snd.closed {
		snd.mu.Unlock()
		ch <- dialResult{err: errClosed}
		return ch
	}
	snd.s.wg.Add(1) // before close can return, hence before Streams.Close waits
	snd.mu.Unlock()
	go func() {
		defer snd.s.wg.Done()
		c, err := snd.connect()
		ch <- dialResult{c, err}
	}()
	return ch
}

// connect resolves the reader, dials it and shakes hands: Hello, then Accept or Error. The receiver may hold
// the Hello up to ExpectWait while the reader registers, so the answer is awaited that long too.
func (snd *sender) connect() (*outConn, error) {
	addr, err := snd.target()
	if err != nil {
		return nil, fmt.Errorf("stream %s: resolve the reader: %w", snd.key, err)
	}
	// The reader may move while the connection is being made. Its old node may not answer at all, or hold
	// the Hello for ExpectWait waiting for a reader that will never register there (it restarted after the
	// reader was placed elsewhere): either would keep the stream from the reader's new node for seconds.
	// The attempt is given up as soon as the placement names another address.
	ctx, stop := watch.While(snd.ctx, targetWatch, func() bool {
		now, err := snd.target()
		return err != nil || now == addr
	})
	defer stop()
	dctx, dcancel := context.WithTimeout(ctx, snd.s.o.DialTimeout)
	conn, err := Dial(dctx, addr, KindStream)
	dcancel()
	if err == nil {
		var credits int
		var br *bufio.Reader
		if credits, br, err = snd.handshake(ctx, conn); err == nil {
			return snd.established(conn, br, addr, credits)
		}
		conn.Close()
	}
	switch {
	case snd.ctx.Err() != nil:
		return nil, errClosed
	case stop():
		return nil, fmt.Errorf("stream %s to %s: %w", snd.key, addr, errReaderMoved)
	}
	return nil, streamErr(snd.key.String(), "to", addr, err)
}

// targetWatch is how often a connection under way checks that the reader is still where it leads.
const targetWatch = 50 * time.Millisecond

// errReaderMoved ends a connection attempt to a node the reader has left meanwhile.
var errReaderMoved = errors.New("the reader moved while connecting")

// established makes an outgoing connection of a connection that completed its handshake.
func (snd *sender) established(conn net.Conn, br *bufio.Reader, addr string, credits int) (*outConn, error) {
	c := &outConn{
		snd:    snd,
		conn:   conn,
		br:     br,
		addr:   addr,
		grant:  int64(credits),
		wake:   make(chan struct{}, 1),
		broken: make(chan struct{}),
	}
	c.credits.Store(int64(credits))
	snd.mu.Lock()
	if snd.closed {
		snd.mu.Unlock()
		conn.Close()
		return nil, errClosed
	}
	snd.conns[c] = struct{}{}
	snd.s.wg.Add(1)
	snd.mu.Unlock()
	go c.readLoop()
	return c, nil
}

func (snd *sender) handshake(ctx context.Context, conn net.Conn) (credits int, br *bufio.Reader, err error) {
	// Closing the sender, or the reader's move, must interrupt a handshake the receiver holds.
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	defer stop()
	conn.SetDeadline(time.Now().Add(snd.s.o.DialTimeout + snd.s.o.ExpectWait))
	var tmp [64]byte
	p := appendHello(tmp[:0], hello{version: protocolVersion, key: snd.key, typ: snd.typ})
	if _, err := conn.Write(appendFrame(nil, frameHello, p)); err != nil {
		return 0, nil, fmt.Errorf("send hello: %w", err)
	}
	br = bufio.NewReaderSize(conn, 512)
	kind, p, err := readFrame(br, maxControlFrame, nil)
	if err != nil {
		return 0, nil, fmt.Errorf("await accept: %w", err)
	}
	switch kind {
	case frameAccept:
		if credits, err = parseCount("accept", p); err != nil {
			return 0, nil, err
		}
	case frameError:
		return 0, nil, fmt.Errorf("refused: %s", safeText(string(p)))
	default:
		return 0, nil, fmt.Errorf("%w: expected Accept, got frame %q", errMalformed, kind)
	}
	conn.SetDeadline(time.Time{})
	if !stop() {
		// Interrupted as it completed: the connection is being closed.
		return 0, nil, fmt.Errorf("handshake interrupted: %w", context.Cause(ctx))
	}
	return credits, br, nil
}

var errPartial = errors.New("send interrupted inside a frame")

// testHookWriteStalled, when set (by tests, before any stream exists), is called each time a write has been
// blocked for writeSlice, with the bytes of the frame written so far.
var testHookWriteStalled func(written int64)

// outConn is one established outgoing stream connection.
type outConn struct {
	snd   *sender
	conn  net.Conn
	br    *bufio.Reader
	addr  string
	grant int64 // the credit the receiver granted: more than that in hand is a protocol violation

	credits atomic.Int64
	wake    chan struct{} // signalled when credits arrive
	broken  chan struct{} // closed when the connection ends, for whatever reason
	once    sync.Once
	err     error       // why it ended (set once)
	quiet   bool        // ended on purpose: no OnBroken
	leaving atomic.Bool // a Bye is on its way: whatever ends the connection now, it is on purpose

	// wmu serializes writes: the sending goroutine's Data frames and close's Bye.
	wmu  sync.Mutex
	hdr  []byte
	iov  [2][]byte
	bufs net.Buffers
}

// end closes the connection; the first call says why.
func (c *outConn) end(err error, quiet bool) {
	c.once.Do(func() {
		c.err, c.quiet = err, quiet
		close(c.broken)
		c.conn.Close()
	})
}

// byeTimeout bounds the write of a Bye: it is a courtesy, the connection closes either way.
const byeTimeout = 100 * time.Millisecond

// bye closes the connection on purpose, telling the receiver so (unless a frame was cut short, or the
// connection is already gone): a Bye spares it a false OnBroken.
func (c *outConn) bye() {
	c.leaving.Store(true) // the receiver closes on Bye, maybe before end below: that EOF is no break
	c.wmu.Lock()
	if !c.isBroken() {
		c.conn.SetWriteDeadline(time.Now().Add(byeTimeout))
		c.conn.Write([]byte{0, frameBye})
	}
	c.wmu.Unlock()
	c.end(errClosed, true)
}

func (c *outConn) isBroken() bool {
	select {
	case <-c.broken:
		return true
	default:
		return false
	}
}

func (c *outConn) signal() {
	select {
	case c.wake <- struct{}{}:
	default:
	}
}

// acquire takes one credit, waiting for one.
func (c *outConn) acquire(abort, closed <-chan struct{}) error {
	for {
		if c.credits.Load() > 0 {
			// Only the sending goroutine takes credits, so the one seen cannot vanish.
			c.credits.Add(-1)
			return nil
		}
		select {
		case <-c.wake:
		case <-c.broken:
			return errClosed
		case <-abort:
			return errAborted
		case <-closed:
			return errClosed
		}
	}
}

// writeData writes one Data frame. The write is cut into slices so that abort (or closing) interrupts even
// a write the receiver's full socket buffer holds up. errAborted and errClosed mean nothing was written;
// errPartial that the stream is broken mid-frame.
func (c *outConn) writeData(h dataHeader, items []byte, abort, closed <-chan struct{}) error {
	c.hdr = appendFrameHeader(c.hdr[:0], frameData, dataHeaderLen(h)+len(items))
	c.hdr = appendDataHeader(c.hdr, h)
	c.iov[0], c.iov[1] = c.hdr, items
	c.bufs = c.iov[:]
	written := int64(0)
	for {
		c.conn.SetWriteDeadline(time.Now().Add(writeSlice))
		n, err := c.bufs.WriteTo(c.conn)
		written += n
		if err == nil {
			return nil
		}
		if !errors.Is(err, os.ErrDeadlineExceeded) {
			return err
		}
		if testHookWriteStalled != nil {
			testHookWriteStalled(written)
		}
		var why error
		select {
		case <-abort:
			why = errAborted
		case <-closed:
			why = errClosed
		case <-c.broken:
			why = errClosed
		default:
			continue
		}
		if written > 0 {
			return fmt.Errorf("%w: %w", errPartial, why)
		}
		return why
	}
}

// readLoop reads what the receiver sends back: credits, or an Error frame that ends the stream. It reports
// the connection's end to OnBroken unless it was ended on purpose.
func (c *outConn) readLoop() {
	snd := c.snd
	defer snd.s.wg.Done()
	var buf [64]byte
	for !c.isBroken() {
		kind, p, err := readFrame(c.br, maxControlFrame, buf[:0])
		if err != nil {
			c.end(fmt.Errorf("read: %w", err), c.leaving.Load())
			break
		}
		switch kind {
		case frameCredit:
			n, err := parseCount("credit", p)
			if err != nil {
				c.end(err, false)
				break
			}
			if c.credits.Add(int64(n)) > c.grant {
				c.end(fmt.Errorf("%w: credit beyond the %d granted", errMalformed, c.grant), false)
				break
			}
			c.signal()
		case frameError:
			c.end(fmt.Errorf("receiver: %s", safeText(string(p))), false)
		default:
			c.end(fmt.Errorf("%w: unexpected frame %q", errMalformed, kind), false)
		}
	}
	c.end(errClosed, true) // a no-op, but it orders the reads of err and quiet after the first end
	snd.mu.Lock()
	delete(snd.conns, c)
	snd.mu.Unlock()
	if c.quiet {
		return
	}
	err := streamErr(snd.key.String(), "to", c.addr, c.err)
	snd.s.log.Warn("stream: connection broke", "stream", snd.key.String(), "peer", c.addr, "err", err)
	if snd.s.o.OnBroken != nil {
		snd.s.o.OnBroken(snd.key, c.addr, err)
	}
}
