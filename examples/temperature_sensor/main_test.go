package main

import (
	"bytes"
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/weirstream/weir/cli"
	"github.com/weirstream/weir/topology"
)

func TestTemperatureSensorPrintsKelvin(t *testing.T) {
	jobs := topology.NewJobs()
	jobs.Register("temperature_sensor", temperatureSensor)
	var out, errb bytes.Buffer
	stdout = &out
	defer func() { stdout = os.Stdout }()
	code := cli.Run(&cli.Env{Stdout: &out, Stderr: &errb, Jobs: jobs},
		[]string{"temperature_sensor", "run", "-P", "count=2000", "--quiet"})
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	lines := strings.Fields(out.String())
	if len(lines) != 2000 {
		t.Fatalf("printed %d readings, want 2000", len(lines))
	}
	var sum float64
	for _, l := range lines {
		k, err := strconv.ParseFloat(l, 64)
		if err != nil {
			t.Fatalf("not a number: %q", l)
		}
		if k < 273.15-8 || k > 273.15+8 {
			t.Fatalf("%v K is not a gauss(0, 1) reading converted to Kelvin", k)
		}
		sum += k
	}
	if mean := sum / 2000; mean < 273.0 || mean > 273.3 {
		t.Fatalf("mean %v K, want about 273.15", mean)
	}
}

func TestTemperatureSensorPlanHasFourChannels(t *testing.T) {
	jobs := topology.NewJobs()
	jobs.Register("temperature_sensor", temperatureSensor)
	var out, errb bytes.Buffer
	if code := cli.Run(&cli.Env{Stdout: &out, Stderr: &errb, Jobs: jobs}, []string{"t", "plan"}); code != 0 {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	for _, want := range []string{"convertToKelvin[0]", "convertToKelvin[3]", "round_robin", "PEs (6)"} {
		if !strings.Contains(out.String(), want) {
			t.Fatalf("plan lacks %q:\n%s", want, out.String())
		}
	}
}
