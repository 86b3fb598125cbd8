package standalone

import (
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/weirstream/weir/topology"
)

// epochLog records, per epoch, what an operator had done when it checkpointed.
type epochLog struct {
	mu sync.Mutex
	at map[uint64][3]int
}

func (l *epochLog) put(epoch uint64, v [3]int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.at[epoch] = v
}

func (l *epochLog) get(epoch uint64) ([3]int, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	v, ok := l.at[epoch]
	return v, ok
}

// posSource emits 0 … N-1 and logs its position at every checkpoint.
type posSource struct {
	N, Pos int
	log    *epochLog
}

func (s *posSource) Next() (int, bool, error) {
	if s.Pos >= s.N {
		return 0, false, nil
	}
	if s.Pos%200 == 0 {
		time.Sleep(200 * time.Microsecond) // a few epochs per run
	}
	s.Pos++
	return s.Pos - 1, true, nil
}

func (s *posSource) Checkpoint(epoch uint64) error {
	s.log.put(epoch, [3]int{s.Pos})
	return nil
}

// pathMap passes tuples of one path on, counting them where the test can see them at any moment.
type pathMap struct {
	Count int
	Pause time.Duration
	Every int
	seen  *atomic.Int64
}

func (m *pathMap) Map(v int) (int, error) {
	m.Count++
	m.seen.Store(int64(m.Count))
	if m.Every > 0 && m.Count%m.Every == 0 {
		time.Sleep(m.Pause)
	}
	return v, nil
}

// pathSink counts the values of each path (even: fast, odd: slow), checks their order, and logs its counts —
// and how far the fast path had got meanwhile — at every checkpoint.
type pathSink struct {
	Even, Odd         int
	LastEven, LastOdd int
	log               *epochLog
	fast              *atomic.Int64
	bad               *atomic.Int64
}

func (s *pathSink) Consume(v int) error {
	if v%2 == 0 {
		if v != s.LastEven+2 {
			s.bad.Add(1)
		}
		s.LastEven = v
		s.Even++
	} else {
		if v != s.LastOdd+2 {
			s.bad.Add(1)
		}
		s.LastOdd = v
		s.Odd++
	}
	return nil
}

func (s *pathSink) Checkpoint(epoch uint64) error {
	s.log.put(epoch, [3]int{s.Even, s.Odd, int(s.fast.Load())})
	return nil
}

// TestAlignedMarkers runs a diamond — source → {fast path, slow path} → union → sink — in a consistent region
// and checks that at every epoch the sink's checkpointed state holds exactly the prefix of each path up to the
// source's checkpointed position: no tuple behind a marker was processed before the checkpoint, although the
// fast path had long passed the marker.
func TestAlignedMarkers(t *testing.T) {
	for _, shape := range []string{"split", "fanout"} {
		t.Run(shape, func(t *testing.T) {
			const n = 40000
			srcLog, sinkLog := &epochLog{at: map[uint64][3]int{}}, &epochLog{at: map[uint64][3]int{}}
			var fastSeen, slowSeen, bad atomic.Int64
			topo := topology.New("diamond")
			s := topology.SourceOf[int](topo, &posSource{N: n, log: srcLog}, topology.Name("src"))
			s.SetConsistent(consistent(3 * time.Millisecond))
			var fastIn, slowIn topology.Stream[int]
			if shape == "split" {
				parts := s.Split(2, func(v int) int { return v % 2 })
				fastIn, slowIn = parts[0], parts[1]
			} else {
				// Both paths read the whole stream; each keeps its half.
				fastIn = s.Filter(func(v int) bool { return v%2 == 0 })
				slowIn = s.Filter(func(v int) bool { return v%2 == 1 })
			}
			fast := topology.MapOf[int, int](fastIn, &pathMap{seen: &fastSeen}, topology.Name("fast"), topology.Isolate())
			slow := topology.MapOf[int, int](slowIn, &pathMap{seen: &slowSeen, Every: 50, Pause: time.Millisecond},
				topology.Name("slow"), topology.Isolate())
			fast.Union(slow).Sink(&pathSink{LastEven: -2, LastOdd: -1, log: sinkLog, fast: &fastSeen, bad: &bad},
				topology.Name("sink"))
			j := mustRun(t, topo, Options{BatchSize: 32, Credits: 4}, 60*time.Second)
			st := j.Regions()[0]
			t.Logf("region %+v", st)
			if bad.Load() != 0 {
				t.Fatalf("%d values out of order", bad.Load())
			}
			ahead := 0
			for e := uint64(1); e <= st.Committed; e++ {
				src, ok1 := srcLog.get(e)
				sink, ok2 := sinkLog.get(e)
				if !ok1 || !ok2 {
					t.Fatalf("epoch %d: source logged %v, sink %v", e, ok1, ok2)
				}
				pos := src[0]
				evens, odds := (pos+1)/2, pos/2
				if sink[0] != evens || sink[1] != odds {
					t.Fatalf("epoch %d: source at %d (%d even, %d odd before it), sink checkpointed %d even and %d odd",
						e, pos, evens, odds, sink[0], sink[1])
				}
				if sink[2] > evens {
					ahead++ // the fast path had processed tuples behind the marker: they were held back
				}
			}
			t.Logf("%d epochs; at %d of them the fast path was past the marker when the sink checkpointed", st.Committed, ahead)
			if st.Committed < 3 {
				t.Fatalf("only %d epochs", st.Committed)
			}
			if ahead == 0 {
				t.Fatalf("the fast path never ran ahead of the slow one: the test did not exercise alignment")
			}
		})
	}
}
