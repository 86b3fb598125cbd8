package window

import (
	"time"

	"github.com/weirstream/weir/operator"
)

// tb is what both *testing.T and *rapid.T offer.
type tb interface {
	Helper()
	Fatal(args ...any)
	Fatalf(format string, args ...any)
}

// harness drives one node through the real Node interface with a fake clock.
type harness[T any, R any] struct {
	t     tb
	g     *operator.Guard
	node  operator.Node
	in    func(T)
	out   []R
	now   int64
	clock func() time.Time
}

func newHarness[T any, K comparable, A, R any](t tb, cfg Config[T, K, A, R]) *harness[T, Result[K, R]] {
	t.Helper()
	h := &harness[T, Result[K, R]]{t: t, g: &operator.Guard{}}
	h.clock = func() time.Time { return time.Unix(0, h.now) }
	cfg.Clock = h.clock
	n, err := NewNode(cfg, identity[Result[K, R]])
	if err != nil {
		t.Fatal(err)
	}
	h.attach(n)
	return h
}

func (h *harness[T, R]) attach(n operator.Node) {
	h.t.Helper()
	h.node = n
	n.Bind(h.g, 3)
	if err := n.Connect(0, func(r R) { h.out = append(h.out, r) }); err != nil {
		h.t.Fatal(err)
	}
	if err := n.Open(nil); err != nil {
		h.t.Fatal(err)
	}
	h.in = n.Input().(func(T))
}

func (h *harness[T, R]) send(ts ...T) {
	h.t.Helper()
	for _, t := range ts {
		h.in(t)
		if err, _ := h.g.Err(); err != nil {
			h.t.Fatalf("operator failed: %v", err)
		}
	}
}

func (h *harness[T, R]) tick(now int64) {
	h.t.Helper()
	h.now = now
	if err := h.node.(operator.Ticker).Tick(time.Unix(0, now)); err != nil {
		h.t.Fatal(err)
	}
}

func (h *harness[T, R]) finish() {
	h.t.Helper()
	if err := h.node.Finish(); err != nil {
		h.t.Fatal(err)
	}
}

func (h *harness[T, R]) checkpoint() []byte {
	h.t.Helper()
	if err := h.node.Drain(); err != nil {
		h.t.Fatal(err)
	}
	b, err := h.node.Checkpoint(1)
	if err != nil {
		h.t.Fatal(err)
	}
	return b
}

// take returns and forgets the results so far.
func (h *harness[T, R]) take() []R {
	out := h.out
	h.out = nil
	return out
}
