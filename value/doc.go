// Package value defines the canonical domain of dynamic tuple values and the
// hashing, ordering, JSON and binary encodings the engine applies to them.
//
// Job files are YAML and expressions are untyped, so tuples travel through
// the engine as Go values of type any. To keep operators simple and results
// reproducible, every such value is first brought into a small canonical
// domain by Normalize: nil, bool, int (64-bit), float64, string, []any and
// map[string]any whose elements are themselves canonical. Everything else in
// this package assumes that domain and is fast on it; non-canonical inputs
// are accepted but normalized on the fly, which allocates, so hot paths
// should normalize once at ingestion.
//
// Results must agree between processes because tuples are routed by Hash and
// persisted in checkpoints that another process may restore. Hence nothing
// here depends on map iteration order, random hash seeds or the host's byte
// order: maps are always visited in sorted key order, Hash is a fixed-seed
// FNV-1a over a canonical byte form, and the binary codec is little-endian
// with a single valid encoding per value. Changing Hash or the binary format
// is therefore a wire-compatibility break.
//
// Equality is by kind: int 2 and float64 2.0 are different values (they
// encode, hash and key differently) even though Compare orders them as
// equal. Floats compare with NaN equal to NaN and -0 equal to +0 so that
// Equal is an equivalence relation that Hash and Key can respect.
//
// Nesting is limited to MaxDepth lists or maps so that hostile input and
// accidentally cyclic values cannot exhaust the stack.
package value
