package cli

import (
	"fmt"
	"io"
	"strings"

	ucli "github.com/urfave/cli/v2"

	"github.com/weirstream/weir/region"
	"github.com/weirstream/weir/topology"
)

func planCommand(env *Env) *ucli.Command {
	return &ucli.Command{
		Name:      "plan",
		Usage:     "validate a job and print its physical plan: operators, PEs, channels, regions",
		ArgsUsage: "JOB.yaml | GO-JOB",
		Flags: []ucli.Flag{
			paramFlag,
			&ucli.BoolFlag{Name: "mermaid", Usage: "print the plan as a Mermaid graph"},
		},
		Action: func(c *ucli.Context) error {
			job, err := loadArg(c, env)
			if err != nil {
				return err
			}
			ph, err := region.Expand(job.plan)
			if err != nil {
				return ucli.Exit(err.Error(), 2)
			}
			if err := bindCheck(job, ph); err != nil {
				return ucli.Exit(err.Error(), 2)
			}
			if c.Bool("mermaid") {
				writeMermaid(env.Stdout, ph)
				return nil
			}
			return describe(env.Stdout, ph)
		},
	}
}

// bindCheck makes sure this binary has the code behind every operator and that each instance accepts its
// placement, as running the job would.
func bindCheck(job *loaded, ph *region.Physical) error {
	for i := range ph.Plan.Operators {
		op := &ph.Plan.Operators[i]
		if _, err := job.binding.Factory(op); err != nil {
			return fmt.Errorf("%s: %w", op.Where, err)
		}
	}
	return nil
}

func describe(w io.Writer, ph *region.Physical) error {
	p := ph.Plan
	fp, err := p.Fingerprint()
	if err != nil {
		return err
	}
	origin := p.Origin.File
	if p.Origin.Kind == topology.OriginGo {
		origin = "Go job " + p.Origin.Job
	}
	fmt.Fprintf(w, "job %s (%s), fingerprint %s\n", p.Name, origin, fp)
	if len(p.Params) > 0 {
		fmt.Fprintf(w, "params:")
		for _, k := range sortedKeys(p.Params) {
			fmt.Fprintf(w, " %s=%s", k, p.Params[k])
		}
		fmt.Fprintln(w)
	}
	fmt.Fprintf(w, "\noperators (%d):\n", len(p.Operators))
	for _, op := range p.Operators {
		kind := op.Kind
		if op.Func != "" {
			kind += " " + op.Func
		}
		io := ""
		if op.In != "" {
			io = op.In
		}
		io += " → " + strings.Join(op.Out, ", ")
		fmt.Fprintf(w, "  %-16s %-22s %-18s %s\n", op.Name, kind, io, op.Where)
	}
	for _, r := range p.Parallel {
		key := ""
		if r.Key != "" {
			key = fmt.Sprintf(" by %q", r.Key)
		}
		parent := ""
		if r.Parent >= 0 {
			parent = fmt.Sprintf(", inside parallel region %d", r.Parent)
		}
		fmt.Fprintf(w, "parallel region %d: width %d, %s%s%s\n", r.ID, r.Width, r.Routing, key, parent)
	}
	fmt.Fprintf(w, "\nPEs (%d):\n", len(ph.PEs))
	for _, pe := range ph.PEs {
		var insts []string
		for _, i := range pe.Instances {
			insts = append(insts, ph.Instances[i].ID)
		}
		reg := "no consistent region"
		if pe.Region >= 0 {
			reg = fmt.Sprintf("consistent region %d", pe.Region)
		}
		fmt.Fprintf(w, "  %-16s [%s]  %s\n", pe.ID, strings.Join(insts, " → "), reg)
		for _, l := range pe.Outputs {
			link := &ph.Links[l]
			c := &ph.Conns[link.Conn]
			fmt.Fprintf(w, "      %s ─%s→ %s\n", ph.Instances[link.From].ID, c.Routing, ph.PEs[link.ToPE].ID)
		}
	}
	for _, r := range ph.Regions {
		c := r.Config
		trig := c.Trigger
		if c.Trigger == topology.TriggerPeriodic {
			trig = fmt.Sprintf("periodic every %s", c.Period)
		}
		fmt.Fprintf(w, "\nconsistent region %d: %s; drain_timeout %s, reset_timeout %s, max_consecutive_attempts %d\n",
			r.Index, trig, c.DrainTimeout, c.ResetTimeout, c.MaxConsecutiveAttempts)
		fmt.Fprintf(w, "  starts: %s\n  PEs: %s\n", strings.Join(c.Starts, ", "), strings.Join(peIDs(ph, r.PEs), ", "))
	}
	return nil
}

func peIDs(ph *region.Physical, idx []int) []string {
	out := make([]string, len(idx))
	for i, k := range idx {
		out[i] = ph.PEs[k].ID
	}
	return out
}

// writeMermaid draws PEs as subgraphs of their instances, with every connection.
func writeMermaid(w io.Writer, ph *region.Physical) {
	fmt.Fprintln(w, "graph LR")
	node := func(i int) string { return fmt.Sprintf("i%d", i) }
	for _, pe := range ph.PEs {
		title := "PE " + pe.ID
		if pe.Region >= 0 {
			title += fmt.Sprintf(" (region %d)", pe.Region)
		}
		fmt.Fprintf(w, "  subgraph pe%d[%q]\n", pe.Index, title)
		for _, i := range pe.Instances {
			fmt.Fprintf(w, "    %s[%q]\n", node(i), ph.Instances[i].ID)
		}
		fmt.Fprintln(w, "  end")
	}
	for _, c := range ph.Conns {
		for _, to := range c.To {
			if c.Routing == region.Forward {
				fmt.Fprintf(w, "  %s --> %s\n", node(c.From), node(to))
			} else {
				fmt.Fprintf(w, "  %s -- %s --> %s\n", node(c.From), c.Routing, node(to))
			}
		}
	}
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	for i := 1; i < len(keys); i++ {
		for j := i; j > 0 && keys[j] < keys[j-1]; j-- {
			keys[j], keys[j-1] = keys[j-1], keys[j]
		}
	}
	return keys
}
