package chaos

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"time"
)

// Fault kinds a user names (--faults).
const (
	FaultKill       = "kill"        // kill -9 a node (or time it to land during a commit or a reset), restart it later
	FaultPause      = "pause"       // SIGSTOP a node for longer than the election timeout, then SIGCONT
	FaultRestart    = "restart"     // kill -9 a node and start it again at once
	FaultRestartAll = "restart-all" // kill -9 every node, then start them all again on their data
	FaultPartition  = "partition"   // cut a minority off the network (Docker only), then heal
)

// Step kinds: what a step of a schedule does. A user's kill becomes one of the three kills, a partition
// one of the two partitions.
const (
	StepKill            = "kill"
	StepKillCommit      = "kill-commit" // a kill timed to land while an epoch is draining or committing
	StepKillReset       = "kill-reset"  // a kill timed to land while the region resets
	StepPause           = "pause"
	StepRestart         = "restart"
	StepRestartAll      = "restart-all"
	StepPartitionSource = "partition-source" // a minority holding the source's node
	StepPartitionLeader = "partition-leader" // the leader alone
)

// AllFaults are the fault kinds, in the order they are listed.
var AllFaults = []string{FaultKill, FaultPause, FaultRestart, FaultRestartAll, FaultPartition}

// DefaultFaults are the kinds injected unless told otherwise (partitions need Docker).
var DefaultFaults = []string{FaultKill, FaultPause, FaultRestart, FaultRestartAll}

// ParseFaults parses a comma-separated list of fault kinds.
func ParseFaults(s string) ([]string, error) {
	var out []string
	for _, f := range strings.Split(s, ",") {
		f = strings.TrimSpace(f)
		if f == "" {
			continue
		}
		if !slices.Contains(AllFaults, f) {
			return nil, fmt.Errorf("unknown fault %q (known: %s)", f, strings.Join(AllFaults, ", "))
		}
		if !slices.Contains(out, f) {
			out = append(out, f)
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("no fault kinds in %q", s)
	}
	return out, nil
}

// Step is one planned fault: what, when (from the start of the fault window), against whom and for how
// long. Targets are chosen when the step runs, from the cluster as it is then: Leader aims at the leader,
// otherwise Pick chooses among the eligible nodes.
type Step struct {
	At     time.Duration
	Kind   string
	Leader bool
	Pick   uint64
	// Size is the number of nodes a partition cuts off.
	Size int
	// Hold is how long the fault lasts: a killed node's time down, a pause, a partition.
	Hold time.Duration
}

// stepJSON is a Step as report.json shows it, times in seconds.
type stepJSON struct {
	At     Seconds `json:"at"`
	Kind   string  `json:"kind"`
	Leader bool    `json:"leader,omitempty"`
	Pick   uint64  `json:"pick"`
	Size   int     `json:"size,omitempty"`
	Hold   Seconds `json:"hold"`
}

// MarshalJSON writes the step with its times in seconds.
func (s Step) MarshalJSON() ([]byte, error) {
	return json.Marshal(stepJSON{At: secs(s.At), Kind: s.Kind, Leader: s.Leader, Pick: s.Pick, Size: s.Size, Hold: secs(s.Hold)})
}

// UnmarshalJSON reads a step MarshalJSON wrote.
func (s *Step) UnmarshalJSON(b []byte) error {
	var j stepJSON
	if err := json.Unmarshal(b, &j); err != nil {
		return err
	}
	*s = Step{At: j.At.Duration(), Kind: j.Kind, Leader: j.Leader, Pick: j.Pick, Size: j.Size, Hold: j.Hold.Duration()}
	return nil
}

// ScheduleSpec is what a schedule is drawn from.
type ScheduleSpec struct {
	Seed     uint64
	Nodes    int
	Duration time.Duration
	Faults   []string
}

// Timing of schedules.
const (
	minGap, maxGap = 2 * time.Second, 6 * time.Second // between the starts of two faults
	// armTimeout bounds the wait of a timed kill for its moment; opSlack covers the time faults and
	// restarts take to carry out.
	armTimeout = 4 * time.Second
	opSlack    = 2 * time.Second
	leaderProb = 0.3
)

// Tolerated is the number of nodes that may be down at once while the others keep a quorum.
func Tolerated(nodes int) int { return (nodes - 1) / 2 }

// size is the number of nodes a step takes down (or cuts off, or freezes).
func (s Step) size(nodes int) int {
	switch s.Kind {
	case StepRestartAll:
		return nodes
	case StepPartitionSource:
		return s.Size
	}
	return 1
}

// span is how long a step's nodes count as down: its hold, the wait of a timed kill, and slack.
func (s Step) span() time.Duration {
	d := s.Hold + opSlack
	if s.Kind == StepKillCommit || s.Kind == StepKillReset {
		d += armTimeout
	}
	return d
}

// NewSchedule draws a schedule from the seed: faults a few seconds apart over the duration, never more
// than Tolerated(nodes) nodes down at once (a restart of every node is alone in its time). The same spec
// always gives the same schedule.
func NewSchedule(spec ScheduleSpec) ([]Step, error) {
	bound := Tolerated(spec.Nodes)
	for _, f := range spec.Faults {
		if !slices.Contains(AllFaults, f) {
			return nil, fmt.Errorf("chaos: unknown fault %q", f)
		}
		if f != FaultRestartAll && bound < 1 {
			return nil, fmt.Errorf("chaos: %d nodes cannot lose one and keep a quorum: %s needs at least 3", spec.Nodes, f)
		}
	}
	if len(spec.Faults) == 0 {
		return nil, fmt.Errorf("chaos: no fault kinds")
	}
	rng := rand.New(rand.NewPCG(spec.Seed, spec.Seed^0x9e3779b97f4a7c15))
	weights := map[string]float64{FaultKill: 4, FaultPause: 2, FaultRestart: 1, FaultRestartAll: 0.5, FaultPartition: 2}
	var total float64
	for _, f := range spec.Faults {
		total += weights[f]
	}
	var steps []Step
	t := between(rng, minGap, maxGap)
	for t < spec.Duration {
		// Every draw happens whatever the branch, so that a step's choices do not shift the next ones.
		x, variant, leader, pick := rng.Float64()*total, rng.Float64(), rng.Float64() < leaderProb, rng.Uint64()
		hold01, size01 := rng.Float64(), rng.Float64()
		gap := between(rng, minGap, maxGap)
		kind := spec.Faults[len(spec.Faults)-1]
		for _, f := range spec.Faults {
			if x < weights[f] {
				kind = f
				break
			}
			x -= weights[f]
		}
		s := Step{Kind: kind, Leader: leader, Pick: pick}
		switch kind {
		case FaultKill:
			s.Hold = lerp(time.Second, 6*time.Second, hold01)
			switch {
			case variant < 0.25:
				s.Kind = StepKillCommit
				s.Leader = variant < 0.125
			case variant < 0.5:
				s.Kind = StepKillReset
			}
		case FaultPause:
			s.Hold = lerp(2*time.Second, 6*time.Second, hold01)
		case FaultRestart:
		case FaultRestartAll:
			s.Leader = false
			s.Hold = lerp(500*time.Millisecond, 3*time.Second, hold01)
		case FaultPartition:
			s.Hold = lerp(3*time.Second, 10*time.Second, hold01)
			if variant < 0.5 {
				s.Kind = StepPartitionSource
				s.Leader = false
				s.Size = 1 + int(size01*float64(bound))
			} else {
				s.Kind = StepPartitionLeader
				s.Leader = true
			}
		}
		s.At = place(steps, s, t, spec.Nodes)
		if s.At >= spec.Duration {
			break
		}
		steps = append(steps, s)
		t = s.At + gap
	}
	return steps, nil
}

// place returns the earliest time from t at which s may start: the nodes it takes down, with those of the
// steps still under way, stay within the tolerated number, and a restart of every node overlaps nothing.
func place(steps []Step, s Step, t time.Duration, nodes int) time.Duration {
	bound := Tolerated(nodes)
	candidates := []time.Duration{t}
	for _, o := range steps {
		if end := o.At + o.span(); end > t {
			candidates = append(candidates, end)
		}
	}
	slices.Sort(candidates)
	for _, start := range candidates {
		if fits(steps, s, start, nodes, bound) {
			return start
		}
	}
	return candidates[len(candidates)-1] // after everything: always fits
}

func fits(steps []Step, s Step, start time.Duration, nodes, bound int) bool {
	end := start + s.span()
	// The load only grows at the starts of steps, so checking at start and at each start inside is enough.
	points := []time.Duration{start}
	for _, o := range steps {
		if o.At > start && o.At < end {
			points = append(points, o.At)
		}
	}
	for _, p := range points {
		load, exclusive := s.size(nodes), s.Kind == StepRestartAll
		overlap := false
		for _, o := range steps {
			if o.At <= p && p < o.At+o.span() {
				load += o.size(nodes)
				overlap = true
				exclusive = exclusive || o.Kind == StepRestartAll
			}
		}
		if overlap && exclusive {
			return false
		}
		if !exclusive && load > bound {
			return false
		}
	}
	return true
}

// MaxDown is the most nodes the steps take down at once, not counting restarts of every node.
func MaxDown(steps []Step, nodes int) int {
	most := 0
	for _, s := range steps {
		if s.Kind == StepRestartAll {
			continue
		}
		load := 0
		for _, o := range steps {
			if o.Kind != StepRestartAll && o.At <= s.At && s.At < o.At+o.span() {
				load += o.size(nodes)
			}
		}
		most = max(most, load)
	}
	return most
}

func between(rng *rand.Rand, lo, hi time.Duration) time.Duration {
	return lerp(lo, hi, rng.Float64())
}

func lerp(lo, hi time.Duration, f float64) time.Duration {
	return (lo + time.Duration(f*float64(hi-lo))).Round(time.Millisecond)
}
