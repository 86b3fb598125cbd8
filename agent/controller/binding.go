package controller

import (
	"fmt"

	"github.com/weirstream/weir/agent/api"
	"github.com/weirstream/weir/jobfile"
	"github.com/weirstream/weir/operator"
	"github.com/weirstream/weir/operator/builtin"
	"github.com/weirstream/weir/topology"
)

func parseJobFile(req api.SubmitRequest, reg *operator.Registry) (*topology.Plan, error) {
	name := req.FileName
	if name == "" {
		name = "job.yaml"
	}
	return jobfile.Parse(name, []byte(req.JobFile), jobfile.Options{
		Params: req.Params, Registry: reg,
		CheckKey: func(src string) error { _, err := builtin.CompileKey(src); return err },
	})
}

// checkBinding makes sure this binary has the code behind every operator of the plan (every node runs the
// same binary, so a plan the leader can bind, every node can).
func checkBinding(p *topology.Plan, jobs *topology.Jobs, reg *operator.Registry) error {
	var b topology.Binding
	switch p.Origin.Kind {
	case topology.OriginGo:
		topo, _, err := jobs.Build(p.Origin.Job, p.Params)
		if err != nil {
			return err
		}
		b = topo
	default:
		b = builtin.Binding(reg)
	}
	for i := range p.Operators {
		op := &p.Operators[i]
		if _, err := b.Factory(op); err != nil {
			return fmt.Errorf("%s: %w", op.Where, err)
		}
	}
	return nil
}
