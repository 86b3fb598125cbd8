package chaos

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"slices"
	"sync"
	"time"
)

// Entry types of a history.
const (
	// TypeFault: the runner injected a fault (Kind is the fault's kind, Nodes its targets, Fault its number).
	TypeFault = "fault"
	// TypeRecover: the runner ended a fault (Kind: restart, resume, heal).
	TypeRecover = "recover"
	// TypeEvent: an event of a node's event log (Kind is the event's kind).
	TypeEvent = "event"
	// TypeCommitted: the leader's replica showed a region's committed epoch change (a consistent read);
	// Since is when the poll before it still showed the previous epoch.
	TypeCommitted = "committed"
	// TypeOutput: the exactly-once sink's PE consumed more (Consumed, in generation Gen, on Node).
	TypeOutput = "output"
	// TypeLeader: a node became leader (from its leader_elected event).
	TypeLeader = "leader"
	// TypeNote: anything else the runner did or saw (submission, heal-all, the job's end).
	TypeNote = "note"
)

// Entry is one line of a history.
type Entry struct {
	Time   time.Time `json:"t"`
	Type   string    `json:"type"`
	Kind   string    `json:"kind,omitempty"`
	Fault  int       `json:"fault,omitempty"`
	Node   string    `json:"node,omitempty"`
	Nodes  []string  `json:"nodes,omitempty"`
	Job    string    `json:"job,omitempty"`
	Region int       `json:"region,omitempty"`
	Epoch  uint64    `json:"epoch,omitempty"`
	Gen    uint64    `json:"gen,omitempty"`
	Seq    uint64    `json:"seq,omitempty"`
	// Consumed is the exactly-once sink's count (TypeOutput).
	Consumed uint64    `json:"consumed,omitempty"`
	Since    time.Time `json:"since,omitzero"`
	Detail   string    `json:"detail,omitempty"`
}

// History is the ordered record of a run: faults, events, observations. It is written to a JSON-lines file
// as it grows. It is safe for concurrent use.
type History struct {
	mu      sync.Mutex
	entries []Entry
	f       *os.File
	w       *bufio.Writer
	err     error
}

// NewHistory starts a history written to path ("" keeps it in memory only).
func NewHistory(path string) (*History, error) {
	h := &History{}
	if path == "" {
		return h, nil
	}
	f, err := os.Create(path)
	if err != nil {
		return nil, fmt.Errorf("chaos: history: %w", err)
	}
	h.f, h.w = f, bufio.NewWriter(f)
	return h, nil
}

// Add records an entry (stamped now unless it has a time) and writes it out.
func (h *History) Add(e Entry) {
	if e.Time.IsZero() {
		e.Time = time.Now()
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	h.entries = append(h.entries, e)
	if h.w == nil || h.err != nil {
		return
	}
	b, err := json.Marshal(e)
	if err == nil {
		b = append(b, '\n')
		_, err = h.w.Write(b)
	}
	if err == nil {
		err = h.w.Flush()
	}
	h.err = err
}

// Entries returns the entries ordered by time (entries of equal time keep the order they were added in).
func (h *History) Entries() []Entry {
	h.mu.Lock()
	out := slices.Clone(h.entries)
	h.mu.Unlock()
	slices.SortStableFunc(out, func(a, b Entry) int { return a.Time.Compare(b.Time) })
	return out
}

// Close flushes and closes the file.
func (h *History) Close() error {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.f == nil {
		return h.err
	}
	err := h.err
	if ferr := h.w.Flush(); err == nil {
		err = ferr
	}
	if cerr := h.f.Close(); err == nil {
		err = cerr
	}
	h.f, h.w = nil, nil
	if err != nil {
		return fmt.Errorf("chaos: history: %w", err)
	}
	return nil
}

// ReadHistory reads a history file written by a run.
func ReadHistory(path string) ([]Entry, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("chaos: %w", err)
	}
	defer f.Close()
	var out []Entry
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for n := 1; sc.Scan(); n++ {
		var e Entry
		if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
			return nil, fmt.Errorf("chaos: %s:%d: %w", path, n, err)
		}
		out = append(out, e)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("chaos: %s: %w", path, err)
	}
	slices.SortStableFunc(out, func(a, b Entry) int { return a.Time.Compare(b.Time) })
	return out, nil
}
