package fsm

import (
	"errors"
	"maps"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/go-msgpack/v2/codec"
	"github.com/hashicorp/raft"
)

var (
	t0 = time.Date(2025, 1, 2, 3, 4, 5, 6, time.UTC)
	t1 = t0.Add(time.Minute)
	t2 = t0.Add(time.Hour)
)

// seeded returns an FSM holding:
//   - nodes n1 (alive, voter) and n2 (failed);
//   - job j1, running: placements pe1->n1, pe2->n2 (PlacementVersion 1); region 0 at generation 1 with epoch 1
//     committed (manifest pe1->ref1), started 1, attempts 2 (set after the commit); region 1 at generation 1;
//   - job j2, finished, with a placement and a region (so DeleteJob has something to remove).
func seeded(tb tb) *FSM {
	tb.Helper()
	f := New()
	mustApply(tb, f, RegisterNodeType, RegisterNode{Node{Name: "n1", RPCAddr: "10.0.0.1:7001", Status: NodeAlive, Voter: true, Since: t0}})
	mustApply(tb, f, RegisterNodeType, RegisterNode{Node{Name: "n2", RPCAddr: "10.0.0.2:7001", Status: NodeFailed, Since: t0}})
	mustApply(tb, f, SubmitJobType, SubmitJob{Job: Job{ID: "j1", Name: "wordcount", Plan: []byte("plan"), Origin: "file",
		Params: map[string]string{"k": "v"}, Submitted: t0}})
	mustApply(tb, f, PlaceType, Place{Job: "j1", Placements: map[string]string{"pe1": "n1", "pe2": "n2"},
		Regions: []RegionGeneration{{0, 1}, {1, 1}}})
	mustApply(tb, f, BeginEpochType, BeginEpoch{Job: "j1", Region: 0, Epoch: 1, Generation: 1})
	mustApply(tb, f, CommitEpochType, CommitEpoch{Job: "j1", Region: 0, Epoch: 1, Generation: 1,
		Manifest: map[string]string{"pe1": "ref1"}, At: t0})
	mustApply(tb, f, RegionStateType, RegionState{Job: "j1", Region: 0, State: "processing", Attempts: 2})
	mustApply(tb, f, SubmitJobType, SubmitJob{Job: Job{ID: "j2", Origin: "go", GoJob: "demo", Submitted: t0}})
	mustApply(tb, f, PlaceType, Place{Job: "j2", Placements: map[string]string{"pe1": "n1"}, Regions: []RegionGeneration{{0, 1}}})
	mustApply(tb, f, JobStateType, SetJobState{ID: "j2", State: JobFinished, At: t1})
	return f
}

func TestSeededState(t *testing.T) {
	st := seeded(t).State()
	if got := st.Index(); got != 10 {
		t.Errorf("Index = %d, want 10", got)
	}
	j, _ := st.Job("j1")
	if j.State != JobRunning || j.PlacementVersion != 1 || string(j.Plan) != "plan" || j.Params["k"] != "v" {
		t.Errorf("j1 = %+v", j)
	}
	want := Region{Index: 0, State: "processing", Committed: 1, Started: 1, Generation: 1, Attempts: 2, Commits: 1,
		LastCheckpoint: t0, Manifest: map[string]string{"pe1": "ref1"}}
	if r, ok := st.Region("j1", 0); !ok || !reflect.DeepEqual(r, want) {
		t.Errorf("j1 region 0 = %+v, want %+v", r, want)
	}
	if got := st.PlacementList("j1"); !reflect.DeepEqual(got, []Placement{{"pe1", "n1"}, {"pe2", "n2"}}) {
		t.Errorf("PlacementList = %v", got)
	}
	if got := st.Nodes(); len(got) != 2 || got[0].Name != "n1" || got[1].Name != "n2" {
		t.Errorf("Nodes = %+v", got)
	}
	if got := st.Jobs(); len(got) != 2 || got[0].ID != "j1" || got[1].ID != "j2" {
		t.Errorf("Jobs = %+v", got)
	}
}

type applyCase struct {
	name    string
	typ     CommandType
	body    any
	wantErr error                    // nil: accepted
	check   func(*testing.T, *State) // effects of an accepted command
}

func runApplyCases(t *testing.T, cases []applyCase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := seeded(t)
			before := tablesOf(f)
			watch := f.State().Watch()
			err := applyRaw(f, entry(t, tc.typ, tc.body))
			after := tablesOf(f)
			if after.index != before.index+1 {
				t.Errorf("index %d -> %d, want +1 whether accepted or not", before.index, after.index)
			}
			if tc.wantErr != nil {
				var ae *ApplyError
				if !errors.As(err, &ae) || !errors.Is(err, tc.wantErr) {
					t.Fatalf("response %v, want an *ApplyError wrapping %v", err, tc.wantErr)
				}
				if ae.Command != tc.typ || ae.Index != after.index {
					t.Errorf("ApplyError names %s at %d, want %s at %d", ae.Command, ae.Index, tc.typ, after.index)
				}
				after.index = before.index
				if d := diffTables(before, after); d != nil {
					t.Errorf("rejected command changed the state: %v", d)
				}
				if closed(watch) {
					t.Error("rejected command fired Watch")
				}
				return
			}
			if err != nil {
				t.Fatalf("rejected: %v", err)
			}
			if !closed(watch) {
				t.Error("accepted command did not fire Watch")
			}
			if tc.check != nil {
				tc.check(t, f.State())
			}
		})
	}
}

func region(t *testing.T, st *State, job string, i int) Region {
	t.Helper()
	r, ok := st.Region(job, i)
	if !ok {
		t.Fatalf("no region %d of %s", i, job)
	}
	return r
}

func TestApplyNodes(t *testing.T) {
	runApplyCases(t, []applyCase{
		{name: "register new, empty status means alive", typ: RegisterNodeType,
			body: RegisterNode{Node{Name: "n3", GossipAddr: "g3", Since: t1.In(time.FixedZone("X", 3600))}},
			check: func(t *testing.T, st *State) {
				n, ok := st.Node("n3")
				want := Node{Name: "n3", GossipAddr: "g3", Status: NodeAlive, Since: t1}
				if !ok || n != want {
					t.Errorf("n3 = %+v, want %+v (time normalized to UTC)", n, want)
				}
				if got := len(st.Nodes()); got != 3 {
					t.Errorf("%d nodes", got)
				}
			}},
		{name: "register replaces the whole record", typ: RegisterNodeType,
			body: RegisterNode{Node{Name: "n1", Status: NodeLeft}},
			check: func(t *testing.T, st *State) {
				if n, _ := st.Node("n1"); n != (Node{Name: "n1", Status: NodeLeft}) {
					t.Errorf("n1 = %+v: older fields kept", n)
				}
			}},
		{name: "register empty name", typ: RegisterNodeType, body: RegisterNode{Node{RPCAddr: "x"}}, wantErr: ErrInvalid},
		{name: "register bad status", typ: RegisterNodeType, body: RegisterNode{Node{Name: "n3", Status: "zombie"}}, wantErr: ErrInvalid},
		{name: "status", typ: NodeStatusType, body: &SetNodeStatus{Name: "n1", Status: NodeFailed, Since: t2},
			check: func(t *testing.T, st *State) {
				n, _ := st.Node("n1")
				if n.Status != NodeFailed || !n.Since.Equal(t2) || n.RPCAddr != "10.0.0.1:7001" || !n.Voter {
					t.Errorf("n1 = %+v", n)
				}
			}},
		{name: "status of unknown node", typ: NodeStatusType, body: SetNodeStatus{Name: "n9", Status: NodeFailed}, wantErr: ErrNotFound},
		{name: "status invalid", typ: NodeStatusType, body: SetNodeStatus{Name: "n1", Status: "sleepy"}, wantErr: ErrInvalid},
		{name: "status empty", typ: NodeStatusType, body: SetNodeStatus{Name: "n1"}, wantErr: ErrInvalid},
	})
}

func TestApplyJobs(t *testing.T) {
	runApplyCases(t, []applyCase{
		{name: "submit forces a fresh running job", typ: SubmitJobType,
			body: SubmitJob{Job: Job{ID: "j3", Name: "x", State: JobFailed, Error: "old", Ended: t2, PlacementVersion: 9,
				Params: map[string]string{}, Plan: []byte{}, Submitted: t1}},
			check: func(t *testing.T, st *State) {
				j, ok := st.Job("j3")
				want := Job{ID: "j3", Name: "x", State: JobRunning, Submitted: t1}
				if !ok || !reflect.DeepEqual(j, want) {
					t.Errorf("j3 = %+v, want %+v", j, want)
				}
			}},
		{name: "submit existing ID", typ: SubmitJobType, body: SubmitJob{Job: Job{ID: "j1"}}, wantErr: ErrExists},
		{name: "submit ID of a terminal job", typ: SubmitJobType, body: SubmitJob{Job: Job{ID: "j2"}}, wantErr: ErrExists},
		{name: "submit empty ID", typ: SubmitJobType, body: SubmitJob{Job: Job{Name: "x"}}, wantErr: ErrInvalid},
		{name: "finish", typ: JobStateType, body: SetJobState{ID: "j1", State: JobFinished, At: t2},
			check: func(t *testing.T, st *State) {
				if j, _ := st.Job("j1"); j.State != JobFinished || !j.Ended.Equal(t2) || j.Error != "" {
					t.Errorf("j1 = %+v", j)
				}
			}},
		{name: "fail with error", typ: JobStateType, body: SetJobState{ID: "j1", State: JobFailed, Error: "boom", At: t2},
			check: func(t *testing.T, st *State) {
				if j, _ := st.Job("j1"); j.State != JobFailed || j.Error != "boom" {
					t.Errorf("j1 = %+v", j)
				}
			}},
		{name: "cancel", typ: JobStateType, body: SetJobState{ID: "j1", State: JobCancelled, At: t2},
			check: func(t *testing.T, st *State) {
				if j, _ := st.Job("j1"); j.State != JobCancelled {
					t.Errorf("j1 = %+v", j)
				}
			}},
		{name: "state to running", typ: JobStateType, body: SetJobState{ID: "j1", State: JobRunning}, wantErr: ErrInvalid},
		{name: "state unknown value", typ: JobStateType, body: SetJobState{ID: "j1", State: "paused"}, wantErr: ErrInvalid},
		{name: "terminal job never changes", typ: JobStateType, body: SetJobState{ID: "j2", State: JobFailed}, wantErr: ErrTransition},
		{name: "terminal job not even to itself", typ: JobStateType, body: SetJobState{ID: "j2", State: JobFinished}, wantErr: ErrTransition},
		{name: "state of unknown job", typ: JobStateType, body: SetJobState{ID: "j9", State: JobFailed}, wantErr: ErrNotFound},
		{name: "delete terminal job with its placements and regions", typ: DeleteJobType, body: DeleteJob{ID: "j2"},
			check: func(t *testing.T, st *State) {
				if _, ok := st.Job("j2"); ok {
					t.Error("j2 still there")
				}
				if st.Placements("j2") != nil || st.Regions("j2") != nil {
					t.Error("j2 placements or regions still there")
				}
				if _, ok := st.Job("j1"); !ok {
					t.Error("j1 gone")
				}
			}},
		{name: "delete running job", typ: DeleteJobType, body: DeleteJob{ID: "j1"}, wantErr: ErrTransition},
		{name: "delete unknown job", typ: DeleteJobType, body: DeleteJob{ID: "j9"}, wantErr: ErrNotFound},
	})
}

func TestApplyPlace(t *testing.T) {
	runApplyCases(t, []applyCase{
		{name: "replaces placements, bumps version, sets and grows regions", typ: PlaceType,
			body: Place{Job: "j1", Placements: map[string]string{"pe1": "n2", "pe3": "n1"},
				Regions: []RegionGeneration{{1, 3}, {3, 2}}},
			check: func(t *testing.T, st *State) {
				if got := st.Placements("j1"); !reflect.DeepEqual(got, map[string]string{"pe1": "n2", "pe3": "n1"}) {
					t.Errorf("placements = %v", got)
				}
				if j, _ := st.Job("j1"); j.PlacementVersion != 2 {
					t.Errorf("PlacementVersion = %d, want 2", j.PlacementVersion)
				}
				rs := st.Regions("j1")
				want := []uint64{1, 3, 0, 2}
				if len(rs) != len(want) {
					t.Fatalf("%d regions, want %d", len(rs), len(want))
				}
				for i, r := range rs {
					if r.Index != i || r.Generation != want[i] {
						t.Errorf("region %d = %+v, want index %d generation %d", i, r, i, want[i])
					}
				}
				if rs[0].Committed != 1 || rs[0].Manifest["pe1"] != "ref1" {
					t.Errorf("unlisted region 0 changed: %+v", rs[0])
				}
			}},
		{name: "same generation and no placements", typ: PlaceType,
			body: Place{Job: "j1", Placements: map[string]string{}, Regions: []RegionGeneration{{0, 1}}},
			check: func(t *testing.T, st *State) {
				if got := st.Placements("j1"); got != nil {
					t.Errorf("placements = %v, want nil", got)
				}
				if j, _ := st.Job("j1"); j.PlacementVersion != 2 {
					t.Errorf("PlacementVersion = %d", j.PlacementVersion)
				}
			}},
		{name: "generation down", typ: PlaceType, body: Place{Job: "j1", Regions: []RegionGeneration{{0, 0}}}, wantErr: ErrStale},
		{name: "generation down within the command, after a valid entry", typ: PlaceType,
			body: Place{Job: "j1", Placements: map[string]string{"pe1": "n2"}, Regions: []RegionGeneration{{1, 5}, {2, 1}, {1, 4}}}, wantErr: ErrStale},
		{name: "unknown job", typ: PlaceType, body: Place{Job: "j9"}, wantErr: ErrNotFound},
		{name: "terminal job", typ: PlaceType, body: Place{Job: "j2"}, wantErr: ErrTransition},
		{name: "empty node", typ: PlaceType, body: Place{Job: "j1", Placements: map[string]string{"pe1": ""}}, wantErr: ErrInvalid},
		{name: "empty PE", typ: PlaceType, body: Place{Job: "j1", Placements: map[string]string{"": "n1"}}, wantErr: ErrInvalid},
		{name: "negative region", typ: PlaceType, body: Place{Job: "j1", Regions: []RegionGeneration{{-1, 1}}}, wantErr: ErrInvalid},
		{name: "region too high", typ: PlaceType, body: Place{Job: "j1", Regions: []RegionGeneration{{MaxRegions, 1}}}, wantErr: ErrInvalid},
	})
}

func TestApplyEpochs(t *testing.T) {
	runApplyCases(t, []applyCase{
		{name: "begin raises Started", typ: BeginEpochType, body: BeginEpoch{Job: "j1", Region: 0, Epoch: 5, Generation: 1},
			check: func(t *testing.T, st *State) {
				if r := region(t, st, "j1", 0); r.Started != 5 || r.Committed != 1 {
					t.Errorf("region = %+v", r)
				}
			}},
		{name: "begin below Started keeps the max", typ: BeginEpochType, body: BeginEpoch{Job: "j1", Region: 1, Epoch: 1, Generation: 1},
			check: func(t *testing.T, st *State) {
				if r := region(t, st, "j1", 1); r.Started != 1 {
					t.Errorf("region = %+v", r)
				}
			}},
		{name: "begin on a new region grows the slice", typ: BeginEpochType, body: BeginEpoch{Job: "j1", Region: 3, Epoch: 1},
			check: func(t *testing.T, st *State) {
				rs := st.Regions("j1")
				if len(rs) != 4 || rs[2].Index != 2 || rs[3].Started != 1 || rs[3].Index != 3 {
					t.Errorf("regions = %+v", rs)
				}
			}},
		{name: "begin epoch 0", typ: BeginEpochType, body: BeginEpoch{Job: "j1", Epoch: 0, Generation: 1}, wantErr: ErrInvalid},
		{name: "begin stale generation", typ: BeginEpochType, body: BeginEpoch{Job: "j1", Epoch: 2, Generation: 0}, wantErr: ErrStale},
		{name: "begin future generation", typ: BeginEpochType, body: BeginEpoch{Job: "j1", Epoch: 2, Generation: 2}, wantErr: ErrStale},
		{name: "begin on terminal job", typ: BeginEpochType, body: BeginEpoch{Job: "j2", Epoch: 2, Generation: 1}, wantErr: ErrTransition},
		{name: "begin on unknown job", typ: BeginEpochType, body: BeginEpoch{Job: "j9", Epoch: 2}, wantErr: ErrNotFound},
		{name: "begin bad region", typ: BeginEpochType, body: BeginEpoch{Job: "j1", Region: -1, Epoch: 2, Generation: 1}, wantErr: ErrInvalid},

		{name: "commit", typ: CommitEpochType,
			body: CommitEpoch{Job: "j1", Region: 0, Epoch: 2, Generation: 1, Manifest: map[string]string{"pe1": "ref2", "pe2": "ref2b"}, At: t2},
			check: func(t *testing.T, st *State) {
				want := Region{Index: 0, State: "processing", Committed: 2, Started: 2, Generation: 1, Attempts: 0, Commits: 2,
					LastCheckpoint: t2, Manifest: map[string]string{"pe1": "ref2", "pe2": "ref2b"}}
				if r := region(t, st, "j1", 0); !reflect.DeepEqual(r, want) {
					t.Errorf("region = %+v, want %+v", r, want)
				}
			}},
		{name: "commit above Started raises it; empty manifest is nil", typ: CommitEpochType,
			body: CommitEpoch{Job: "j1", Region: 0, Epoch: 7, Generation: 1, Manifest: map[string]string{}, At: t2},
			check: func(t *testing.T, st *State) {
				if r := region(t, st, "j1", 0); r.Started != 7 || r.Committed != 7 || r.Manifest != nil {
					t.Errorf("region = %+v", r)
				}
			}},
		{name: "commit on a fresh region at generation 0", typ: CommitEpochType, body: CommitEpoch{Job: "j1", Region: 2, Epoch: 1},
			check: func(t *testing.T, st *State) {
				if r := region(t, st, "j1", 2); r.Committed != 1 || r.Commits != 1 {
					t.Errorf("region = %+v", r)
				}
			}},
		{name: "commit the committed epoch again", typ: CommitEpochType, body: CommitEpoch{Job: "j1", Epoch: 1, Generation: 1}, wantErr: ErrStale},
		{name: "commit epoch 0", typ: CommitEpochType, body: CommitEpoch{Job: "j1", Epoch: 0, Generation: 1}, wantErr: ErrStale},
		{name: "commit with old generation", typ: CommitEpochType, body: CommitEpoch{Job: "j1", Epoch: 2, Generation: 0}, wantErr: ErrStale},
		{name: "commit with newer generation", typ: CommitEpochType, body: CommitEpoch{Job: "j1", Epoch: 2, Generation: 2}, wantErr: ErrStale},
		{name: "commit on terminal job", typ: CommitEpochType, body: CommitEpoch{Job: "j2", Epoch: 2, Generation: 1}, wantErr: ErrTransition},
		{name: "commit on unknown job", typ: CommitEpochType, body: CommitEpoch{Job: "j9", Epoch: 2}, wantErr: ErrNotFound},
		{name: "commit region too high", typ: CommitEpochType, body: CommitEpoch{Job: "j1", Region: MaxRegions, Epoch: 2}, wantErr: ErrInvalid},
	})
}

func TestApplyGenerationsAndRegionState(t *testing.T) {
	runApplyCases(t, []applyCase{
		{name: "new generation", typ: NewGenerationType,
			body: NewGeneration{Job: "j1", Region: 0, Generation: 2, Attempts: 3, Reason: "pe2 lost"},
			check: func(t *testing.T, st *State) {
				r := region(t, st, "j1", 0)
				if r.Generation != 2 || r.Attempts != 3 || r.LastError != "pe2 lost" || r.Resets != 1 || r.Committed != 1 {
					t.Errorf("region = %+v", r)
				}
			}},
		{name: "new generation on a fresh region", typ: NewGenerationType, body: NewGeneration{Job: "j1", Region: 5, Generation: 1},
			check: func(t *testing.T, st *State) {
				if rs := st.Regions("j1"); len(rs) != 6 || rs[5].Generation != 1 || rs[5].Resets != 1 {
					t.Errorf("regions = %+v", rs)
				}
			}},
		{name: "new generation equal", typ: NewGenerationType, body: NewGeneration{Job: "j1", Generation: 1}, wantErr: ErrStale},
		{name: "new generation lower", typ: NewGenerationType, body: NewGeneration{Job: "j1", Generation: 0}, wantErr: ErrStale},
		{name: "new generation negative attempts", typ: NewGenerationType, body: NewGeneration{Job: "j1", Generation: 2, Attempts: -1}, wantErr: ErrInvalid},
		{name: "new generation on terminal job", typ: NewGenerationType, body: NewGeneration{Job: "j2", Generation: 2}, wantErr: ErrTransition},
		{name: "new generation on unknown job", typ: NewGenerationType, body: NewGeneration{Job: "j9", Generation: 2}, wantErr: ErrNotFound},

		{name: "region state", typ: RegionStateType,
			body: RegionState{Job: "j1", Region: 1, State: "maximum_attempts_reached", Attempts: 5, LastError: "drain timeout"},
			check: func(t *testing.T, st *State) {
				r := region(t, st, "j1", 1)
				if r.State != "maximum_attempts_reached" || r.Attempts != 5 || r.LastError != "drain timeout" || r.Generation != 1 {
					t.Errorf("region = %+v", r)
				}
			}},
		{name: "region state empty", typ: RegionStateType, body: RegionState{Job: "j1", Attempts: 1}, wantErr: ErrInvalid},
		{name: "region state negative attempts", typ: RegionStateType, body: RegionState{Job: "j1", State: "x", Attempts: -2}, wantErr: ErrInvalid},
		{name: "region state on terminal job", typ: RegionStateType, body: RegionState{Job: "j2", State: "x"}, wantErr: ErrTransition},
		{name: "region state on unknown job", typ: RegionStateType, body: RegionState{Job: "j9", State: "x"}, wantErr: ErrNotFound},
		{name: "region state bad region", typ: RegionStateType, body: RegionState{Job: "j1", Region: -3, State: "x"}, wantErr: ErrInvalid},
	})
}

func TestApplyMalformed(t *testing.T) {
	bad := map[string][]byte{
		"empty entry":          {},
		"type only":            {byte(SubmitJobType)},
		"invalid msgpack byte": {byte(CommitEpochType), 0xc1},
		"truncated body":       entry(t, SubmitJobType, SubmitJob{Job: Job{ID: "j3", Name: "x"}})[:10],
		"trailing bytes":       append(entry(t, RegisterNodeType, RegisterNode{Node{Name: "n3"}}), 0x01),
		"wrong field type":     append([]byte{byte(BeginEpochType)}, mustMsgpack(t, map[string]any{"Job": "j1", "Epoch": "five"})...),
		"string for a struct":  append([]byte{byte(PlaceType)}, mustMsgpack(t, "hello")...),
	}
	for name, data := range bad {
		t.Run(name, func(t *testing.T) {
			f := seeded(t)
			before := tablesOf(f)
			err := applyRaw(f, data)
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("response %v, want ErrMalformed", err)
			}
			if f.Fatal() != nil {
				t.Fatal("a malformed body must not be fatal")
			}
			after := tablesOf(f)
			after.index--
			if d := diffTables(before, after); d != nil {
				t.Fatal(d)
			}
			// The FSM goes on.
			mustApply(t, f, RegisterNodeType, RegisterNode{Node{Name: "n3"}})
		})
	}
}

func mustMsgpack(tb testing.TB, v any) []byte {
	tb.Helper()
	var out []byte
	if err := codec.NewEncoderBytes(&out, msgpackHandle).Encode(v); err != nil {
		tb.Fatal(err)
	}
	return out
}

func TestApplyUnknownTypeIsFatal(t *testing.T) {
	f := seeded(t)
	before := tablesOf(f)
	if closed(f.FatalCh()) {
		t.Fatal("FatalCh closed early")
	}
	err := applyRaw(f, []byte{200, 0x80})
	if !errors.Is(err, ErrUnknownCommand) {
		t.Fatalf("response %v, want ErrUnknownCommand", err)
	}
	var ae *ApplyError
	if !errors.As(err, &ae) || ae.Command != 200 || ae.Index != before.index+1 {
		t.Fatalf("response %#v", err)
	}
	if !strings.Contains(err.Error(), "older than the cluster") {
		t.Errorf("message %q does not say why", err)
	}
	if f.Fatal() != err || !closed(f.FatalCh()) {
		t.Fatal("Fatal not recorded")
	}
	// Every later entry is ignored, valid or not, and answered with the fatal error.
	for _, data := range [][]byte{
		entry(t, RegisterNodeType, RegisterNode{Node{Name: "n9"}}),
		entry(t, DeleteJobType, DeleteJob{ID: "j2"}),
		{byte(CommitEpochType), 0xc1},
	} {
		if got := f.Apply(&raft.Log{Index: before.index + 5, Data: data}); got != err {
			t.Errorf("later entry answered %v", got)
		}
	}
	if d := diffTables(before, tablesOf(f)); d != nil {
		t.Errorf("state changed after the fatal entry: %v", d)
	}
	if _, err := f.Snapshot(); !errors.Is(err, ErrUnknownCommand) {
		t.Errorf("Snapshot of a fatal FSM: %v", err)
	}
	if err := restoreBytes(f, persist(t, seeded(t))); !errors.Is(err, ErrUnknownCommand) {
		t.Errorf("Restore into a fatal FSM: %v", err)
	}
}

func TestEncode(t *testing.T) {
	if _, err := Encode(CommitEpochType, BeginEpoch{}); err == nil {
		t.Error("mismatched body accepted")
	}
	if _, err := Encode(CommandType(99), BeginEpoch{}); !errors.Is(err, ErrUnknownCommand) {
		t.Errorf("unknown type: %v", err)
	}
	a, err := Encode(PlaceType, Place{Job: "j", Placements: map[string]string{"b": "1", "a": "2", "c": "3"}})
	if err != nil {
		t.Fatal(err)
	}
	b, err := Encode(PlaceType, &Place{Job: "j", Placements: map[string]string{"c": "3", "a": "2", "b": "1"}})
	if err != nil {
		t.Fatal(err)
	}
	if string(a) != string(b) || a[0] != byte(PlaceType) {
		t.Error("equal commands encode differently")
	}
	typ, body, err := decodeCommand(a)
	if err != nil || typ != PlaceType || !maps.Equal(body.(*Place).Placements, map[string]string{"a": "2", "b": "1", "c": "3"}) {
		t.Errorf("decode: %v %v %+v", typ, err, body)
	}
	for typ := range CommandType(255) {
		if (newBody(typ) != nil) != (int(typ) < len(commandNames)) || (newBody(typ) != nil && strings.HasPrefix(typ.String(), "command-type")) {
			t.Errorf("type %d: body and name lists disagree", typ)
		}
	}
}

func TestReadAPIReturnsCopies(t *testing.T) {
	f := seeded(t)
	st := f.State()
	before := tablesOf(f)
	j, _ := st.Job("j1")
	j.Plan[0] = 'X'
	j.Params["k"] = "changed"
	st.Jobs()[0].Params["k"] = "changed"
	st.Placements("j1")["pe1"] = "n9"
	st.Regions("j1")[0].Manifest["pe1"] = "x"
	r, _ := st.Region("j1", 0)
	r.Manifest["pe1"] = "y"
	if d := diffTables(before, tablesOf(f)); d != nil {
		t.Fatalf("read API leaked internal memory: %v", d)
	}
	if _, ok := st.Region("j1", 7); ok {
		t.Error("region 7 reported")
	}
	if _, ok := st.Region("j1", -1); ok {
		t.Error("region -1 reported")
	}
	if _, ok := st.Node("n9"); ok {
		t.Error("node n9 reported")
	}
}

// A job and its placement are one entry: never a job without one.
func TestSubmitJobWithPlacements(t *testing.T) {
	f := New()
	mustApply(t, f, SubmitJobType, SubmitJob{Job: Job{ID: "j"}, Placements: map[string]string{"pe1": "n1", "pe2": "n2"}})
	st := f.State()
	if j, _ := st.Job("j"); j.PlacementVersion != 1 {
		t.Fatalf("placement version %d, want 1", j.PlacementVersion)
	}
	if p := st.Placements("j"); p["pe1"] != "n1" || p["pe2"] != "n2" {
		t.Fatalf("placements %v", p)
	}
	before := st.Jobs()
	if err := applyRaw(f, entry(t, SubmitJobType, SubmitJob{Job: Job{ID: "k"}, Placements: map[string]string{"pe": ""}})); err == nil {
		t.Fatal("an empty node name was accepted")
	}
	if len(st.Jobs()) != len(before) {
		t.Fatal("a rejected submission changed the state")
	}
}
