package region

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/weirstream/weir/topology"
	"pgregory.net/rapid"
)

// TestExpandRandomTopologies builds random jobs through the Go API (chains, fan-outs, unions, splits,
// isolation, nested and sibling parallel regions, consistent regions) and checks every expansion's
// invariants (checkPhysical), its determinism, and that each operator has one instance per channel path.
func TestExpandRandomTopologies(t *testing.T) {
	rapid.Check(t, func(rt *rapid.T) {
		tp := topology.New("random")
		type stream struct {
			s     topology.Stream[int]
			par   int   // innermost parallel region, -1 for none
			stack []int // enclosing regions' widths, outermost first
			regs  []int // enclosing regions' IDs
		}
		nextPar := 0
		n := 0
		name := func(kind string) string { n++; return fmt.Sprintf("%s%d", kind, n) }
		var streams []stream
		var sources []topology.Stream[int]
		newSource := func() {
			var opts []topology.Option
			if rapid.IntRange(0, 5).Draw(rt, "isolate_source") == 0 {
				opts = append(opts, topology.Isolate())
			}
			s := src(tp, name("s"), opts...)
			sources = append(sources, s)
			streams = append(streams, stream{s: s, par: -1})
		}
		newSource()
		pick := func() stream { return streams[rapid.IntRange(0, len(streams)-1).Draw(rt, "stream")] }
		mapOpts := func() []topology.Option {
			if rapid.IntRange(0, 5).Draw(rt, "isolate") == 0 {
				return []topology.Option{topology.Isolate()}
			}
			return nil
		}
		width := map[string]int{} // operator -> number of instances
		ops := rapid.IntRange(1, 12).Draw(rt, "ops")
		for range ops {
			switch rapid.IntRange(0, 6).Draw(rt, "op") {
			case 0:
				newSource()
			case 1: // map
				s := pick()
				nm := name("m")
				streams = append(streams, stream{s: mapN(s.s, nm, mapOpts()...), par: s.par, stack: s.stack, regs: s.regs})
				width[nm] = product(s.stack)
			case 2: // parallel region, entered by a map
				s := pick()
				w := rapid.IntRange(1, 3).Draw(rt, "width")
				routing := rapid.SampledFrom([]topology.Routing{topology.RoundRobin, topology.Broadcast, topology.HashBy(key)}).Draw(rt, "routing")
				nm := name("p")
				id := nextPar
				nextPar++
				stack := append(append([]int(nil), s.stack...), w)
				regs := append(append([]int(nil), s.regs...), id)
				streams = append(streams, stream{s: mapN(s.s.Parallel(w, routing), nm, mapOpts()...), par: id, stack: stack, regs: regs})
				width[nm] = product(stack)
			case 3: // end the innermost region, with a map
				s := pick()
				if s.par < 0 {
					continue
				}
				stack, regs := s.stack[:len(s.stack)-1], s.regs[:len(s.regs)-1]
				par := -1
				if len(regs) > 0 {
					par = regs[len(regs)-1]
				}
				nm := name("e")
				streams = append(streams, stream{s: mapN(s.s.EndParallel(), nm, mapOpts()...), par: par, stack: stack, regs: regs})
				width[nm] = product(stack)
			case 4: // union of streams in the same region
				a := pick()
				var same []topology.Stream[int]
				for _, b := range streams {
					if b.par == a.par && rapid.Bool().Draw(rt, "join") {
						same = append(same, b.s)
					}
				}
				u := a.s.Union(same...)
				streams = append(streams, stream{s: u, par: a.par, stack: a.stack, regs: a.regs})
				width[u.Operator()] = product(a.stack)
			case 5: // split
				s := pick()
				ways := rapid.IntRange(1, 3).Draw(rt, "ways")
				nm := name("x")
				for _, w := range s.s.Split(ways, parity, topology.Name(nm)) {
					streams = append(streams, stream{s: w, par: s.par, stack: s.stack, regs: s.regs})
				}
				width[nm] = product(s.stack)
			case 6: // sink
				s := pick()
				nm := name("k")
				sink(s.s, nm)
				width[nm] = product(s.stack)
			}
		}
		// Some sources start consistent regions.
		for i, s := range sources {
			if rapid.IntRange(0, 2).Draw(rt, fmt.Sprintf("consistent%d", i)) == 0 {
				s.SetConsistent(topology.Periodic(time.Second))
			}
		}
		p, err := tp.Plan()
		if err != nil {
			// Only the consistent-region rule may refuse a random job: a region reading from outside.
			if !strings.Contains(err.Error(), "is in a consistent region but reads from") {
				rt.Fatalf("plan: %v", err)
			}
			return
		}
		ph := expand(rt, p)
		count := map[string]int{}
		for i := range ph.Instances {
			count[ph.Operator(i).Name]++
		}
		for nm, w := range width {
			if count[nm] != w {
				rt.Fatalf("operator %s has %d instances, want %d", nm, count[nm], w)
			}
		}
	})
}

func product(ws []int) int {
	p := 1
	for _, w := range ws {
		p *= w
	}
	return p
}
