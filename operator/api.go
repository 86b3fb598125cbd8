package operator

// Mapper transforms each tuple into one tuple.
type Mapper[T, U any] interface {
	Map(T) (U, error)
}

// Filterer keeps the tuples for which Filter returns true.
type Filterer[T any] interface {
	Filter(T) (bool, error)
}

// FlatMapper emits any number of tuples for each input tuple.
type FlatMapper[T, U any] interface {
	FlatMap(t T, emit func(U)) error
}

// Consumer is a sink: it takes each tuple and emits nothing.
type Consumer[T any] interface {
	Consume(T) error
}

// Iterator is a source that produces one tuple per Next; ok=false means it is exhausted. A source in a
// consistent region must be able to replay: its state (exported fields or Snapshot) must say where it is, and
// Next must update that state together with producing the tuple. The runtime holds the region's permit around
// each call of Next and the emission of its tuple (an implicit permit), so a checkpoint never falls between
// the two.
type Iterator[T any] interface {
	Next() (t T, ok bool, err error)
}

// Generator is a source that emits from goroutines of its own. Each emission must happen while holding a
// permit (SourceContext.Acquire … Release), and the state change that goes with it must happen under the same
// permit. Run returns nil when the source is exhausted. A reset of its region first ends the running Run —
// Acquire and Emit fail and Done is closed; Run must then return, and the reset waits for it — and once the
// region resumes Run is called again, with the state restored: a position kept in a local variable is fine.
type Generator[T any] interface {
	Run(ctx SourceContext[T]) error
}

// SourceContext is what a Generator emits through.
type SourceContext[T any] interface {
	// Acquire takes a permit, waiting while the region drains. It fails once the source must stop or this
	// call of Run must end (a reset).
	Acquire() error
	// Release gives the permit back.
	Release()
	// Emit submits a tuple. The caller must hold a permit. It fails (ErrStopped) once Done is closed.
	Emit(T) error
	// Done is closed when the source must stop or this call of Run must end (a reset).
	Done() <-chan struct{}
	// Context is the operator's context.
	Context() Context
}

// Opener is called before the operator processes anything, after its state was restored if it was (like
// Python's __enter__): the place to create what is not state, such as metrics, files or random sources.
type Opener interface {
	Open(ctx Context) error
}

// Closer is called when the operator stops for good.
type Closer interface {
	Close() error
}

// Snapshotter replaces the default state (exported fields) with an explicit encoding, like Python's
// __getstate__ and __setstate__.
type Snapshotter interface {
	Snapshot() ([]byte, error)
	Restore(data []byte) error
}

// Drainer is called when a drain reaches the operator: tuples it submits during Drain are part of the epoch.
type Drainer interface {
	Drain() error
}

// Checkpointer is told the epoch being checkpointed, after Drain and before its state is taken.
type Checkpointer interface {
	Checkpoint(epoch uint64) error
}

// Resetter is told, after its state was restored from epoch's checkpoint, that the region was reset.
type Resetter interface {
	Reset(epoch uint64) error
}

// InitialResetter is told that the region was reset to its initial state (no epoch was committed). Its state
// has already been set back to the one it started with.
type InitialResetter interface {
	ResetToInitialState() error
}

// Retirer learns that epoch, and every epoch below it, will never be reset to.
type Retirer interface {
	RetireCheckpoint(epoch uint64) error
}

// RegionCheckpointer learns that the whole region committed epoch: the moment a transactional sink publishes.
type RegionCheckpointer interface {
	RegionCheckpointed(epoch uint64) error
}

// Finisher is called at the end of the stream with the operator's emit function, to submit what it holds
// back (open windows, buffers). U is the operator's output type.
type Finisher[U any] interface {
	Finish(emit func(U)) error
}
