// Package builtin holds the operator kinds that job files name — sources sequence, gauss and file;
// transforms map, filter, flat_map, aggregate, dedup and split; sinks stdout, file and verify_order — and
// the Binding that finds them for a job file's plan.
//
// Tuples are canonical values (package value) of type any. Expressions are expr-lang expressions over the
// variable it, the current tuple (reduce functions also see acc); they compile once, when the operator is
// built, so a bad expression is reported with its position before the job runs, and every operator
// instance evaluates them with a Machine of its own. Whatever an expression or a parser produces is
// normalized to a canonical value before it is emitted.
//
// Sources are replayable: their state is their position (the next integer, the number of readings, the
// byte offset of the next line), so a consistent region can reset them to a checkpoint and they emit the
// same tuples again. The stateful transforms (aggregate, dedup) checkpoint what they remember. The file
// sink writes every tuple exactly once into a directory when asked to (exactly_once: true), by a
// two-phase commit that publishes an epoch's file only once its consistent region committed it; the other
// sinks are at-least-once in a consistent region.
package builtin
