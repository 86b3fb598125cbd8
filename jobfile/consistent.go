package jobfile

import (
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/weirstream/weir/topology"
	"github.com/weirstream/weir/value"
)

// Keys under consistent:.
const (
	keyTrigger     = "trigger"
	keyPeriod      = "period"
	keyDrain       = "drain_timeout"
	keyReset       = "reset_timeout"
	keyMaxAttempts = "max_consecutive_attempts"
)

var consistentKeys = []string{keyTrigger, keyPeriod, keyDrain, keyReset, keyMaxAttempts}

// consistent reads consistent: into the job's one consistent region, started at every source.
func (l *loader) consistent(e entry, plan *topology.Plan) (topology.Consistent, bool) {
	before := len(l.probs)
	c := topology.Consistent{Where: l.at(e.k.Line)}
	n := deref(e.v)
	if !isNull(n) && n.Kind != yaml.MappingNode {
		l.problemAt(nil, e.v.Line, "consistent must be a mapping of %s, not %s", strings.Join(consistentKeys, ", "), describe(n))
		return c, false
	}
	periodLine := 0
	for _, ce := range l.entries(n, nil) {
		switch ce.key {
		case keyTrigger:
			t, ok := l.text(ce.v, nil, keyTrigger)
			if !ok {
				continue
			}
			switch t {
			case topology.TriggerPeriodic, topology.TriggerOperatorDriven:
				c.Trigger = t
			default:
				l.problemAt(nil, ce.k.Line, "unknown consistent region trigger %q: use %s or %s", t, topology.TriggerPeriodic, topology.TriggerOperatorDriven)
			}
		case keyPeriod:
			periodLine = ce.k.Line
			c.Period = l.duration(ce)
		case keyDrain:
			c.DrainTimeout = l.duration(ce)
		case keyReset:
			c.ResetTimeout = l.duration(ce)
		case keyMaxAttempts:
			v, ok := l.toValue(ce.v, nil, 0)
			if !ok {
				continue
			}
			switch m, isInt := value.Int(v); {
			case !isInt:
				l.problemAt(nil, ce.k.Line, "max_consecutive_attempts must be a whole number, not %s", value.TypeName(v))
			case m < 1:
				l.problemAt(nil, ce.k.Line, "max_consecutive_attempts must be at least 1, not %d", m)
			default:
				c.MaxConsecutiveAttempts = m
			}
		default:
			l.problemAt(nil, ce.k.Line, "unknown key %q under consistent (it takes: %s)", ce.key, strings.Join(consistentKeys, ", "))
		}
	}
	switch {
	case c.Trigger != topology.TriggerOperatorDriven && c.Period == 0 && periodLine == 0:
		l.problemAt(nil, e.k.Line, "a periodic consistent region needs a period between epochs (period: 500ms), or trigger: operator_driven")
	case c.Trigger == topology.TriggerOperatorDriven && periodLine != 0:
		l.problemAt(nil, periodLine, "period applies only to trigger: periodic; an operator-driven region checkpoints when its start operator asks")
	}
	for _, op := range plan.Operators {
		if op.In == "" {
			c.Starts = append(c.Starts, op.Name)
		}
	}
	if len(c.Starts) == 0 && len(plan.Operators) > 0 {
		l.problemAt(nil, e.k.Line, "the consistent region starts at the job's sources, and the job has none")
	}
	return c.WithDefaults(), len(l.probs) == before
}

// duration reads a duration ("500ms", "2s", "1m"); it must be above 0.
func (l *loader) duration(e entry) time.Duration {
	s, ok := l.text(e.v, nil, e.key)
	if !ok {
		return 0
	}
	d, err := time.ParseDuration(s)
	switch {
	case err != nil:
		l.problemAt(nil, e.v.Line, "%s %q is not a duration: write it like 500ms, 2s or 1m", e.key, s)
	case d <= 0:
		l.problemAt(nil, e.v.Line, "%s must be above 0, not %s", e.key, s)
	default:
		return d
	}
	return 0
}
