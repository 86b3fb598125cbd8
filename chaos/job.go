package chaos

import (
	"fmt"
	"path/filepath"
	"time"

	"github.com/weirstream/weir/operator"
	"github.com/weirstream/weir/operator/builtin"
	"github.com/weirstream/weir/topology"
)

// JobName is the name the verification job is registered under in every weir binary (cli.Main registers
// it), so that any node of a chaos cluster can build it.
const JobName = "weir-chaos-verify"

// JobParams are the verification job's parameters.
type JobParams struct {
	// Count values 0..Count-1 are emitted at Rate per second (0: as fast as possible).
	Count int
	Rate  float64
	// Keys is the number of keys (v % Keys), Width the parallel region's width.
	Keys, Width int
	// Period is the consistent region's period.
	Period time.Duration
	// Out is the output directory, as the agents see it: the exactly-once sink writes Out/eo, the
	// at-least-once sink Out/alo.
	Out string
}

// Map returns the parameters as submission parameters.
func (p JobParams) Map() map[string]string {
	return map[string]string{
		"count": fmt.Sprint(p.Count), "rate": fmt.Sprint(p.Rate), "keys": fmt.Sprint(p.Keys),
		"width": fmt.Sprint(p.Width), "period": p.Period.String(), "out": p.Out,
	}
}

// Register adds the verification job to a registry of Go jobs, as an internal one: it is not among the
// jobs a user binary lists or runs by default.
func Register(jobs *topology.Jobs) { jobs.RegisterInternal(JobName, BuildJob) }

// BuildJob builds the verification job: a replayable, rate-paced sequence 0..count-1 feeding two branches
// of one periodic consistent region.
//
//   - at-least-once: source → any → file sink at out/alo (plain appends: a replay appends again);
//   - exactly-once: source → parallel region of width channels hashed by v % keys → a stateful operator
//     keeping each key's count and sum, emitting {v, k, count, sum} (the key's running state after v) →
//     end of region → file sink with exactly_once at out/eo.
//
// Hash routing keeps each key's tuples in source order on one channel, so a fault-free run's output is
// fully determined: for v, k = v % keys, count = v/keys + 1 and sum = the sum of k, k+keys, …, v.
func BuildJob(p *topology.Params) *topology.Topology {
	count := p.Int("count", 10000)
	rate := p.Float("rate", 1000)
	keys := max(p.Int("keys", 16), 1)
	width := max(p.Int("width", 3), 1)
	period := p.Duration("period", time.Second)
	out := p.String("out", "chaos-out")

	t := topology.New(JobName)
	src := topology.SourceOf[int](t, &Sequence{Count: count, Rate: rate}, topology.Name("source"))
	src.SetConsistent(topology.Periodic(period))

	alo, err := builtin.Factory(operator.RoleSink, "file", map[string]any{"path": filepath.Join(out, "alo")})
	if err != nil {
		panic(err) // the parameters are fixed: a failure is a programming error
	}
	topology.Map(src, toAny, topology.Name("alo_value")).SinkTo("file", alo, topology.Name("alo"))

	eo, err := builtin.Factory(operator.RoleSink, "file", map[string]any{"path": filepath.Join(out, "eo"), "exactly_once": true})
	if err != nil {
		panic(err)
	}
	byKey := src.Parallel(width, topology.HashBy(func(v int) int { return v % keys }))
	states := topology.MapOf[int, Record](byKey, &KeyState{keys: keys}, topology.Name("keystate"))
	topology.Map(states.EndParallel(), recordValue, topology.Name("eo_record")).SinkTo("file", eo, topology.Name("eo"))
	return t
}

func toAny(v int) any { return v }

// Record is what the stateful operator emits for each value: the value, its key, and the key's count and
// sum after it.
type Record struct {
	V, K, Count, Sum int
}

// recordValue turns a record into the file sink's JSON object.
func recordValue(r Record) any {
	return map[string]any{"v": r.V, "k": r.K, "count": r.Count, "sum": r.Sum}
}

// Expected is the record a fault-free run emits for v.
func Expected(v, keys int) Record {
	k := v % keys
	n := v/keys + 1
	return Record{V: v, K: k, Count: n, Sum: n*k + keys*n*(n-1)/2}
}

// Sequence emits 0, 1, …, Count-1, paced at Rate per second (0: as fast as possible). Its state is Pos, the
// next value, and Start, when value 0 was due (Unix nanoseconds): value v is due Start + v/Rate, so after a
// reset the source replays at full speed until it is back on schedule, and the job ends about Count/Rate
// after it began however many faults it met.
type Sequence struct {
	Pos   int
	Start int64
	Count int
	Rate  float64
}

// Next returns the next value, waiting for its time when paced. A wait shorter than a millisecond is
// skipped, so that high rates go out in small bursts.
func (s *Sequence) Next() (int, bool, error) {
	if s.Pos >= s.Count {
		return 0, false, nil
	}
	if s.Rate > 0 {
		now := time.Now()
		if s.Start == 0 {
			s.Start = now.UnixNano()
		}
		due := time.Unix(0, s.Start).Add(time.Duration(float64(s.Pos) / s.Rate * float64(time.Second)))
		if d := due.Sub(now); d >= time.Millisecond {
			time.Sleep(d)
		}
	}
	v := s.Pos
	s.Pos++
	return v, true, nil
}

// KeyState keeps, per key, the number and the sum of the values seen. State is its state (exported).
type KeyState struct {
	State map[int]Acc
	keys  int
}

// Acc is one key's state.
type Acc struct {
	Count, Sum int
}

// Map adds v to its key's state and emits the key's state after it.
func (s *KeyState) Map(v int) (Record, error) {
	if s.State == nil {
		s.State = map[int]Acc{}
	}
	k := v % s.keys
	a := s.State[k]
	a.Count++
	a.Sum += v
	s.State[k] = a
	return Record{V: v, K: k, Count: a.Count, Sum: a.Sum}, nil
}
