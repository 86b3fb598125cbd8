package topology

import (
	"fmt"

	"github.com/weirstream/weir/operator"
)

// Binding finds the code behind a plan's names in this binary.
type Binding interface {
	// Factory returns the factory of operator op, or an error a user can act on when this binary lacks it.
	Factory(op *Operator) (operator.Factory, error)
	// KeyHash returns the hash function of parallel region r's key, a func(T) uint64 for the region's tuple
	// type.
	KeyHash(r *Parallel) (any, error)
}

// Factory implements Binding for the topology's own operators.
func (t *Topology) Factory(op *Operator) (operator.Factory, error) {
	f, ok := t.factories[op.Name]
	if !ok {
		return nil, fmt.Errorf("job %s has no operator %s in this binary", t.plan.Name, op.Name)
	}
	return f, nil
}

// KeyHash implements Binding.
func (t *Topology) KeyHash(r *Parallel) (any, error) {
	h, ok := t.keys[r.ID]
	if !ok {
		return nil, fmt.Errorf("job %s has no key function for parallel region %d", t.plan.Name, r.ID)
	}
	return h, nil
}
