package api

import (
	"sync"
	"time"
)

// Event kinds: what a node records of the cluster's life, for `weir chaos`, recovery benchmarks and
// people reading a timeline.
const (
	EvLeaderElected       = "leader_elected"       // this node became leader
	EvLeaderLost          = "leader_lost"          // this node stopped leading
	EvNodeFailed          = "node_failed"          // Subject: the node declared lost; Detail: why
	EvNodeLeft            = "node_left"            // Subject: the node that left
	EvPlaced              = "placed"               // PEs of Job placed; Detail: PE=node list
	EvJobSubmitted        = "job_submitted"        //
	EvJobEnded            = "job_ended"            // Detail: the final state and error
	EvRegionReset         = "region_reset"         // a reset began: Gen, Epoch (the one reset to), Detail: reason
	EvRegionResumed       = "region_resumed"       // every PE reset: Gen
	EvRegionDraining      = "region_draining"      // epoch Epoch began (recorded in Raft); its drain was asked for
	EvRegionCheckpointing = "region_checkpointing" // every PE saved epoch Epoch; its commit is being recorded
	EvEpochCommitted      = "epoch_committed"      // Epoch, Gen
	EvRegionFinished      = "region_finished"      // the final epoch committed
	EvRegionMaxed         = "region_max_attempts"
	EvPEStarted           = "pe_started" // Subject: the PE, on this node
	EvPEStopped           = "pe_stopped"
)

// Event is one thing that happened, as the node that saw it recorded it.
type Event struct {
	Seq     uint64    `json:"seq"`
	Time    time.Time `json:"time"`
	Node    string    `json:"node"`
	Kind    string    `json:"kind"`
	Job     string    `json:"job,omitempty"`
	Region  int       `json:"region"`
	Epoch   uint64    `json:"epoch,omitempty"`
	Gen     uint64    `json:"generation,omitempty"`
	Subject string    `json:"subject,omitempty"`
	Detail  string    `json:"detail,omitempty"`
}

// EventLog keeps a node's last events in memory, numbered in order. It is safe for concurrent use.
type EventLog struct {
	node string
	mu   sync.Mutex
	ring []Event
	next int
	full bool
	seq  uint64
}

// NewEventLog keeps the last capacity events of node.
func NewEventLog(node string, capacity int) *EventLog {
	if capacity < 1 {
		capacity = 1
	}
	return &EventLog{node: node, ring: make([]Event, capacity)}
}

// Add records an event, stamping its number, time (unless set) and node.
func (l *EventLog) Add(e Event) {
	if l == nil {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	l.seq++
	e.Seq, e.Node = l.seq, l.node
	if e.Time.IsZero() {
		e.Time = time.Now()
	}
	l.ring[l.next] = e
	l.next++
	if l.next == len(l.ring) {
		l.next, l.full = 0, true
	}
}

// Since returns the events numbered above seq, oldest first (those still kept).
func (l *EventLog) Since(seq uint64) []Event {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []Event
	n := l.next
	if l.full {
		n = len(l.ring)
	}
	start := 0
	if l.full {
		start = l.next
	}
	for i := 0; i < n; i++ {
		e := l.ring[(start+i)%len(l.ring)]
		if e.Seq > seq {
			out = append(out, e)
		}
	}
	return out
}
