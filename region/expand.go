package region

import (
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/weirstream/weir/topology"
)

// Physical is a plan expanded into what runs.
type Physical struct {
	Plan      *topology.Plan
	Instances []Instance
	Conns     []Conn
	Links     []Link
	PEs       []PE
	Regions   []Region
}

// Instance is one copy of a logical operator: one per channel of its enclosing parallel regions.
type Instance struct {
	// ID is the operator's name with its channel path: "map[2]", "inner[1][0]", or just "map".
	ID string
	Op int // index into Plan.Operators
	// Path is the channel in each enclosing parallel region, outermost first.
	Path []int
	// Channel and Width describe the innermost enclosing region (0 and 1 outside any).
	Channel, Width int
	PE             int
	Region         int // consistent region index, -1 for none
}

// Forward is the routing of a connection that is not routed: each writer instance has one reader instance.
const Forward = "forward"

// Conn connects output Port of one instance to the instances that read it.
type Conn struct {
	From    int
	Port    int
	To      []int  // reader instances; one unless routed
	Routing string // Forward, or the routing of the parallel region entered
	// Parallel is the parallel region entered by a routed connection, else -1.
	Parallel int
	// Links holds, for each reader, the index of the Link that carries the connection to it, or -1 when the
	// reader is fused in the writer's PE.
	Links []int
}

// Link is a connection that crosses a PE boundary: an edge between two PEs.
type Link struct {
	Index    int
	Conn     int
	From, To int // instances; To is the head of its PE
	FromPE   int
	ToPE     int
	// Input is the link's position among the inputs of its reader PE.
	Input int
}

// PE is a processing element: a tree of fused instances run by one goroutine, the unit of placement.
type PE struct {
	Index int
	// ID is the head instance's ID.
	ID string
	// Instances lists the fused instances, head first, each after the one it reads from.
	Instances []int
	// Inputs are the links into the head, by input position; Outputs the links out of the PE.
	Inputs  []int
	Outputs []int
	Region  int // consistent region index, -1 for none
	Source  bool
}

// Region is a consistent region as it runs.
type Region struct {
	Index  int
	Config topology.Consistent
	// PEs of the region; Starts are those whose head is a start operator.
	PEs    []int
	Starts []int
}

// Expand expands a validated plan.
func Expand(p *topology.Plan) (*Physical, error) {
	order, err := p.Order()
	if err != nil {
		return nil, err
	}
	regions, err := p.ConsistentRegions()
	if err != nil {
		return nil, err
	}
	ph := &Physical{Plan: p}
	regionOf := make(map[string]int)
	for _, r := range regions {
		for _, m := range r.Members {
			regionOf[m] = r.Index
		}
		ph.Regions = append(ph.Regions, Region{Index: r.Index, Config: r.Config})
	}
	// byOp lists each operator's instances in channel order.
	byOp := make([][]int, len(p.Operators))
	for _, i := range order {
		op := &p.Operators[i]
		anc := p.Ancestry(op.Parallel)
		widths := make([]int, len(anc))
		for k, r := range anc {
			widths[k] = p.Parallel[r].Width
		}
		reg := -1
		if r, ok := regionOf[op.Name]; ok {
			reg = r
		}
		for _, path := range paths(widths) {
			inst := Instance{ID: instanceID(op.Name, path), Op: i, Path: path, Width: 1, PE: -1, Region: reg}
			if len(path) > 0 {
				inst.Channel, inst.Width = path[len(path)-1], widths[len(widths)-1]
			}
			byOp[i] = append(byOp[i], len(ph.Instances))
			ph.Instances = append(ph.Instances, inst)
		}
	}
	opIndex := make(map[string]int, len(p.Operators))
	for i, op := range p.Operators {
		opIndex[op.Name] = i
	}
	for _, i := range order {
		op := &p.Operators[i]
		// An operator joins its writer's PE when it has one input and neither end is isolated (an isolated
		// operator runs in a PE of its own: nothing fuses into it either).
		fusable := len(op.Inputs) == 1 && !op.Isolate
		for _, in := range op.Inputs {
			shape, err := p.Shape(in.From, op.Name)
			if err != nil {
				return nil, err
			}
			from := opIndex[in.From]
			fuse := fusable && !p.Operators[from].Isolate
			routing, par := Forward, -1
			if shape.Routed {
				routing, par = p.Parallel[shape.Region].Routing, shape.Region
			}
			forward := !shape.Routed && len(p.Ancestry(p.Operators[from].Parallel)) == shape.Common
			for _, a := range byOp[from] {
				prefix := ph.Instances[a].Path[:shape.Common]
				c := Conn{From: a, Port: in.Port, Routing: routing, Parallel: par}
				for _, b := range byOp[i] {
					if slices.Equal(ph.Instances[b].Path[:shape.Common], prefix) {
						c.To = append(c.To, b)
					}
				}
				if len(c.To) == 0 {
					return nil, fmt.Errorf("no reader of %s in %s", ph.Instances[a].ID, op.Name)
				}
				if fuse && forward {
					ph.Instances[c.To[0]].PE = ph.Instances[a].PE
				}
				ph.Conns = append(ph.Conns, c)
			}
		}
		for _, b := range byOp[i] {
			if ph.Instances[b].PE < 0 {
				k := len(ph.PEs)
				ph.Instances[b].PE = k
				ph.PEs = append(ph.PEs, PE{Index: k, ID: ph.Instances[b].ID, Region: ph.Instances[b].Region, Source: len(op.Inputs) == 0})
			}
			pe := &ph.PEs[ph.Instances[b].PE]
			pe.Instances = append(pe.Instances, b)
		}
	}
	for ci := range ph.Conns {
		c := &ph.Conns[ci]
		c.Links = make([]int, len(c.To))
		fromPE := ph.Instances[c.From].PE
		for k, b := range c.To {
			toPE := ph.Instances[b].PE
			if toPE == fromPE {
				c.Links[k] = -1
				continue
			}
			l := Link{Index: len(ph.Links), Conn: ci, From: c.From, To: b, FromPE: fromPE, ToPE: toPE, Input: len(ph.PEs[toPE].Inputs)}
			c.Links[k] = l.Index
			ph.Links = append(ph.Links, l)
			ph.PEs[toPE].Inputs = append(ph.PEs[toPE].Inputs, l.Index)
			ph.PEs[fromPE].Outputs = append(ph.PEs[fromPE].Outputs, l.Index)
		}
	}
	for k := range ph.PEs {
		pe := &ph.PEs[k]
		if pe.Region < 0 {
			continue
		}
		r := &ph.Regions[pe.Region]
		r.PEs = append(r.PEs, k)
		head := &p.Operators[ph.Instances[pe.Instances[0]].Op]
		if slices.Contains(r.Config.Starts, head.Name) {
			r.Starts = append(r.Starts, k)
		}
	}
	return ph, nil
}

// paths enumerates the channel paths of regions of the given widths, in lexical order.
func paths(widths []int) [][]int {
	out := [][]int{{}}
	for _, w := range widths {
		var next [][]int
		for _, p := range out {
			for c := 0; c < w; c++ {
				next = append(next, append(slices.Clone(p), c))
			}
		}
		out = next
	}
	return out
}

func instanceID(name string, path []int) string {
	var b strings.Builder
	b.WriteString(name)
	for _, c := range path {
		b.WriteByte('[')
		b.WriteString(strconv.Itoa(c))
		b.WriteByte(']')
	}
	return b.String()
}

// PEByID finds a PE by its ID.
func (ph *Physical) PEByID(id string) (*PE, bool) {
	for k := range ph.PEs {
		if ph.PEs[k].ID == id {
			return &ph.PEs[k], true
		}
	}
	return nil, false
}

// Operator returns the logical operator of instance i.
func (ph *Physical) Operator(i int) *topology.Operator { return &ph.Plan.Operators[ph.Instances[i].Op] }
