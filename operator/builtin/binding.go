package builtin

import (
	"fmt"

	"github.com/weirstream/weir/operator"
	"github.com/weirstream/weir/topology"
)

// Binding finds the code of a job file's plan in reg: each operator's kind under its role (no inputs: a
// source; no outputs: a sink; else a transform), configured from its parameters; hash keys are expressions
// (CompileKey).
func Binding(reg *operator.Registry) topology.Binding { return binding{reg} }

type binding struct{ reg *operator.Registry }

// Role is the role of a plan operator, from its connections.
func Role(op *topology.Operator) operator.Role {
	switch {
	case len(op.Inputs) == 0:
		return operator.RoleSource
	case len(op.Out) == 0:
		return operator.RoleSink
	}
	return operator.RoleTransform
}

func (b binding) Factory(op *topology.Operator) (operator.Factory, error) {
	spec, err := b.reg.Lookup(Role(op), op.Kind)
	if err != nil {
		return nil, opError(op, err)
	}
	cfg, err := spec.Configure(op.Config)
	if err != nil {
		return nil, opError(op, err)
	}
	f, err := spec.Build(cfg)
	if err != nil {
		return nil, opError(op, err)
	}
	return f, nil
}

func opError(op *topology.Operator, err error) error {
	if op.Where == "" {
		return fmt.Errorf("operator %s: %w", op.Name, err)
	}
	return fmt.Errorf("%s: operator %s: %w", op.Where, op.Name, err)
}

// KeyHash compiles the region's key expression into a func(any) uint64.
func (b binding) KeyHash(r *topology.Parallel) (any, error) {
	h, err := CompileKey(r.Key)
	if err != nil {
		if r.Where == "" {
			return nil, fmt.Errorf("parallel region %d: hash key: %w", r.ID, err)
		}
		return nil, fmt.Errorf("%s: parallel region %d: hash key: %w", r.Where, r.ID, err)
	}
	return h, nil
}
