package window

import "time"

// Result is the aggregate of one key in one window.
type Result[K, R any] struct {
	Key K
	// Start and End bound the window, [Start, End): for count windows, numbers of the key's tuples (0 is its
	// first tuple); for time windows, Unix nanoseconds.
	Start, End int64
	Value      R
}

// StartTime is Start as a time, for time windows.
func (r Result[K, R]) StartTime() time.Time { return time.Unix(0, r.Start).UTC() }

// EndTime is End as a time, for time windows.
func (r Result[K, R]) EndTime() time.Time { return time.Unix(0, r.End).UTC() }
