package builtin

import (
	"bytes"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/weirstream/weir/operator"
)

// tb is what both *testing.T and *rapid.T offer.
type tb interface {
	Helper()
	Fatal(args ...any)
	Fatalf(format string, args ...any)
}

// fakeClock is a settable clock.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Set(t time.Time) {
	c.mu.Lock()
	c.now = t
	c.mu.Unlock()
}

// env is a registry with an injected stdout and clock.
type env struct {
	reg    *operator.Registry
	stdout *bytes.Buffer
	clock  *fakeClock
}

func newEnv() *env {
	e := &env{stdout: &bytes.Buffer{}, clock: &fakeClock{now: time.Unix(1000, 0)}}
	e.reg = newRegistry(options{stdout: e.stdout, clock: e.clock.Now})
	return e
}

// build configures and builds kind with raw (canonical) parameters.
func (e *env) build(t tb, role operator.Role, kind string, raw map[string]any) operator.Factory {
	t.Helper()
	f, err := e.buildErr(role, kind, raw)
	if err != nil {
		t.Fatal(err)
	}
	return f
}

func (e *env) buildErr(role operator.Role, kind string, raw map[string]any) (operator.Factory, error) {
	spec, err := e.reg.Lookup(role, kind)
	if err != nil {
		return nil, err
	}
	cfg, err := spec.Configure(raw)
	if err != nil {
		return nil, err
	}
	return spec.Build(cfg)
}

// wantErr checks that err mentions every part.
func wantErr(t tb, err error, parts ...string) {
	t.Helper()
	if err == nil {
		t.Fatalf("no error, want one with %q", parts)
	}
	for _, p := range parts {
		if !strings.Contains(err.Error(), p) {
			t.Fatalf("error %q does not mention %q", err, p)
		}
	}
}

// inst is one operator instance driven through the Node interface.
type inst struct {
	t    tb
	g    *operator.Guard
	node operator.Node
	in   func(any)
	outs [][]any
	ctx  *testCtx
}

func start(t tb, f operator.Factory, info operator.Info) *inst {
	t.Helper()
	n, err := f.New(info)
	if err != nil {
		t.Fatal(err)
	}
	return attach(t, n, info, &operator.Guard{})
}

func attach(t tb, n operator.Node, info operator.Info, g *operator.Guard) *inst {
	t.Helper()
	in := &inst{t: t, g: g, node: n, ctx: &testCtx{info: info}}
	n.Bind(g, 1)
	if f, ok := n.Input().(func(any)); ok {
		in.in = f
	}
	for p := 0; ; p++ {
		port := p
		in.outs = append(in.outs, nil)
		if err := n.Connect(p, func(v any) { in.outs[port] = append(in.outs[port], v) }); err != nil {
			in.outs = in.outs[:p]
			break
		}
	}
	return in
}

func (in *inst) open() *inst {
	in.t.Helper()
	if err := in.node.Open(in.ctx); err != nil {
		in.t.Fatal(err)
	}
	return in
}

// send feeds tuples and fails the test if the operator fails.
func (in *inst) send(ts ...any) {
	in.t.Helper()
	for _, t := range ts {
		in.in(t)
		if err, _ := in.g.Err(); err != nil {
			in.t.Fatalf("operator failed on %v: %v", t, err)
		}
	}
}

// sendErr feeds one tuple that must fail the operator, and returns the failure.
func (in *inst) sendErr(t any) error {
	in.t.Helper()
	in.in(t)
	err, op := in.g.Err()
	if err == nil {
		in.t.Fatalf("operator accepted %v", t)
	}
	if op != 1 {
		in.t.Fatalf("failure blamed on node %d", op)
	}
	return err
}

// out returns and forgets what port 0 emitted.
func (in *inst) out() []any {
	o := in.outs[0]
	in.outs[0] = nil
	return o
}

func (in *inst) checkpoint(epoch uint64) []byte {
	in.t.Helper()
	if err := in.node.Drain(); err != nil {
		in.t.Fatal(err)
	}
	b, err := in.node.Checkpoint(epoch)
	if err != nil {
		in.t.Fatal(err)
	}
	return b
}

func (in *inst) restore(epoch uint64, data []byte) {
	in.t.Helper()
	if err := in.node.Restore(epoch, data); err != nil {
		in.t.Fatal(err)
	}
}

// run runs a source to its end; at its safe points, each pending func in turn runs (the test's control
// work) and says whether to go on.
func (in *inst) run(atSafePoint func() bool) error {
	loop := &operator.SourceLoop{SafePoint: func() bool {
		in.g.Pending.Store(false)
		if atSafePoint == nil {
			return true
		}
		return atSafePoint()
	}}
	return in.node.(operator.SourceNode).Run(loop)
}

// testCtx is an operator.Context.
type testCtx struct {
	info       operator.Info
	consistent int  // MakeConsistent calls
	driven     bool // the operator starts an operator-driven region
	log        bytes.Buffer
}

func (c *testCtx) Info() operator.Info { return c.info }
func (c *testCtx) Job() string         { return "test" }
func (c *testCtx) Logger() *slog.Logger {
	return slog.New(slog.NewTextHandler(&c.log, nil))
}
func (c *testCtx) Metric(name, description string) *operator.Metric {
	return &operator.Metric{Name: name, Description: description}
}
func (c *testCtx) MakeConsistent() bool {
	c.consistent++
	return c.driven
}
