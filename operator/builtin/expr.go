package builtin

import (
	"errors"
	"fmt"
	"strings"
	"sync"

	"github.com/expr-lang/expr"
	"github.com/expr-lang/expr/file"
	"github.com/expr-lang/expr/vm"

	"github.com/weirstream/weir/value"
)

// Expr is a compiled expression (expr-lang) over the variable it, the current tuple; reduce expressions
// also see acc, the accumulator. An Expr is immutable and may be shared; evaluate it with a Machine.
type Expr struct {
	src     string
	prog    *vm.Program
	reduce  bool
	itIsAll bool // the expression is just "it"
}

// The environments: structs, because expr reads their fields faster than a map's entries, reused for
// every evaluation.
type itEnv struct {
	It any `expr:"it"`
}

type reduceEnv struct {
	Acc any `expr:"acc"`
	It  any `expr:"it"`
}

// ExprError is a bad expression: its source, what is wrong, and where (1-based line and column; 0 when
// expr gave no position).
type ExprError struct {
	Expr         string
	Msg          string
	Line, Column int
	Err          error
}

func (e *ExprError) Error() string {
	if e.Line > 0 {
		return fmt.Sprintf("expression %q: %s (%d:%d)", e.Expr, e.Msg, e.Line, e.Column)
	}
	return fmt.Sprintf("expression %q: %s", e.Expr, e.Msg)
}

func (e *ExprError) Unwrap() error { return e.Err }

func exprError(src string, err error) error {
	var fe *file.Error
	if !errors.As(err, &fe) {
		return &ExprError{Expr: src, Msg: err.Error(), Err: err}
	}
	xe := &ExprError{Expr: src, Msg: fe.Message, Err: err}
	if fe.Snippet != "" {
		xe.Line, xe.Column = fe.Line, fe.Column+1
	}
	return xe
}

// Compile compiles an expression over it. Errors are *ExprError, with expr's position.
func Compile(src string) (*Expr, error) {
	return compile(src, false)
}

// CompileReduce compiles a reduce expression over acc and it.
func CompileReduce(src string) (*Expr, error) {
	return compile(src, true)
}

func compile(src string, reduce bool) (*Expr, error) {
	if strings.TrimSpace(src) == "" {
		return nil, &ExprError{Expr: src, Msg: "empty expression"}
	}
	var env any = itEnv{}
	if reduce {
		env = reduceEnv{}
	}
	prog, err := expr.Compile(src, expr.Env(env))
	if err != nil {
		return nil, exprError(src, err)
	}
	return &Expr{src: src, prog: prog, reduce: reduce, itIsAll: strings.TrimSpace(src) == "it"}, nil
}

// String is the expression's source.
func (e *Expr) String() string { return e.src }

// Machine evaluates expressions. It reuses one expr VM and one environment, so it allocates nothing of its
// own per evaluation; it is not safe for concurrent use: make one per operator instance.
type Machine struct {
	vm   vm.VM
	env  itEnv
	renv reduceEnv
}

// NewMachine makes a Machine.
func NewMachine() *Machine { return &Machine{} }

// Eval evaluates e with it set to t and returns the result as a canonical value (value.Normalize).
func (m *Machine) Eval(e *Expr, t any) (any, error) {
	if e.itIsAll {
		return t, nil
	}
	if e.reduce {
		return m.EvalReduce(e, nil, t)
	}
	m.env.It = t
	v, err := m.vm.Run(e.prog, &m.env)
	m.env.It = nil
	return e.result(v, err)
}

// EvalReduce evaluates e with acc and it set.
func (m *Machine) EvalReduce(e *Expr, acc, t any) (any, error) {
	if !e.reduce {
		return m.Eval(e, t)
	}
	m.renv.Acc, m.renv.It = acc, t
	v, err := m.vm.Run(e.prog, &m.renv)
	m.renv.Acc, m.renv.It = nil, nil
	return e.result(v, err)
}

func (e *Expr) result(v any, err error) (any, error) {
	if err != nil {
		return nil, exprError(e.src, err)
	}
	n, err := value.Normalize(v)
	if err != nil {
		return nil, &ExprError{Expr: e.src, Msg: fmt.Sprintf("result: %v", err), Err: err}
	}
	return n, nil
}

// CompileKey compiles a hash-routing key expression into the hash of its value (value.Hash), safe for
// concurrent use. A tuple whose key fails to evaluate hashes as a null key: routing has no way to fail.
func CompileKey(src string) (func(any) uint64, error) {
	e, err := Compile(src)
	if err != nil {
		return nil, err
	}
	if e.itIsAll {
		return value.Hash, nil
	}
	machines := sync.Pool{New: func() any { return NewMachine() }}
	return func(t any) uint64 {
		m := machines.Get().(*Machine)
		v, err := m.Eval(e, t)
		machines.Put(m)
		if err != nil {
			v = nil
		}
		return value.Hash(v)
	}, nil
}

// preview shows a tuple in an error message, shortened.
func preview(t any) string {
	b, err := value.AppendJSON(nil, t)
	if err != nil {
		return fmt.Sprintf("%v", t)
	}
	if len(b) > 120 {
		return string(b[:117]) + "..."
	}
	return string(b)
}

// evalErr puts an evaluation error in the context of the operator and the tuple.
func evalErr(kind string, err error, t any) error {
	return fmt.Errorf("%s: %w (it = %s)", kind, err, preview(t))
}
