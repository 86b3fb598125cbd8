// Package checkpoint keeps the per-epoch operator state of consistent regions and the record of which epoch committed.
//
// Durability: a DirStore or DirLedger call that returns nil has made its effect survive a crash of the process
// and, as far as the file system honours fsync, of the machine. Every blob is written to a temporary file in
// its final directory, fsynced, renamed over its final name, and the directory (plus any directory the call had
// to create) is fsynced, so a reader or a restarted process sees either the previous blob or the new one, never a
// mix. Every file carries a CRC32-C of its payload; damage is reported as ErrCorrupt rather than handed to an
// operator as state. Temporary files left by a crash are removed when the directory is opened again. Retire and
// DeleteJob sync their removals as well, but nothing depends on them for safety: a crash during one may leave
// some old epochs behind, and repeating the call removes them. MemStore and MemLedger offer the same contracts
// without surviving the process, for tests and for jobs that do not need recovery across restarts.
//
// A directory must be owned by a single DirStore or DirLedger at a time: opening one removes temporary files,
// which would break a save in flight in another process, and stores and ledgers should use distinct directories.
package checkpoint
