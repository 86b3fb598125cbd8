package builtin

import (
	"fmt"

	"github.com/weirstream/weir/operator"
	"github.com/weirstream/weir/value"
)

// exprOp is the part of map, filter and flat_map they share: one expression and a Machine of the
// instance's own (operator.MapOf and friends give each instance a copy of the template; the Machine is
// made on first use, after the copy).
type exprOp struct {
	e *Expr
	m *Machine
}

func (o *exprOp) eval(kind string, t any) (any, error) {
	if o.m == nil {
		o.m = NewMachine()
	}
	v, err := o.m.Eval(o.e, t)
	if err != nil {
		return nil, evalErr(kind, err, t)
	}
	return v, nil
}

// compileParam compiles an expression parameter, naming the operator kind and parameter on error.
func compileParam(cfg operator.Config, name string) (*Expr, error) {
	e, err := Compile(cfg.String(name))
	if err != nil {
		return nil, fmt.Errorf("%s parameter %s: %w", cfg.Kind, name, err)
	}
	return e, nil
}

type mapper struct{ exprOp }

func (o *mapper) Map(t any) (any, error) { return o.eval("map", t) }

func buildMap(cfg operator.Config) (operator.Factory, error) {
	e, err := compileParam(cfg, "expr")
	if err != nil {
		return nil, err
	}
	return operator.MapOf[any, any](&mapper{exprOp{e: e}}), nil
}

type filterer struct{ exprOp }

func (o *filterer) Filter(t any) (bool, error) {
	v, err := o.eval("filter", t)
	if err != nil {
		return false, err
	}
	b, ok := v.(bool)
	if !ok {
		return false, fmt.Errorf("filter: expression %q gave %s %s, not true or false (it = %s)", o.e, value.TypeName(v), preview(v), preview(t))
	}
	return b, nil
}

func buildFilter(cfg operator.Config) (operator.Factory, error) {
	e, err := compileParam(cfg, "expr")
	if err != nil {
		return nil, err
	}
	return operator.FilterOf[any](&filterer{exprOp{e: e}}), nil
}

type flatMapper struct{ exprOp }

func (o *flatMapper) FlatMap(t any, emit func(any)) error {
	v, err := o.eval("flat_map", t)
	if err != nil {
		return err
	}
	list, ok := v.([]any)
	if !ok {
		return fmt.Errorf("flat_map: expression %q gave %s %s, not a list (it = %s)", o.e, value.TypeName(v), preview(v), preview(t))
	}
	for _, u := range list {
		emit(u)
	}
	return nil
}

func buildFlatMap(cfg operator.Config) (operator.Factory, error) {
	e, err := compileParam(cfg, "expr")
	if err != nil {
		return nil, err
	}
	return operator.FlatMapOf[any, any](&flatMapper{exprOp{e: e}}), nil
}
