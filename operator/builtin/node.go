package builtin

import (
	"fmt"

	"github.com/weirstream/weir/flow"
	"github.com/weirstream/weir/operator"
)

// Tuples of job files are canonical values of type any.
var anyType = flow.TypeOf[any]()

// nodeBase is the lifecycle of a built-in node that has nothing to do in most callbacks; nodes embed it and
// override what they need.
type nodeBase struct {
	g  *operator.Guard
	id int
}

func (b *nodeBase) Bind(g *operator.Guard, id int)    { b.g, b.id = g, id }
func (b *nodeBase) Open(operator.Context) error       { return nil }
func (b *nodeBase) Close() error                      { return nil }
func (b *nodeBase) Finish() error                     { return nil }
func (b *nodeBase) Drain() error                      { return nil }
func (b *nodeBase) Checkpoint(uint64) ([]byte, error) { return nil, nil }
func (b *nodeBase) Restore(uint64, []byte) error      { return nil }
func (b *nodeBase) RetireCheckpoint(uint64) error     { return nil }
func (b *nodeBase) RegionCheckpointed(uint64) error   { return nil }
func (b *nodeBase) fail(err error)                    { b.g.Fail(b.id, err) }

// sinkBase is a node without outputs.
type sinkBase struct{ nodeBase }

func (b *sinkBase) Connect(port int, _ any) error {
	return fmt.Errorf("a sink has no output port %d", port)
}

// sinkFactory makes the factory of a sink of any.
func sinkFactory(make func(operator.Info) (operator.Node, error)) operator.Factory {
	return operator.NewFactory(anyType, nil, make)
}

// validating adds placement checks to a factory.
type validating struct {
	operator.Factory
	validate func(operator.Info) error
}

func (v validating) Validate(info operator.Info) error { return v.validate(info) }

var (
	_ operator.Node      = (*split)(nil)
	_ operator.Node      = (*appendSink)(nil)
	_ operator.Node      = (*txSink)(nil)
	_ operator.Node      = (*stdout)(nil)
	_ operator.Ticker    = (*stdout)(nil)
	_ operator.Validator = validating{}
)
