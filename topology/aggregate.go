package topology

import "github.com/weirstream/weir/operator/window"

// Aggregate groups the stream's tuples by key into windows w and emits one window.Result per key and
// window, the value folded by agg: window.Count, Sum, Min, Max, Mean, Reduce or any Aggregation. key nil
// puts every tuple in one group. Windowed state is checkpointed with msgpack (exported fields of keys and
// accumulators). In a parallel region, route by the same key (HashBy) so that each key's windows are whole.
func Aggregate[T any, K comparable, A, R any](s Stream[T], w window.Window, key func(T) K, agg window.Aggregation[T, A, R], opts ...Option) Stream[window.Result[K, R]] {
	if s.t == nil {
		return Stream[window.Result[K, R]]{}
	}
	f, err := window.Operator(w, key, agg)
	if err != nil {
		s.t.problem(caller(), "aggregate: %v", err)
		return Stream[window.Result[K, R]]{}
	}
	return transform[T, window.Result[K, R]](s, "aggregate", "", f, opts)
}
