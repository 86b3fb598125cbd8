package topology_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/weirstream/weir/flow"
	"github.com/weirstream/weir/operator"
	"github.com/weirstream/weir/operator/window"
	"github.com/weirstream/weir/topology"
)

type sale struct {
	Shop   string
	Amount int
}

func shopOf(s sale) string { return s.Shop }

func amountOf(s sale) int { return s.Amount }

// Count and total the sales of each shop, every two sales of that shop; at the end of the stream, the open
// windows emit what they hold.
func ExampleAggregate() {
	t := topology.New("sales")
	sales := topology.Source(t, func(yield func(sale) bool) {
		for _, s := range []sale{{"north", 10}, {"south", 5}, {"north", 7}, {"south", 1}, {"north", 2}} {
			if !yield(s) {
				return
			}
		}
	})
	counts := topology.Aggregate(sales, window.Tumbling(2), shopOf, window.Count[sale](), topology.Name("counts"))
	totals := topology.Aggregate(sales, window.Tumbling(2), shopOf, window.Sum(amountOf), topology.Name("totals"))
	counts.ForEach(func(r window.Result[string, int]) {
		fmt.Printf("%s sales %d-%d: count %d\n", r.Key, r.Start, r.End, r.Value)
	})
	totals.ForEach(func(r window.Result[string, int]) {
		fmt.Printf("%s sales %d-%d: total %d\n", r.Key, r.Start, r.End, r.Value)
	})
	if err := runInline(t); err != nil {
		fmt.Println(err)
	}
	// Output:
	// north sales 0-2: count 2
	// north sales 0-2: total 17
	// south sales 0-2: count 2
	// south sales 0-2: total 6
	// north sales 2-3: count 1
	// north sales 2-3: total 2
}

// runInline runs a Go topology in one goroutine, without consistent or parallel regions: enough for examples
// until the executor runs them.
func runInline(t *topology.Topology) error {
	plan, err := t.Plan()
	if err != nil {
		return err
	}
	order, err := plan.Order()
	if err != nil {
		return err
	}
	g := &operator.Guard{}
	nodes := make(map[string]operator.Node)
	factories := make(map[string]operator.Factory)
	for i, idx := range order {
		op := &plan.Operators[idx]
		f, err := t.Factory(op)
		if err != nil {
			return err
		}
		n, err := f.New(operator.Info{Operator: op.Name, Instance: op.Name})
		if err != nil {
			return err
		}
		n.Bind(g, i)
		nodes[op.Name], factories[op.Name] = n, f
	}
	type port struct {
		from string
		port int
	}
	targets := make(map[port][]any)
	for _, op := range plan.Operators {
		for _, in := range op.Inputs {
			p := port{in.From, in.Port}
			targets[p] = append(targets[p], nodes[op.Name].Input())
		}
	}
	for p, ts := range targets {
		emit, err := flow.Type.Fanout(factories[p.from].Outs()[p.port], ts)
		if err != nil {
			return err
		}
		if err := nodes[p.from].Connect(p.port, emit); err != nil {
			return err
		}
	}
	for _, idx := range order {
		if err := nodes[plan.Operators[idx].Name].Open(nil); err != nil {
			return err
		}
	}
	for _, idx := range order {
		if src, ok := nodes[plan.Operators[idx].Name].(operator.SourceNode); ok {
			if err := src.Run(&operator.SourceLoop{SafePoint: func() bool { return true }}); err != nil {
				return err
			}
		}
	}
	for _, idx := range order {
		if err := nodes[plan.Operators[idx].Name].Finish(); err != nil {
			return err
		}
	}
	if err, _ := g.Err(); err != nil {
		return err
	}
	return nil
}

func TestAggregateReportsBadWindows(t *testing.T) {
	top := topology.New("bad")
	sales := topology.Source(top, func(func(sale) bool) {})
	topology.Aggregate(sales, window.Tumbling(0), shopOf, window.Count[sale]()).ForEach(func(window.Result[string, int]) {})
	_, err := top.Plan()
	if err == nil || !strings.Contains(err.Error(), "aggregate_example_test.go:") || !strings.Contains(err.Error(), "aggregate: a window needs a size") {
		t.Fatalf("got %v", err)
	}
}

func TestAggregatePlan(t *testing.T) {
	top := topology.New("ok")
	sales := topology.Source(top, func(func(sale) bool) {})
	topology.Aggregate[sale, struct{}](sales, window.Sliding(10, 2), nil, window.Mean(amountOf)).ForEach(func(window.Result[struct{}, float64]) {})
	plan, err := top.Plan()
	if err != nil {
		t.Fatal(err)
	}
	op, ok := plan.Operator("aggregate")
	if !ok {
		t.Fatalf("no operator named aggregate in %+v", plan.Operators)
	}
	if op.In != "topology_test.sale" || op.Out[0] != "window.Result[struct {},float64]" {
		t.Errorf("types %s -> %v", op.In, op.Out)
	}
}
