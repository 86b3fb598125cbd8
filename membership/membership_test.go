package membership

import (
	"fmt"
	"log/slog"
	"testing"
	"time"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

type tlog struct{ t *testing.T }

func (w tlog) Write(b []byte) (int, error) { w.t.Log(string(b)); return len(b), nil }

func start(t *testing.T, name string) *Gossip {
	t.Helper()
	g, err := Start(Config{
		Name: name, Bind: "127.0.0.1:0", Fast: true,
		Meta:   Meta{RPC: "rpc-" + name, HTTP: "http-" + name, Server: true},
		Logger: slog.New(slog.NewTextHandler(tlog{t}, &slog.HandlerOptions{Level: slog.LevelWarn})),
	})
	if err != nil {
		t.Fatal(err)
	}
	go func() {
		for range g.Events() {
		}
	}()
	return g
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func statusOf(g *Gossip, name string) Status {
	m, ok := g.Member(name)
	if !ok {
		return ""
	}
	return m.Status
}

func TestJoinLeaveAndFailure(t *testing.T) {
	a, b, c := start(t, "a"), start(t, "b"), start(t, "c")
	defer a.Shutdown()
	for _, g := range []*Gossip{b, c} {
		if _, err := g.Join([]string{a.Addr()}); err != nil {
			t.Fatal(err)
		}
	}
	waitFor(t, "three alive members", func() bool {
		for _, n := range []string{"a", "b", "c"} {
			if statusOf(a, n) != Alive {
				return false
			}
		}
		return true
	})
	if m, _ := a.Member("b"); m.Meta.RPC != "rpc-b" || m.Meta.HTTP != "http-b" || !m.Meta.Server {
		t.Fatalf("meta of b: %+v", m.Meta)
	}
	// A graceful leave is a leave, not a failure.
	if err := b.Leave(time.Second); err != nil {
		t.Fatal(err)
	}
	b.Shutdown()
	waitFor(t, "b left", func() bool { return statusOf(a, "b") == Left })
	// A node that stops answering is declared failed.
	c.Shutdown()
	waitFor(t, "c failed", func() bool { return statusOf(a, "c") == Failed })
	if got := len(a.Members()); got != 3 {
		t.Fatalf("%d members known, want 3 (alive, left, failed)", got)
	}
}

func TestJoinRetryFailsFastOnNothing(t *testing.T) {
	a := start(t, "solo")
	defer a.Shutdown()
	if _, err := a.Join([]string{fmt.Sprintf("127.0.0.1:%d", 1)}); err == nil {
		t.Fatal("joined nothing")
	}
}
