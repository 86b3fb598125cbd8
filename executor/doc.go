// Package executor runs PEs on one node. It binds each operator of the physical plan to its code, fuses the
// operators of a PE into a tree of typed calls, connects PEs with edges (local) or links (remote, supplied by
// the caller), and runs every PE's loop: processing, marker alignment, drain and checkpoint, reset to a
// committed epoch under a new generation, the final epoch and failures.
//
// The executor knows nothing of Raft or of who coordinates its regions: commands arrive through its methods
// (Drain, Reset, Resume, Committed) and every report leaves through a Reporter.
package executor
