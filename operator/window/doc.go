// Package window is keyed windowed aggregation: tumbling and sliding windows, by count or by processing
// time, over count, sum, min, max, mean or any reduce function, with state that checkpoints and restores
// exactly.
//
// # Windows
//
// Tuples are grouped by key; every key has windows of its own.
//
// Count windows count the tuples of each key, numbered 0, 1, 2, … per key. A tumbling count window of n
// emits a key's result every n tuples of that key, over those n tuples: [0, n), [n, 2n), …. A sliding count
// window of n sliding every s emits a key's result after every s-th tuple of that key, over that key's last
// n tuples (fewer at the start, while the key has fewer than n tuples): the window ending at tuple count e
// covers tuples [max(0, e-n), e). When s > n, tuples between two windows belong to none.
//
// Time windows use processing time (the clock when the tuple reaches the operator), aligned to multiples of
// the window's slide since the Unix epoch (for a tumbling window, its duration). A tumbling time window of d
// covers [k·d, (k+1)·d); a sliding time window of d sliding every s ends at each multiple e of s and covers
// [e-d, e). A window is emitted, for every key that has tuples in it, once the clock reaches its end: the
// operator checks on every tuple and on every Tick (operator.Ticker, about every min(slide/2, 100ms)). Time
// never goes back: a clock step backwards is treated as no time passing. Windows without tuples emit
// nothing. Because the time is the processing time, tuples replayed after a reset fall into the windows of
// their replay.
//
// # Results
//
// Each emitted window is a Result: its key, its bounds and its value. Start and End are tuple numbers of the
// key for count windows and Unix nanoseconds for time windows. Results of one count-window key come in the
// order of their windows; results of time windows come in order of End, and for one End in the order in
// which the keys first entered the operator's current windows.
//
// At the end of the stream (Finish), every open window that holds at least one tuple emits its partial
// result: time windows with their nominal bounds (which the clock has not reached), count windows with End
// set to the key's tuple count (the tuples they actually hold). For a sliding window that means every
// still-open window that overlaps the key's last tuples, as when the input simply stops (Flink does the
// same at the end of a bounded input). State is then empty.
//
// # Aggregations
//
// An Aggregation folds tuples into an accumulator A and turns it into a result R. When it also implements
// Merger, sliding windows keep one partial accumulator per pane (the greatest common divisor of size and
// slide) and combine the panes with two stacks: amortized O(1) merges per tuple and per emission,
// whatever the sizes. Without Merge (Reduce), sliding windows keep one accumulator per open window and add
// every tuple to each of them: about size/slide calls of the reduce function per tuple. Tumbling windows
// never merge.
//
// # State
//
// Every open window of every key is the operator's state: Checkpoint encodes it and Restore puts it back
// exactly (Restore(0, nil) empties it). Keys and accumulators are encoded by a Codec: msgpack by default
// (exported fields only), or any other, such as the canonical values of package value for job files.
// Count windows keep a small record for every key ever seen (its tuple count), since a count window never
// closes by itself; use time windows when keys are unbounded.
package window
