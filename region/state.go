package region

import (
	"fmt"
	"time"
)

// State is a consistent region's state, as users see it.
type State int

const (
	// Processing: tuples flow; no epoch is in flight.
	Processing State = iota
	// Draining: markers of the epoch in flight are travelling; PEs drain and checkpoint as they arrive.
	Draining
	// Checkpointing: every PE has checkpointed the epoch; the commit is being recorded.
	Checkpointing
	// Resetting: the region is going back to its last committed epoch.
	Resetting
	// MaxAttemptsReached: the region failed max_consecutive_attempts times without a commit in between and
	// has stopped until a forced reset.
	MaxAttemptsReached
	// Finished: the final epoch committed; the region's sources are exhausted and its sinks published.
	Finished
	// Stopped: the coordinator was stopped (job cancelled, leadership lost).
	Stopped
)

var stateNames = [...]string{"processing", "draining", "checkpointing", "resetting", "maximum_attempts_reached", "finished", "stopped"}

func (s State) String() string {
	if int(s) < len(stateNames) {
		return stateNames[s]
	}
	return fmt.Sprintf("state(%d)", int(s))
}

// MarshalText makes states readable in JSON.
func (s State) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// Status is a snapshot of a region's coordinator.
type Status struct {
	Region int   `json:"region"`
	State  State `json:"state"`
	// Committed is the last committed epoch (0: none); Epoch the epoch in flight, if any.
	Committed  uint64 `json:"committed_epoch"`
	Epoch      uint64 `json:"epoch_in_flight,omitempty"`
	Generation uint64 `json:"generation"`
	// Attempts counts the resets since the last commit.
	Attempts int `json:"attempts"`
	// Commits and Resets count since the coordinator started.
	Commits int `json:"commits"`
	Resets  int `json:"resets"`
	// LastCheckpoint is when the last commit happened.
	LastCheckpoint time.Time `json:"last_checkpoint,omitzero"`
	// LastError says why the last reset happened.
	LastError string `json:"last_error,omitempty"`
	Final     bool   `json:"final,omitempty"`
}
