package fsm

import (
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/hashicorp/raft"
)

// Reasons a command is rejected, for errors.Is on an ApplyError.
var (
	// ErrMalformed: the entry does not decode into its type's body.
	ErrMalformed = errors.New("malformed command")
	// ErrInvalid: a field of the command is invalid on its own (an empty ID, an unknown status).
	ErrInvalid = errors.New("invalid command")
	// ErrNotFound: the command names a node or job that does not exist.
	ErrNotFound = errors.New("not found")
	// ErrExists: a job with the submitted ID exists.
	ErrExists = errors.New("already exists")
	// ErrTransition: the job's state does not allow the command (a terminal job never changes; only a
	// terminal job may be deleted).
	ErrTransition = errors.New("transition not allowed")
	// ErrStale: the command is fenced by a newer generation or epoch (or a generation would go down).
	ErrStale = errors.New("stale generation or epoch")
	// ErrUnknownCommand: the entry's type is unknown to this binary, which is older than the cluster's. It is
	// fatal: see FSM.Fatal.
	ErrUnknownCommand = errors.New("unknown command type: this binary is older than the cluster's")
)

// MaxRegions bounds a region index (0 <= index < MaxRegions), so that one bad command cannot make every
// replica allocate a huge region slice. Changing it changes validation: see the compatibility rules.
const MaxRegions = 4096

// ApplyError is the response of a rejected command (and of every entry after a fatal one). Err wraps one of
// the Err* reasons with context.
type ApplyError struct {
	Command CommandType
	Index   uint64 // Raft index of the entry
	Err     error
}

func (e *ApplyError) Error() string {
	return fmt.Sprintf("fsm: %s at index %d: %v", e.Command, e.Index, e.Err)
}

func (e *ApplyError) Unwrap() error { return e.Err }

// FSM is Weir's raft.FSM. Raft calls Apply, Snapshot and Restore; everyone else reads through State.
type FSM struct {
	state *State

	fatalMu sync.Mutex
	fatal   error
	fatalCh chan struct{}
}

var _ raft.FSM = (*FSM)(nil)

// New returns an FSM with an empty state.
func New() *FSM {
	return &FSM{state: newState(), fatalCh: make(chan struct{})}
}

// State returns the replicated state. The pointer stays valid across snapshot restores.
func (f *FSM) State() *State { return f.state }

// Fatal returns the error that stopped the FSM, or nil. Once set it never clears: the FSM ignores every later
// entry and the node must be shut down (see doc.go).
func (f *FSM) Fatal() error {
	f.fatalMu.Lock()
	defer f.fatalMu.Unlock()
	return f.fatal
}

// FatalCh returns a channel closed when Fatal becomes non-nil.
func (f *FSM) FatalCh() <-chan struct{} { return f.fatalCh }

func (f *FSM) setFatal(err error) {
	f.fatalMu.Lock()
	defer f.fatalMu.Unlock()
	if f.fatal == nil {
		f.fatal = err
		close(f.fatalCh)
	}
}

// Apply applies one committed entry and returns nil or an error (an *ApplyError) as the future's response.
// It is deterministic: the same entries in the same order give the same state and responses on every
// replica. A rejected command changes nothing but the applied index.
func (f *FSM) Apply(l *raft.Log) any {
	if err := f.Fatal(); err != nil {
		return err
	}
	t, body, err := decodeCommand(l.Data)
	if errors.Is(err, ErrUnknownCommand) {
		f.setFatal(&ApplyError{Command: t, Index: l.Index, Err: err})
		return f.Fatal()
	}
	if err := f.state.apply(l.Index, t, body, err); err != nil {
		return err
	}
	return nil
}

// apply runs one decoded command (or records the decode error) under the write lock.
func (s *State) apply(index uint64, t CommandType, body any, decodeErr error) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.t.index = index
	err := decodeErr
	if err == nil {
		err = s.t.apply(body)
	}
	if err != nil {
		return &ApplyError{Command: t, Index: index, Err: err}
	}
	s.notifyLocked()
	return nil
}

// apply validates a command against the tables and, only when it is valid, applies it. Each handler checks
// everything before its first write, so a rejection leaves the tables untouched.
func (t *tables) apply(body any) error {
	switch c := body.(type) {
	case *RegisterNode:
		return t.registerNode(c)
	case *SetNodeStatus:
		return t.setNodeStatus(c)
	case *SubmitJob:
		return t.submitJob(c)
	case *SetJobState:
		return t.setJobState(c)
	case *Place:
		return t.place(c)
	case *BeginEpoch:
		return t.beginEpoch(c)
	case *CommitEpoch:
		return t.commitEpoch(c)
	case *NewGeneration:
		return t.newGeneration(c)
	case *RegionState:
		return t.regionState(c)
	case *DeleteJob:
		return t.deleteJob(c)
	}
	// Unreachable: newBody and this switch list the same types.
	panic(fmt.Sprintf("fsm: no handler for %T", body))
}

func (t *tables) registerNode(c *RegisterNode) error {
	n := c.Node
	if n.Name == "" {
		return fmt.Errorf("register node: empty name: %w", ErrInvalid)
	}
	if n.Status == "" {
		n.Status = NodeAlive
	}
	if !n.Status.valid() {
		return fmt.Errorf("register node %q: status %q: %w", n.Name, n.Status, ErrInvalid)
	}
	n.Since = n.Since.UTC()
	t.nodes[n.Name] = n
	return nil
}

func (t *tables) setNodeStatus(c *SetNodeStatus) error {
	n, ok := t.nodes[c.Name]
	if !ok {
		return fmt.Errorf("status of node %q: %w", c.Name, ErrNotFound)
	}
	if !c.Status.valid() {
		return fmt.Errorf("status of node %q: status %q: %w", c.Name, c.Status, ErrInvalid)
	}
	n.Status, n.Since = c.Status, c.Since.UTC()
	t.nodes[c.Name] = n
	return nil
}

func (t *tables) submitJob(c *SubmitJob) error {
	j := c.Job
	if j.ID == "" {
		return fmt.Errorf("submit job: empty ID: %w", ErrInvalid)
	}
	if _, ok := t.jobs[j.ID]; ok {
		return fmt.Errorf("submit job %q: %w", j.ID, ErrExists)
	}
	for _, pe := range sortedKeys(c.Placements) {
		if pe == "" || c.Placements[pe] == "" {
			return fmt.Errorf("submit job %q: PE %q on node %q: empty name: %w", j.ID, pe, c.Placements[pe], ErrInvalid)
		}
	}
	j.State, j.Error, j.Ended, j.PlacementVersion = JobRunning, "", time.Time{}, 0
	j.Submitted = j.Submitted.UTC()
	j.Plan = normBytes(j.Plan)
	j.Params = normMap(j.Params)
	if p := normMap(c.Placements); p != nil {
		j.PlacementVersion = 1
		t.placements[j.ID] = p
	}
	t.jobs[j.ID] = j
	return nil
}

func (t *tables) setJobState(c *SetJobState) error {
	j, ok := t.jobs[c.ID]
	if !ok {
		return fmt.Errorf("state of job %q: %w", c.ID, ErrNotFound)
	}
	if !c.State.Terminal() {
		return fmt.Errorf("state of job %q: to %q: %w", c.ID, c.State, ErrInvalid)
	}
	if j.State.Terminal() {
		return fmt.Errorf("state of job %q: %s to %s: %w", c.ID, j.State, c.State, ErrTransition)
	}
	j.State, j.Error, j.Ended = c.State, c.Error, c.At.UTC()
	t.jobs[c.ID] = j
	return nil
}

func (t *tables) place(c *Place) error {
	j, err := t.liveJob(c.Job)
	if err != nil {
		return fmt.Errorf("place %s: %w", c.Job, err)
	}
	// Sorted, so that when several entries are bad every replica names the same one in its response.
	for _, pe := range sortedKeys(c.Placements) {
		if pe == "" || c.Placements[pe] == "" {
			return fmt.Errorf("place %s: PE %q on node %q: empty name: %w", c.Job, pe, c.Placements[pe], ErrInvalid)
		}
	}
	rs := t.regions[c.Job]
	if len(c.Regions) > 0 {
		rs = cloneRegionSlice(rs)
		for _, rg := range c.Regions {
			if err := checkRegionIndex(rg.Index); err != nil {
				return fmt.Errorf("place %s region %d: %w", c.Job, rg.Index, err)
			}
			rs = growRegions(rs, rg.Index)
			if cur := rs[rg.Index].Generation; rg.Generation < cur {
				return fmt.Errorf("place %s region %d: generation %d below current %d: %w",
					c.Job, rg.Index, rg.Generation, cur, ErrStale)
			}
			rs[rg.Index].Generation = rg.Generation
		}
	}
	j.PlacementVersion++
	t.jobs[c.Job] = j
	if p := normMap(c.Placements); p != nil {
		t.placements[c.Job] = p
	} else {
		delete(t.placements, c.Job)
	}
	if rs != nil {
		t.regions[c.Job] = rs
	}
	return nil
}

func (t *tables) beginEpoch(c *BeginEpoch) error {
	r, err := t.region(c.Job, c.Region)
	if err != nil {
		return fmt.Errorf("begin epoch %d of %s region %d: %w", c.Epoch, c.Job, c.Region, err)
	}
	if c.Epoch == 0 {
		return fmt.Errorf("begin epoch 0 of %s region %d: %w", c.Job, c.Region, ErrInvalid)
	}
	if c.Generation != r.Generation {
		return fmt.Errorf("begin epoch %d of %s region %d: generation %d, current %d: %w",
			c.Epoch, c.Job, c.Region, c.Generation, r.Generation, ErrStale)
	}
	r.Started = max(r.Started, c.Epoch)
	t.setRegion(c.Job, r)
	return nil
}

func (t *tables) commitEpoch(c *CommitEpoch) error {
	r, err := t.region(c.Job, c.Region)
	if err != nil {
		return fmt.Errorf("commit epoch %d of %s region %d: %w", c.Epoch, c.Job, c.Region, err)
	}
	if c.Epoch <= r.Committed {
		return fmt.Errorf("commit epoch %d of %s region %d: not above committed epoch %d: %w",
			c.Epoch, c.Job, c.Region, r.Committed, ErrStale)
	}
	if c.Generation != r.Generation {
		return fmt.Errorf("commit epoch %d of %s region %d: generation %d, current %d: %w",
			c.Epoch, c.Job, c.Region, c.Generation, r.Generation, ErrStale)
	}
	r.Committed = c.Epoch
	r.Started = max(r.Started, c.Epoch)
	r.Manifest = normMap(c.Manifest)
	r.LastCheckpoint = c.At.UTC()
	r.Attempts = 0
	r.Commits++
	t.setRegion(c.Job, r)
	return nil
}

func (t *tables) newGeneration(c *NewGeneration) error {
	r, err := t.region(c.Job, c.Region)
	if err != nil {
		return fmt.Errorf("new generation %d of %s region %d: %w", c.Generation, c.Job, c.Region, err)
	}
	if c.Generation <= r.Generation {
		return fmt.Errorf("new generation %d of %s region %d: not above current %d: %w",
			c.Generation, c.Job, c.Region, r.Generation, ErrStale)
	}
	if c.Attempts < 0 {
		return fmt.Errorf("new generation %d of %s region %d: attempts %d: %w",
			c.Generation, c.Job, c.Region, c.Attempts, ErrInvalid)
	}
	r.Generation, r.Attempts, r.LastError = c.Generation, c.Attempts, c.Reason
	r.Resets++
	t.setRegion(c.Job, r)
	return nil
}

func (t *tables) regionState(c *RegionState) error {
	r, err := t.region(c.Job, c.Region)
	if err != nil {
		return fmt.Errorf("state of %s region %d: %w", c.Job, c.Region, err)
	}
	if c.State == "" || c.Attempts < 0 {
		return fmt.Errorf("state of %s region %d: state %q, attempts %d: %w",
			c.Job, c.Region, c.State, c.Attempts, ErrInvalid)
	}
	r.State, r.Attempts, r.LastError = c.State, c.Attempts, c.LastError
	t.setRegion(c.Job, r)
	return nil
}

func (t *tables) deleteJob(c *DeleteJob) error {
	j, ok := t.jobs[c.ID]
	if !ok {
		return fmt.Errorf("delete job %q: %w", c.ID, ErrNotFound)
	}
	if !j.State.Terminal() {
		return fmt.Errorf("delete job %q: job is %s: %w", c.ID, j.State, ErrTransition)
	}
	delete(t.jobs, c.ID)
	delete(t.placements, c.ID)
	delete(t.regions, c.ID)
	return nil
}

// liveJob returns a job that may still change: it exists and is not terminal.
func (t *tables) liveJob(id string) (Job, error) {
	j, ok := t.jobs[id]
	if !ok {
		return Job{}, fmt.Errorf("job %q: %w", id, ErrNotFound)
	}
	if j.State.Terminal() {
		return Job{}, fmt.Errorf("job %q is %s: %w", id, j.State, ErrTransition)
	}
	return j, nil
}

// region returns a copy of region i of a live job to modify and store with setRegion. A region no command
// has mentioned yet starts as the zero Region.
func (t *tables) region(job string, i int) (Region, error) {
	if _, err := t.liveJob(job); err != nil {
		return Region{}, err
	}
	if err := checkRegionIndex(i); err != nil {
		return Region{}, err
	}
	if rs := t.regions[job]; i < len(rs) {
		return rs[i], nil
	}
	return Region{Index: i}, nil
}

// setRegion stores r in a new copy of the job's region slice (never in place: snapshots share the old one).
func (t *tables) setRegion(job string, r Region) {
	rs := growRegions(cloneRegionSlice(t.regions[job]), r.Index)
	rs[r.Index] = r
	t.regions[job] = rs
}

func checkRegionIndex(i int) error {
	if i < 0 || i >= MaxRegions {
		return fmt.Errorf("region index %d outside [0, %d): %w", i, MaxRegions, ErrInvalid)
	}
	return nil
}

// cloneRegionSlice copies the slice header's elements; the Manifest maps stay shared (they are never written).
func cloneRegionSlice(rs []Region) []Region {
	return append([]Region(nil), rs...)
}

// growRegions extends rs so that index i exists, numbering the new zero regions.
func growRegions(rs []Region, i int) []Region {
	for len(rs) <= i {
		rs = append(rs, Region{Index: len(rs)})
	}
	return rs
}

// Normal forms, so that states that mean the same are equal (and encode equally): times in UTC (t.UTC()
// also drops the monotonic reading), empty maps and byte slices as nil.

func normMap(m map[string]string) map[string]string {
	if len(m) == 0 {
		return nil
	}
	return m
}

func normBytes(b []byte) []byte {
	if len(b) == 0 {
		return nil
	}
	return b
}
