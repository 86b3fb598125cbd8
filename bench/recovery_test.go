package bench

import (
	"context"
	"flag"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/weirstream/weir/agent/api"
	"github.com/weirstream/weir/cluster"
)

var recoveryTrials = flag.Int("recovery.trials", RecoveryTrials, "kills of each kind in BenchmarkRecovery")

// A worker's recovery as the events tell it: a first reset when a stream broke, the verdict, the
// placement, the reset that restores every PE, the resume; the sink's first tuple came in that generation.
func TestRecoveryAnalyzeWorker(t *testing.T) {
	kill := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	at := func(ms int) time.Time { return kill.Add(time.Duration(ms) * time.Millisecond) }
	evs := []api.Event{
		{Time: at(-100), Kind: api.EvEpochCommitted, Job: "j", Gen: 4},
		{Time: at(-50), Kind: api.EvNodeFailed, Subject: "n3", Detail: "earlier"},
		{Time: at(900), Kind: api.EvRegionResumed, Job: "j", Gen: 6},
		{Time: at(120), Kind: api.EvRegionReset, Job: "j", Gen: 5},
		{Time: at(700), Kind: api.EvNodeFailed, Subject: "n3", Detail: "it does not answer"},
		{Time: at(705), Kind: api.EvPlaced, Job: "j"},
		{Time: at(706), Kind: api.EvPlaced, Job: "other"},
		{Time: at(710), Kind: api.EvRegionReset, Job: "j", Gen: 6},
		{Time: at(1100), Kind: api.EvEpochCommitted, Job: "j", Gen: 6},
		{Time: at(1400), Kind: api.EvEpochCommitted, Job: "j", Gen: 6},
		{Time: at(5000), Kind: api.EvNodeFailed, Subject: "n3", Detail: "gossip declared it dead"},
	}
	tr := RecoveryTrial{Kill: KillWorker, Victim: "n3", Gen: 4, GenAfter: 6, FirstTuple: 950 * time.Millisecond}
	tr.analyze(evs, "j", kill, at(950))
	ms := time.Millisecond
	if tr.Failed != 700*ms || tr.FailedWhy != "it does not answer" || tr.Placed != 705*ms || tr.Reset != 710*ms ||
		tr.Resumed != 900*ms || tr.Committed != 1100*ms || tr.Resets != 2 || tr.Elected != 0 {
		t.Fatalf("%+v", tr)
	}
	want := []time.Duration{700 * ms, 5 * ms, 195 * ms, 50 * ms}
	if got := tr.Phases(); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("phases %v, want %v", got, want)
	}
}

// A leader whose death needed no placement (it ran no PE): the takeover's reset restored the region, and
// the phases it lacks are left out, their time counted in the next one seen.
func TestRecoveryAnalyzeLeaderWithoutPlacement(t *testing.T) {
	kill := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	at := func(ms int) time.Time { return kill.Add(time.Duration(ms) * time.Millisecond) }
	evs := []api.Event{
		{Time: at(1800), Kind: api.EvLeaderElected},
		{Time: at(1850), Kind: api.EvRegionReset, Job: "j", Gen: 3},
		{Time: at(1900), Kind: api.EvRegionResumed, Job: "j", Gen: 3},
		{Time: at(2300), Kind: api.EvEpochCommitted, Job: "j", Gen: 3},
		{Time: at(6000), Kind: api.EvNodeFailed, Subject: "n1"},
		{Time: at(6001), Kind: api.EvPlaced, Job: "j"},
	}
	tr := RecoveryTrial{Kill: KillLeader, Victim: "n1", Gen: 2, GenAfter: 3, FirstTuple: 1950 * time.Millisecond}
	tr.analyze(evs, "j", kill, at(1950))
	ms := time.Millisecond
	if tr.Elected != 1800*ms || tr.Failed != 0 || tr.Placed != 0 || tr.Resumed != 1900*ms || tr.Committed != 2300*ms || tr.Resets != 1 {
		t.Fatalf("%+v", tr)
	}
	want := []time.Duration{1800 * ms, 0, 0, 100 * ms, 50 * ms}
	if got := tr.Phases(); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("phases %v, want %v", got, want)
	}
}

func TestRecoverySummarize(t *testing.T) {
	s := RecoverySeries{Kill: KillWorker, Target: time.Second}
	for _, ms := range []int{300, 100, 200, 400} {
		d := time.Duration(ms) * time.Millisecond
		s.Trials = append(s.Trials, RecoveryTrial{Kill: KillWorker, Failed: d / 2, Placed: d / 2, Resumed: d - 10*time.Millisecond, FirstTuple: d, Committed: d + time.Second})
	}
	s.summarize()
	if s.Total.Median != 250*time.Millisecond || s.Total.Max != 400*time.Millisecond || s.Total.N != 4 || !s.Pass {
		t.Fatalf("total %+v, pass %v", s.Total, s.Pass)
	}
	if len(s.Phases) != 4 || s.Phases[0].Name != "detection" || s.Phases[0].Median != 125*time.Millisecond ||
		s.Phases[1].N != 4 || s.Phases[1].Max != 0 || s.Phases[3].Median != 10*time.Millisecond {
		t.Fatalf("phases %+v", s.Phases)
	}
	s.Trials = append(s.Trials, RecoveryTrial{Kill: KillWorker, Error: "no new tuple"})
	s.summarize()
	if s.Pass || s.Total.N != 4 {
		t.Fatalf("a failed trial must fail the series: %+v", s)
	}
	s.Trials = s.Trials[:4]
	s.Target = 300 * time.Millisecond
	s.summarize()
	if s.Pass {
		t.Fatal("the slowest trial missed the target")
	}
}

func TestNewTuple(t *testing.T) {
	old := sinkSample{node: "n1", gen: 4, consumed: 100}
	for _, c := range []struct {
		prev, s sinkSample
		want    bool
	}{
		{old, sinkSample{node: "n1", gen: 4, consumed: 120}, false}, // the old generation still flows
		{old, sinkSample{node: "n1", gen: 6, consumed: 130}, false}, // reset since: may be old tuples
		{sinkSample{node: "n1", gen: 6, consumed: 130}, sinkSample{node: "n1", gen: 6, consumed: 131}, true},
		{sinkSample{node: "n1", gen: 6, consumed: 130}, sinkSample{node: "n1", gen: 6, consumed: 130}, false},
		{old, sinkSample{node: "n2", gen: 6, consumed: 0}, false}, // moved, not resumed yet
		{old, sinkSample{node: "n2", gen: 6, consumed: 3}, true},
		{old, sinkSample{node: "n2", gen: 4, consumed: 3}, false},
	} {
		if got := newTuple(c.prev, c.s, 4); got != c.want {
			t.Errorf("newTuple(%+v, %+v) = %v, want %v", c.prev, c.s, got, c.want)
		}
	}
}

func TestRecoveryOptions(t *testing.T) {
	var o RecoveryOptions
	if err := o.defaults(); err == nil {
		t.Fatal("no binary: want an error")
	}
	o = RecoveryOptions{Binary: "weir", Kinds: []string{"follower"}}
	if err := o.defaults(); err == nil || !strings.Contains(err.Error(), "follower") {
		t.Fatalf("unknown kind: %v", err)
	}
	o = RecoveryOptions{Binary: "weir"}
	if err := o.defaults(); err != nil || o.Trials != RecoveryTrials || len(o.Kinds) != 2 || o.Rate != RecoveryRate || o.Poll != RecoveryPoll {
		t.Fatalf("%+v %v", o, err)
	}
}

var (
	weirOnce sync.Once
	weirBin  string
	weirErr  error
)

// buildWeir builds the weir binary the agents run, once per test binary; TestMain removes it.
func buildWeir(b testing.TB) string {
	weirOnce.Do(func() {
		dir, err := os.MkdirTemp("", "weir-bench-bin-")
		if err != nil {
			weirErr = err
			return
		}
		weirBin = filepath.Join(dir, "weir")
		weirErr = cluster.BuildWeir(context.Background(), weirBin, false)
	})
	if weirErr != nil {
		b.Fatal(weirErr)
	}
	return weirBin
}

// BenchmarkRecovery runs the recovery benchmark (`weir bench recovery`) with each timing profile and
// reports the medians, in milliseconds, as metrics: <kill>-<phase>-ms, <kill>-total-ms (and -max-ms) and
// <kill>-commit-ms. It runs processes for minutes whatever b.N: use -benchtime=1x, and
// -recovery.trials=N for fewer kills. Nothing is asserted on the figures.
func BenchmarkRecovery(b *testing.B) {
	if testing.Short() {
		b.Skip("multi-process benchmark: skipped with -short")
	}
	bin := buildWeir(b)
	for _, fast := range []bool{false, true} {
		name := ProfileDefault
		if fast {
			name = ProfileFast
		}
		b.Run(name, func(b *testing.B) {
			var res RecoveryResult
			for range b.N {
				var err error
				res, err = Recovery(RecoveryOptions{Binary: bin, Fast: fast, Trials: *recoveryTrials, Log: b.Logf, Context: context.Background()})
				if err != nil {
					b.Fatal(err)
				}
			}
			ms := func(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
			for _, k := range res.Kills {
				for _, p := range k.Phases {
					if p.N > 0 {
						b.ReportMetric(ms(p.Median), k.Kill+"-"+p.Name+"-ms")
					}
				}
				b.ReportMetric(ms(k.Total.Median), k.Kill+"-total-ms")
				b.ReportMetric(ms(k.Total.Max), k.Kill+"-total-max-ms")
				b.ReportMetric(ms(k.Commit.Median), k.Kill+"-commit-ms")
			}
			http.DefaultTransport.(*http.Transport).CloseIdleConnections() // cluster.Up's own clients
		})
	}
}
