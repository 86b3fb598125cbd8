package fsm

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"

	"github.com/hashicorp/go-msgpack/v2/codec"
	"github.com/hashicorp/raft"
)

// Snapshot format: the magic, a big-endian uint32 format version and a big-endian uint64 Raft index, then
// records, each a one-byte recordType followed by msgpack of its body, then endRecord. Records come in a
// fixed order (nodes, jobs, placements, regions), each kind sorted by key, so equal states persist to equal
// bytes.
const (
	snapshotMagic   = "WEIRFSM1"
	snapshotVersion = 1 // bump only for a change that old binaries must refuse to read
)

// recordType tags one snapshot record. APPEND-ONLY, like CommandType: never renumber or reuse one.
type recordType uint8

const (
	nodeRecord       recordType = iota // 0: a Node
	jobRecord                          // 1: a Job
	placementsRecord                   // 2: placementsBody
	regionsRecord                      // 3: regionsBody
	// Add new record types here.

	// endRecord closes the snapshot, so that a truncated one is detected (fixed at 0xff, outside the run).
	endRecord recordType = 0xff
)

type placementsBody struct {
	Job        string
	Placements map[string]string
}

type regionsBody struct {
	Job     string
	Regions []Region
}

// Snapshot captures the state for Raft. It only copies the top-level tables under the read lock (see the
// immutability invariant on tables); the encoding happens in Persist, concurrently with Apply. A fatal FSM
// refuses: Raft would label the stale state with a later index and compact entries this replica never applied.
func (f *FSM) Snapshot() (raft.FSMSnapshot, error) {
	if err := f.Fatal(); err != nil {
		return nil, fmt.Errorf("fsm snapshot: %w", err)
	}
	f.state.mu.RLock()
	defer f.state.mu.RUnlock()
	return &fsmSnapshot{t: f.state.t.shallowCopy()}, nil
}

type fsmSnapshot struct {
	t tables
}

// Persist writes the snapshot to sink and closes it, or cancels it on error.
func (s *fsmSnapshot) Persist(sink raft.SnapshotSink) error {
	if err := writeSnapshot(sink, &s.t); err != nil {
		_ = sink.Cancel()
		return fmt.Errorf("persist fsm snapshot at index %d: %w", s.t.index, err)
	}
	if err := sink.Close(); err != nil {
		return fmt.Errorf("persist fsm snapshot at index %d: close: %w", s.t.index, err)
	}
	return nil
}

// Release is a no-op: the snapshot holds only copies.
func (s *fsmSnapshot) Release() {}

func writeSnapshot(w io.Writer, t *tables) error {
	bw := bufio.NewWriter(w)
	var hdr [len(snapshotMagic) + 4 + 8]byte
	copy(hdr[:], snapshotMagic)
	binary.BigEndian.PutUint32(hdr[len(snapshotMagic):], snapshotVersion)
	binary.BigEndian.PutUint64(hdr[len(snapshotMagic)+4:], t.index)
	if _, err := bw.Write(hdr[:]); err != nil {
		return fmt.Errorf("header: %w", err)
	}
	enc := codec.NewEncoder(bw, msgpackHandle)
	record := func(rt recordType, body any) error {
		if err := bw.WriteByte(byte(rt)); err != nil {
			return err
		}
		// The encoder flushes into bw at the end of each Encode, keeping the type bytes in order.
		return enc.Encode(body)
	}
	for _, name := range sortedKeys(t.nodes) {
		n := t.nodes[name]
		if err := record(nodeRecord, &n); err != nil {
			return fmt.Errorf("node %q: %w", name, err)
		}
	}
	for _, id := range sortedKeys(t.jobs) {
		j := t.jobs[id]
		if err := record(jobRecord, &j); err != nil {
			return fmt.Errorf("job %q: %w", id, err)
		}
	}
	for _, id := range sortedKeys(t.placements) {
		if err := record(placementsRecord, &placementsBody{Job: id, Placements: t.placements[id]}); err != nil {
			return fmt.Errorf("placements of job %q: %w", id, err)
		}
	}
	for _, id := range sortedKeys(t.regions) {
		if err := record(regionsRecord, &regionsBody{Job: id, Regions: t.regions[id]}); err != nil {
			return fmt.Errorf("regions of job %q: %w", id, err)
		}
	}
	if err := bw.WriteByte(byte(endRecord)); err != nil {
		return fmt.Errorf("end record: %w", err)
	}
	return bw.Flush()
}

// Restore replaces the state with a snapshot written by Persist. It decodes into a fresh state and swaps it
// in only when the whole snapshot was read and validated: a corrupt or truncated snapshot returns an error
// and leaves the current state as it was. A fatal FSM refuses to restore.
func (f *FSM) Restore(rc io.ReadCloser) error {
	defer rc.Close()
	if err := f.Fatal(); err != nil {
		return fmt.Errorf("restore fsm snapshot: %w", err)
	}
	t, err := readSnapshot(rc)
	if err != nil {
		return fmt.Errorf("restore fsm snapshot: %w", err)
	}
	f.state.replace(t)
	return nil
}

// ErrCorruptSnapshot is wrapped by every Restore error about the snapshot's content.
var ErrCorruptSnapshot = errors.New("corrupt snapshot")

func readSnapshot(r io.Reader) (tables, error) {
	br := bufio.NewReader(r)
	var hdr [len(snapshotMagic) + 4 + 8]byte
	if _, err := io.ReadFull(br, hdr[:]); err != nil {
		return tables{}, fmt.Errorf("header: %w: %v", ErrCorruptSnapshot, err)
	}
	if string(hdr[:len(snapshotMagic)]) != snapshotMagic {
		return tables{}, fmt.Errorf("bad magic %q: %w", hdr[:len(snapshotMagic)], ErrCorruptSnapshot)
	}
	if v := binary.BigEndian.Uint32(hdr[len(snapshotMagic):]); v != snapshotVersion {
		return tables{}, fmt.Errorf("format version %d, this binary reads %d: %w", v, snapshotVersion, ErrCorruptSnapshot)
	}
	t := newTables()
	t.index = binary.BigEndian.Uint64(hdr[len(snapshotMagic)+4:])
	// The decoder reads from br without buffering of its own (ReaderBufferSize is 0), so the record type
	// bytes read directly from br stay in step with it.
	dec := codec.NewDecoder(br, msgpackHandle)
	for n := 0; ; n++ {
		b, err := br.ReadByte()
		if err != nil {
			return tables{}, fmt.Errorf("record %d: truncated before the end record: %w: %v", n, ErrCorruptSnapshot, err)
		}
		rt := recordType(b)
		if rt == endRecord {
			break
		}
		if err := t.restoreRecord(dec, rt); err != nil {
			return tables{}, fmt.Errorf("record %d (type %d): %w", n, rt, err)
		}
	}
	if _, err := br.ReadByte(); err != io.EOF {
		return tables{}, fmt.Errorf("data after the end record: %w", ErrCorruptSnapshot)
	}
	return t, nil
}

// restoreRecord decodes one record body into a fresh value (decoding into a reused one would merge maps),
// normalizes it as Apply would have and checks it against what was restored before.
func (t *tables) restoreRecord(dec *codec.Decoder, rt recordType) error {
	decode := func(v any) (err error) {
		defer func() {
			if r := recover(); r != nil {
				err = fmt.Errorf("%w: decoder panic: %v", ErrCorruptSnapshot, r)
			}
		}()
		if err := dec.Decode(v); err != nil {
			return fmt.Errorf("%w: %v", ErrCorruptSnapshot, err)
		}
		return nil
	}
	switch rt {
	case nodeRecord:
		var n Node
		if err := decode(&n); err != nil {
			return err
		}
		if _, dup := t.nodes[n.Name]; dup || n.Name == "" || !n.Status.valid() {
			return fmt.Errorf("node %q (status %q): empty, invalid or duplicate: %w", n.Name, n.Status, ErrCorruptSnapshot)
		}
		n.Since = n.Since.UTC()
		t.nodes[n.Name] = n
	case jobRecord:
		var j Job
		if err := decode(&j); err != nil {
			return err
		}
		if _, dup := t.jobs[j.ID]; dup || j.ID == "" || (j.State != JobRunning && !j.State.Terminal()) {
			return fmt.Errorf("job %q (state %q): empty, invalid or duplicate: %w", j.ID, j.State, ErrCorruptSnapshot)
		}
		j.Plan, j.Params = normBytes(j.Plan), normMap(j.Params)
		j.Submitted, j.Ended = j.Submitted.UTC(), j.Ended.UTC()
		t.jobs[j.ID] = j
	case placementsRecord:
		var p placementsBody
		if err := decode(&p); err != nil {
			return err
		}
		if err := checkJobRecord(t, p.Job, t.placements); err != nil {
			return fmt.Errorf("placements: %w", err)
		}
		if p.Placements = normMap(p.Placements); p.Placements != nil {
			t.placements[p.Job] = p.Placements
		}
	case regionsRecord:
		var rb regionsBody
		if err := decode(&rb); err != nil {
			return err
		}
		if err := checkJobRecord(t, rb.Job, t.regions); err != nil {
			return fmt.Errorf("regions: %w", err)
		}
		if len(rb.Regions) > MaxRegions {
			return fmt.Errorf("regions of job %q: %d regions: %w", rb.Job, len(rb.Regions), ErrCorruptSnapshot)
		}
		for i := range rb.Regions {
			r := &rb.Regions[i]
			if r.Index != i {
				return fmt.Errorf("regions of job %q: region %d has index %d: %w", rb.Job, i, r.Index, ErrCorruptSnapshot)
			}
			r.Manifest, r.LastCheckpoint = normMap(r.Manifest), r.LastCheckpoint.UTC()
		}
		if len(rb.Regions) > 0 {
			t.regions[rb.Job] = rb.Regions
		}
	default:
		return fmt.Errorf("unknown record type %d (written by a newer binary?): %w", rt, ErrCorruptSnapshot)
	}
	return nil
}

// checkJobRecord checks that a per-job record names a restored job and is the first of its kind for it.
func checkJobRecord[V any](t *tables, job string, seen map[string]V) error {
	if _, ok := t.jobs[job]; !ok {
		return fmt.Errorf("unknown job %q: %w", job, ErrCorruptSnapshot)
	}
	if _, dup := seen[job]; dup {
		return fmt.Errorf("job %q twice: %w", job, ErrCorruptSnapshot)
	}
	return nil
}
