package transport

import (
	"errors"
	"io"
	"log/slog"
	"net"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/weirstream/weir/internal/testutil"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

var waitFor = testutil.Waiter(2 * time.Millisecond)

// logLines is an io.Writer for slog text handlers (one Write per record) and hclog: it keeps the lines for
// assertions and copies them to t.Log until the test ends.
type logLines struct {
	mu    sync.Mutex
	t     testing.TB
	lines []string
	quiet bool
	ended bool
}

// newLog returns a logger for t. Register it before anything that logs, so that its cleanup runs last.
func newLog(t testing.TB) (*slog.Logger, *logLines) {
	l := &logLines{t: t}
	t.Cleanup(func() {
		l.mu.Lock()
		l.ended = true
		l.mu.Unlock()
	})
	return slog.New(slog.NewTextHandler(l, &slog.HandlerOptions{Level: slog.LevelDebug})), l
}

func (l *logLines) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	line := strings.TrimRight(string(p), "\n")
	l.lines = append(l.lines, line)
	if !l.ended && !l.quiet {
		l.t.Log(line)
	}
	return len(p), nil
}

// has reports whether some line contains every one of parts.
func (l *logLines) has(parts ...string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
outer:
	for _, line := range l.lines {
		for _, p := range parts {
			if !strings.Contains(line, p) {
				continue outer
			}
		}
		return true
	}
	return false
}

func listen(t testing.TB) net.Listener {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return ln
}

func newTestMux(t testing.TB, log *slog.Logger) *Mux {
	m := NewMux(listen(t), log)
	t.Cleanup(func() { m.Close() })
	return m
}

// readUntilClosed reads c until the peer closes it, failing after timeout. It returns what was read.
func readUntilClosed(t testing.TB, c net.Conn, timeout time.Duration) []byte {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(timeout))
	b, err := io.ReadAll(c)
	// A reset counts as closed: a server that closes with unread input sends RST.
	if errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("connection from %s not closed by the server within %v", c.LocalAddr(), timeout)
	}
	return b
}
