package fsm

import (
	"bytes"
	"testing"
	"time"

	"github.com/hashicorp/raft"
	"pgregory.net/rapid"
)

// Small pools of names, so that generated commands collide: most hit existing jobs, regions and
// generations, and both the accepting and the rejecting branch of every rule run.
var (
	genName   = rapid.SampledFrom([]string{"", "n1", "n2", "n3"})
	genJobID  = rapid.SampledFrom([]string{"", "j1", "j2", "j3"})
	genPE     = rapid.SampledFrom([]string{"", "pe1", "pe2", "pe3", "pe4"})
	genRegion = rapid.OneOf(rapid.IntRange(0, 3), rapid.SampledFrom([]int{-1, MaxRegions}))
	genEpoch  = rapid.Uint64Range(0, 8)
	genGen    = rapid.Uint64Range(0, 4)
	genCount  = rapid.IntRange(-1, 6)
	genText   = rapid.SampledFrom([]string{"", "x", "drain timeout", "ünïcode"})
	genNodeSt = rapid.SampledFrom([]NodeStatus{"", NodeAlive, NodeFailed, NodeLeft, "bogus"})
	genJobSt  = rapid.SampledFrom([]JobState{"", JobRunning, JobFinished, JobFailed, JobCancelled, "bogus"})
	genZone   = rapid.SampledFrom([]*time.Location{time.UTC, time.FixedZone("A", 3600), time.FixedZone("B", -7200)})
)

func genTime(t *rapid.T, label string) time.Time {
	if rapid.Bool().Draw(t, label+"-zero") {
		return time.Time{}
	}
	sec := rapid.Int64Range(-1e9, 5e9).Draw(t, label+"-sec")
	nsec := rapid.Int64Range(0, 999_999_999).Draw(t, label+"-nsec")
	return time.Unix(sec, nsec).In(genZone.Draw(t, label+"-zone"))
}

func genStringMap(t *rapid.T, label string, val *rapid.Generator[string]) map[string]string {
	if rapid.IntRange(0, 4).Draw(t, label+"-nil") == 0 {
		return nil
	}
	return rapid.MapOfN(genPE, val, 0, 4).Draw(t, label)
}

// genCommand draws one command body of any type, valid or not.
func genCommand(t *rapid.T) (CommandType, any) {
	typ := CommandType(rapid.IntRange(0, int(DeleteJobType)).Draw(t, "type"))
	switch typ {
	case RegisterNodeType:
		return typ, RegisterNode{Node{Name: genName.Draw(t, "name"), RPCAddr: genText.Draw(t, "rpc"),
			Status: genNodeSt.Draw(t, "status"), Voter: rapid.Bool().Draw(t, "voter"), Since: genTime(t, "since")}}
	case NodeStatusType:
		return typ, SetNodeStatus{Name: genName.Draw(t, "name"), Status: genNodeSt.Draw(t, "status"), Since: genTime(t, "since")}
	case SubmitJobType:
		return typ, SubmitJob{Job: Job{ID: genJobID.Draw(t, "id"), Name: genText.Draw(t, "name"),
			Plan: rapid.SliceOfN(rapid.Byte(), 0, 8).Draw(t, "plan"), Origin: "file",
			Params: genStringMap(t, "params", genText), State: genJobSt.Draw(t, "state"),
			Error: genText.Draw(t, "error"), Submitted: genTime(t, "submitted"), Ended: genTime(t, "ended"),
			PlacementVersion: rapid.Uint64Range(0, 3).Draw(t, "pv")}}
	case JobStateType:
		return typ, SetJobState{ID: genJobID.Draw(t, "id"), State: genJobSt.Draw(t, "state"),
			Error: genText.Draw(t, "error"), At: genTime(t, "at")}
	case PlaceType:
		var rgs []RegionGeneration
		for i := range rapid.IntRange(0, 3).Draw(t, "regions") {
			_ = i
			rgs = append(rgs, RegionGeneration{Index: genRegion.Draw(t, "index"), Generation: genGen.Draw(t, "gen")})
		}
		return typ, Place{Job: genJobID.Draw(t, "job"), Placements: genStringMap(t, "placements", genName), Regions: rgs}
	case BeginEpochType:
		return typ, BeginEpoch{Job: genJobID.Draw(t, "job"), Region: genRegion.Draw(t, "region"),
			Epoch: genEpoch.Draw(t, "epoch"), Generation: genGen.Draw(t, "gen")}
	case CommitEpochType:
		return typ, CommitEpoch{Job: genJobID.Draw(t, "job"), Region: genRegion.Draw(t, "region"),
			Epoch: genEpoch.Draw(t, "epoch"), Generation: genGen.Draw(t, "gen"),
			Manifest: genStringMap(t, "manifest", genText), At: genTime(t, "at")}
	case NewGenerationType:
		return typ, NewGeneration{Job: genJobID.Draw(t, "job"), Region: genRegion.Draw(t, "region"),
			Generation: genGen.Draw(t, "gen"), Attempts: genCount.Draw(t, "attempts"), Reason: genText.Draw(t, "reason")}
	case RegionStateType:
		return typ, RegionState{Job: genJobID.Draw(t, "job"), Region: genRegion.Draw(t, "region"),
			State:    rapid.SampledFrom([]string{"", "processing", "resetting"}).Draw(t, "state"),
			Attempts: genCount.Draw(t, "attempts"), LastError: genText.Draw(t, "error")}
	default:
		return DeleteJobType, DeleteJob{ID: genJobID.Draw(t, "id")}
	}
}

// genNear draws a command aimed at the current state st: it picks existing jobs and regions and epochs and
// generations next to the current ones, so that most commands are plausible and the accept/reject boundary
// of every rule (epoch == committed, generation == current ± 1) is hit often.
func genNear(t *rapid.T, st *State) (CommandType, any) {
	jobs := st.Jobs()
	job := genJobID.Draw(t, "job")
	if len(jobs) > 0 && rapid.IntRange(0, 9).Draw(t, "existing-job") < 8 {
		job = jobs[rapid.IntRange(0, len(jobs)-1).Draw(t, "job-index")].ID
	}
	ri := rapid.IntRange(0, 2).Draw(t, "region")
	r, _ := st.Region(job, ri)
	near := func(v uint64, label string) uint64 {
		d := rapid.SampledFrom([]int{-1, 0, 0, 0, 1, 2}).Draw(t, label)
		if d < 0 && v == 0 {
			return 0
		}
		return uint64(int64(v) + int64(d))
	}
	switch rapid.IntRange(0, 9).Draw(t, "kind") {
	case 0:
		return SubmitJobType, SubmitJob{Job: Job{ID: genJobID.Draw(t, "id"), Plan: []byte("p"), Submitted: genTime(t, "at")}}
	case 1:
		return PlaceType, Place{Job: job, Placements: genStringMap(t, "placements", rapid.SampledFrom([]string{"n1", "n2"})),
			Regions: []RegionGeneration{{Index: ri, Generation: near(r.Generation, "gen")}}}
	case 2, 3:
		return BeginEpochType, BeginEpoch{Job: job, Region: ri, Epoch: near(r.Started, "epoch"), Generation: near(r.Generation, "gen")}
	case 4, 5:
		return CommitEpochType, CommitEpoch{Job: job, Region: ri, Epoch: near(r.Committed, "epoch"), Generation: near(r.Generation, "gen"),
			Manifest: genStringMap(t, "manifest", genText), At: genTime(t, "at")}
	case 6:
		return NewGenerationType, NewGeneration{Job: job, Region: ri, Generation: near(r.Generation, "gen"),
			Attempts: genCount.Draw(t, "attempts"), Reason: genText.Draw(t, "reason")}
	case 7:
		return RegionStateType, RegionState{Job: job, Region: ri, State: "processing", Attempts: genCount.Draw(t, "attempts")}
	case 8:
		return JobStateType, SetJobState{ID: job, State: genJobSt.Draw(t, "state"), At: genTime(t, "at")}
	default:
		return DeleteJobType, DeleteJob{ID: job}
	}
}

// genEntry draws a log entry for a replica in state st: a command aimed at the state, or any command at all,
// and sometimes damaged.
func genEntry(t *rapid.T, st *State) []byte {
	var typ CommandType
	var body any
	if rapid.IntRange(0, 2).Draw(t, "aimed") > 0 {
		typ, body = genNear(t, st)
	} else {
		typ, body = genCommand(t)
	}
	data, err := Encode(typ, body)
	if err != nil {
		t.Fatalf("Encode: %v", err)
	}
	switch rapid.IntRange(0, 29).Draw(t, "damage") {
	case 0: // truncated
		return data[:rapid.IntRange(0, len(data)-1).Draw(t, "cut")]
	case 1: // one byte of the body flipped: may still decode, into something else
		i := rapid.IntRange(1, len(data)-1).Draw(t, "flip")
		data[i] ^= byte(rapid.IntRange(1, 255).Draw(t, "mask"))
	case 2: // garbage appended
		data = append(data, rapid.SliceOfN(rapid.Byte(), 1, 4).Draw(t, "garbage")...)
	}
	return data
}

// genLog draws n entries, applying each to f as it goes (so that later entries aim at the state earlier ones
// made), and returns them.
func genLog(t *rapid.T, f *FSM, min, max int, label string) [][]byte {
	n := rapid.IntRange(min, max).Draw(t, label+"-len")
	log := make([][]byte, 0, n)
	for range n {
		data := genEntry(t, f.State())
		applyAt(f, f.State().Index()+1, data)
		log = append(log, data)
	}
	return log
}

func applyAt(f *FSM, index uint64, data []byte) any {
	return f.Apply(&raft.Log{Index: index, Type: raft.LogCommand, Data: data})
}

func respString(r any) string {
	if r == nil {
		return "<nil>"
	}
	return r.(error).Error()
}

// TestRapidDeterminism: two replicas applying the same log, valid and invalid entries mixed, give the same
// responses and end in equal states that persist to identical bytes; every rejected entry changes nothing.
func TestRapidDeterminism(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		log := genLog(t, New(), 1, 300, "log")
		a, b := New(), New()
		for i, data := range log {
			index := uint64(i + 1)
			before := tablesOf(a)
			ra := applyAt(a, index, data)
			rb := applyAt(b, index, data)
			if respString(ra) != respString(rb) {
				t.Fatalf("entry %d: responses differ: %v / %v", i, ra, rb)
			}
			if ra != nil {
				if _, ok := ra.(*ApplyError); !ok {
					t.Fatalf("entry %d: response %T, want *ApplyError", i, ra)
				}
				after := tablesOf(a)
				after.index = before.index
				if d := diffTables(before, after); d != nil {
					t.Fatalf("entry %d rejected (%v) but changed the state: %v", i, ra, d)
				}
			}
		}
		if a.Fatal() != nil {
			t.Fatalf("fatal without an unknown type: %v", a.Fatal())
		}
		if d := diffTables(tablesOf(a), tablesOf(b)); d != nil {
			t.Fatalf("replicas diverged: %v", d)
		}
		if !bytes.Equal(persist(t, a), persist(t, b)) {
			t.Fatal("equal states persisted different bytes")
		}
	})
}

// TestRapidSnapshotRoundTrip: restoring a persisted snapshot gives back the state exactly, whatever the
// restoring FSM held before, and the restored FSM goes on exactly like the original.
func TestRapidSnapshotRoundTrip(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		orig := New()
		log := genLog(t, orig, 0, 200, "log")
		snap := persist(t, orig)
		// An FSM with some unrelated state, which Restore must discard.
		other := New()
		genLog(t, other, 0, 50, "other")
		// Entries that continue the original log.
		more := genLog(t, seededFrom(t, snap), 0, 50, "more")
		for _, f := range []*FSM{New(), other} {
			if err := restoreBytes(f, snap); err != nil {
				t.Fatalf("Restore: %v", err)
			}
			if d := diffTables(tablesOf(orig), tablesOf(f)); d != nil {
				t.Fatalf("restored state differs: %v", d)
			}
			if !bytes.Equal(snap, persist(t, f)) {
				t.Fatal("restored state persists different bytes")
			}
		}
		// Both continue identically.
		restored := New()
		if err := restoreBytes(restored, snap); err != nil {
			t.Fatal(err)
		}
		for i, data := range more {
			index := uint64(len(log) + i + 1)
			if ra, rb := applyAt(orig, index, data), applyAt(restored, index, data); respString(ra) != respString(rb) {
				t.Fatalf("after restore, entry %d: %v / %v", i, ra, rb)
			}
		}
		if d := diffTables(tablesOf(orig), tablesOf(restored)); d != nil {
			t.Fatalf("diverged after restore: %v", d)
		}
	})
}

// seededFrom returns a new FSM restored from snap.
func seededFrom(t tb, snap []byte) *FSM {
	f := New()
	if err := restoreBytes(f, snap); err != nil {
		t.Fatalf("Restore: %v", err)
	}
	return f
}

// TestRapidCorruptSnapshot: a truncated or damaged snapshot either fails and leaves the state alone, or (a
// damaged byte inside a string, say) restores some valid state; it never panics.
func TestRapidCorruptSnapshot(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		src := New()
		genLog(t, src, 1, 100, "log")
		snap := persist(t, src)
		f := seeded(t)
		before := tablesOf(f)
		watch := f.State().Watch()
		var bad []byte
		if rapid.Bool().Draw(t, "truncate") {
			bad = snap[:rapid.IntRange(0, len(snap)-1).Draw(t, "cut")]
		} else {
			bad = bytes.Clone(snap)
			i := rapid.IntRange(0, len(bad)-1).Draw(t, "flip")
			bad[i] ^= byte(rapid.IntRange(1, 255).Draw(t, "mask"))
		}
		err := restoreBytes(f, bad)
		if err == nil {
			if len(bad) < len(snap) {
				t.Fatal("truncated snapshot restored")
			}
			if !closed(watch) {
				t.Fatal("successful restore did not fire Watch")
			}
			return
		}
		if d := diffTables(before, tablesOf(f)); d != nil {
			t.Fatalf("failed restore (%v) changed the state: %v", err, d)
		}
		if closed(watch) {
			t.Fatal("failed restore fired Watch")
		}
	})
}
