package window

import "cmp"

// Aggregation folds the tuples of one window into an accumulator and turns it into the window's result.
//
// Zero must return a fresh accumulator every time: each window starts from its own. Add may update acc in
// place and return it. Result must not modify acc. An error from Add fails the operator. One Aggregation
// value serves every window and, through Operator, every channel of a parallel region at once: it must hold
// no per-call state.
type Aggregation[T, A, R any] interface {
	Zero() A
	Add(acc A, t T) (A, error)
	Result(acc A) R
}

// Merger is implemented by aggregations whose accumulators combine: Merge(x, y) is the accumulator of x's
// tuples followed by y's. It must be associative, must not modify its arguments, and Merge with a Zero must
// change nothing. Sliding windows use it to combine panes instead of adding each tuple to every window.
type Merger[A any] interface {
	Merge(older, newer A) (A, error)
}

// Number is a type Sum and Mean accept.
type Number interface {
	~int | ~int8 | ~int16 | ~int32 | ~int64 | ~uint | ~uint8 | ~uint16 | ~uint32 | ~uint64 | ~float32 | ~float64
}

// Count counts the window's tuples.
func Count[T any]() Aggregation[T, int, int] { return count[T]{} }

type count[T any] struct{}

func (count[T]) Zero() int                           { return 0 }
func (count[T]) Add(acc int, _ T) (int, error)       { return acc + 1, nil }
func (count[T]) Merge(older, newer int) (int, error) { return older + newer, nil }
func (count[T]) Result(acc int) int                  { return acc }

// Sum adds up f of the window's tuples.
func Sum[T any, N Number](f func(T) N) Aggregation[T, N, N] { return sum[T, N]{f} }

type sum[T any, N Number] struct{ f func(T) N }

func (sum[T, N]) Zero() N                         { return 0 }
func (s sum[T, N]) Add(acc N, t T) (N, error)     { return acc + s.f(t), nil }
func (sum[T, N]) Merge(older, newer N) (N, error) { return older + newer, nil }
func (sum[T, N]) Result(acc N) N                  { return acc }

// Extremum is the accumulator of Min and Max: the value so far, once Set.
type Extremum[V cmp.Ordered] struct {
	V   V
	Set bool
}

// Min is the least f of the window's tuples.
func Min[T any, V cmp.Ordered](f func(T) V) Aggregation[T, Extremum[V], V] {
	return extremum[T, V]{f: f, sign: -1}
}

// Max is the greatest f of the window's tuples.
func Max[T any, V cmp.Ordered](f func(T) V) Aggregation[T, Extremum[V], V] {
	return extremum[T, V]{f: f, sign: 1}
}

type extremum[T any, V cmp.Ordered] struct {
	f    func(T) V
	sign int
}

func (extremum[T, V]) Zero() Extremum[V] { return Extremum[V]{} }

func (e extremum[T, V]) Add(acc Extremum[V], t T) (Extremum[V], error) {
	return e.pick(acc, Extremum[V]{V: e.f(t), Set: true}), nil
}

func (e extremum[T, V]) Merge(older, newer Extremum[V]) (Extremum[V], error) {
	return e.pick(older, newer), nil
}

func (e extremum[T, V]) pick(a, b Extremum[V]) Extremum[V] {
	switch {
	case !a.Set:
		return b
	case !b.Set:
		return a
	case cmp.Compare(b.V, a.V)*e.sign > 0:
		return b
	}
	return a
}

func (extremum[T, V]) Result(acc Extremum[V]) V { return acc.V }

// MeanAcc is the accumulator of Mean.
type MeanAcc struct {
	Sum float64
	N   int
}

// Mean is the arithmetic mean of f over the window's tuples.
func Mean[T any, N Number](f func(T) N) Aggregation[T, MeanAcc, float64] { return mean[T, N]{f} }

type mean[T any, N Number] struct{ f func(T) N }

func (mean[T, N]) Zero() MeanAcc { return MeanAcc{} }

func (m mean[T, N]) Add(acc MeanAcc, t T) (MeanAcc, error) {
	return MeanAcc{Sum: acc.Sum + float64(m.f(t)), N: acc.N + 1}, nil
}

func (mean[T, N]) Merge(older, newer MeanAcc) (MeanAcc, error) {
	return MeanAcc{Sum: older.Sum + newer.Sum, N: older.N + newer.N}, nil
}

func (mean[T, N]) Result(acc MeanAcc) float64 {
	if acc.N == 0 {
		return 0
	}
	return acc.Sum / float64(acc.N)
}

// Reduce folds the window's tuples with fn, starting from zero. When A is a reference type (slice, map,
// pointer), fn must not modify the accumulator it is given if that could be zero itself: every window starts
// from the same zero value. Sliding windows add each tuple to every open window (about size/slide calls per
// tuple); ReduceMerge avoids that.
func Reduce[T, A any](zero A, fn func(acc A, t T) A) Aggregation[T, A, A] {
	return reduce[T, A]{zero: zero, fn: fn}
}

// ReduceMerge is Reduce with a merge function, which makes sliding windows cheap (see Merger).
func ReduceMerge[T, A any](zero A, fn func(acc A, t T) A, merge func(older, newer A) A) Aggregation[T, A, A] {
	return reduceMerge[T, A]{reduce[T, A]{zero: zero, fn: fn}, merge}
}

type reduce[T, A any] struct {
	zero A
	fn   func(A, T) A
}

func (r reduce[T, A]) Zero() A                   { return r.zero }
func (r reduce[T, A]) Add(acc A, t T) (A, error) { return r.fn(acc, t), nil }
func (r reduce[T, A]) Result(acc A) A            { return acc }

type reduceMerge[T, A any] struct {
	reduce[T, A]
	merge func(A, A) A
}

func (r reduceMerge[T, A]) Merge(older, newer A) (A, error) { return r.merge(older, newer), nil }
