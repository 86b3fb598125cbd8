// Package agent assembles a Weir node (`weir agent`): gossip membership, a Raft server whose FSM holds the
// cluster's decisions, the worker that runs the PEs placed here, the controller that runs while this node
// leads, transport (one multiplexed port for Raft and tuple streams) and the HTTP API.
//
// Every node is a Raft server. The leader keeps at most MaxVoters voters and adds further nodes as
// non-voters, which replicate the FSM and run PEs without slowing consensus. Membership changes arrive from
// gossip; only the leader reconciles them into Raft (Nomad's serf.go and leader.go).
package agent
