package region

import (
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/weirstream/weir/topology"
)

// Plans are built with topology's Go API; the operators' code never runs here.

func ints(yield func(int) bool) {}
func double(x int) int          { return 2 * x }
func even(x int) bool           { return x%2 == 0 }
func discard(int)               {}
func key(x int) int             { return x }
func parity(x int) int          { return x % 2 }

func src(t *topology.Topology, name string, opts ...topology.Option) topology.Stream[int] {
	return topology.Source(t, ints, append([]topology.Option{topology.Name(name)}, opts...)...)
}

func mapN(s topology.Stream[int], name string, opts ...topology.Option) topology.Stream[int] {
	return topology.Map(s, double, append([]topology.Option{topology.Name(name)}, opts...)...)
}

func sink(s topology.Stream[int], name string) { s.ForEach(discard, topology.Name(name)) }

func plan(t *testing.T, tp *topology.Topology) *topology.Plan {
	t.Helper()
	p, err := tp.Plan()
	if err != nil {
		t.Fatalf("plan: %v", err)
	}
	return p
}

// expand expands a plan, checks the physical plan's invariants, and checks that expanding again (and
// expanding a decoded copy, as another node would) gives the same result.
func expand(t tb, p *topology.Plan) *Physical {
	t.Helper()
	ph, err := Expand(p)
	if err != nil {
		t.Fatalf("expand: %v", err)
	}
	checkPhysical(t, ph)
	again, err := Expand(p)
	if err != nil {
		t.Fatalf("%v", err)
	}
	if !samePhysical(ph, again) {
		t.Fatalf("expansion is not deterministic")
	}
	b, err := p.Encode()
	if err != nil {
		t.Fatalf("%v", err)
	}
	q, err := topology.DecodePlan(b)
	if err != nil {
		t.Fatalf("%v", err)
	}
	other, err := Expand(q)
	if err != nil {
		t.Fatalf("%v", err)
	}
	if !samePhysical(ph, other) {
		t.Fatalf("a decoded plan expands differently")
	}
	return ph
}

func samePhysical(a, b *Physical) bool {
	return reflect.DeepEqual(a.Instances, b.Instances) && reflect.DeepEqual(a.Conns, b.Conns) &&
		reflect.DeepEqual(a.Links, b.Links) && reflect.DeepEqual(a.PEs, b.PEs) && reflect.DeepEqual(a.Regions, b.Regions)
}

// checkPhysical checks what every expansion must satisfy.
func checkPhysical(t tb, ph *Physical) {
	t.Helper()
	ids := map[string]bool{}
	for i, in := range ph.Instances {
		if ids[in.ID] {
			t.Fatalf("instance ID %s twice", in.ID)
		}
		ids[in.ID] = true
		op := ph.Operator(i)
		if in.ID != instanceID(op.Name, in.Path) {
			t.Fatalf("instance %d: ID %s, path %v", i, in.ID, in.Path)
		}
		if len(in.Path) != len(ph.Plan.Ancestry(op.Parallel)) {
			t.Fatalf("instance %s: path %v in regions %v", in.ID, in.Path, ph.Plan.Ancestry(op.Parallel))
		}
		if in.PE < 0 || in.PE >= len(ph.PEs) || !slices.Contains(ph.PEs[in.PE].Instances, i) {
			t.Fatalf("instance %s: PE %d does not hold it", in.ID, in.PE)
		}
	}
	inPE := map[int]int{}
	peIDs := map[string]bool{}
	for k, pe := range ph.PEs {
		if pe.Index != k || len(pe.Instances) == 0 {
			t.Fatalf("PE %d: %+v", k, pe)
		}
		head := ph.Instances[pe.Instances[0]]
		if pe.ID != head.ID || peIDs[pe.ID] {
			t.Fatalf("PE %d: ID %s, head %s", k, pe.ID, head.ID)
		}
		peIDs[pe.ID] = true
		if pe.Source != (len(ph.Operator(pe.Instances[0]).Inputs) == 0) {
			t.Fatalf("PE %s: Source %v", pe.ID, pe.Source)
		}
		for _, i := range pe.Instances {
			if _, dup := inPE[i]; dup {
				t.Fatalf("instance %d in two PEs", i)
			}
			inPE[i] = k
			if ph.Instances[i].PE != k {
				t.Fatalf("instance %s in PE %d says PE %d", ph.Instances[i].ID, k, ph.Instances[i].PE)
			}
			if ph.Instances[i].Region != pe.Region {
				t.Fatalf("PE %s (region %d) fuses %s of region %d", pe.ID, pe.Region, ph.Instances[i].ID, ph.Instances[i].Region)
			}
		}
		for j, l := range pe.Inputs {
			if ph.Links[l].ToPE != k || ph.Links[l].Input != j {
				t.Fatalf("PE %s input %d is link %+v", pe.ID, j, ph.Links[l])
			}
		}
		for _, l := range pe.Outputs {
			if ph.Links[l].FromPE != k {
				t.Fatalf("PE %s output link %+v", pe.ID, ph.Links[l])
			}
		}
	}
	if len(inPE) != len(ph.Instances) {
		t.Fatalf("%d instances, %d in PEs", len(ph.Instances), len(inPE))
	}
	// Every instance reads, per logical input, from the right instances; fused readers read from an instance
	// before them in their PE, and only from it.
	feeds := map[int][]int{} // reader -> conns
	for ci, c := range ph.Conns {
		if len(c.Links) != len(c.To) || len(c.To) == 0 {
			t.Fatalf("conn %d: %+v", ci, c)
		}
		if (c.Routing == Forward) != (c.Parallel < 0) {
			t.Fatalf("conn %d: routing %s, parallel %d", ci, c.Routing, c.Parallel)
		}
		if c.Routing == Forward && len(c.To) != 1 {
			t.Fatalf("forward conn %d with %d readers", ci, len(c.To))
		}
		from := ph.Instances[c.From]
		for k, b := range c.To {
			feeds[b] = append(feeds[b], ci)
			to := ph.Instances[b]
			if c.Links[k] < 0 {
				if from.PE != to.PE {
					t.Fatalf("conn %d: %s → %s crosses PEs without a link", ci, from.ID, to.ID)
				}
				pe := ph.PEs[to.PE]
				if slices.Index(pe.Instances, b) <= slices.Index(pe.Instances, c.From) {
					t.Fatalf("PE %s: %s is not after %s", pe.ID, to.ID, from.ID)
				}
				continue
			}
			l := ph.Links[c.Links[k]]
			if l.Index != c.Links[k] || l.Conn != ci || l.From != c.From || l.To != b || l.FromPE != from.PE || l.ToPE != to.PE || l.FromPE == l.ToPE {
				t.Fatalf("conn %d reader %d: link %+v", ci, k, l)
			}
			if ph.PEs[l.ToPE].Instances[0] != b {
				t.Fatalf("link %+v does not enter the head of its PE", l)
			}
		}
	}
	for i := range ph.Instances {
		op := ph.Operator(i)
		// Each logical input reaches each instance from as many writer instances as the shape says.
		if len(op.Inputs) == 0 && len(feeds[i]) != 0 {
			t.Fatalf("source %s is fed", ph.Instances[i].ID)
		}
		if len(op.Inputs) > 0 && len(feeds[i]) == 0 {
			t.Fatalf("%s is fed by nothing", ph.Instances[i].ID)
		}
		pe := ph.PEs[ph.Instances[i].PE]
		if pe.Instances[0] != i && len(feeds[i]) != 1 {
			t.Fatalf("fused %s has %d inputs", ph.Instances[i].ID, len(feeds[i]))
		}
	}
	// An instance heads a PE exactly when it cannot join its writer's: it is a source, has several inputs, is
	// isolated or reads an isolated operator, or its input is routed or merged across channels.
	for i, in := range ph.Instances {
		op := ph.Operator(i)
		head := len(op.Inputs) != 1 || op.Isolate
		if !head {
			from, _ := ph.Plan.Operator(op.Inputs[0].From)
			shape, err := ph.Plan.Shape(from.Name, op.Name)
			if err != nil {
				t.Fatalf("shape: %v", err)
			}
			head = from.Isolate || shape.Routed || len(ph.Plan.Ancestry(from.Parallel)) != shape.Common
		}
		if isHead := ph.PEs[in.PE].Instances[0] == i; isHead != head {
			t.Fatalf("instance %s heads its PE: %v, want %v (PEs %v)", in.ID, isHead, head, peNames(ph))
		}
	}
	for _, l := range ph.Links {
		if !slices.Contains(ph.PEs[l.FromPE].Outputs, l.Index) || ph.PEs[l.ToPE].Inputs[l.Input] != l.Index {
			t.Fatalf("link %+v not listed by its PEs", l)
		}
	}
	for r, reg := range ph.Regions {
		if reg.Index != r {
			t.Fatalf("region %d has index %d", r, reg.Index)
		}
		var want []int
		for k, pe := range ph.PEs {
			if pe.Region == r {
				want = append(want, k)
			}
		}
		if !slices.Equal(reg.PEs, want) {
			t.Fatalf("region %d PEs %v, want %v", r, reg.PEs, want)
		}
		if len(reg.Starts) == 0 {
			t.Fatalf("region %d has no start PE", r)
		}
		for _, s := range reg.Starts {
			if !slices.Contains(reg.PEs, s) || !ph.PEs[s].Source {
				t.Fatalf("region %d start %d", r, s)
			}
		}
	}
}

func peByID(t *testing.T, ph *Physical, id string) *PE {
	t.Helper()
	pe, ok := ph.PEByID(id)
	if !ok {
		t.Fatalf("no PE %s; PEs: %v", id, peNames(ph))
	}
	return pe
}

// peNames lists the PEs as "head:inst,inst".
func peNames(ph *Physical) []string {
	var out []string
	for _, pe := range ph.PEs {
		var ids []string
		for _, i := range pe.Instances {
			ids = append(ids, ph.Instances[i].ID)
		}
		out = append(out, strings.Join(ids, ","))
	}
	return out
}

func instanceByID(t *testing.T, ph *Physical, id string) int {
	t.Helper()
	for i, in := range ph.Instances {
		if in.ID == id {
			return i
		}
	}
	t.Fatalf("no instance %s", id)
	return -1
}

// connsInto returns the conns reading into instance i.
func connsInto(ph *Physical, i int) []Conn {
	var out []Conn
	for _, c := range ph.Conns {
		if slices.Contains(c.To, i) {
			out = append(out, c)
		}
	}
	return out
}

func ids(ph *Physical, idx []int) []string {
	var out []string
	for _, i := range idx {
		out = append(out, ph.Instances[i].ID)
	}
	return out
}

func TestExpandChainFusesIntoOnePE(t *testing.T) {
	tp := topology.New("chain")
	sink(mapN(src(tp, "src"), "m").Filter(even, topology.Name("f")), "out")
	ph := expand(t, plan(t, tp))
	if got := peNames(ph); !slices.Equal(got, []string{"src,m,f,out"}) {
		t.Fatalf("PEs %v", got)
	}
	if len(ph.Links) != 0 || len(ph.Conns) != 3 {
		t.Fatalf("links %v conns %v", ph.Links, ph.Conns)
	}
	for _, c := range ph.Conns {
		if c.Routing != Forward || c.Parallel != -1 || !slices.Equal(c.Links, []int{-1}) {
			t.Fatalf("conn %+v", c)
		}
	}
	pe := ph.PEs[0]
	if !pe.Source || pe.Region != -1 || len(pe.Inputs) != 0 || len(pe.Outputs) != 0 {
		t.Fatalf("PE %+v", pe)
	}
	for _, in := range ph.Instances {
		if in.Channel != 0 || in.Width != 1 || len(in.Path) != 0 || in.Region != -1 {
			t.Fatalf("instance %+v", in)
		}
	}
}

func TestExpandParallelRegion(t *testing.T) {
	routings := map[string]topology.Routing{
		topology.RoutingHash:       topology.HashBy(key),
		topology.RoutingRoundRobin: topology.RoundRobin,
		topology.RoutingBroadcast:  topology.Broadcast,
	}
	for name, routing := range routings {
		t.Run(name, func(t *testing.T) {
			tp := topology.New("par")
			sink(mapN(src(tp, "src").Parallel(4, routing), "m").EndParallel(), "out")
			ph := expand(t, plan(t, tp))
			want := []string{"src", "m[0]", "m[1]", "m[2]", "m[3]", "out"}
			if got := peNames(ph); !slices.Equal(got, want) {
				t.Fatalf("PEs %v, want %v", got, want)
			}
			for c := 0; c < 4; c++ {
				in := ph.Instances[instanceByID(t, ph, fmt.Sprintf("m[%d]", c))]
				if in.Channel != c || in.Width != 4 || !slices.Equal(in.Path, []int{c}) {
					t.Fatalf("instance %+v", in)
				}
			}
			// One routed conn from the source to the four channels, each over its own link.
			s := instanceByID(t, ph, "src")
			var routed []Conn
			for _, c := range ph.Conns {
				if c.From == s {
					routed = append(routed, c)
				}
			}
			if len(routed) != 1 {
				t.Fatalf("conns from src: %v", routed)
			}
			r := routed[0]
			if r.Routing != name || r.Parallel != 0 || len(r.To) != 4 || slices.Contains(r.Links, -1) {
				t.Fatalf("routed conn %+v", r)
			}
			if got := ids(ph, r.To); !slices.Equal(got, []string{"m[0]", "m[1]", "m[2]", "m[3]"}) {
				t.Fatalf("readers %v", got)
			}
			if len(peByID(t, ph, "src").Outputs) != 4 {
				t.Fatalf("src outputs %v", peByID(t, ph, "src").Outputs)
			}
			// The merge PE reads the four channels, in channel order.
			out := peByID(t, ph, "out")
			if len(out.Inputs) != 4 {
				t.Fatalf("merge PE inputs %v", out.Inputs)
			}
			for j, l := range out.Inputs {
				link := ph.Links[l]
				if ph.Instances[link.From].ID != fmt.Sprintf("m[%d]", j) || ph.Conns[link.Conn].Routing != Forward {
					t.Fatalf("merge input %d: %+v", j, link)
				}
			}
			if ph.Plan.Parallel[0].Routing == topology.RoutingHash && ph.Plan.Parallel[0].Key != "key" {
				t.Fatalf("hash key %q", ph.Plan.Parallel[0].Key)
			}
		})
	}
}

func TestExpandChainInsideChannelsFuses(t *testing.T) {
	tp := topology.New("par")
	sink(mapN(mapN(src(tp, "src").Parallel(3), "a"), "b").EndParallel(), "out")
	ph := expand(t, plan(t, tp))
	want := []string{"src", "a[0],b[0]", "a[1],b[1]", "a[2],b[2]", "out"}
	if got := peNames(ph); !slices.Equal(got, want) {
		t.Fatalf("PEs %v, want %v", got, want)
	}
	// A sink inside the region: one per channel, fused.
	tp = topology.New("par_sink")
	sink(mapN(src(tp, "src").Parallel(2), "a"), "out")
	ph = expand(t, plan(t, tp))
	want = []string{"src", "a[0],out[0]", "a[1],out[1]"}
	if got := peNames(ph); !slices.Equal(got, want) {
		t.Fatalf("PEs %v, want %v", got, want)
	}
}

func TestExpandNestedParallel(t *testing.T) {
	tp := topology.New("nested")
	outer := mapN(src(tp, "src").Parallel(3, topology.HashBy(key)), "a")
	inner := mapN(outer.Parallel(2, topology.RoundRobin), "b").EndParallel()
	sink(mapN(inner, "c").EndParallel(), "out")
	ph := expand(t, plan(t, tp))

	var inners []string
	for _, in := range ph.Instances {
		if ph.Operator(instanceByID(t, ph, in.ID)).Name == "b" {
			inners = append(inners, in.ID)
			if in.Width != 2 || len(in.Path) != 2 || in.Channel != in.Path[1] {
				t.Fatalf("inner instance %+v", in)
			}
		}
	}
	want := []string{"b[0][0]", "b[0][1]", "b[1][0]", "b[1][1]", "b[2][0]", "b[2][1]"}
	if !slices.Equal(inners, want) {
		t.Fatalf("inner instances %v, want %v", inners, want)
	}
	for i := 0; i < 3; i++ {
		// a[i] routes round-robin into its own two inner channels only.
		a := instanceByID(t, ph, fmt.Sprintf("a[%d]", i))
		for _, c := range ph.Conns {
			if c.From != a {
				continue
			}
			wantTo := []string{fmt.Sprintf("b[%d][0]", i), fmt.Sprintf("b[%d][1]", i)}
			if got := ids(ph, c.To); !slices.Equal(got, wantTo) || c.Routing != topology.RoutingRoundRobin || c.Parallel != 1 {
				t.Fatalf("conn from a[%d]: %+v (readers %v)", i, c, got)
			}
		}
		// c[i] merges its outer channel's two inner channels.
		ci := instanceByID(t, ph, fmt.Sprintf("c[%d]", i))
		var from []string
		for _, c := range connsInto(ph, ci) {
			from = append(from, ph.Instances[c.From].ID)
			if c.Routing != Forward {
				t.Fatalf("merge conn %+v", c)
			}
		}
		if !slices.Equal(from, []string{fmt.Sprintf("b[%d][0]", i), fmt.Sprintf("b[%d][1]", i)}) {
			t.Fatalf("c[%d] reads %v", i, from)
		}
		if pe := peByID(t, ph, fmt.Sprintf("c[%d]", i)); len(pe.Inputs) != 2 {
			t.Fatalf("c[%d] PE inputs %v", i, pe.Inputs)
		}
	}
	// The source hashes into the three outer channels.
	s := instanceByID(t, ph, "src")
	for _, c := range ph.Conns {
		if c.From == s && (c.Routing != topology.RoutingHash || c.Parallel != 0 || len(c.To) != 3) {
			t.Fatalf("conn from src %+v", c)
		}
	}
	if pe := peByID(t, ph, "out"); len(pe.Inputs) != 3 {
		t.Fatalf("out inputs %v", pe.Inputs)
	}
	if len(ph.PEs) != 1+3+6+3+1 {
		t.Fatalf("PEs %v", peNames(ph))
	}
}

func TestExpandDoubleEndParallelMergesAll(t *testing.T) {
	tp := topology.New("nested")
	outer := mapN(src(tp, "src").Parallel(3), "a")
	sink(mapN(outer.Parallel(2), "b").EndParallel().EndParallel(), "out")
	ph := expand(t, plan(t, tp))
	out := peByID(t, ph, "out")
	if len(out.Inputs) != 6 {
		t.Fatalf("out inputs %v", out.Inputs)
	}
	var from []string
	for _, l := range out.Inputs {
		from = append(from, ph.Instances[ph.Links[l].From].ID)
	}
	want := []string{"b[0][0]", "b[0][1]", "b[1][0]", "b[1][1]", "b[2][0]", "b[2][1]"}
	if !slices.Equal(from, want) {
		t.Fatalf("out reads %v, want %v", from, want)
	}
}

func TestExpandSiblingParallelRegions(t *testing.T) {
	// EndParallel then Parallel again: every writer channel routes into every reader channel.
	tp := topology.New("siblings")
	a := mapN(src(tp, "src").Parallel(2), "a").EndParallel()
	sink(mapN(a.Parallel(3, topology.Broadcast), "b").EndParallel(), "out")
	ph := expand(t, plan(t, tp))
	for i := 0; i < 2; i++ {
		ai := instanceByID(t, ph, fmt.Sprintf("a[%d]", i))
		for _, c := range ph.Conns {
			if c.From == ai && (c.Routing != topology.RoutingBroadcast || len(c.To) != 3) {
				t.Fatalf("conn from a[%d]: %+v", i, c)
			}
		}
	}
	for j := 0; j < 3; j++ {
		if pe := peByID(t, ph, fmt.Sprintf("b[%d]", j)); len(pe.Inputs) != 2 {
			t.Fatalf("b[%d] inputs %v", j, pe.Inputs)
		}
	}
}

func TestExpandWidthOneStillSplitsPEs(t *testing.T) {
	tp := topology.New("narrow")
	sink(mapN(src(tp, "src").Parallel(1), "m").EndParallel(), "out")
	ph := expand(t, plan(t, tp))
	if got := peNames(ph); !slices.Equal(got, []string{"src", "m[0]", "out"}) {
		t.Fatalf("PEs %v", got)
	}
	m := ph.Instances[instanceByID(t, ph, "m[0]")]
	if m.Width != 1 || m.Channel != 0 {
		t.Fatalf("instance %+v", m)
	}
}

func TestExpandFanOutFuses(t *testing.T) {
	tp := topology.New("fanout")
	s := src(tp, "src")
	sink(mapN(s, "a"), "out_a")
	sink(mapN(s, "b"), "out_b")
	ph := expand(t, plan(t, tp))
	if got := peNames(ph); !slices.Equal(got, []string{"src,a,out_a,b,out_b"}) {
		t.Fatalf("PEs %v", got)
	}
	s0 := instanceByID(t, ph, "src")
	n := 0
	for _, c := range ph.Conns {
		if c.From == s0 {
			n++
		}
	}
	if n != 2 {
		t.Fatalf("%d conns from src", n)
	}
}

func TestExpandUnion(t *testing.T) {
	tp := topology.New("union")
	a, b := mapN(src(tp, "sa"), "ma"), src(tp, "sb")
	sink(a.Union(b), "out")
	ph := expand(t, plan(t, tp))
	u := ph.Plan.Operators[len(ph.Plan.Operators)-2].Name // the union's generated name
	pe := peByID(t, ph, u)
	if len(pe.Inputs) != 2 || pe.Source {
		t.Fatalf("union PE %+v", pe)
	}
	var from []string
	for _, l := range pe.Inputs {
		from = append(from, ph.Instances[ph.Links[l].From].ID)
	}
	if !slices.Equal(from, []string{"ma", "sb"}) {
		t.Fatalf("union reads %v", from)
	}
	if got := ids(ph, pe.Instances); !slices.Equal(got, []string{u, "out"}) {
		t.Fatalf("union PE instances %v", got)
	}
	// The same stream twice: two inputs, two links.
	tp = topology.New("self_union")
	s := src(tp, "s")
	sink(s.Union(s), "out")
	ph = expand(t, plan(t, tp))
	if pe := &ph.PEs[1]; len(pe.Inputs) != 2 || ph.Links[pe.Inputs[0]].Conn == ph.Links[pe.Inputs[1]].Conn {
		t.Fatalf("self-union PE %+v, links %+v", pe, ph.Links)
	}
}

func TestExpandIsolate(t *testing.T) {
	tp := topology.New("isolate")
	sink(mapN(mapN(src(tp, "src"), "iso", topology.Isolate()), "after"), "out")
	ph := expand(t, plan(t, tp))
	// The isolated operator runs in a PE of its own: a boundary before it and after it.
	if got := peNames(ph); !slices.Equal(got, []string{"src", "iso", "after,out"}) {
		t.Fatalf("PEs %v", got)
	}
	tp = topology.New("isolate_source")
	sink(mapN(src(tp, "src", topology.Isolate()), "m"), "out")
	ph = expand(t, plan(t, tp))
	if got := peNames(ph); !slices.Equal(got, []string{"src", "m,out"}) {
		t.Fatalf("PEs %v", got)
	}
	// Isolated inside a parallel region: one PE per channel.
	tp = topology.New("isolate_par")
	sink(mapN(mapN(src(tp, "src").Parallel(2), "a"), "iso", topology.Isolate()).EndParallel(), "out")
	ph = expand(t, plan(t, tp))
	if got := peNames(ph); !slices.Equal(got, []string{"src", "a[0]", "a[1]", "iso[0]", "iso[1]", "out"}) {
		t.Fatalf("PEs %v", got)
	}
}

func TestExpandSplit(t *testing.T) {
	tp := topology.New("split")
	ways := src(tp, "src").Split(3, parity, topology.Name("split"))
	sink(mapN(ways[0], "p0"), "o0")
	sink(ways[2], "o2")
	ph := expand(t, plan(t, tp))
	if got := peNames(ph); !slices.Equal(got, []string{"src,split,p0,o0,o2"}) {
		t.Fatalf("PEs %v", got)
	}
	sp := instanceByID(t, ph, "split")
	ports := map[string]int{}
	for _, c := range ph.Conns {
		if c.From == sp {
			ports[ph.Instances[c.To[0]].ID] = c.Port
		}
	}
	if ports["p0"] != 0 || ports["o2"] != 2 || len(ports) != 2 {
		t.Fatalf("split ports %v", ports)
	}
	// A split port into a parallel region.
	tp = topology.New("split_par")
	ways = src(tp, "src").Split(2, parity, topology.Name("split"))
	sink(mapN(ways[1].Parallel(2), "m").EndParallel(), "out")
	sink(ways[0], "o0")
	ph = expand(t, plan(t, tp))
	for _, c := range ph.Conns {
		if c.Routing != Forward && (c.Port != 1 || len(c.To) != 2) {
			t.Fatalf("routed conn %+v", c)
		}
	}
}

func TestExpandConsistentRegion(t *testing.T) {
	tp := topology.New("cr")
	s := src(tp, "src").SetConsistent(topology.Periodic(time.Second))
	sink(mapN(mapN(s, "pre").Parallel(2), "m").EndParallel(), "out")
	sink(mapN(src(tp, "x_other"), "x_m"), "x_out")
	ph := expand(t, plan(t, tp))
	if len(ph.Regions) != 1 {
		t.Fatalf("regions %+v", ph.Regions)
	}
	r := ph.Regions[0]
	var members []string
	for _, k := range r.PEs {
		members = append(members, ph.PEs[k].ID)
	}
	if want := []string{"src", "m[0]", "m[1]", "out"}; !slices.Equal(members, want) { // pre fused into src
		t.Fatalf("region PEs %v, want %v", members, want)
	}
	if len(r.Starts) != 1 || ph.PEs[r.Starts[0]].ID != "src" {
		t.Fatalf("starts %v", r.Starts)
	}
	if r.Config.Period != time.Second || r.Config.Trigger != topology.TriggerPeriodic ||
		r.Config.DrainTimeout != topology.DefaultDrainTimeout || !slices.Equal(r.Config.Starts, []string{"src"}) {
		t.Fatalf("config %+v", r.Config)
	}
	for _, in := range ph.Instances {
		want := 0
		if strings.HasPrefix(in.ID, "x_") {
			want = -1
		}
		if in.Region != want {
			t.Fatalf("instance %s in region %d", in.ID, in.Region)
		}
	}
	if pe := peByID(t, ph, "x_other"); pe.Region != -1 {
		t.Fatalf("PE other in region %d", pe.Region)
	}
}

func TestExpandOverlappingRegionsMerge(t *testing.T) {
	tp := topology.New("merge")
	a := src(tp, "sa").SetConsistent(topology.Periodic(time.Second))
	b := src(tp, "sb").SetConsistent(topology.Periodic(time.Second))
	c := src(tp, "sc").SetConsistent(topology.OperatorDriven())
	sink(mapN(a, "ma").Union(b), "out")
	sink(c, "cout")
	ph := expand(t, plan(t, tp))
	if len(ph.Regions) != 2 {
		t.Fatalf("regions %+v", ph.Regions)
	}
	r := ph.Regions[0]
	var starts []string
	for _, k := range r.Starts {
		starts = append(starts, ph.PEs[k].ID)
	}
	if !slices.Equal(starts, []string{"sa", "sb"}) || !slices.Equal(r.Config.Starts, []string{"sa", "sb"}) {
		t.Fatalf("merged region starts %v, config %v", starts, r.Config.Starts)
	}
	if len(r.PEs) != 3 { // sa+ma, sb, union+out
		t.Fatalf("merged region PEs %v", r.PEs)
	}
	r2 := ph.Regions[1]
	if r2.Config.Trigger != topology.TriggerOperatorDriven || len(r2.PEs) != 1 || ph.PEs[r2.Starts[0]].ID != "sc" {
		t.Fatalf("second region %+v", r2)
	}

	// Overlapping regions must agree on their configuration.
	tp = topology.New("conflict")
	a = src(tp, "sa").SetConsistent(topology.Periodic(time.Second))
	b = src(tp, "sb").SetConsistent(topology.Periodic(2 * time.Second))
	sink(a.Union(b), "out")
	if _, err := tp.Plan(); err == nil || !strings.Contains(err.Error(), "configured differently") {
		t.Fatalf("err %v", err)
	}
}

func TestExpandDeterministicAcrossBuilds(t *testing.T) {
	build := func() *topology.Plan {
		tp := topology.New("det")
		s := src(tp, "src").SetConsistent(topology.Periodic(time.Second))
		outer := mapN(s.Parallel(3, topology.HashBy(key)), "a")
		inner := mapN(outer.Parallel(2), "b").EndParallel()
		u := mapN(inner, "c").EndParallel().Union(src(tp, "s2").SetConsistent(topology.Periodic(time.Second)))
		sink(u, "out")
		return plan(t, tp)
	}
	a, b := expand(t, build()), expand(t, build())
	if !samePhysical(a, b) {
		t.Fatal("two builds of one job expand differently")
	}
}

func TestExpandRefusesBadPlans(t *testing.T) {
	// Expand resolves the consistent regions, so a plan that skipped validation is still refused.
	p := &topology.Plan{Name: "bad", Parallel: nil, Operators: []topology.Operator{
		{Name: "s", Out: []string{"int"}, Parallel: -1},
		{Name: "m", In: "int", Out: []string{"int"}, Inputs: []topology.Input{{From: "s"}}, Parallel: -1},
	}, Consistent: []topology.Consistent{{Starts: []string{"m"}, Trigger: topology.TriggerOperatorDriven}}}
	if _, err := Expand(p); err == nil {
		t.Fatal("expanded a region starting at a non-source")
	}
	p = &topology.Plan{Name: "cycle", Operators: []topology.Operator{
		{Name: "a", In: "int", Out: []string{"int"}, Inputs: []topology.Input{{From: "b"}}, Parallel: -1},
		{Name: "b", In: "int", Out: []string{"int"}, Inputs: []topology.Input{{From: "a"}}, Parallel: -1},
	}}
	if _, err := Expand(p); err == nil || !strings.Contains(err.Error(), "cycle") {
		t.Fatalf("err %v", err)
	}
}

func TestValidateConsistentRegionRules(t *testing.T) {
	// A region's operator reading from outside the region is refused, naming it and the outsider.
	tp := topology.New("outside")
	in := src(tp, "inside").SetConsistent(topology.Periodic(time.Second))
	sink(mapN(in, "m").Union(src(tp, "outsider")), "out")
	_, err := tp.Plan()
	if err == nil {
		t.Fatal("accepted a region that reads from outside")
	}
	if msg := err.Error(); !strings.Contains(msg, "operator union is in a consistent region but reads from outsider") ||
		!strings.Contains(msg, "expand_test.go:") {
		t.Fatalf("error does not name the operator, its outside input and where it is: %v", err)
	}

	// A region may not start at a non-source.
	tp = topology.New("nonsource")
	sink(mapN(src(tp, "s"), "m").SetConsistent(topology.Periodic(time.Second)), "out")
	_, err = tp.Plan()
	if err == nil || !strings.Contains(err.Error(), "starts at m, which is not a source") {
		t.Fatalf("err %v", err)
	}
	// A periodic region needs a period.
	tp = topology.New("noperiod")
	sink(src(tp, "s").SetConsistent(topology.Consistent{Trigger: topology.TriggerPeriodic}), "out")
	if _, err = tp.Plan(); err == nil || !strings.Contains(err.Error(), "period above 0") {
		t.Fatalf("err %v", err)
	}
	// A region may span a parallel region and end anywhere downstream.
	tp = topology.New("fine")
	s := src(tp, "s").SetConsistent(topology.OperatorDriven())
	sink(mapN(s.Parallel(2), "m").EndParallel(), "out")
	if _, err = tp.Plan(); err != nil {
		t.Fatal(err)
	}
}
