package chaos

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/weirstream/weir/agent/api"
)

// Check is one verdict about a run.
type Check struct {
	Name   string `json:"name"`
	Pass   bool   `json:"pass"`
	Detail string `json:"detail"`
}

// The checks, by name.
const (
	CheckJobFinished      = "job_finished"
	CheckNothingLost      = "nothing_lost"
	CheckExactlyOnce      = "exactly_once"
	CheckPerKeyState      = "per_key_state"
	CheckEpochsIncreasing = "epochs_increasing"
	CheckNoFencedOutput   = "no_fenced_output"
)

func pass(name, format string, args ...any) Check {
	return Check{Name: name, Pass: true, Detail: fmt.Sprintf(format, args...)}
}

func failed(name, format string, args ...any) Check {
	return Check{Name: name, Detail: fmt.Sprintf(format, args...)}
}

// JobFinished passes when the job ended in the finished state.
func JobFinished(state, errMsg string) Check {
	if state == "finished" {
		return pass(CheckJobFinished, "the job finished")
	}
	if errMsg != "" {
		return failed(CheckJobFinished, "the job is %s: %s", state, errMsg)
	}
	return failed(CheckJobFinished, "the job is %s, not finished", state)
}

// NothingLost passes when every value 0..count-1 is in the at-least-once output (duplicates are allowed
// there: replays append again).
func NothingLost(alo *ALOOutput, count int) Check {
	missing, dups := counts(alo.Seen)
	if alo.BadCount > 0 {
		return failed(CheckNothingLost, "%d lines of %s are not values in [0,%d) (first: %s)", alo.BadCount, alo.Dir, count, strings.Join(alo.Bad, "; "))
	}
	if len(missing) > 0 {
		return failed(CheckNothingLost, "%d of %d values are missing from the at-least-once output %s (first: %v)", len(missing), count, alo.Dir, first(missing))
	}
	return pass(CheckNothingLost, "all %d values in the at-least-once output (%d lines; %d values replayed more than once, as at-least-once allows)", count, alo.Lines, len(dups))
}

// ExactlyOnce passes when the exactly-once output holds every value 0..count-1 exactly once.
func ExactlyOnce(eo *EOOutput, count int) Check {
	if eo.BadCount > 0 {
		return failed(CheckExactlyOnce, "%d records or files of %s are not the job's (first: %s)", eo.BadCount, eo.Dir, strings.Join(eo.Bad, "; "))
	}
	missing, dups := counts(eo.Seen)
	if len(missing) > 0 || len(dups) > 0 {
		return failed(CheckExactlyOnce, "%d values missing (first: %v), %d duplicated (first: %v) in %s", len(missing), first(missing), len(dups), first(dups), eo.Dir)
	}
	return pass(CheckExactlyOnce, "all %d values exactly once in %d published files", count, len(eo.Files))
}

// PerKeyState passes when every exactly-once record equals the one a fault-free run emits (the key's count
// and sum after its value) and each key's final state is the fault-free one.
func PerKeyState(eo *EOOutput, count, keys int) Check {
	if eo.WrongCount > 0 {
		return failed(CheckPerKeyState, "%d records differ from a fault-free run's (first: %s)", eo.WrongCount, strings.Join(eo.Wrong, "; "))
	}
	var bad []string
	for k := 0; k < min(keys, count); k++ {
		lastV := k + (count-1-k)/keys*keys
		want := Expected(lastV, keys)
		if got, ok := eo.Last[k]; !ok || got != want {
			bad = append(bad, fmt.Sprintf("key %d ends at %+v, want %+v", k, got, want))
		}
	}
	if len(bad) > 0 {
		return failed(CheckPerKeyState, "%d keys end in a state a fault-free run does not reach (first: %s)", len(bad), strings.Join(bad[:min(3, len(bad))], "; "))
	}
	return pass(CheckPerKeyState, "every record and the final count and sum of each of the %d keys equal a fault-free run's", min(keys, count))
}

// EpochsIncreasing passes when the epochs committed in each region of the job, as the leaders recorded
// them and merged in time order, strictly increase: no commit at or below an epoch committed before.
func EpochsIncreasing(entries []Entry, job string) Check {
	last := map[int]Entry{}
	n := 0
	leaders := map[string]bool{}
	for _, e := range entries {
		if e.Type != TypeEvent || e.Kind != api.EvEpochCommitted || e.Job != job {
			continue
		}
		n++
		leaders[e.Node] = true
		if p, ok := last[e.Region]; ok && e.Epoch <= p.Epoch {
			return failed(CheckEpochsIncreasing, "region %d: %s committed epoch %d at %s after %s had committed epoch %d at %s",
				e.Region, e.Node, e.Epoch, e.Time.Format(timeFmt), p.Node, p.Epoch, p.Time.Format(timeFmt))
		}
		last[e.Region] = e
	}
	if n == 0 {
		return failed(CheckEpochsIncreasing, "no committed epoch in the history")
	}
	return pass(CheckEpochsIncreasing, "%d commits by %d leaders, strictly increasing", n, len(leaders))
}

const timeFmt = "15:04:05.000"

// NoFencedOutput passes when every file the exactly-once sink published belongs to a committed epoch no
// later than the final one: nothing a fenced PE or an abandoned epoch staged was published. Committed
// epochs are known from the leaders' commit events and from reads of the leader's replica; an epoch that
// neither shows is proved uncommitted when the reads around it were closer together than the region's
// period (two commits are never closer: the period starts at a commit or a reset), and otherwise counted
// as unverifiable, which does not fail the check. Duplicates a fenced PE might publish under a committed
// epoch are caught by the exactly-once and per-key checks.
func NoFencedOutput(eo *EOOutput, entries []Entry, job string, region int, final uint64, period time.Duration) Check {
	committed := map[uint64]bool{final: true}
	var reads []Entry
	for _, e := range entries {
		if e.Job != job || e.Region != region {
			continue
		}
		switch {
		case e.Type == TypeEvent && e.Kind == api.EvEpochCommitted:
			committed[e.Epoch] = true
		case e.Type == TypeCommitted:
			committed[e.Epoch] = true
			reads = append(reads, e)
		}
	}
	// The final epoch begins as soon as the sources are exhausted, maybe right after another commit: the
	// commit before it may hide between two close reads.
	var beforeFinal uint64
	for _, f := range eo.Files {
		if f.Epoch < final && !committed[f.Epoch] {
			beforeFinal = max(beforeFinal, f.Epoch)
		}
	}
	var bad []string
	unverifiable := 0
	for _, f := range eo.Files {
		switch {
		case f.Epoch > final:
			bad = append(bad, fmt.Sprintf("%s: epoch %d is above the final committed epoch %d", f.Name, f.Epoch, final))
		case committed[f.Epoch]:
		default:
			i := slices.IndexFunc(reads, func(r Entry) bool { return r.Epoch > f.Epoch })
			if i < 0 || reads[i].Since.IsZero() || reads[i].Time.Sub(reads[i].Since) >= period || (reads[i].Epoch == final && f.Epoch == beforeFinal) {
				unverifiable++
				continue
			}
			r := reads[i]
			from := uint64(0)
			if i > 0 {
				from = reads[i-1].Epoch
			}
			bad = append(bad, fmt.Sprintf("%s: epoch %d was never committed (the leader's committed epoch went from %d to %d between reads %s apart)",
				f.Name, f.Epoch, from, r.Epoch, r.Time.Sub(r.Since).Round(time.Millisecond)))
		}
	}
	if len(bad) > 0 {
		return failed(CheckNoFencedOutput, "%d published files of uncommitted epochs (first: %s)", len(bad), strings.Join(bad[:min(3, len(bad))], "; "))
	}
	detail := fmt.Sprintf("%d published files, all of committed epochs <= %d", len(eo.Files), final)
	if unverifiable > 0 {
		detail += fmt.Sprintf(" (%d not seen committed but not provably uncommitted: reads too far apart)", unverifiable)
	}
	return pass(CheckNoFencedOutput, "%s", detail)
}

// counts lists the values seen never and more than once.
func counts(seen []uint8) (missing, dups []int) {
	for v, n := range seen {
		switch {
		case n == 0:
			missing = append(missing, v)
		case n > 1:
			dups = append(dups, v)
		}
	}
	return missing, dups
}

func first(xs []int) []int { return xs[:min(5, len(xs))] }

// sortedKeys returns a map's keys in order.
func sortedKeys[K cmp.Ordered, V any](m map[K]V) []K {
	out := make([]K, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}
