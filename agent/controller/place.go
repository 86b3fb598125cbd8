package controller

import (
	"fmt"
	"slices"

	"github.com/weirstream/weir/region"
)

// place chooses nodes for PEs: every PE of the plan when which is nil, else the PEs named, given the
// current placements cur. It balances the number of PEs per live node across all running jobs and spreads
// the channels of one parallel region over distinct nodes first, so that a job scales past one machine and
// the loss of one node touches few channels.
func (ctl *Controller) place(ph *region.Physical, cur map[string]string, which []string) (map[string]string, error) {
	alive := ctl.c.Alive()
	if len(alive) == 0 {
		return nil, fmt.Errorf("no live node to place PEs on")
	}
	load := map[string]int{}
	for _, fj := range ctl.c.State.Jobs() {
		if fj.State.Terminal() {
			continue
		}
		for _, n := range ctl.c.State.Placements(fj.ID) {
			load[n]++
		}
	}
	todo := which
	if todo == nil {
		for _, pe := range ph.PEs {
			todo = append(todo, pe.ID)
		}
	}
	// Siblings are the PEs whose head is the same logical operator (the channels of a parallel region).
	sameOp := map[int]map[string]int{}
	opOf := func(id string) int {
		pe, _ := ph.PEByID(id)
		return ph.Instances[pe.Instances[0]].Op
	}
	for pe, n := range cur {
		if slices.Contains(todo, pe) {
			load[n]--
			continue
		}
		op := opOf(pe)
		if sameOp[op] == nil {
			sameOp[op] = map[string]int{}
		}
		sameOp[op][n]++
	}
	out := map[string]string{}
	for i, id := range todo {
		if _, ok := ph.PEByID(id); !ok {
			return nil, fmt.Errorf("no PE %s", id)
		}
		op := opOf(id)
		if sameOp[op] == nil {
			sameOp[op] = map[string]int{}
		}
		best, bestScore := "", 0
		for k := range alive {
			n := alive[(i+k)%len(alive)]
			score := sameOp[op][n]*1000 + load[n]
			if best == "" || score < bestScore {
				best, bestScore = n, score
			}
		}
		out[id] = best
		load[best]++
		sameOp[op][best]++
	}
	return out, nil
}
