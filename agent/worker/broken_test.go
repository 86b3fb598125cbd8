package worker

import (
	"errors"
	"testing"
	"time"

	"github.com/weirstream/weir/agent/api"
	"github.com/weirstream/weir/fsm"
	"github.com/weirstream/weir/transport"
)

// A broken stream names the node at its other end, read from the placements, even on the reading side,
// which sees only the writer's ephemeral port: the leader probes that node at once instead of waiting for
// gossip's verdict.
func TestBrokenStreamNamesThePeer(t *testing.T) {
	for _, c := range []struct {
		name  string
		place map[string]string
	}{
		{"reader here", map[string]string{"sequence": "w0", "stdout": "w1"}},
		{"writer here", map[string]string{"sequence": "w1", "stdout": "w0"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := newRig(t, "w1")
			r.submit("j", regionJob)
			r.must(fsm.PlaceType, fsm.Place{Job: "j", Placements: c.place})
			r.run()
			waitFor(t, 10*time.Second, "the PE placed here to start", func() bool {
				return len(r.w.PEs().Running["j"]) == 1
			})
			r.w.Broken(transport.StreamKey{Job: "j", Link: 0}, "", errors.New("closed by the sender"))
			reps := r.find(func(rep api.Report) bool { return rep.Kind == api.RepBroken })
			if len(reps) != 1 || reps[0].Peer != "w0" || reps[0].Region != 0 {
				t.Fatalf("reports %+v: want one broken report naming w0", reps)
			}
		})
	}
}
