package builtin

import (
	"fmt"
	"math"

	"github.com/weirstream/weir/operator"
)

// gauss emits normally distributed readings, like random.gauss(mean, stddev) in IBM's temperature sample.
// Reading i is a pure function of (seed, i) — a counter-based SplitMix64 stream and the Box–Muller
// transform — so its state is only Index, the number of readings emitted, and a restore regenerates the
// very same readings.
type gauss struct {
	Index int

	seed         uint64
	mean, stddev float64
	count        int // 0: endless
}

func buildGauss(cfg operator.Config) (operator.Factory, error) {
	count, stddev, rate := cfg.Int("count"), cfg.Float("stddev"), cfg.Float("rate")
	switch {
	case count < 0:
		return nil, fmt.Errorf("gauss parameter count: %d is negative (0 is endless)", count)
	case stddev < 0 || math.IsNaN(stddev) || math.IsInf(stddev, 0):
		return nil, fmt.Errorf("gauss parameter stddev: %g, it must be a finite number >= 0", stddev)
	case math.IsNaN(cfg.Float("mean")) || math.IsInf(cfg.Float("mean"), 0):
		return nil, fmt.Errorf("gauss parameter mean: %g, it must be a finite number", cfg.Float("mean"))
	case rate < 0:
		return nil, fmt.Errorf("gauss parameter rate: %g tuples per second is negative (0 means as fast as possible)", rate)
	}
	seed := splitmix(uint64(cfg.Int("seed")))
	mean := cfg.Float("mean")
	return sourceFactory("gauss", rate, func() operator.Iterator[any] {
		return &gauss{seed: seed, mean: mean, stddev: stddev, count: count}
	}), nil
}

func (g *gauss) Next() (any, bool, error) {
	if g.count > 0 && g.Index >= g.count {
		return nil, false, nil
	}
	i := uint64(g.Index)
	g.Index++
	u1, u2 := unit(g.seed, 2*i), unit(g.seed, 2*i+1)
	z := math.Sqrt(-2*math.Log(u1)) * math.Cos(2*math.Pi*u2)
	return g.mean + g.stddev*z, true, nil
}

const golden = 0x9e3779b97f4a7c15

// unit is the n-th output of the SplitMix64 stream seeded with seed, as a float in (0, 1).
func unit(seed, n uint64) float64 {
	x := splitmix(seed + n*golden)
	return (float64(x>>11) + 0.5) / (1 << 53)
}

// splitmix is SplitMix64's step: one increment and its output function.
func splitmix(z uint64) uint64 {
	z += golden
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
	z = (z ^ (z >> 27)) * 0x94d049bb133111eb
	return z ^ (z >> 31)
}
