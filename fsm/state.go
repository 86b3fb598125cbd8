package fsm

import (
	"maps"
	"slices"
	"sort"
	"sync"
	"time"
)

// NodeStatus is a node's membership status as recorded in Raft.
type NodeStatus string

// Node statuses.
const (
	NodeAlive  NodeStatus = "alive"
	NodeFailed NodeStatus = "failed"
	NodeLeft   NodeStatus = "left"
)

func (s NodeStatus) valid() bool {
	return s == NodeAlive || s == NodeFailed || s == NodeLeft
}

// JobState is the life-cycle state of a job.
type JobState string

// Job states. A job is submitted running and ends in exactly one of the terminal states.
const (
	JobRunning   JobState = "running"
	JobFinished  JobState = "finished"
	JobFailed    JobState = "failed"
	JobCancelled JobState = "cancelled"
)

// Terminal reports whether s is a final state: a terminal job never changes again.
func (s JobState) Terminal() bool {
	return s == JobFinished || s == JobFailed || s == JobCancelled
}

// Node is a cluster member as recorded in Raft.
type Node struct {
	Name       string
	RPCAddr    string
	HTTPAddr   string
	GossipAddr string
	Status     NodeStatus
	Voter      bool
	Since      time.Time // when Status was last set, as stated by the command
}

// Job is a submitted job.
type Job struct {
	ID   string
	Name string
	// Plan is an encoded topology.Plan; the FSM never looks inside it.
	Plan        []byte
	Fingerprint string
	Origin      string // "file" or "go"
	GoJob       string // the registered Go job's name when Origin is "go"
	Params      map[string]string
	State       JobState
	Error       string
	Submitted   time.Time
	Ended       time.Time
	// PlacementVersion counts the Place commands applied to the job.
	PlacementVersion uint64
}

// Placement says which node runs one PE of a job.
type Placement struct {
	PE   string
	Node string
}

// Region is the replicated state of one consistent region of a job.
type Region struct {
	Index      int
	State      string // the coordinator's state name, e.g. "processing", "maximum_attempts_reached"
	Committed  uint64 // last committed epoch (0: none)
	Started    uint64 // highest epoch ever begun: a new leader starts above it
	Generation uint64
	Attempts   int
	Resets     int
	Commits    int
	// LastCheckpoint is the time of the last commit, as stated by the CommitEpoch command.
	LastCheckpoint time.Time
	LastError      string
	// Manifest maps each PE ID to its checkpoint reference for the committed epoch.
	Manifest map[string]string
}

// tables is the replicated data. Invariant (what makes Snapshot cheap and the read API safe): nothing
// reachable from a table entry is ever modified after it is stored. A change stores a new Job value, a new
// placement map or a new region slice; maps and byte slices inside stored values are shared, never written.
type tables struct {
	index      uint64 // Raft index of the last applied entry
	nodes      map[string]Node
	jobs       map[string]Job
	placements map[string]map[string]string // job ID -> PE ID -> node name
	regions    map[string][]Region          // job ID -> regions by index
}

func newTables() tables {
	return tables{
		nodes:      map[string]Node{},
		jobs:       map[string]Job{},
		placements: map[string]map[string]string{},
		regions:    map[string][]Region{},
	}
}

// shallowCopy copies the top-level maps only, which the immutability invariant makes a consistent copy.
func (t *tables) shallowCopy() tables {
	return tables{
		index:      t.index,
		nodes:      maps.Clone(t.nodes),
		jobs:       maps.Clone(t.jobs),
		placements: maps.Clone(t.placements),
		regions:    maps.Clone(t.regions),
	}
}

// deepCopy copies everything; tests use it to prove that a rejected command or a read changed nothing.
func (t *tables) deepCopy() tables {
	c := newTables()
	c.index = t.index
	maps.Copy(c.nodes, t.nodes)
	for id, j := range t.jobs {
		c.jobs[id] = j.clone()
	}
	for id, p := range t.placements {
		c.placements[id] = maps.Clone(p)
	}
	for id, rs := range t.regions {
		c.regions[id] = cloneRegions(rs)
	}
	return c
}

func (j Job) clone() Job {
	j.Plan = slices.Clone(j.Plan)
	j.Params = maps.Clone(j.Params)
	return j
}

func (r Region) clone() Region {
	r.Manifest = maps.Clone(r.Manifest)
	return r
}

func cloneRegions(rs []Region) []Region {
	if rs == nil {
		return nil
	}
	c := make([]Region, len(rs))
	for i, r := range rs {
		c[i] = r.clone()
	}
	return c
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// State is the replicated state of the cluster as this replica has applied it. Its methods are safe for
// concurrent use while Apply runs, and every value they return is a copy the caller may keep and modify.
type State struct {
	mu    sync.RWMutex
	t     tables
	watch chan struct{} // closed and replaced at every change; see Watch
}

func newState() *State {
	return &State{t: newTables(), watch: make(chan struct{})}
}

// Index returns the Raft index of the last applied entry, accepted or rejected (0 before the first).
func (s *State) Index() uint64 {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.t.index
}

// Nodes returns every registered node, sorted by name.
func (s *State) Nodes() []Node {
	s.mu.RLock()
	defer s.mu.RUnlock()
	out := make([]Node, 0, len(s.t.nodes))
	for _, name := range sortedKeys(s.t.nodes) {
		out = append(out, s.t.nodes[name])
	}
	return out
}

// Node returns the named node.
func (s *State) Node(name string) (Node, bool) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	n, ok := s.t.nodes[name]
	return n, ok
}

// Jobs returns every job, sorted by ID. Each job's Plan is copied: callers listing many large jobs often
// may prefer Job for the one they need.
func (s *State) Jobs() []Job {
	s.mu.RLock()
	defer s.mu.RUnlock()
	out := make([]Job, 0, len(s.t.jobs))
	for _, id := range sortedKeys(s.t.jobs) {
		out = append(out, s.t.jobs[id].clone())
	}
	return out
}

// Job returns the job with the given ID.
func (s *State) Job(id string) (Job, bool) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	j, ok := s.t.jobs[id]
	if !ok {
		return Job{}, false
	}
	return j.clone(), true
}

// Placements returns the job's placements, PE ID -> node name (nil when the job has none).
func (s *State) Placements(job string) map[string]string {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return maps.Clone(s.t.placements[job])
}

// PlacementList returns the job's placements sorted by PE ID, for callers that need a stable order.
func (s *State) PlacementList(job string) []Placement {
	s.mu.RLock()
	defer s.mu.RUnlock()
	p := s.t.placements[job]
	out := make([]Placement, 0, len(p))
	for _, pe := range sortedKeys(p) {
		out = append(out, Placement{PE: pe, Node: p[pe]})
	}
	return out
}

// Regions returns the job's regions indexed by region index (nil when the job has none). Regions no command
// has mentioned yet, below the highest one that was, are zero apart from their Index.
func (s *State) Regions(job string) []Region {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return cloneRegions(s.t.regions[job])
}

// Region returns region i of the job; false when no command has created it.
func (s *State) Region(job string, i int) (Region, bool) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	rs := s.t.regions[job]
	if i < 0 || i >= len(rs) {
		return Region{}, false
	}
	return rs[i].clone(), true
}
