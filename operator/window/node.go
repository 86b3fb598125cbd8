package window

import (
	"fmt"
	"time"

	"github.com/weirstream/weir/flow"
	"github.com/weirstream/weir/operator"
)

// maxSlots bounds the windows one tuple is added to when the aggregation cannot merge.
const maxSlots = 10000

// Config describes one instance of a windowed aggregation.
type Config[T any, K comparable, A, R any] struct {
	Window Window
	// Key returns a tuple's key; nil puts every tuple under the zero K (one global group). An error fails
	// the operator.
	Key func(T) (K, error)
	Agg Aggregation[T, A, R]
	// Codec encodes keys and accumulators in checkpoints; nil means MsgpackCodec.
	Codec Codec[K, A]
	// Clock tells the processing time of arriving tuples (time windows); nil means time.Now.
	Clock func() time.Time
}

// Operator is the factory of a windowed aggregation from Go: it emits a Result[K, R] per key and window.
// key nil means one global group. Every instance (channel) shares key and agg, which must therefore be safe
// for concurrent use.
func Operator[T any, K comparable, A, R any](w Window, key func(T) K, agg Aggregation[T, A, R]) (operator.Factory, error) {
	cfg := Config[T, K, A, R]{Window: w, Agg: agg}
	if key != nil {
		cfg.Key = func(t T) (K, error) { return key(t), nil }
	}
	return OperatorOf(cfg)
}

// OperatorOf is Operator with every option.
func OperatorOf[T any, K comparable, A, R any](cfg Config[T, K, A, R]) (operator.Factory, error) {
	if err := cfg.check(); err != nil {
		return nil, err
	}
	in, out := flow.TypeOf[T](), flow.TypeOf[Result[K, R]]()
	return operator.NewFactory(in, []flow.Type{out}, func(operator.Info) (operator.Node, error) {
		return NewNode(cfg, identity[Result[K, R]])
	}), nil
}

func identity[U any](u U) (U, error) { return u, nil }

func (cfg *Config[T, K, A, R]) check() error {
	if err := cfg.Window.Validate(); err != nil {
		return err
	}
	if cfg.Agg == nil {
		return fmt.Errorf("window %s: no aggregation", cfg.Window)
	}
	geo := cfg.Window.geometry()
	if _, ok := cfg.Agg.(Merger[A]); !ok && geo.windowsPerTuple() > maxSlots {
		return fmt.Errorf("window %s: each tuple would be added to %d windows, one by one, because the aggregation cannot merge (at most %d): give it a Merge, or slide further", cfg.Window, geo.windowsPerTuple(), maxSlots)
	}
	return nil
}

// NewNode makes one instance of a windowed aggregation whose results out turns into the tuples it emits
// (a func(U) is connected to its port 0). Time windows make a node that also implements operator.Ticker.
func NewNode[T any, K comparable, A, R, U any](cfg Config[T, K, A, R], out func(Result[K, R]) (U, error)) (operator.Node, error) {
	if err := cfg.check(); err != nil {
		return nil, err
	}
	if cfg.Codec == nil {
		cfg.Codec = MsgpackCodec[K, A]()
	}
	if cfg.Clock == nil {
		cfg.Clock = time.Now
	}
	n := &node[T, K, A, R, U]{cfg: cfg, conv: out, out: func(U) {}}
	n.eng = n.newEngine()
	if cfg.Window.IsTime() {
		return &timeNode[T, K, A, R, U]{n}, nil
	}
	return n, nil
}

type node[T any, K comparable, A, R, U any] struct {
	g    *operator.Guard
	id   int
	cfg  Config[T, K, A, R]
	conv func(Result[K, R]) (U, error)
	out  func(U)
	eng  *engine[T, K, A, R]
}

func (n *node[T, K, A, R, U]) newEngine() *engine[T, K, A, R] {
	return newEngine(n.cfg.Window, n.cfg.Agg, n.emit)
}

// emit hands a result downstream and comes back to this operator's user code.
func (n *node[T, K, A, R, U]) emit(r Result[K, R]) error {
	u, err := n.conv(r)
	if err != nil {
		return err
	}
	n.out(u)
	n.g.Cur = n.id
	return nil
}

func (n *node[T, K, A, R, U]) Bind(g *operator.Guard, id int) { n.g, n.id = g, id }

func (n *node[T, K, A, R, U]) Input() any {
	return func(t T) {
		n.g.Cur = n.id
		if err := n.add(t); err != nil {
			n.g.Fail(n.id, err)
		}
	}
}

func (n *node[T, K, A, R, U]) add(t T) error {
	var k K
	if n.cfg.Key != nil {
		var err error
		if k, err = n.cfg.Key(t); err != nil {
			return err
		}
	}
	if n.eng.geo.time {
		return n.eng.addTime(k, t, n.cfg.Clock().UnixNano())
	}
	return n.eng.addCount(k, t)
}

func (n *node[T, K, A, R, U]) Connect(port int, emit any) error {
	if port != 0 {
		return fmt.Errorf("window %s has one output, not %d", n.cfg.Window, port+1)
	}
	f, err := operator.CheckOut[U](port, emit)
	if err != nil {
		return err
	}
	n.out = f
	return nil
}

func (n *node[T, K, A, R, U]) Open(operator.Context) error { return nil }
func (n *node[T, K, A, R, U]) Close() error                { return nil }
func (n *node[T, K, A, R, U]) Drain() error                { return nil }

// Finish closes the windows the clock has reached, then emits the partial result of every open window.
func (n *node[T, K, A, R, U]) Finish() error {
	n.g.Cur = n.id
	if n.eng.geo.time && n.eng.started {
		if err := n.eng.advance(n.cfg.Clock().UnixNano()); err != nil {
			return err
		}
	}
	return n.eng.finish()
}

func (n *node[T, K, A, R, U]) Checkpoint(uint64) ([]byte, error) {
	return n.eng.snapshot(n.cfg.Codec)
}

// Restore replaces every open window with the saved ones; epoch 0 empties them.
func (n *node[T, K, A, R, U]) Restore(epoch uint64, data []byte) error {
	fresh := n.newEngine()
	if epoch == 0 {
		n.eng = fresh
		return nil
	}
	if data == nil {
		return fresh.errorf("restore: no state saved for epoch %d", epoch)
	}
	if err := fresh.restore(data, n.cfg.Codec); err != nil {
		return err
	}
	n.eng = fresh
	return nil
}

func (n *node[T, K, A, R, U]) RetireCheckpoint(uint64) error   { return nil }
func (n *node[T, K, A, R, U]) RegionCheckpointed(uint64) error { return nil }

// timeNode is the node of a time window: it also acts on the passing of time.
type timeNode[T any, K comparable, A, R, U any] struct {
	*node[T, K, A, R, U]
}

// TickEvery is half the slide, between 1ms and 100ms.
func (n *timeNode[T, K, A, R, U]) TickEvery() time.Duration {
	return min(max(time.Duration(n.eng.geo.slide)/2, time.Millisecond), 100*time.Millisecond)
}

// Tick closes the windows that ended by now.
func (n *timeNode[T, K, A, R, U]) Tick(now time.Time) error {
	n.g.Cur = n.id
	return n.eng.advance(now.UnixNano())
}

var (
	_ operator.Node   = (*node[int, int, int, int, int])(nil)
	_ operator.Ticker = (*timeNode[int, int, int, int, int])(nil)
)
