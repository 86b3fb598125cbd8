// Command crsample is the streamsx.topology guide's consistent-region sample ("cr-sample.py"), translated
// line by line: a stateful TimeCounter source, the start of a periodic consistent region, feeding a
// VerifyNumericOrder sink that fails on any value that is not the next one. Run it with injected resets to
// watch the region recover without a gap or a duplicate:
//
//	go run ./examples/crsample run --inject-resets 3 -P iterations=300 -P period=10ms -P checkpoint_period=500ms
package main

import (
	"fmt"
	"time"

	"github.com/weirstream/weir/cli"
	"github.com/weirstream/weir/operator"
	"github.com/weirstream/weir/topology"
)

// TimeCounter counts up from zero every Period for a given number of Iterations (0: forever).
//
// Its exported fields are its state, as a Python object's __dict__ is; the metrics are unexported, so they
// are left out of the state the way the sample's __getstate__ leaves them out, and Open recreates them the
// way __enter__ does.
type TimeCounter struct {
	Period     time.Duration
	Iterations int
	Count      int

	metric  *operator.Metric
	metric2 *operator.Metric
}

// Next is __next__.
func (c *TimeCounter) Next() (int, bool, error) {
	// If the number of iterations has been met, stop iterating.
	if c.done() {
		c.metric2.Set(1)
		return 0, false, nil
	}
	// Otherwise increment, sleep, and return.
	toReturn := c.Count
	c.Count++
	c.metric.Set(int64(c.Count))
	time.Sleep(c.Period)
	return toReturn, true, nil
}

func (c *TimeCounter) done() bool { return c.Iterations > 0 && c.Count >= c.Iterations }

// Open is __enter__: it creates the metrics after the state was restored.
func (c *TimeCounter) Open(ctx operator.Context) error {
	c.metric = ctx.Metric("nTuplesSent", "Logical tuples sent")
	c.metric.Set(int64(c.Count))
	c.metric2 = ctx.Metric("stopped", "Stop iterations")
	if c.done() {
		c.metric2.Set(1)
	}
	return nil
}

// Reset runs after the state was restored from a checkpoint: the metric follows the restored count.
func (c *TimeCounter) Reset(epoch uint64) error {
	c.metric.Set(int64(c.Count))
	return nil
}

// VerifyNumericOrder verifies that tuples are received in strict numeric order. Its expectation (the
// sample's _expected) is exported so that it is state.
type VerifyNumericOrder struct {
	Expected int
}

// Consume is __call__.
func (v *VerifyNumericOrder) Consume(x int) error {
	if x == v.Expected {
		v.Expected++
		return nil
	}
	return fmt.Errorf("Expected %d got %d", v.Expected, x)
}

// statefulSample is the sample's main(); `weir run` is its submit. Its constants are parameters here
// (with the sample's values as defaults), so that tests can run it quickly.
func statefulSample(p *topology.Params) *topology.Topology {
	iterations := p.Int("iterations", 3000)
	period := p.Duration("period", 100*time.Millisecond)
	checkpointPeriod := p.Duration("checkpoint_period", 5*time.Second)
	topo := topology.New("StatefulSample")
	// Generate integers from [0,3000)
	s := topology.SourceOf[int](topo, &TimeCounter{Iterations: iterations, Period: period})
	// Configure source as start of consistent region, trigger periodically every 5 seconds
	s.SetConsistent(topology.Periodic(checkpointPeriod))
	// Verify that tuples are received in strict numeric order.
	s.Sink(&VerifyNumericOrder{})
	return topo
}

func main() {
	jobs := topology.NewJobs()
	jobs.Register("cr-sample", statefulSample)
	cli.Main(jobs)
}
