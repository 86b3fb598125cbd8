// Package topology describes jobs: the Plan (an encodable, validated graph of named operators, parallel
// regions and consistent regions) and the typed Go API that builds one.
//
// A Plan carries names and parameters, never code. Every node runs the same binary and finds the code behind
// a name there: built-in operator kinds in an operator.Registry (job files), or the functions of a Go job,
// which each node gets by building the job again from its registered builder. A plan's Fingerprint lets a
// node check that it rebuilt the very plan it was sent.
package topology
