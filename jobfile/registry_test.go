package jobfile

import (
	"errors"
	"strings"
	"testing"

	"github.com/weirstream/weir/operator"
)

// testRegistry is a stand-in for the built-in operators (which this package may not import): the same kinds,
// roles and parameters, and a Build that refuses expressions containing "bad(" the way a compiler would.
func testRegistry(t testing.TB) *operator.Registry {
	t.Helper()
	r := operator.NewRegistry()
	source := operator.SeqFunc(func(func(any) bool) {})
	transform := operator.MapFunc(func(x any) any { return x })
	sink := operator.ForEachFunc(func(any) {})
	exprOK := func(cfg operator.Config, names ...string) error {
		for _, n := range names {
			if strings.Contains(cfg.String(n), "bad(") {
				return errors.New(cfg.Kind + " parameter " + n + ": unexpected token ( at 4")
			}
		}
		return nil
	}
	// The parameters mirror operator/builtin's declarations.
	specs := []operator.Spec{
		{Kind: "sequence", Role: operator.RoleSource, Primary: "count", Params: []operator.Param{
			{Name: "count", Type: operator.ParamInt, Required: true, Doc: "how many"},
			{Name: "start", Type: operator.ParamInt, Default: 0},
			{Name: "rate", Type: operator.ParamFloat, Default: 0.0},
			{Name: "trigger_every", Type: operator.ParamInt},
		}, Build: func(operator.Config) (operator.Factory, error) { return source, nil }},
		{Kind: "gauss", Role: operator.RoleSource, Params: []operator.Param{
			{Name: "mean", Type: operator.ParamFloat, Default: 0.0},
			{Name: "stddev", Type: operator.ParamFloat, Default: 1.0},
			{Name: "seed", Type: operator.ParamInt, Default: 0},
			{Name: "count", Type: operator.ParamInt, Default: 0},
			{Name: "rate", Type: operator.ParamFloat, Default: 0.0},
		}, Build: func(operator.Config) (operator.Factory, error) { return source, nil }},
		{Kind: "file", Role: operator.RoleSource, Primary: "path", Params: []operator.Param{
			{Name: "path", Type: operator.ParamString, Required: true, Doc: "file to read"},
			{Name: "format", Type: operator.ParamString, Default: "lines"},
			{Name: "rate", Type: operator.ParamFloat, Default: 0.0},
		}, Build: func(operator.Config) (operator.Factory, error) { return source, nil }},
		{Kind: "map", Role: operator.RoleTransform, Primary: "expr", Params: []operator.Param{
			{Name: "expr", Type: operator.ParamExpr, Required: true, Doc: "the new tuple"},
		}, Build: func(cfg operator.Config) (operator.Factory, error) { return transform, exprOK(cfg, "expr") }},
		{Kind: "filter", Role: operator.RoleTransform, Primary: "expr", Params: []operator.Param{
			{Name: "expr", Type: operator.ParamExpr, Required: true, Doc: "keep when true"},
		}, Build: func(cfg operator.Config) (operator.Factory, error) { return transform, exprOK(cfg, "expr") }},
		{Kind: "flat_map", Role: operator.RoleTransform, Primary: "expr", Params: []operator.Param{
			{Name: "expr", Type: operator.ParamExpr, Required: true, Doc: "a list of tuples"},
		}, Build: func(cfg operator.Config) (operator.Factory, error) { return transform, exprOK(cfg, "expr") }},
		{Kind: "aggregate", Role: operator.RoleTransform, Params: []operator.Param{
			{Name: "window", Type: operator.ParamString, Default: "tumbling"},
			{Name: "size", Type: operator.ParamInt},
			{Name: "duration", Type: operator.ParamDuration},
			{Name: "slide", Type: operator.ParamInt},
			{Name: "every", Type: operator.ParamDuration},
			{Name: "key", Type: operator.ParamExpr},
			{Name: "functions", Type: operator.ParamAny, Required: true, Doc: "output fields"},
		}, Build: func(cfg operator.Config) (operator.Factory, error) {
			if !cfg.Has("size") && !cfg.Has("duration") {
				return nil, errors.New("aggregate: give the window a size or a duration")
			}
			if _, ok := cfg.Value("functions").(map[string]any); !ok {
				return nil, errors.New("aggregate parameter functions: a map from field name to function")
			}
			return transform, exprOK(cfg, "key")
		}},
		{Kind: "dedup", Role: operator.RoleTransform, Params: []operator.Param{
			{Name: "key", Type: operator.ParamExpr, Default: "it"},
			{Name: "window", Type: operator.ParamInt},
			{Name: "ttl", Type: operator.ParamDuration},
		}, Build: func(cfg operator.Config) (operator.Factory, error) {
			if cfg.Has("window") && cfg.Int("window") < 1 {
				return nil, errors.New("dedup: window must be at least 1")
			}
			return transform, exprOK(cfg, "key")
		}},
		{Kind: "split", Role: operator.RoleTransform, Primary: "expr", Params: []operator.Param{
			{Name: "expr", Type: operator.ParamExpr, Required: true, Doc: "output port"},
			{Name: "ways", Type: operator.ParamInt, Required: true, Doc: "the number of outputs"},
		}, Build: func(cfg operator.Config) (operator.Factory, error) {
			if cfg.Int("ways") < 1 {
				return nil, errors.New("split needs ways of at least 1")
			}
			return operator.Split(cfg.Int("ways"), func(any) int { return 0 }), exprOK(cfg, "expr")
		}},
		{Kind: "stdout", Role: operator.RoleSink,
			Build: func(operator.Config) (operator.Factory, error) { return sink, nil }},
		{Kind: "file", Role: operator.RoleSink, Primary: "path", Params: []operator.Param{
			{Name: "path", Type: operator.ParamString, Required: true, Doc: "file to write"},
			{Name: "exactly_once", Type: operator.ParamBool, Default: false},
		}, Build: func(operator.Config) (operator.Factory, error) { return sink, nil }},
		{Kind: "verify_order", Role: operator.RoleSink,
			Build: func(operator.Config) (operator.Factory, error) { return sink, nil }},
	}
	for _, s := range specs {
		if err := r.Register(s); err != nil {
			t.Fatal(err)
		}
	}
	return r
}

// checkKey stands in for builtin.CompileKey.
func checkKey(expr string) error {
	if strings.Contains(expr, "bad(") {
		return errors.New("unexpected token (")
	}
	return nil
}

func opts(t testing.TB, params ...string) Options {
	o := Options{Registry: testRegistry(t), CheckKey: checkKey}
	if len(params) > 0 {
		o.Params = make(map[string]string)
		for _, p := range params {
			k, v, _ := strings.Cut(p, "=")
			o.Params[k] = v
		}
	}
	return o
}
