package chaos

import (
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestScheduleIsDeterministic(t *testing.T) {
	spec := ScheduleSpec{Seed: 7, Nodes: 5, Duration: 5 * time.Minute, Faults: AllFaults}
	a, err := NewSchedule(spec)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := NewSchedule(spec)
	if !reflect.DeepEqual(a, b) {
		t.Fatal("two schedules drawn from one seed differ")
	}
	spec.Seed = 8
	c, _ := NewSchedule(spec)
	if reflect.DeepEqual(a, c) {
		t.Fatal("seeds 7 and 8 drew the same schedule")
	}
	if len(a) < 20 {
		t.Fatalf("%d faults in 5 minutes: want one every few seconds", len(a))
	}
}

// Whatever the seed, no more nodes than a quorum tolerates are down at once, a restart of every node is
// alone in its time, steps come in order within the duration, and only the kinds asked for appear.
func TestScheduleKeepsAQuorum(t *testing.T) {
	for _, nodes := range []int{3, 4, 5, 7} {
		for seed := uint64(0); seed < 50; seed++ {
			for _, faults := range [][]string{DefaultFaults, AllFaults, {FaultPartition}, {FaultKill, FaultPause}} {
				spec := ScheduleSpec{Seed: seed, Nodes: nodes, Duration: 3 * time.Minute, Faults: faults}
				steps, err := NewSchedule(spec)
				if err != nil {
					t.Fatal(err)
				}
				if got := MaxDown(steps, nodes); got > Tolerated(nodes) {
					t.Fatalf("nodes %d seed %d %v: %d down at once, %d tolerated", nodes, seed, faults, got, Tolerated(nodes))
				}
				for i, s := range steps {
					if s.At < 0 || s.At >= spec.Duration || (i > 0 && s.At < steps[i-1].At) {
						t.Fatalf("step %d at %s: out of order or of the window", i, s.At)
					}
					if !slices.Contains(faults, userKind(s.Kind)) {
						t.Fatalf("step %s for faults %v", s.Kind, faults)
					}
					if s.Kind == StepPartitionSource && (s.Size < 1 || s.Size > Tolerated(nodes)) {
						t.Fatalf("a partition of %d of %d nodes", s.Size, nodes)
					}
					for _, o := range steps {
						if o == s || (o.Kind != StepRestartAll && s.Kind != StepRestartAll) {
							continue
						}
						if o.At < s.At+s.span() && s.At < o.At+o.span() {
							t.Fatalf("nodes %d seed %d: %s at %s overlaps %s at %s", nodes, seed, s.Kind, s.At, o.Kind, o.At)
						}
					}
				}
			}
		}
	}
}

func userKind(step string) string {
	switch step {
	case StepKillCommit, StepKillReset:
		return FaultKill
	case StepPartitionLeader, StepPartitionSource:
		return FaultPartition
	}
	return step
}

func TestScheduleNeedsThreeNodes(t *testing.T) {
	if _, err := NewSchedule(ScheduleSpec{Nodes: 2, Duration: time.Minute, Faults: []string{FaultKill}}); err == nil {
		t.Fatal("a kill scheduled on 2 nodes")
	}
	if _, err := NewSchedule(ScheduleSpec{Nodes: 1, Duration: time.Minute, Faults: []string{FaultRestartAll}}); err != nil {
		t.Fatalf("restart-all of one node: %v", err)
	}
}

func TestParseFaults(t *testing.T) {
	got, err := ParseFaults("kill, pause,kill,restart-all")
	if err != nil || !reflect.DeepEqual(got, []string{FaultKill, FaultPause, FaultRestartAll}) {
		t.Fatalf("%v %v", got, err)
	}
	if _, err := ParseFaults("kill,flood"); err == nil || !strings.Contains(err.Error(), "flood") {
		t.Fatalf("unknown fault: %v", err)
	}
	if _, err := ParseFaults(" , "); err == nil {
		t.Fatal("no faults accepted")
	}
}
