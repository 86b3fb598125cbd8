// Package flow moves typed tuples between operators: batches, local edges with credit-based backpressure,
// batching outboxes, routers for parallel regions and the multi-input inbox that aligns markers.
//
// Inside a processing element (PE) operators call each other through typed func(T) values, so a fused chain
// never boxes a tuple. Across a PE boundary tuples travel in Batch[T] values through an Edge[T], whose bounded
// capacity is the sender's credit: a slow consumer blocks its producers instead of growing a buffer. Control
// items (checkpoint markers, the final marker) travel in-band after a batch's items and every batch carries the
// generation of its consistent region, so a receiver drops whatever an older generation sent.
//
// The executor builds all of this from type-erased descriptors (Type), created once per Go type with TypeOf,
// so that no reflection happens per tuple.
package flow
