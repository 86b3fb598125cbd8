// Package worker is the node side of a Weir cluster: it runs the PEs that the replicated placements assign to
// this node, one executor per PE, connects them (local edges through a node hub, remote ones through
// transport streams that find a moved reader again), passes the leader's commands to them, reports what they
// do to the leader, and keeps their checkpoints (saved here and replicated to other nodes).
//
// The worker acts on the FSM replica of its own node: placements drive what runs; committed epochs drive
// checkpoint garbage collection. It never decides anything that must outlive it.
package worker
