package operator

import (
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/weirstream/weir/flow"
)

// Info says which instance of an operator a Node is.
type Info struct {
	// Operator is the logical operator's name; Instance the physical one ("map[2]" in channel 2).
	Operator, Instance string
	// Channel is the instance's channel in its innermost parallel region, Width that region's width
	// (0 and 1 outside parallel regions). Path holds the channel in each enclosing region, outermost first.
	Channel, Width int
	Path           []int
	// InRegion tells whether the operator belongs to a consistent region.
	InRegion bool
}

// Context is what a running operator may ask of its runtime. Passed to Open.
type Context interface {
	Info() Info
	Job() string
	Logger() *slog.Logger
	// Metric returns the operator's custom metric called name, creating it (IBM's CustomMetric). Metrics
	// are not state: they are not checkpointed, so create them in Open.
	Metric(name, description string) *Metric
	// MakeConsistent asks the operator's consistent region to start an epoch now (the operator-driven
	// trigger). It does not wait. It reports false if the operator is not the start of an operator-driven
	// region.
	MakeConsistent() bool
}

// Metric is a custom metric of an operator: a value it sets or counts, shown by weir run and the cluster's
// status.
type Metric struct {
	Name, Description string
	v                 atomic.Int64
}

// Set sets the value.
func (m *Metric) Set(v int64) { m.v.Store(v) }

// Add adds d to the value.
func (m *Metric) Add(d int64) { m.v.Add(d) }

// Value returns the value.
func (m *Metric) Value() int64 { return m.v.Load() }

// Node is one operator instance as the executor runs it. All methods but Input's function run on the PE's
// goroutine or under its emit lock, never concurrently. Bind comes first (Input's function may keep the guard
// it was given); Connect comes before Open.
type Node interface {
	// Bind gives the node its PE's guard and its index in the PE, which it records while user code runs.
	Bind(g *Guard, id int)
	// Input returns the func(In) that processes one tuple; nil for a source. Connect may come later: the
	// function reads its outputs when called.
	Input() any
	// Connect sets output port p's emit function, a func(Out).
	Connect(port int, emit any) error
	Open(ctx Context) error
	Close() error
	// Finish is called once at the end of the stream, before the final marker passes on.
	Finish() error
	// Drain, then Checkpoint(epoch), make the operator's state consistent and return it (nil: stateless).
	Drain() error
	Checkpoint(epoch uint64) ([]byte, error)
	// Restore sets the state saved at epoch; epoch 0 means the initial state (data is then nil).
	Restore(epoch uint64, data []byte) error
	RetireCheckpoint(epoch uint64) error
	RegionCheckpointed(epoch uint64) error
}

// SourceNode is a Node that produces tuples.
type SourceNode interface {
	Node
	// Run produces tuples until the source is exhausted (nil), fails (an error) or the loop tells it to stop
	// (nil). It may be called again after a reset restored its state.
	Run(loop *SourceLoop) error
	// Replayable tells whether the source can start a consistent region: it has state to restore.
	Replayable() bool
	// Explicit tells whether the source emits from goroutines of its own, under explicit permits (a
	// Generator); otherwise Run emits on the calling goroutine and calls SafePoint between emissions.
	Explicit() bool
}

// SourceLoop is the runtime's side of a running source.
type SourceLoop struct {
	// SafePoint runs the PE's pending control work (drain, reset, flush, timers) on the calling goroutine,
	// between two emissions. It returns false when the source must stop. Call it when Guard.Pending is set.
	SafePoint func() bool
	// Permits, EmitLock and Done serve Generator sources.
	Permits  Permits
	EmitLock sync.Locker
	Done     <-chan struct{}
	Context  Context
}

// Permits are the consistent region's submission permits (IBM's ConsistentRegionPermit): any number of
// holders; drain and reset wait until all are released and block new ones until the region may resume.
type Permits interface {
	// Acquire takes a permit; it fails once the PE stops.
	Acquire() error
	Release()
}

// Guard is shared by the nodes of one PE. It records which node is running user code, so that a panic can be
// blamed on the right operator, and the first failure, which halts the PE's data path.
type Guard struct {
	Halt flow.Halt
	// Pending is set when the PE's control loop has work: a message, a failure, a timer.
	Pending atomic.Bool
	// Cur is the index of the node that last entered user code.
	Cur int
	// Wake, when set, is signalled by Fail: a failure on a goroutine other than the PE's must wake it.
	Wake chan struct{}
	// Emitted counts the tuples the PE's source emitted, Consumed those its sinks took. Nodes that implement
	// SelfCounting add to them; the executor counts for the others. Like Cur, they belong to the goroutine
	// that runs the PE's operators (or holds its emit lock).
	Emitted, Consumed uint64
	err               error
	errOp             int
}

// SelfCounting is implemented by source and sink nodes that count what they emit or take in their Guard
// (Emitted, Consumed), which saves the executor a wrapper call per tuple.
type SelfCounting interface {
	SelfCounting()
}

// Fail records err as the failure of node op (the first failure wins) and halts the data path.
func (g *Guard) Fail(op int, err error) {
	if g.err == nil {
		g.err, g.errOp = err, op
	}
	g.Halt.Set()
	g.Pending.Store(true)
	if g.Wake != nil {
		select {
		case g.Wake <- struct{}{}:
		default:
		}
	}
}

// Err returns the first failure and the node it came from.
func (g *Guard) Err() (error, int) { return g.err, g.errOp }

// ClearErr forgets the failure (after a reset).
func (g *Guard) ClearErr() { g.err, g.errOp = nil, 0 }

// Ticker is implemented by nodes that act on the passing of time (time windows). The executor calls Tick on
// the PE's goroutine about every TickEvery, between tuples.
type Ticker interface {
	TickEvery() time.Duration
	Tick(now time.Time) error
}

// Factory makes the instances of one logical operator.
type Factory interface {
	// In is the input tuple type (nil for a source); Outs the type of each output port.
	In() flow.Type
	Outs() []flow.Type
	// New makes the instance described by info. It does no I/O: that belongs in Open.
	New(info Info) (Node, error)
}

// Validator is implemented by factories that refuse some placements (say, an exactly-once sink outside a
// consistent region).
type Validator interface {
	Validate(info Info) error
}

// CheckOut type-asserts a wiring value to func(T), with an error that names both types.
func CheckOut[T any](port int, emit any) (func(T), error) {
	f, ok := emit.(func(T))
	if !ok {
		return nil, fmt.Errorf("output %d emits %s, connected to %T", port, flow.TypeOf[T](), emit)
	}
	return f, nil
}
