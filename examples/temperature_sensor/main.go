// Command temperature_sensor is the streamsx.topology guide's parallel-region sample, translated line by
// line: a source of random.gauss(0.0, 1.0) readings, parallel(4), map convertToKelvin, end_parallel,
// for_each(print).
//
//	go run ./examples/temperature_sensor run               # endless, like the Python sample
//	go run ./examples/temperature_sensor run -P count=20   # twenty readings
//	go run ./examples/temperature_sensor plan              # its PEs: the source, 4 channels, the printer
package main

import (
	"fmt"
	"io"
	"math/rand/v2"
	"os"

	"github.com/weirstream/weir/cli"
	"github.com/weirstream/weir/topology"
)

// def readings():
//
//	while True:
//	    yield random.gauss(0.0, 1.0)
func readings(yield func(float64) bool) {
	for {
		if !yield(rand.NormFloat64()) {
			return
		}
	}
}

// def convertToKelvin(tuple):
//
//	return tuple + 273.15
func convertToKelvin(tuple float64) float64 {
	return tuple + 273.15
}

// stdout is where print writes (tests replace it).
var stdout io.Writer = os.Stdout

// print is Python's print for a reading.
func print(tuple float64) { fmt.Fprintln(stdout, tuple) }

// temperatureSensor is the sample's main(); `weir run` is its submit("STANDALONE", topo). The count
// parameter (not in the Python sample) ends the source after that many readings; 0 reads forever.
func temperatureSensor(p *topology.Params) *topology.Topology {
	count := p.Int("count", 0)
	topo := topology.New("temperature_sensor")
	source := topology.Source(topo, limit(count, readings), topology.Name("readings"))
	kelvin := topology.Map(source.Parallel(4), convertToKelvin)
	end := kelvin.EndParallel()
	end.ForEach(print)
	return topo
}

// limit ends seq after n elements (n = 0: never).
func limit(n int, seq func(yield func(float64) bool)) func(yield func(float64) bool) {
	if n <= 0 {
		return seq
	}
	return func(yield func(float64) bool) {
		i := 0
		for v := range seq {
			if i == n || !yield(v) {
				return
			}
			i++
		}
	}
}

func main() {
	jobs := topology.NewJobs()
	jobs.Register("temperature_sensor", temperatureSensor)
	cli.Main(jobs)
}
