package chaos

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/weirstream/weir/agent/api"
)

// Report is what a run found: DIR/report.json.
type Report struct {
	Verdict  string    `json:"verdict"` // "pass" or "fail"
	Seed     uint64    `json:"seed"`
	Nodes    int       `json:"nodes"`
	Docker   bool      `json:"docker"`
	Duration string    `json:"duration"`
	Kinds    []string  `json:"fault_kinds"`
	Started  time.Time `json:"started"`
	Ended    time.Time `json:"ended"`
	// Job is the verification job's ID and parameters (as the agents saw them), and how it ended.
	Job      string            `json:"job"`
	Params   map[string]string `json:"params"`
	JobState JobSummary        `json:"job_state"`
	// Schedule is the plan drawn from the seed; Faults what was injected.
	Schedule []Step     `json:"schedule"`
	Faults   []Fault    `json:"faults"`
	Checks   []Check    `json:"checks"`
	Outputs  Outputs    `json:"outputs"`
	Recovery Recovery   `json:"recovery"`
	Errors   []string   `json:"errors,omitempty"`
	Counts   EventCount `json:"history"`
}

// JobSummary is the job's final status.
type JobSummary struct {
	State      string `json:"state"`
	Error      string `json:"error,omitempty"`
	Committed  uint64 `json:"committed_epoch"`
	Generation uint64 `json:"generation"`
	Commits    int    `json:"commits"`
	Resets     int    `json:"resets"`
}

// Outputs are the paths of what the run checked and wrote.
type Outputs struct {
	ExactlyOnce string `json:"exactly_once"`
	AtLeastOnce string `json:"at_least_once"`
	History     string `json:"history"`
	Cluster     string `json:"cluster"`
}

// EventCount summarizes the history.
type EventCount struct {
	Entries     int `json:"entries"`
	Commits     int `json:"commits"`
	Resets      int `json:"resets"`
	LeaderTerms int `json:"leaders_elected"`
	Outputs     int `json:"sink_observations"`
	LostEvents  int `json:"lost_events,omitempty"`
}

// Fault is a fault as injected.
type Fault struct {
	N      int       `json:"n"`
	Kind   string    `json:"kind"`
	Nodes  []string  `json:"nodes"`
	Leader bool      `json:"leader"`
	At     Seconds   `json:"at"` // from the start of the fault window
	Time   time.Time `json:"time"`
	End    time.Time `json:"end,omitzero"`
	// Landed tells, for timed kills, whether the kill came while the epoch drained (or committed) or the
	// region reset, as far as the leader's events showed the moment before.
	Landed *bool  `json:"landed,omitempty"`
	Detail string `json:"detail,omitempty"`
	// Recovery: from the fault to the next epoch committed that began after it, and to the sink's next
	// output in that epoch's generation (nil: none came).
	ToCommit *Seconds `json:"to_commit,omitempty"`
	ToOutput *Seconds `json:"to_output,omitempty"`
}

// Seconds is a duration written as seconds.
type Seconds float64

func secs(d time.Duration) Seconds { return Seconds(math.Round(d.Seconds()*1000) / 1000) }

func (s Seconds) String() string { return fmt.Sprintf("%.2fs", float64(s)) }

// Duration converts back to a duration.
func (s Seconds) Duration() time.Duration { return time.Duration(math.Round(float64(s) * 1e9)) }

// Recovery are recovery times, overall and by kind of fault.
type Recovery struct {
	Overall RecoveryStats            `json:"overall"`
	ByKind  map[string]RecoveryStats `json:"by_kind"`
}

// RecoveryStats are the median and maximum recovery times of some faults.
type RecoveryStats struct {
	Faults         int     `json:"faults"`
	CommitMedian   Seconds `json:"commit_median_s"`
	CommitMax      Seconds `json:"commit_max_s"`
	OutputMedian   Seconds `json:"output_median_s"`
	OutputMax      Seconds `json:"output_max_s"`
	NoCommitAfter  int     `json:"no_commit_after,omitempty"`
	NoOutputsAfter int     `json:"no_output_after,omitempty"`
}

// Pass reports whether every check passed.
func (r *Report) Pass() bool {
	if len(r.Checks) == 0 {
		return false
	}
	for _, c := range r.Checks {
		if !c.Pass {
			return false
		}
	}
	return true
}

// Write writes the report as JSON to path.
func (r *Report) Write(path string) error {
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return err
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, append(b, '\n'), 0o644); err != nil {
		return fmt.Errorf("chaos: report: %w", err)
	}
	return os.Rename(tmp, path)
}

// commitSeen is an epoch committed, when it was first seen, and when its drain began (zero: unknown).
type commitSeen struct {
	epoch  uint64
	gen    uint64
	at     time.Time
	served time.Time
	began  time.Time
}

// commitsOf lists the epochs of a job's region that committed, in order, from the leaders' events and
// the reads of the leader's replica.
func commitsOf(entries []Entry, job string, region int) []commitSeen {
	byEpoch := map[uint64]*commitSeen{}
	began := map[uint64]time.Time{}
	for _, e := range entries {
		if e.Job != job || e.Region != region {
			continue
		}
		switch {
		case e.Type == TypeEvent && e.Kind == api.EvRegionDraining:
			if _, ok := began[e.Epoch]; !ok {
				began[e.Epoch] = e.Time
			}
		case (e.Type == TypeEvent && e.Kind == api.EvEpochCommitted) || e.Type == TypeCommitted:
			c, ok := byEpoch[e.Epoch]
			if !ok {
				c = &commitSeen{epoch: e.Epoch, gen: e.Gen, at: e.Time}
				byEpoch[e.Epoch] = c
			}
			if e.Time.Before(c.at) {
				c.at = e.Time
			}
			if e.Type == TypeEvent {
				c.gen = e.Gen
			}
		}
	}
	out := make([]commitSeen, 0, len(byEpoch))
	for _, c := range byEpoch {
		c.began = began[c.epoch]
		out = append(out, *c)
	}
	slices.SortFunc(out, func(a, b commitSeen) int { return a.at.Compare(b.at) })
	return out
}

// recover computes each fault's recovery times: to the first epoch committed that began after the fault
// (an epoch whose beginning the history lacks counts when it committed at least a period after the fault),
// and to the first output of the exactly-once sink after the fault in that epoch's generation or a later
// one.
func recover(faults []Fault, entries []Entry, job string, period time.Duration) {
	commits := commitsOf(entries, job, 0)
	var outputs []Entry
	for _, e := range entries {
		if e.Type == TypeOutput && e.Job == job {
			outputs = append(outputs, e)
		}
	}
	for i := range faults {
		f := &faults[i]
		var gen uint64
		found := false
		for _, c := range commits {
			if !c.at.After(f.Time) {
				continue
			}
			if (!c.began.IsZero() && c.began.After(f.Time)) || (c.began.IsZero() && c.at.Sub(f.Time) >= period) {
				d := secs(c.at.Sub(f.Time))
				f.ToCommit, gen, found = &d, c.gen, true
				break
			}
		}
		for _, o := range outputs {
			if o.Time.After(f.Time) && (!found || o.Gen >= gen) {
				d := secs(o.Time.Sub(f.Time))
				f.ToOutput = &d
				break
			}
		}
	}
}

// summarize computes the recovery statistics of faults.
func summarize(faults []Fault) Recovery {
	r := Recovery{ByKind: map[string]RecoveryStats{}}
	r.Overall = stats(faults)
	kinds := map[string][]Fault{}
	for _, f := range faults {
		kinds[f.Kind] = append(kinds[f.Kind], f)
	}
	for k, fs := range kinds {
		r.ByKind[k] = stats(fs)
	}
	return r
}

func stats(faults []Fault) RecoveryStats {
	s := RecoveryStats{Faults: len(faults)}
	var commit, output []Seconds
	for _, f := range faults {
		if f.ToCommit != nil {
			commit = append(commit, *f.ToCommit)
		} else {
			s.NoCommitAfter++
		}
		if f.ToOutput != nil {
			output = append(output, *f.ToOutput)
		} else {
			s.NoOutputsAfter++
		}
	}
	s.CommitMedian, s.CommitMax = medianMax(commit)
	s.OutputMedian, s.OutputMax = medianMax(output)
	return s
}

func medianMax(xs []Seconds) (median, most Seconds) {
	if len(xs) == 0 {
		return 0, 0
	}
	slices.Sort(xs)
	n := len(xs)
	if n%2 == 1 {
		median = xs[n/2]
	} else {
		median = secs(time.Duration(float64(xs[n/2-1]+xs[n/2]) / 2 * float64(time.Second)))
	}
	return median, xs[n-1]
}

// countHistory summarizes a history.
func countHistory(entries []Entry, job string) EventCount {
	c := EventCount{Entries: len(entries)}
	for _, e := range entries {
		switch {
		case e.Type == TypeEvent && e.Kind == api.EvEpochCommitted && e.Job == job:
			c.Commits++
		case e.Type == TypeEvent && e.Kind == api.EvRegionReset && e.Job == job:
			c.Resets++
		case e.Type == TypeLeader:
			c.LeaderTerms++
		case e.Type == TypeOutput:
			c.Outputs++
		}
	}
	return c
}

// Summary writes a short human summary of the report.
func (r *Report) Summary(w io.Writer) {
	verdict := "PASS"
	if !r.Pass() {
		verdict = "FAIL"
	}
	where := "local processes"
	if r.Docker {
		where = "containers"
	}
	fmt.Fprintf(w, "weir chaos: %s (seed %d, %d nodes, %s of faults, %s)\n", verdict, r.Seed, r.Nodes, r.Duration, where)
	kinds := map[string]int{}
	landed := map[string]int{}
	for _, f := range r.Faults {
		kinds[f.Kind]++
		if f.Landed != nil && *f.Landed {
			landed[f.Kind]++
		}
	}
	var parts []string
	for _, k := range sortedKeys(kinds) {
		p := fmt.Sprintf("%s %d", k, kinds[k])
		if k == StepKillCommit || k == StepKillReset {
			p += fmt.Sprintf(" (%d landed)", landed[k])
		}
		parts = append(parts, p)
	}
	fmt.Fprintf(w, "faults: %d injected: %s\n", len(r.Faults), strings.Join(parts, ", "))
	fmt.Fprintf(w, "job %s: %s, epoch %d committed, %d resets\n", r.Job, r.JobState.State, r.JobState.Committed, r.JobState.Resets)
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	for _, c := range r.Checks {
		mark := "ok"
		if !c.Pass {
			mark = "FAIL"
		}
		fmt.Fprintf(tw, "  %s\t%s\t%s\n", mark, c.Name, c.Detail)
	}
	tw.Flush()
	fmt.Fprintln(w, "recovery, from the fault to the next commit / to the next sink output (median, max):")
	tw = tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	row := func(name string, s RecoveryStats) {
		fmt.Fprintf(tw, "  %s\t%d\tcommit %s / %s\toutput %s / %s\n", name, s.Faults, s.CommitMedian, s.CommitMax, s.OutputMedian, s.OutputMax)
	}
	for _, k := range sortedKeys(r.Recovery.ByKind) {
		row(k, r.Recovery.ByKind[k])
	}
	row("all", r.Recovery.Overall)
	tw.Flush()
	for _, e := range r.Errors {
		fmt.Fprintf(w, "error: %s\n", e)
	}
	fmt.Fprintf(w, "report: %s\n", filepath.Join(filepath.Dir(r.Outputs.History), "report.json"))
}
