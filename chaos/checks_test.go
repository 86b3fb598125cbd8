package chaos

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/weirstream/weir/agent/api"
)

const (
	tCount = 40
	tKeys  = 3
)

// writeEO writes an exactly-once output: for each epoch, its records as published files.
func writeEO(t *testing.T, epochs map[uint64][]Record) string {
	t.Helper()
	dir := t.TempDir()
	if err := os.Mkdir(filepath.Join(dir, "_staging"), 0o755); err != nil {
		t.Fatal(err)
	}
	for e, recs := range epochs {
		var b strings.Builder
		for _, r := range recs {
			fmt.Fprintf(&b, `{"count":%d,"k":%d,"sum":%d,"v":%d}`+"\n", r.Count, r.K, r.Sum, r.V)
		}
		name := fmt.Sprintf("part-0-%020d.jsonl", e)
		if err := os.WriteFile(filepath.Join(dir, name), []byte(b.String()), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// goodEpochs is a fault-free output: values 0..tCount-1 over epochs 1..4.
func goodEpochs() map[uint64][]Record {
	out := map[uint64][]Record{}
	for v := 0; v < tCount; v++ {
		e := uint64(v/10 + 1)
		out[e] = append(out[e], Expected(v, tKeys))
	}
	return out
}

func readEO(t *testing.T, dir string) *EOOutput {
	t.Helper()
	eo, err := ReadEO(dir, tCount, tKeys)
	if err != nil {
		t.Fatal(err)
	}
	return eo
}

// history is a fault-free history: epochs 1..4 committed a second apart, read from the leader between.
func history() []Entry {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	var out []Entry
	for e := uint64(1); e <= 4; e++ {
		at := t0.Add(time.Duration(e) * time.Second)
		out = append(out,
			Entry{Time: at.Add(-20 * time.Millisecond), Type: TypeEvent, Kind: api.EvRegionDraining, Node: "n1", Job: "j", Epoch: e, Gen: 1},
			Entry{Time: at, Type: TypeEvent, Kind: api.EvEpochCommitted, Node: "n1", Job: "j", Epoch: e, Gen: 1},
			Entry{Time: at.Add(50 * time.Millisecond), Type: TypeCommitted, Job: "j", Epoch: e, Gen: 1, Since: at.Add(-100 * time.Millisecond)})
	}
	return out
}

func expectPass(t *testing.T, c Check) {
	t.Helper()
	if !c.Pass {
		t.Fatalf("%s failed: %s", c.Name, c.Detail)
	}
}

func expectFail(t *testing.T, c Check, why string) {
	t.Helper()
	if c.Pass {
		t.Fatalf("%s passed (%s), want a failure: %s", c.Name, c.Detail, why)
	}
	t.Logf("%s fails as it must: %s", c.Name, c.Detail)
}

func TestChecksPassOnAFaultFreeRun(t *testing.T) {
	eo := readEO(t, writeEO(t, goodEpochs()))
	expectPass(t, ExactlyOnce(eo, tCount))
	expectPass(t, PerKeyState(eo, tCount, tKeys))
	expectPass(t, EpochsIncreasing(history(), "j"))
	expectPass(t, NoFencedOutput(eo, history(), "j", 0, 4, time.Second))
	expectPass(t, JobFinished("finished", ""))
}

func TestExactlyOnceFailsOnAMissingRecord(t *testing.T) {
	ep := goodEpochs()
	ep[2] = ep[2][1:]
	expectFail(t, ExactlyOnce(readEO(t, writeEO(t, ep)), tCount), "value 10 is missing")
}

func TestExactlyOnceFailsOnADuplicate(t *testing.T) {
	ep := goodEpochs()
	ep[3] = append(ep[3], ep[2][4])
	expectFail(t, ExactlyOnce(readEO(t, writeEO(t, ep)), tCount), "value 14 is published twice")
}

func TestPerKeyStateFailsOnAWrongRunningCount(t *testing.T) {
	ep := goodEpochs()
	r := ep[2][3]
	r.Count++ // as if the key's state had counted a tuple twice
	ep[2][3] = r
	expectFail(t, PerKeyState(readEO(t, writeEO(t, ep)), tCount, tKeys), "a running count is off by one")
}

func TestPerKeyStateFailsOnAWrongFinalState(t *testing.T) {
	ep := goodEpochs()
	ep[4] = ep[4][:len(ep[4])-1] // the last value never reached its key's state
	expectFail(t, PerKeyState(readEO(t, writeEO(t, ep)), tCount, tKeys), "a key's final state is short")
}

func TestEpochsIncreasingFailsOnADecreasingEpoch(t *testing.T) {
	h := history()
	// A second leader commits epoch 3 after epoch 4 was committed.
	h = append(h, Entry{Time: h[len(h)-1].Time.Add(time.Second), Type: TypeEvent, Kind: api.EvEpochCommitted, Node: "n2", Job: "j", Epoch: 3, Gen: 2})
	expectFail(t, EpochsIncreasing(h, "j"), "epoch 3 committed after epoch 4")
	h = history()
	h = append(h, Entry{Time: h[len(h)-1].Time.Add(time.Second), Type: TypeEvent, Kind: api.EvEpochCommitted, Node: "n2", Job: "j", Epoch: 4, Gen: 2})
	expectFail(t, EpochsIncreasing(h, "j"), "epoch 4 committed twice")
	expectFail(t, EpochsIncreasing(nil, "j"), "no commit at all")
}

func TestNoFencedOutputFailsOnAnUncommittedEpoch(t *testing.T) {
	// Epoch 3 was abandoned (a reset), its values replayed and committed in epoch 5, and yet a file of epoch
	// 3 was published.
	ep := goodEpochs()
	ep[5] = ep[3]
	h := history()
	var kept []Entry
	for _, e := range h {
		if e.Epoch == 3 && e.Type != TypeEvent || e.Epoch == 3 && e.Kind == api.EvEpochCommitted {
			continue
		}
		if e.Epoch == 4 {
			e.Epoch = 5
		}
		kept = append(kept, e)
	}
	expectFail(t, NoFencedOutput(readEO(t, writeEO(t, ep)), kept, "j", 0, 5, time.Second), "epoch 3 was never committed")
	// A file above the final committed epoch.
	ep = goodEpochs()
	ep[9] = nil
	expectFail(t, NoFencedOutput(readEO(t, writeEO(t, ep)), history(), "j", 0, 4, time.Second), "epoch 9 is above the final epoch")
}

// An epoch no commit event shows, whose reads around it were further apart than a period, cannot be
// proved uncommitted: it passes, counted as unverifiable.
func TestNoFencedOutputToleratesAnUnseenCommit(t *testing.T) {
	h := history()
	var kept []Entry
	for _, e := range h {
		if e.Epoch == 3 && e.Type != TypeEvent || e.Epoch == 3 && e.Kind == api.EvEpochCommitted {
			continue
		}
		if e.Type == TypeCommitted && e.Epoch == 4 {
			e.Since = e.Time.Add(-3 * time.Second)
		}
		kept = append(kept, e)
	}
	c := NoFencedOutput(readEO(t, writeEO(t, goodEpochs())), kept, "j", 0, 4, time.Second)
	expectPass(t, c)
	if !strings.Contains(c.Detail, "1 not seen committed") {
		t.Fatalf("detail %q does not count the unverifiable epoch", c.Detail)
	}
}

func TestReadEORejectsForeignFiles(t *testing.T) {
	dir := writeEO(t, goodEpochs())
	if err := os.WriteFile(filepath.Join(dir, "stray.txt"), []byte("x\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "part-0-00000000000000000002.jsonl.tmp"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	expectFail(t, ExactlyOnce(readEO(t, dir), tCount), "files that are not published epochs")
}

func TestNothingLost(t *testing.T) {
	dir := t.TempDir()
	var b strings.Builder
	for v := 0; v < tCount; v++ {
		fmt.Fprintf(&b, "%d\n", v)
		if v%7 == 0 {
			fmt.Fprintf(&b, "%d\n", v) // replayed: allowed
		}
	}
	if err := os.WriteFile(filepath.Join(dir, "part-0.jsonl"), []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	alo, err := ReadALO(dir, tCount)
	if err != nil {
		t.Fatal(err)
	}
	expectPass(t, NothingLost(alo, tCount))
	if err := os.WriteFile(filepath.Join(dir, "part-0.jsonl"), []byte(strings.Replace(b.String(), "\n13\n", "\n", 1)), 0o644); err != nil {
		t.Fatal(err)
	}
	alo, _ = ReadALO(dir, tCount)
	expectFail(t, NothingLost(alo, tCount), "value 13 is missing")
}

func TestJobFinished(t *testing.T) {
	expectFail(t, JobFinished("running", ""), "still running")
	expectFail(t, JobFinished("failed", "boom"), "failed")
}

func TestRecoveryTimes(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	at := func(ms int) time.Time { return t0.Add(time.Duration(ms) * time.Millisecond) }
	h := []Entry{
		{Time: at(900), Type: TypeEvent, Kind: api.EvRegionDraining, Job: "j", Epoch: 1, Gen: 1},
		{Time: at(1000), Type: TypeEvent, Kind: api.EvEpochCommitted, Job: "j", Epoch: 1, Gen: 1},
		{Time: at(1100), Type: TypeOutput, Job: "j", Gen: 1, Consumed: 10},
		// fault at 1500: the epoch that began before it and committed after it does not count.
		{Time: at(1600), Type: TypeEvent, Kind: api.EvEpochCommitted, Job: "j", Epoch: 2, Gen: 1},
		{Time: at(1700), Type: TypeOutput, Job: "j", Gen: 1, Consumed: 20}, // old generation
		{Time: at(2000), Type: TypeEvent, Kind: api.EvRegionReset, Job: "j", Epoch: 2, Gen: 2},
		{Time: at(2500), Type: TypeOutput, Job: "j", Gen: 2, Consumed: 25},
		{Time: at(3000), Type: TypeEvent, Kind: api.EvRegionDraining, Job: "j", Epoch: 4, Gen: 2},
		{Time: at(3100), Type: TypeEvent, Kind: api.EvEpochCommitted, Job: "j", Epoch: 4, Gen: 2},
	}
	h = append(h, Entry{Time: at(1550), Type: TypeEvent, Kind: api.EvRegionDraining, Job: "j", Epoch: 2, Gen: 1})
	h[len(h)-1].Time = at(1400)
	faults := []Fault{{Kind: StepKill, Time: at(1500)}, {Kind: StepPause, Time: at(5000)}}
	recover(faults, h, "j", time.Second)
	if faults[0].ToCommit == nil || *faults[0].ToCommit != 1.6 {
		t.Fatalf("to commit %v, want 1.6 s (epoch 4 at 3.1 s)", faults[0].ToCommit)
	}
	if faults[0].ToOutput == nil || *faults[0].ToOutput != 1.0 {
		t.Fatalf("to output %v, want 1.0 s (generation 2's first output at 2.5 s)", faults[0].ToOutput)
	}
	if faults[1].ToCommit != nil || faults[1].ToOutput != nil {
		t.Fatalf("a fault after everything recovered: %v %v", faults[1].ToCommit, faults[1].ToOutput)
	}
	s := summarize(faults)
	if s.Overall.Faults != 2 || s.Overall.NoCommitAfter != 1 || s.ByKind[StepKill].CommitMax != 1.6 {
		t.Fatalf("summary %+v", s)
	}
}
