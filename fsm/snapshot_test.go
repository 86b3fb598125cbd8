package fsm

import (
	"bytes"
	"encoding/binary"
	"errors"
	"strings"
	"testing"

	"github.com/hashicorp/go-msgpack/v2/codec"
)

type rec struct {
	typ  recordType
	body any // encoded with msgpack; a []byte is written raw
}

// craft builds snapshot bytes by hand, so tests can write what Persist never would.
func craft(t *testing.T, magic string, version uint32, index uint64, recs ...rec) []byte {
	t.Helper()
	var b bytes.Buffer
	b.WriteString(magic)
	binary.Write(&b, binary.BigEndian, version)
	binary.Write(&b, binary.BigEndian, index)
	for _, r := range recs {
		b.WriteByte(byte(r.typ))
		if raw, ok := r.body.([]byte); ok {
			b.Write(raw)
			continue
		}
		if r.body != nil {
			if err := codec.NewEncoder(&b, msgpackHandle).Encode(r.body); err != nil {
				t.Fatal(err)
			}
		}
	}
	return b.Bytes()
}

func TestRestoreCrafted(t *testing.T) {
	j1 := rec{jobRecord, Job{ID: "j1", State: JobRunning}}
	end := rec{typ: endRecord}
	good := craft(t, snapshotMagic, snapshotVersion, 42,
		rec{nodeRecord, Node{Name: "n1", Status: NodeAlive}}, j1,
		rec{placementsRecord, placementsBody{Job: "j1", Placements: map[string]string{"pe": "n1"}}},
		rec{regionsRecord, regionsBody{Job: "j1", Regions: []Region{{Index: 0, Generation: 3}}}}, end)
	f := New()
	if err := restoreBytes(f, good); err != nil {
		t.Fatalf("valid crafted snapshot: %v", err)
	}
	if st := f.State(); st.Index() != 42 || st.Placements("j1")["pe"] != "n1" || st.Regions("j1")[0].Generation != 3 {
		t.Fatalf("restored %+v", tablesOf(f))
	}

	cases := map[string]struct {
		data []byte
		msg  string
	}{
		"empty":              {nil, "header"},
		"short header":       {[]byte(snapshotMagic), "header"},
		"bad magic":          {craft(t, "WEIRFSM0", snapshotVersion, 1, end), "magic"},
		"newer version":      {craft(t, snapshotMagic, snapshotVersion+1, 1, end), "version"},
		"no end record":      {craft(t, snapshotMagic, snapshotVersion, 1, j1), "truncated"},
		"unknown record":     {craft(t, snapshotMagic, snapshotVersion, 1, j1, rec{7, Node{Name: "x"}}, end), "unknown record type 7"},
		"data after end":     {append(craft(t, snapshotMagic, snapshotVersion, 1, end), 0), "after the end"},
		"not msgpack":        {craft(t, snapshotMagic, snapshotVersion, 1, rec{jobRecord, []byte{0xc1}}, end), "record 0"},
		"duplicate node":     {craft(t, snapshotMagic, snapshotVersion, 1, rec{nodeRecord, Node{Name: "n", Status: NodeAlive}}, rec{nodeRecord, Node{Name: "n", Status: NodeAlive}}, end), "duplicate"},
		"node without name":  {craft(t, snapshotMagic, snapshotVersion, 1, rec{nodeRecord, Node{Status: NodeAlive}}, end), "node"},
		"node bad status":    {craft(t, snapshotMagic, snapshotVersion, 1, rec{nodeRecord, Node{Name: "n", Status: "x"}}, end), "node"},
		"duplicate job":      {craft(t, snapshotMagic, snapshotVersion, 1, j1, j1, end), "duplicate"},
		"job without ID":     {craft(t, snapshotMagic, snapshotVersion, 1, rec{jobRecord, Job{State: JobRunning}}, end), "job"},
		"job bad state":      {craft(t, snapshotMagic, snapshotVersion, 1, rec{jobRecord, Job{ID: "j", State: "x"}}, end), "job"},
		"orphan placements":  {craft(t, snapshotMagic, snapshotVersion, 1, rec{placementsRecord, placementsBody{Job: "j9"}}, end), "unknown job"},
		"placements twice":   {craft(t, snapshotMagic, snapshotVersion, 1, j1, rec{placementsRecord, placementsBody{Job: "j1", Placements: map[string]string{"a": "b"}}}, rec{placementsRecord, placementsBody{Job: "j1"}}, end), "twice"},
		"orphan regions":     {craft(t, snapshotMagic, snapshotVersion, 1, rec{regionsRecord, regionsBody{Job: "j9"}}, end), "unknown job"},
		"region index wrong": {craft(t, snapshotMagic, snapshotVersion, 1, j1, rec{regionsRecord, regionsBody{Job: "j1", Regions: []Region{{Index: 1}}}}, end), "index"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			f := seeded(t)
			before := tablesOf(f)
			watch := f.State().Watch()
			err := restoreBytes(f, tc.data)
			if !errors.Is(err, ErrCorruptSnapshot) || !strings.Contains(err.Error(), tc.msg) {
				t.Fatalf("Restore: %v, want ErrCorruptSnapshot mentioning %q", err, tc.msg)
			}
			if d := diffTables(before, tablesOf(f)); d != nil {
				t.Fatalf("failed restore changed the state: %v", d)
			}
			if closed(watch) {
				t.Fatal("failed restore fired Watch")
			}
		})
	}
}

// TestRestoreEveryTruncation cuts a real snapshot at every length: each must fail and keep the old state.
func TestRestoreEveryTruncation(t *testing.T) {
	snap := persist(t, seeded(t))
	f := New()
	mustApply(t, f, RegisterNodeType, RegisterNode{Node{Name: "other"}})
	before := tablesOf(f)
	for n := range len(snap) {
		if err := restoreBytes(f, snap[:n]); err == nil {
			t.Fatalf("snapshot cut to %d of %d bytes restored", n, len(snap))
		}
	}
	if d := diffTables(before, tablesOf(f)); d != nil {
		t.Fatal(d)
	}
	if err := restoreBytes(f, snap); err != nil {
		t.Fatal(err)
	}
	if d := diffTables(tablesOf(seeded(t)), tablesOf(f)); d != nil {
		t.Fatal(d)
	}
}

// TestSnapshotIsPointInTime: a snapshot taken before more commands persists the state as of the snapshot,
// however Apply changed the tables (regions, placements, manifests, deleted jobs) in the meantime.
func TestSnapshotIsPointInTime(t *testing.T) {
	f := seeded(t)
	want := tablesOf(f)
	snap, err := f.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	defer snap.Release()
	mustApply(t, f, CommitEpochType, CommitEpoch{Job: "j1", Region: 0, Epoch: 2, Generation: 1, Manifest: map[string]string{"pe1": "ref2"}, At: t2})
	mustApply(t, f, PlaceType, Place{Job: "j1", Placements: map[string]string{"pe1": "n2"}, Regions: []RegionGeneration{{0, 2}, {4, 1}}})
	mustApply(t, f, NewGenerationType, NewGeneration{Job: "j1", Region: 1, Generation: 5})
	mustApply(t, f, NodeStatusType, SetNodeStatus{Name: "n1", Status: NodeLeft})
	mustApply(t, f, DeleteJobType, DeleteJob{ID: "j2"})
	mustApply(t, f, JobStateType, SetJobState{ID: "j1", State: JobCancelled})
	sink := &memSink{}
	if err := snap.Persist(sink); err != nil {
		t.Fatal(err)
	}
	g := New()
	if err := restoreBytes(g, sink.Bytes()); err != nil {
		t.Fatal(err)
	}
	if d := diffTables(want, tablesOf(g)); d != nil {
		t.Fatalf("snapshot saw later changes: %v", d)
	}
}

type failingSink struct {
	memSink
	after int
}

func (s *failingSink) Write(p []byte) (int, error) {
	if s.Len()+len(p) > s.after {
		return 0, errors.New("disk full")
	}
	return s.memSink.Write(p)
}

func TestPersistCancelsOnError(t *testing.T) {
	snap, err := seeded(t).Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	sink := &failingSink{after: 0}
	if err := snap.Persist(sink); err == nil || !strings.Contains(err.Error(), "disk full") {
		t.Fatalf("Persist: %v", err)
	}
	if !sink.cancelled || sink.closed {
		t.Fatalf("cancelled=%v closed=%v, want the sink cancelled", sink.cancelled, sink.closed)
	}
}
