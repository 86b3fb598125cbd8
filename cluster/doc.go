// Package cluster starts and drives clusters of `weir agent` processes on this machine: it allocates free
// ports, starts the agents (detached, logging to files), waits for a leader, records the cluster in
// DIR/cluster.json, and kills, pauses, resumes and restarts nodes. `weir cluster up/down`, the multi-process
// tests and `weir chaos` are built on it.
//
// UpDocker does the same with containers (DockerCluster): one per agent, on a private network of their own,
// driven through the docker CLI, which adds network partitions (Partition, Heal) to the failures it
// injects. BuildImage builds the image around a static weir binary with the repository's Dockerfile.
package cluster
