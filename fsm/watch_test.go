package fsm

import (
	"sync"
	"testing"
	"time"
)

func TestWatch(t *testing.T) {
	f := seeded(t)
	st := f.State()
	w1 := st.Watch()
	if closed(w1) {
		t.Fatal("fresh watch channel closed")
	}
	if st.Watch() != w1 {
		t.Fatal("Watch without a change returned a new channel")
	}
	mustApply(t, f, PlaceType, Place{Job: "j1", Placements: map[string]string{"pe1": "n2"}})
	if !closed(w1) {
		t.Fatal("accepted command did not close the channel")
	}
	w2 := st.Watch()
	if closed(w2) {
		t.Fatal("replacement channel already closed")
	}
	if err := applyRaw(f, entry(t, DeleteJobType, DeleteJob{ID: "j1"})); err == nil {
		t.Fatal("deleting a running job accepted")
	}
	if closed(w2) {
		t.Fatal("rejected command closed the channel")
	}
	if err := restoreBytes(f, persist(t, New())); err != nil {
		t.Fatal(err)
	}
	if !closed(w2) {
		t.Fatal("restore did not close the channel")
	}
}

// TestWatchLoopSeesLastChange runs the documented watch loop against a writer: the watcher must end up seeing
// the final placement, however its wake-ups coalesce.
func TestWatchLoopSeesLastChange(t *testing.T) {
	f := seeded(t)
	st := f.State()
	const last = 200
	done := make(chan struct{})
	go func() {
		defer close(done)
		timeout := time.After(10 * time.Second)
		for {
			ch := st.Watch()
			if j, _ := st.Job("j1"); j.PlacementVersion == last+1 {
				return
			}
			select {
			case <-ch:
			case <-timeout:
				t.Error("watcher never saw the last placement")
				return
			}
		}
	}()
	for range last {
		mustApply(t, f, PlaceType, Place{Job: "j1", Placements: map[string]string{"pe1": "n1"}})
	}
	<-done
}

// TestConcurrentReadsSnapshotsAndApply exercises the locking under -race: readers, watchers and snapshot
// persists run while commands are applied.
func TestConcurrentReadsSnapshotsAndApply(t *testing.T) {
	f := seeded(t)
	st := f.State()
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				st.Nodes()
				st.Jobs()
				st.Placements("j1")
				st.PlacementList("j1")
				st.Regions("j1")
				st.Region("j1", 0)
				st.Index()
				st.Watch()
				snap, err := f.Snapshot()
				if err != nil {
					t.Error(err)
					return
				}
				if err := snap.Persist(&memSink{}); err != nil {
					t.Error(err)
				}
				snap.Release()
			}
		})
	}
	for e := uint64(2); e < 300; e++ {
		mustApply(t, f, CommitEpochType, CommitEpoch{Job: "j1", Region: int(e % 3), Epoch: e, Manifest: map[string]string{"pe1": "r"}, Generation: map[uint64]uint64{0: 1, 1: 1, 2: 0}[e%3]})
		mustApply(t, f, PlaceType, Place{Job: "j1", Placements: map[string]string{"pe1": "n1"}})
	}
	close(stop)
	wg.Wait()
}
