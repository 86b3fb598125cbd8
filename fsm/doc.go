// Package fsm is the Raft state machine of Weir's cluster controller: the nodes, jobs, placements and
// consistent-region epochs that must survive the loss of the leader.
//
// # Commands
//
// Every Raft log entry is one command: a one-byte [CommandType] followed by the msgpack encoding of the
// command's body (see [Encode]), as in Nomad's fsm.go and structs.Encode. [FSM.Apply] returns nil when the
// command was accepted and an [*ApplyError] when it was rejected; a rejected command changes nothing.
//
// # Determinism
//
// Every replica applies the same log and must end in the same state, so Apply never reads a clock (times
// travel inside the commands), never draws a random number, never lets map iteration order reach a result,
// and validates a command only against the replicated state and the command itself. The validation rules are
// therefore part of the replicated semantics: two binaries that validate the same command differently diverge
// as surely as two that apply it differently.
//
// # Compatibility rules
//
//   - Command types and snapshot record types are append-only numbers. Never renumber or reuse one, and never
//     change what an existing type means; a new meaning needs a new type.
//   - A field may be added to a command body only when a replica that ignores it (an older binary decodes the
//     body and drops unknown fields) still reaches the same state; otherwise add a new command type.
//   - Changing a validation rule (a limit such as [MaxRegions], an allowed transition) is a change of meaning
//     and follows the same rule.
//
// # Unknown command types
//
// A committed entry whose type this binary does not know comes from a newer binary elsewhere in the cluster.
// Skipping it would let this replica silently diverge from the others; panicking would crash-loop the node on
// restart as it replays the same log. Instead Apply records a fatal error ([FSM.Fatal], [FSM.FatalCh]),
// returns it, and ignores every later entry, so the state stays exactly as of the entry before. Snapshot
// refuses to run once the FSM is fatal, because Raft would label the stale state with a later index and
// compact the log entries this replica never applied. The agent watches FatalCh and shuts the node down with
// a message saying that its binary is older than the cluster's; upgrading the binary and restarting replays
// the log.
//
// A malformed body of a known type is different: every replica of every version fails to decode the same
// bytes, so rejecting it with an ApplyError keeps the replicas equal.
//
// # Snapshots
//
// [FSM.Snapshot] copies the top-level tables under the read lock; nothing stored in the state is ever
// modified in place (every change replaces a Job value, a placement map or a job's region slice), so the copy
// can be persisted while Apply goes on. Persist writes the magic "WEIRFSM1", a format version and the Raft
// index, then typed records (a one-byte record type, then msgpack), then an end record. Restore decodes into
// a fresh state and swaps it in only when the whole snapshot was read and validated.
package fsm
