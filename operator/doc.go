// Package operator is the operator SPI: what user operators implement, the Node the executor runs, how an
// operator's state is snapshotted and restored, and the registry of operator kinds by name.
//
// User operators are plain functions or stateful structs. A struct's state is its exported fields (encoded
// with msgpack) unless it implements Snapshotter; optional interfaces (Opener, Closer, Drainer, Checkpointer,
// Resetter, InitialResetter, Retirer, RegionCheckpointer) give it IBM Streams' StateHandler callbacks.
//
// Every callback of one operator instance runs on its PE's goroutine (or, for a Generator source, under the
// PE's emit lock), so operators need no locking of their own.
package operator
