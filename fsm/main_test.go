package fsm

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"reflect"
	"testing"
	"time"

	"github.com/hashicorp/raft"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	// Raft starts goroutines; every test must stop all of them.
	goleak.VerifyTestMain(m)
}

// tb is what the helpers need of a *testing.T, *testing.B or *rapid.T.
type tb interface {
	Helper()
	Fatal(args ...any)
	Fatalf(format string, args ...any)
}

// entry encodes a command or fails the test.
func entry(tb tb, t CommandType, body any) []byte {
	tb.Helper()
	b, err := Encode(t, body)
	if err != nil {
		tb.Fatalf("Encode(%s): %v", t, err)
	}
	return b
}

// applyRaw applies one raw entry at the next index and returns the response as an error.
func applyRaw(f *FSM, data []byte) error {
	resp := f.Apply(&raft.Log{Index: f.State().Index() + 1, Type: raft.LogCommand, Data: data})
	if resp == nil {
		return nil
	}
	return resp.(error)
}

// mustApply applies a command that must be accepted.
func mustApply(tb tb, f *FSM, t CommandType, body any) {
	tb.Helper()
	if err := applyRaw(f, entry(tb, t, body)); err != nil {
		tb.Fatalf("apply %s %+v: %v", t, body, err)
	}
}

// tablesOf returns a deep copy of the FSM's tables, for comparisons that must not share memory with it.
func tablesOf(f *FSM) tables {
	f.state.mu.RLock()
	defer f.state.mu.RUnlock()
	return f.state.t.deepCopy()
}

// diffTables describes how two states differ, or returns nil when they are equal.
func diffTables(a, b tables) error {
	if reflect.DeepEqual(a, b) {
		return nil
	}
	if a.index != b.index {
		return fmt.Errorf("index %d != %d", a.index, b.index)
	}
	for _, d := range []struct {
		name string
		x, y any
	}{{"nodes", a.nodes, b.nodes}, {"jobs", a.jobs, b.jobs}, {"placements", a.placements, b.placements}, {"regions", a.regions, b.regions}} {
		if !reflect.DeepEqual(d.x, d.y) {
			return fmt.Errorf("%s differ:\n%+v\n%+v", d.name, d.x, d.y)
		}
	}
	return errors.New("states differ")
}

// persist snapshots the FSM and returns the persisted bytes.
func persist(tb tb, f *FSM) []byte {
	tb.Helper()
	snap, err := f.Snapshot()
	if err != nil {
		tb.Fatalf("Snapshot: %v", err)
	}
	defer snap.Release()
	sink := &memSink{}
	if err := snap.Persist(sink); err != nil {
		tb.Fatalf("Persist: %v", err)
	}
	if !sink.closed || sink.cancelled {
		tb.Fatalf("Persist left the sink closed=%v cancelled=%v", sink.closed, sink.cancelled)
	}
	return sink.Bytes()
}

func restoreBytes(f *FSM, b []byte) error {
	return f.Restore(io.NopCloser(bytes.NewReader(b)))
}

type memSink struct {
	bytes.Buffer
	closed, cancelled bool
}

func (s *memSink) ID() string    { return "mem" }
func (s *memSink) Close() error  { s.closed = true; return nil }
func (s *memSink) Cancel() error { s.cancelled = true; return nil }

// waitFor polls cond until it returns nil or the timeout passes (nats-server's checkFor): tests never sleep
// a fixed time waiting for something to happen.
func waitFor(tb tb, timeout time.Duration, cond func() error) {
	tb.Helper()
	deadline := time.Now().Add(timeout)
	for {
		err := cond()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			tb.Fatalf("after %v: %v", timeout, err)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func closed(ch <-chan struct{}) bool {
	select {
	case <-ch:
		return true
	default:
		return false
	}
}
