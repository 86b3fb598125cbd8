// Command weir is Weir's binary: `weir run JOB.yaml` runs a job in one process, `weir plan JOB.yaml` shows
// its physical plan, and the cluster commands start and drive agents. See the README.
package main
