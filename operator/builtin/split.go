package builtin

import (
	"fmt"

	"github.com/weirstream/weir/flow"
	"github.com/weirstream/weir/operator"
	"github.com/weirstream/weir/value"
)

// split sends each tuple to the output its expression names (modulo ways); a negative index drops it.
type split struct {
	nodeBase
	e    *Expr
	m    *Machine
	outs []func(any)
}

func buildSplit(cfg operator.Config) (operator.Factory, error) {
	e, err := compileParam(cfg, "expr")
	if err != nil {
		return nil, err
	}
	ways := cfg.Int("ways")
	if ways < 1 {
		return nil, fmt.Errorf("split parameter ways: %d, but a split needs at least 1 output", ways)
	}
	outs := make([]flow.Type, ways)
	for i := range outs {
		outs[i] = anyType
	}
	return operator.NewFactory(anyType, outs, func(operator.Info) (operator.Node, error) {
		n := &split{e: e, m: NewMachine(), outs: make([]func(any), ways)}
		for i := range n.outs {
			n.outs[i] = func(any) {}
		}
		return n, nil
	}), nil
}

func (n *split) Connect(port int, emit any) error {
	if port < 0 || port >= len(n.outs) {
		return fmt.Errorf("split has %d outputs, not %d", len(n.outs), port+1)
	}
	f, err := operator.CheckOut[any](port, emit)
	if err != nil {
		return err
	}
	n.outs[port] = f
	return nil
}

func (n *split) Input() any {
	return func(t any) {
		n.g.Cur = n.id
		v, err := n.m.Eval(n.e, t)
		if err != nil {
			n.fail(evalErr("split", err, t))
			return
		}
		i, ok := value.Int(v)
		if !ok {
			n.fail(fmt.Errorf("split: expression %q gave %s %s, not an output number (it = %s)", n.e, value.TypeName(v), preview(v), preview(t)))
			return
		}
		if i < 0 {
			return
		}
		n.outs[i%len(n.outs)](t)
	}
}
