package window

import (
	"testing"
)

func benchWindow[A, R any](b *testing.B, w Window, agg Aggregation[int, A, R]) {
	h := newHarness(b, Config[int, int, A, R]{Window: w, Agg: agg, Key: func(i int) (int, error) { return i & 63, nil }})
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		h.in(i)
		if len(h.out) > 1024 {
			h.out = h.out[:0]
		}
	}
}

func ident(i int) int { return i }

// BenchmarkAggregateTumblingCount: 64 keys, a tumbling count window of 100 tuples per key.
func BenchmarkAggregateTumblingCount(b *testing.B) { benchWindow(b, Tumbling(100), Count[int]()) }

// Sliding windows of 1000 tuples emitting every tuple: the two stacks keep this O(1) per tuple.
func BenchmarkAggregateSlidingSum(b *testing.B) { benchWindow(b, Sliding(1000, 1), Sum(ident)) }

func BenchmarkAggregateSlidingMean(b *testing.B) { benchWindow(b, Sliding(1000, 10), Mean(ident)) }

// Without a merge, every tuple goes to size/slide windows.
func BenchmarkAggregateSlidingReduce(b *testing.B) {
	benchWindow(b, Sliding(100, 10), Reduce(0, func(a, i int) int { return a + i }))
}
