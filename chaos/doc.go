// Package chaos kills, pauses, partitions and restarts the nodes of a cluster while a verification job runs,
// records what happened, and proves from the job's outputs and the history that nothing was lost or
// duplicated (`weir chaos`).
package chaos
