package executor

import (
	"log/slog"

	"github.com/weirstream/weir/operator"
	"github.com/weirstream/weir/topology"
)

// opContext is the operator.Context of one instance.
type opContext struct {
	p    *pe
	info operator.Info
	log  *slog.Logger
}

func (c *opContext) Info() operator.Info  { return c.info }
func (c *opContext) Job() string          { return c.p.x.o.Job }
func (c *opContext) Logger() *slog.Logger { return c.log }

func (c *opContext) Metric(name, description string) *operator.Metric {
	return c.p.x.metric(c.info.Instance, name, description)
}

func (c *opContext) MakeConsistent() bool {
	p := c.p
	if p.region < 0 || !p.isStart || p.x.ph.Regions[p.region].Config.Trigger != topology.TriggerOperatorDriven {
		return false
	}
	p.x.o.Reporter.Trigger(p.region)
	return true
}
