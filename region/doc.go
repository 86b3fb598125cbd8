// Package region holds the two region ideas of IBM Streams: parallel-region expansion (a logical Plan becomes
// operator instances, channels and PEs) and the consistent-region protocol (the coordinator that drives
// epochs of drain → checkpoint → commit, resets and their limits, and the permits and marker alignment that
// PEs use on the other side).
//
// Expansion is deterministic: every node that expands the same plan gets the same instances and PEs, with the
// same IDs, so PE IDs can key checkpoints and placements.
package region
