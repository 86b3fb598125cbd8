// Package standalone runs a job in one process: the executor runs every PE, one coordinator per consistent
// region drives its epochs, and checkpoints go to a local store. It is what `weir run` does, and what the
// cluster does on each node minus Raft and the network.
package standalone
