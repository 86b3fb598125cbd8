// Package api is the HTTP interface of a Weir node: the wire types, the client that the CLI and the nodes
// use, and the server that routes requests to the node's parts.
//
// Public endpoints (/v1/...) serve users: jobs, members, status. Every node serves them: a follower forwards
// writes to the leader (Nomad's rpc.go forward) and serves reads from its own replica, unless the request
// asks for ?consistent. Internal endpoints (/internal/v1/...) carry the cluster's own traffic: the leader's
// commands to nodes, the nodes' reports to the leader, and checkpoint replication.
package api
