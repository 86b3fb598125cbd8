package api

import "time"

// SubmitRequest submits a job: a job file's text, a Go job registered in the binary, or an encoded plan,
// with submission parameters.
type SubmitRequest struct {
	JobFile  string            `json:"job_file,omitempty"`
	FileName string            `json:"file_name,omitempty"`
	GoJob    string            `json:"go_job,omitempty"`
	Plan     []byte            `json:"plan,omitempty"`
	Params   map[string]string `json:"params,omitempty"`
}

// SubmitResponse names the submitted job.
type SubmitResponse struct {
	ID string `json:"id"`
}

// Job describes a job.
type Job struct {
	ID          string            `json:"id"`
	Name        string            `json:"name"`
	State       string            `json:"state"`
	Error       string            `json:"error,omitempty"`
	Origin      string            `json:"origin"`
	Fingerprint string            `json:"fingerprint"`
	Params      map[string]string `json:"params,omitempty"`
	Submitted   time.Time         `json:"submitted"`
	Ended       time.Time         `json:"ended,omitzero"`
	Regions     []Region          `json:"regions,omitempty"`
	PEs         []PE              `json:"pes,omitempty"`
}

// Region is a consistent region's status.
type Region struct {
	Index          int       `json:"index"`
	State          string    `json:"state"`
	Committed      uint64    `json:"committed_epoch"`
	Generation     uint64    `json:"generation"`
	Attempts       int       `json:"attempts"`
	Commits        int       `json:"commits"`
	Resets         int       `json:"resets"`
	LastCheckpoint time.Time `json:"last_checkpoint,omitzero"`
	LastError      string    `json:"last_error,omitempty"`
}

// PE is a PE's placement.
type PE struct {
	ID     string `json:"id"`
	Node   string `json:"node"`
	Region int    `json:"region"`
}

// Member is a node of the cluster.
type Member struct {
	Name   string `json:"name"`
	Addr   string `json:"addr"`
	HTTP   string `json:"http"`
	RPC    string `json:"rpc"`
	Status string `json:"status"`
	// Role is "voter", "nonvoter" or "none" (not in the Raft configuration).
	Role   string `json:"role"`
	Leader bool   `json:"leader"`
}

// Status is the cluster as one node sees it.
type Status struct {
	Node   string     `json:"node"`
	Leader string     `json:"leader"`
	Peers  []RaftPeer `json:"raft_peers"`
	// PEs lists the PEs placed on each node, by job.
	PEs   map[string][]string `json:"pes"`
	Index uint64              `json:"raft_index"`
}

// RaftPeer is a member of the Raft configuration.
type RaftPeer struct {
	ID      string `json:"id"`
	Address string `json:"address"`
	Voter   bool   `json:"voter"`
}

// Command kinds: the leader's commands to the PEs of a region on a node.
const (
	CmdDrain     = "drain"
	CmdReset     = "reset"
	CmdResume    = "resume"
	CmdCommitted = "committed"
)

// Command is a leader's command to the PEs of one consistent region on one node. Commands are idempotent:
// a PE ignores one it already acted on (by epoch and generation), so the leader may resend.
type Command struct {
	Kind   string `json:"kind"`
	Job    string `json:"job"`
	Region int    `json:"region"`
	Epoch  uint64 `json:"epoch,omitempty"`
	Gen    uint64 `json:"generation"`
	Final  bool   `json:"final,omitempty"`
}

// Report kinds: what nodes tell the leader.
const (
	RepDrained   = "drained"
	RepExhausted = "exhausted"
	RepResetDone = "reset_done"
	RepFailed    = "failed"
	RepTrigger   = "trigger"
	RepFinished  = "finished"
	RepCrashed   = "crashed"
	// RepAwaiting: a PE started without its region's state (placed to replace a lost one, or on a node
	// that restarted) and waits for a reset. The leader resets the region unless a reset is under way.
	RepAwaiting = "awaiting_reset"
	// RepBroken: a stream of a PE here broke (Peer names the other node when known). The leader checks the
	// peer and, unless the region is resetting already, resets it: during a reset streams break on purpose
	// (a sender aborted inside a frame, a PE moved), and counting those made the reset fail again.
	RepBroken = "broken"
)

// Report is a node's report about one of its PEs.
type Report struct {
	Kind   string `json:"kind"`
	Node   string `json:"node"`
	Job    string `json:"job"`
	Region int    `json:"region"`
	PE     string `json:"pe,omitempty"`
	Epoch  uint64 `json:"epoch,omitempty"`
	Gen    uint64 `json:"generation"`
	Ref    string `json:"ref,omitempty"`
	Error  string `json:"error,omitempty"`
	// Peer names a node whose connection broke (the fast failure signal).
	Peer string `json:"peer,omitempty"`
}

// NodePEs lists what a node runs: the leader asks on taking over.
type NodePEs struct {
	Node     string              `json:"node"`
	Running  map[string][]string `json:"running"`  // job -> PE IDs
	Finished map[string][]string `json:"finished"` // job -> PE IDs that ended normally
	// Stats are the counters of the PEs running here, by job.
	Stats map[string][]PEStats `json:"stats,omitempty"`
}

// PEStats are a running PE's counters.
type PEStats struct {
	ID     string `json:"id"`
	Region int    `json:"region"`
	// In counts tuples delivered from other PEs, Out tuples sent to them, Dropped tuples of an older
	// generation dropped on arrival; Emitted what its sources emitted, Consumed what its sinks took.
	In, Out, Dropped, Emitted, Consumed uint64
	Gen                                 uint64 `json:"generation"`
}

// Error is the body of every error response.
type Error struct {
	Error string `json:"error"`
	// Leader is set when the request must go to the leader and this node could not forward it.
	Leader string `json:"leader,omitempty"`
}
