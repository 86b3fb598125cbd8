// Package controller is the leader's side of a Weir cluster: it accepts jobs, places their PEs on live
// nodes, drives every consistent region through a region.Coordinator whose decisions go through Raft, and
// reacts to failures: a failed node's PEs are placed again and the regions they touched reset; regions
// they did not touch keep running.
//
// Everything the controller decides that must outlive it is a Raft command; the rest (coordinators, who
// finished) is soft state that a new leader rebuilds from the FSM and the nodes. A new leader resets every
// running region to its last committed epoch: epochs in flight at the failover are abandoned, nothing
// committed is lost.
package controller
