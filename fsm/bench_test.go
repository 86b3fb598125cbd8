package fsm

import (
	"fmt"
	"testing"

	"github.com/hashicorp/raft"
)

// BenchmarkApplyCommitEpoch measures Apply of the most frequent command in steady state: decode, validate,
// copy-on-write of the job's region slice, Watch notification. Commands are encoded before the timer runs;
// every batch of epochs runs against a fresh FSM because an epoch can be committed only once.
func BenchmarkApplyCommitEpoch(b *testing.B) {
	const batch = 4096
	manifest := map[string]string{}
	for i := range 8 {
		manifest[fmt.Sprintf("pe%d", i)] = fmt.Sprintf("node%d/ckpt/pe%d/000123", i%3, i)
	}
	cmds := make([][]byte, batch)
	for i := range cmds {
		cmds[i] = entry(b, CommitEpochType, CommitEpoch{Job: "job-0001", Region: 1, Epoch: uint64(i + 1), Generation: 1,
			Manifest: manifest, At: t0})
	}
	fresh := func() *FSM {
		f := New()
		mustApply(b, f, SubmitJobType, SubmitJob{Job: Job{ID: "job-0001", Plan: make([]byte, 4096), Submitted: t0}})
		mustApply(b, f, PlaceType, Place{Job: "job-0001", Placements: manifest, Regions: []RegionGeneration{{0, 1}, {1, 1}, {2, 1}}})
		return f
	}
	f := fresh()
	l := &raft.Log{Type: raft.LogCommand}
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		if i%batch == 0 && i > 0 {
			b.StopTimer()
			f = fresh()
			b.StartTimer()
		}
		l.Index, l.Data = uint64(i+3), cmds[i%batch]
		if resp := f.Apply(l); resp != nil {
			b.Fatal(resp)
		}
	}
}
