package transport

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net"
	"testing"
	"time"
)

func dialKind(t *testing.T, m *Mux, kind byte) net.Conn {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c, err := Dial(ctx, m.Addr().String(), kind)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// echo serves one connection accepted on ln: it writes back every line, prefixed with tag.
func echo(t *testing.T, ln net.Listener, tag string) chan error {
	done := make(chan error, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			done <- err
			return
		}
		defer c.Close()
		r := bufio.NewReader(c)
		for {
			line, err := r.ReadString('\n')
			if err != nil {
				done <- nil
				return
			}
			if _, err := io.WriteString(c, tag+line); err != nil {
				done <- nil
				return
			}
		}
	}()
	return done
}

func roundTrip(t *testing.T, c net.Conn, r *bufio.Reader, msg, want string) {
	t.Helper()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.WriteString(c, msg+"\n"); err != nil {
		t.Fatal(err)
	}
	got, err := r.ReadString('\n')
	if err != nil || got != want+"\n" {
		t.Fatalf("got %q, %v; want %q", got, err, want)
	}
}

func TestMuxRoutesByKind(t *testing.T) {
	log, _ := newLog(t)
	m := newTestMux(t, log)
	kinds := []byte{KindRaft, KindStream, 'X'}
	var dones []chan error
	for _, k := range kinds {
		dones = append(dones, echo(t, m.Listener(k), string(k)+":"))
	}
	if m.Listener(KindRaft) != m.Listener(KindRaft) {
		t.Fatal("Listener returned two listeners for one kind")
	}
	if m.Listener('X').Addr().String() != m.Addr().String() {
		t.Fatal("a virtual listener's address is not the mux's")
	}
	// Dial in the reverse order of Accept, so that routing, not arrival order, decides.
	for i := len(kinds) - 1; i >= 0; i-- {
		c := dialKind(t, m, kinds[i])
		r := bufio.NewReader(c)
		roundTrip(t, c, r, "hello", string(kinds[i])+":hello")
		roundTrip(t, c, r, "again", string(kinds[i])+":again")
		c.Close()
	}
	for _, d := range dones {
		if err := <-d; err != nil {
			t.Fatal(err)
		}
	}
}

func TestMuxClosesBadConnectionsOnly(t *testing.T) {
	log, lines := newLog(t)
	m := newTestMux(t, log)
	m.SetHandshakeTimeout(200 * time.Millisecond)
	done := echo(t, m.Listener(KindStream), "")
	good := dialKind(t, m, KindStream)
	r := bufio.NewReader(good)
	roundTrip(t, good, r, "one", "one")

	// An unknown kind is closed at once.
	bad, err := net.Dial("tcp", m.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer bad.Close()
	bad.Write([]byte("Zgarbage"))
	// A silent connection is closed after the handshake timeout.
	silent, err := net.Dial("tcp", m.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer silent.Close()
	// A known kind nobody accepts (the stream listener's one Accept is taken) is closed after the timeout too.
	idle := dialKind(t, m, KindRaft)

	roundTrip(t, good, r, "two", "two")
	readUntilClosed(t, bad, 5*time.Second)
	start := time.Now()
	readUntilClosed(t, silent, 5*time.Second)
	readUntilClosed(t, idle, 5*time.Second)
	t.Logf("silent connection closed after %v", time.Since(start))
	roundTrip(t, good, r, "three", "three")

	waitFor(t, 5*time.Second, "the refusals to be logged", func() bool {
		return lines.has("unknown kind", bad.LocalAddr().String(), `'Z'`) &&
			lines.has("no kind byte", silent.LocalAddr().String()) &&
			lines.has("nobody accepted", idle.LocalAddr().String())
	})
	good.Close()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

func TestMuxCloseEndsEverything(t *testing.T) {
	log, _ := newLog(t)
	m := NewMux(listen(t), log)
	ln := m.Listener(KindStream)
	accepted := make(chan error, 1)
	go func() {
		c, err := ln.Accept()
		if err == nil {
			c.Close()
			err = errors.New("accepted a connection")
		}
		accepted <- err
	}()
	// A connection stuck in its handshake.
	pending, err := net.Dial("tcp", m.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer pending.Close()
	waitFor(t, 5*time.Second, "the handshake to start", func() bool {
		m.mu.Lock()
		defer m.mu.Unlock()
		return len(m.pending) == 1
	})
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}
	if err := <-accepted; !errors.Is(err, net.ErrClosed) {
		t.Fatalf("Accept after Close: %v", err)
	}
	readUntilClosed(t, pending, 5*time.Second)
	if _, err := m.Listener('Q').Accept(); !errors.Is(err, net.ErrClosed) {
		t.Fatalf("a listener made after Close accepted: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if c, err := Dial(ctx, m.Addr().String(), KindStream); err == nil {
		// The port may be reused by now only in theory; a closed mux must not answer.
		c.SetReadDeadline(time.Now().Add(time.Second))
		if _, err := c.Read(make([]byte, 1)); err == nil {
			t.Fatal("a closed mux answered")
		}
		c.Close()
	}
	if err := m.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
}

func TestMuxListenerReopens(t *testing.T) {
	log, _ := newLog(t)
	m := newTestMux(t, log)
	m.SetHandshakeTimeout(time.Second)
	l1 := m.Listener(KindRaft)
	l1.Close()
	c := dialKind(t, m, KindRaft)
	readUntilClosed(t, c, 5*time.Second) // refused: its listener is closed
	l2 := m.Listener(KindRaft)
	if l2 == l1 {
		t.Fatal("Listener returned a closed listener")
	}
	done := echo(t, l2, "")
	c2 := dialKind(t, m, KindRaft)
	roundTrip(t, c2, bufio.NewReader(c2), "x", "x")
	c2.Close()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}
