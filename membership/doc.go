// Package membership tells a node who else is in the cluster, by gossip (hashicorp/memberlist). Each node
// announces its name, its RPC and HTTP addresses and whether it is a Raft server; membership changes arrive
// as events on a channel, which only the leader reconciles into Raft (Nomad's serf.go and leader.go).
//
// A gossip verdict is a hint, not a decision: a node that gossip calls dead may be alive behind a partition.
// The controller fences what such a node runs (generations) instead of trusting the verdict alone.
package membership
