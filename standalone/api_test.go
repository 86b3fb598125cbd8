package standalone

import (
	"fmt"
	"iter"
	"maps"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/weirstream/weir/operator"
	"github.com/weirstream/weir/topology"
)

// bag collects what a sink receives, from any goroutine.
type bag[T any] struct {
	mu  sync.Mutex
	got []T
}

func (b *bag[T]) add(v T) { b.mu.Lock(); b.got = append(b.got, v); b.mu.Unlock() }

func (b *bag[T]) all() []T {
	b.mu.Lock()
	defer b.mu.Unlock()
	return slices.Clone(b.got)
}

func count(n int) iter.Seq[int] {
	return func(yield func(int) bool) {
		for i := range n {
			if !yield(i) {
				return
			}
		}
	}
}

func seq(n int, f func(int) int) []int {
	out := make([]int, n)
	for i := range out {
		out[i] = f(i)
	}
	return out
}

func sameMultiset(t *testing.T, what string, got, want []int) {
	t.Helper()
	g, w := slices.Clone(got), slices.Clone(want)
	slices.Sort(g)
	slices.Sort(w)
	if !slices.Equal(g, w) {
		t.Fatalf("%s: got %d values, want %d (first got %v, first want %v)", what, len(g), len(w), head(g), head(w))
	}
}

func sameOrder(t *testing.T, what string, got, want []int) {
	t.Helper()
	if !slices.Equal(got, want) {
		for i := range min(len(got), len(want)) {
			if got[i] != want[i] {
				t.Fatalf("%s: at %d got %d, want %d (%d values, want %d)", what, i, got[i], want[i], len(got), len(want))
			}
		}
		t.Fatalf("%s: got %d values, want %d", what, len(got), len(want))
	}
}

func head(s []int) []int { return s[:min(len(s), 8)] }

// ---- stateful operators -------------------------------------------------------------------------------------

// counter is an Iterator over 0 … N-1.
type counter struct{ N, Pos int }

func (c *counter) Next() (int, bool, error) {
	if c.Pos >= c.N {
		return 0, false, nil
	}
	c.Pos++
	return c.Pos - 1, true, nil
}

// runningSum maps each value to the sum of the values so far.
type runningSum struct{ Sum int }

func (m *runningSum) Map(v int) (int, error) { m.Sum += v; return m.Sum, nil }

// everyOther keeps every second tuple it sees.
type everyOther struct{ Seen int }

func (f *everyOther) Filter(int) (bool, error) { f.Seen++; return f.Seen%2 == 0, nil }

// repeat emits each tuple Times times, numbering them.
type repeat struct {
	Times, Emitted int
}

func (r *repeat) FlatMap(v int, emit func(int)) error {
	for range r.Times {
		r.Emitted++
		emit(v*10 + r.Emitted%r.Times)
	}
	return nil
}

// collector is a Consumer sink that appends to a shared bag.
type collector struct {
	N int
	b *bag[int]
}

func (c *collector) Consume(v int) error { c.N++; c.b.add(v); return nil }

// tagChannel records, per value, the channel path of the instance that saw it.
type tagChannel struct {
	mu   *sync.Mutex
	seen map[int]string // shared by the instances
	path string
}

func (m *tagChannel) Open(ctx operator.Context) error {
	m.path = fmt.Sprint(ctx.Info().Path)
	return nil
}

func (m *tagChannel) Map(v int) (int, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if prev, dup := m.seen[v]; dup {
		m.seen[v] = prev + "," + m.path
	} else {
		m.seen[v] = m.path
	}
	return v, nil
}

// spread is a Generator emitting 0 … N-1 from Workers goroutines under explicit permits.
type spread struct {
	N, Next, Workers int
	mu               *sync.Mutex
}

func (g *spread) Open(operator.Context) error { g.mu = new(sync.Mutex); return nil }

func (g *spread) Run(ctx operator.SourceContext[int]) error {
	var wg sync.WaitGroup
	for range g.Workers {
		wg.Go(func() {
			for {
				if ctx.Acquire() != nil {
					return
				}
				g.mu.Lock()
				if g.Next >= g.N {
					g.mu.Unlock()
					ctx.Release()
					return
				}
				v := g.Next
				g.Next++
				err := ctx.Emit(v)
				g.mu.Unlock()
				ctx.Release()
				if err != nil {
					return
				}
			}
		})
	}
	wg.Wait()
	return nil
}

// ---- tests --------------------------------------------------------------------------------------------------

const apiTimeout = 30 * time.Second

// Source, Map, Filter, FlatMap and ForEach fused in one PE keep the order of the tuples.
func TestAPIFusedFunctions(t *testing.T) {
	const n = 10000
	out := &bag[int]{}
	topo := topology.New("funcs")
	s := topology.Source(topo, count(n))
	m := topology.Map(s, func(v int) int { return v * 2 })
	f := m.Filter(func(v int) bool { return v%3 == 0 })
	fm := topology.FlatMap(f, func(v int) []int { return []int{v, v + 1} })
	fm.ForEach(out.add)
	j := mustRun(t, topo, Options{}, apiTimeout)
	if len(j.Physical().PEs) != 1 {
		t.Errorf("%d PEs, want the chain fused in 1", len(j.Physical().PEs))
	}
	var want []int
	for i := range n {
		if v := i * 2; v%3 == 0 {
			want = append(want, v, v+1)
		}
	}
	sameOrder(t, "output", out.all(), want)
}

// SourceOf, MapOf, FilterOf, FlatMapOf and Sink run clones of stateful operators, here each in a PE of its own.
func TestAPIStatefulOperatorsIsolated(t *testing.T) {
	const n = 5000
	out := &bag[int]{}
	topo := topology.New("stateful")
	s := topology.SourceOf[int](topo, &counter{N: n}, topology.Name("src"))
	m := topology.MapOf[int, int](s, &runningSum{}, topology.Isolate())
	f := m.FilterOf(&everyOther{}, topology.Isolate())
	fm := topology.FlatMapOf[int, int](f, &repeat{Times: 2}, topology.Isolate())
	fm.Sink(&collector{b: out}, topology.Isolate())
	j := mustRun(t, topo, Options{BatchSize: 16, Credits: 2}, apiTimeout)
	if got := len(j.Physical().PEs); got != 5 {
		t.Errorf("%d PEs, want 5", got)
	}
	var want []int
	sum, emitted := 0, 0
	for i := range n {
		sum += i
		if (i+1)%2 == 0 {
			for range 2 {
				emitted++
				want = append(want, sum*10+emitted%2)
			}
		}
	}
	sameOrder(t, "output", out.all(), want)
	for _, st := range j.Stats() {
		t.Logf("%+v", st)
	}
}

// Generate emits from several goroutines under explicit permits.
func TestAPIGenerate(t *testing.T) {
	const n = 20000
	out := &bag[int]{}
	topo := topology.New("generate")
	g := topology.Generate[int](topo, &spread{N: n, Workers: 4})
	g.ForEach(out.add, topology.Isolate())
	mustRun(t, topo, Options{}, apiTimeout)
	// Emissions are serialized under the generator's own lock, so even the order holds.
	sameOrder(t, "output", out.all(), seq(n, func(i int) int { return i }))
}

// Split sends each tuple to one of its outputs; Union merges streams again.
func TestAPISplitUnion(t *testing.T) {
	const n = 9000
	out := &bag[int]{}
	topo := topology.New("split")
	s := topology.SourceOf[int](topo, &counter{N: n})
	parts := s.Split(4, func(v int) int {
		if v%10 == 9 {
			return -1 // dropped
		}
		return v % 3
	})
	a := topology.Map(parts[0], func(v int) int { return v }, topology.Isolate())
	b := topology.Map(parts[1], func(v int) int { return v + 1_000_000 })
	c := topology.Map(parts[2], func(v int) int { return v + 2_000_000 }, topology.Isolate())
	parts[3].ForEach(func(int) { t.Error("output 3 got a tuple") })
	a.Union(b, c).ForEach(out.add)
	mustRun(t, topo, Options{}, apiTimeout)
	var want []int
	for i := range n {
		if i%10 != 9 {
			want = append(want, i+(i%3)*1_000_000)
		}
	}
	got := out.all()
	sameMultiset(t, "union", got, want)
	// Each input of the union keeps its order.
	for k := range 3 {
		var part, wantPart []int
		for _, v := range got {
			if v/1_000_000 == k {
				part = append(part, v)
			}
		}
		for _, v := range want {
			if v/1_000_000 == k {
				wantPart = append(wantPart, v)
			}
		}
		sameOrder(t, fmt.Sprintf("union input %d", k), part, wantPart)
	}
}

// One stream read by two operators: each gets every tuple, fused or not.
func TestAPIFanOut(t *testing.T) {
	const n = 5000
	for _, isolate := range []bool{false, true} {
		t.Run(fmt.Sprint("isolate=", isolate), func(t *testing.T) {
			var opts []topology.Option
			if isolate {
				opts = append(opts, topology.Isolate())
			}
			x, y := &bag[int]{}, &bag[int]{}
			topo := topology.New("fanout")
			s := topology.Map(topology.SourceOf[int](topo, &counter{N: n}), func(v int) int { return v + 1 })
			topology.Map(s, func(v int) int { return -v }, opts...).ForEach(x.add)
			s.ForEach(y.add, opts...)
			mustRun(t, topo, Options{}, apiTimeout)
			sameOrder(t, "first reader", x.all(), seq(n, func(i int) int { return -(i + 1) }))
			sameOrder(t, "second reader", y.all(), seq(n, func(i int) int { return i + 1 }))
		})
	}
}

func TestAPIParallelRoundRobin(t *testing.T) {
	const n, width = 8000, 4
	seen := map[int]string{}
	out := &bag[int]{}
	topo := topology.New("rr")
	p := topology.SourceOf[int](topo, &counter{N: n}).Parallel(width, topology.RoundRobin)
	m := topology.MapOf[int, int](p, &tagChannel{mu: new(sync.Mutex), seen: seen})
	m.EndParallel().ForEach(out.add)
	j := mustRun(t, topo, Options{}, apiTimeout)
	if got := len(j.Physical().Instances); got != width+2 {
		t.Errorf("%d instances, want %d", got, width+2)
	}
	sameMultiset(t, "output", out.all(), seq(n, func(i int) int { return i }))
	// One source instance deals the tuples in turn.
	for v, path := range seen {
		if want := fmt.Sprint([]int{v % width}); path != want {
			t.Fatalf("value %d went to channel %s, want %s", v, path, want)
		}
	}
}

func TestAPIParallelHash(t *testing.T) {
	const n, width, keys = 8000, 4, 37
	seen := map[int]string{}
	out := &bag[int]{}
	topo := topology.New("hash")
	p := topology.SourceOf[int](topo, &counter{N: n}).Parallel(width, topology.HashBy(func(v int) int { return v % keys }))
	m := topology.MapOf[int, int](p, &tagChannel{mu: new(sync.Mutex), seen: seen})
	m.EndParallel().ForEach(out.add)
	mustRun(t, topo, Options{}, apiTimeout)
	got := out.all()
	sameMultiset(t, "output", got, seq(n, func(i int) int { return i }))
	checkKeyed(t, seen, keys, width)
	// A key travels one channel, so its values keep their order through the merge.
	last := map[int]int{}
	for _, v := range got {
		if prev, ok := last[v%keys]; ok && v < prev {
			t.Fatalf("key %d: %d after %d", v%keys, v, prev)
		}
		last[v%keys] = v
	}
}

// checkKeyed checks that every value went to exactly one channel path, the same for all values of a key, and
// that all paths were used.
func checkKeyed(t *testing.T, seen map[int]string, keys, paths int) {
	t.Helper()
	byKey := map[int]string{}
	for v, path := range seen {
		k := v % keys
		if prev, ok := byKey[k]; ok && prev != path {
			t.Fatalf("key %d reached channels %s and %s", k, prev, path)
		}
		byKey[k] = path
	}
	used := map[string]bool{}
	for _, p := range byKey {
		used[p] = true
	}
	if len(used) != paths {
		t.Fatalf("keys reached %d channel paths, want %d: %v", len(used), paths, slices.Sorted(maps.Keys(used)))
	}
}

func TestAPIParallelBroadcast(t *testing.T) {
	const n, width = 3000, 3
	var mu sync.Mutex
	perChannel := map[int][]int{}
	topo := topology.New("broadcast")
	p := topology.SourceOf[int](topo, &counter{N: n}).Parallel(width, topology.Broadcast)
	m := topology.MapOf[int, [2]int](p, &channelOf{})
	m.EndParallel().ForEach(func(v [2]int) {
		mu.Lock()
		perChannel[v[0]] = append(perChannel[v[0]], v[1])
		mu.Unlock()
	})
	mustRun(t, topo, Options{}, apiTimeout)
	if len(perChannel) != width {
		t.Fatalf("%d channels delivered, want %d", len(perChannel), width)
	}
	for ch, vs := range perChannel {
		sameOrder(t, fmt.Sprint("channel ", ch), vs, seq(n, func(i int) int { return i }))
	}
}

// channelOf pairs each tuple with its instance's channel.
type channelOf struct{ ch int }

func (c *channelOf) Open(ctx operator.Context) error { c.ch = ctx.Info().Channel; return nil }
func (c *channelOf) Map(v int) ([2]int, error)       { return [2]int{c.ch, v}, nil }

// Nested parallel regions: 2 × 3 = 6 instances; with hash routing at both levels each key reaches one path.
func TestAPINestedParallel(t *testing.T) {
	const n, keys = 12000, 101
	seen := map[int]string{}
	out := &bag[int]{}
	key := func(v int) int { return v % keys }
	topo := topology.New("nested")
	s := topology.SourceOf[int](topo, &counter{N: n}, topology.Name("src"))
	outer := topology.Map(s.Parallel(2, topology.HashBy(key)), func(v int) int { return v }, topology.Name("outer"))
	inner := topology.MapOf[int, int](outer.Parallel(3, topology.HashBy(key)), &tagChannel{mu: new(sync.Mutex), seen: seen}, topology.Name("inner"))
	inner.EndParallel().EndParallel().ForEach(out.add, topology.Name("sink"))
	j := mustRun(t, topo, Options{}, apiTimeout)
	var innerIDs []string
	for _, in := range j.Physical().Instances {
		if j.Physical().Plan.Operators[in.Op].Name == "inner" {
			innerIDs = append(innerIDs, in.ID)
		}
	}
	if len(innerIDs) != 6 {
		t.Fatalf("inner instances %v, want 6", innerIDs)
	}
	sameMultiset(t, "output", out.all(), seq(n, func(i int) int { return i }))
	checkKeyed(t, seen, keys, 6)
}

// EndParallel in the middle of a chain: what follows runs once, and Isolate splits a fused chain.
func TestAPIEndParallelThenChain(t *testing.T) {
	const n = 6000
	out := &bag[int]{}
	topo := topology.New("endpar")
	p := topology.SourceOf[int](topo, &counter{N: n}).Parallel(3)
	m := topology.Map(p, func(v int) int { return v * 3 }).EndParallel()
	after := topology.MapOf[int, int](m, &runningSum{}, topology.Name("after"))
	after.Filter(func(int) bool { return true }, topology.Isolate()).ForEach(out.add)
	j := mustRun(t, topo, Options{}, apiTimeout)
	count := 0
	for _, in := range j.Physical().Instances {
		if j.Physical().Plan.Operators[in.Op].Name == "after" {
			count++
		}
	}
	if count != 1 {
		t.Fatalf("%d instances after EndParallel, want 1", count)
	}
	got := out.all()
	if len(got) != n || got[n-1] != 3*n*(n-1)/2 {
		t.Fatalf("got %d values ending with %v, want %d ending with %d", len(got), got[len(got)-1:], n, 3*n*(n-1)/2)
	}
}
