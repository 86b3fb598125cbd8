package topology

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"time"

	"github.com/hashicorp/go-msgpack/v2/codec"

	"github.com/weirstream/weir/value"
)

// Plan is a job's logical graph.
type Plan struct {
	Name string
	// Origin says where the plan came from, so that a node can bind its operators to code.
	Origin Origin
	// Params are the submission parameters the plan was built with.
	Params     map[string]string
	Operators  []Operator
	Parallel   []Parallel
	Consistent []Consistent
}

// Origin is where a plan's code lives.
type Origin struct {
	// Kind is "file" for a job file (built-in operators by kind) or "go" for a Go job.
	Kind string
	// File is the job file's path, for messages.
	File string
	// Job is the registered name of a Go job's builder.
	Job string
}

// Origin kinds.
const (
	OriginFile = "file"
	OriginGo   = "go"
)

// Operator is one logical operator.
type Operator struct {
	// Name is unique in the plan and stable: it keys the operator's checkpointed state.
	Name string
	// Kind is the registry kind of a job-file operator ("map", "sequence"); for a Go operator, "go".
	Kind string
	// Func names the Go function or type behind a Go operator, for people.
	Func string
	// Config holds a job-file operator's parameters (canonical values).
	Config map[string]any
	Inputs []Input
	// In is the input type ("" for a source); Out the type of each output port.
	In  string
	Out []string
	// Parallel is the innermost parallel region holding the operator, -1 for none.
	Parallel int
	// Isolate puts the operator in a PE of its own.
	Isolate bool
	// Where locates the definition for error messages ("squares.yaml:14 (step 3)").
	Where string
}

// Input connects an operator to output Port of operator From.
type Input struct {
	From string
	Port int
}

// Routing of tuples into the channels of a parallel region.
const (
	RoutingRoundRobin = "round_robin"
	RoutingHash       = "hash"
	RoutingBroadcast  = "broadcast"
)

// Parallel is a parallel region: its operators run in Width channels.
type Parallel struct {
	ID     int
	Parent int // enclosing region, -1 for none
	Width  int
	// Routing is RoundRobin, Hash or Broadcast. Key is the hash key: an expression (job files) or the name of
	// a key function (Go).
	Routing string
	Key     string
	Where   string
}

// Triggers of a consistent region.
const (
	TriggerPeriodic       = "periodic"
	TriggerOperatorDriven = "operator_driven"
)

// Consistent configures a consistent region, named by its start operators; the region is everything
// downstream of them.
type Consistent struct {
	Starts  []string
	Trigger string
	// Period between epochs (periodic trigger).
	Period       time.Duration
	DrainTimeout time.Duration
	ResetTimeout time.Duration
	// MaxConsecutiveAttempts bounds the resets without a commit in between.
	MaxConsecutiveAttempts int
	Where                  string
}

// IBM Streams' defaults for consistent regions.
const (
	DefaultDrainTimeout           = 180 * time.Second
	DefaultResetTimeout           = 180 * time.Second
	DefaultMaxConsecutiveAttempts = 5
)

// WithDefaults fills unset limits with IBM's defaults.
func (c Consistent) WithDefaults() Consistent {
	if c.Trigger == "" {
		c.Trigger = TriggerPeriodic
	}
	if c.DrainTimeout == 0 {
		c.DrainTimeout = DefaultDrainTimeout
	}
	if c.ResetTimeout == 0 {
		c.ResetTimeout = DefaultResetTimeout
	}
	if c.MaxConsecutiveAttempts == 0 {
		c.MaxConsecutiveAttempts = DefaultMaxConsecutiveAttempts
	}
	return c
}

// Operator returns the operator called name.
func (p *Plan) Operator(name string) (*Operator, bool) {
	for i := range p.Operators {
		if p.Operators[i].Name == name {
			return &p.Operators[i], true
		}
	}
	return nil, false
}

// ParallelRegion returns region id.
func (p *Plan) ParallelRegion(id int) *Parallel {
	if id < 0 || id >= len(p.Parallel) {
		return nil
	}
	return &p.Parallel[id]
}

var planHandle = func() *codec.MsgpackHandle {
	h := &codec.MsgpackHandle{WriteExt: true}
	h.Canonical = true
	return h
}()

// Encode serializes the plan (msgpack, canonical: equal plans encode to equal bytes).
func (p *Plan) Encode() ([]byte, error) {
	var b []byte
	if err := codec.NewEncoderBytes(&b, planHandle).Encode(p); err != nil {
		return nil, fmt.Errorf("encode plan %s: %w", p.Name, err)
	}
	return b, nil
}

// DecodePlan is the inverse of Encode. The plan still needs Validate.
func DecodePlan(data []byte) (*Plan, error) {
	var p Plan
	if err := codec.NewDecoderBytes(data, planHandle).Decode(&p); err != nil {
		return nil, fmt.Errorf("decode plan: %w", err)
	}
	// msgpack gives back int64, uint64 and map[any]any where the plan held canonical values: make them
	// canonical again, so that an operator configured from a decoded plan sees what the job file said.
	for i := range p.Operators {
		op := &p.Operators[i]
		if op.Config == nil {
			continue
		}
		cfg, err := value.Normalize(op.Config)
		if err != nil {
			return nil, fmt.Errorf("decode plan: operator %s: %w", op.Name, err)
		}
		op.Config = cfg.(map[string]any)
	}
	return &p, nil
}

// Fingerprint identifies the plan's content: two nodes that built the same job the same way agree on it.
func (p *Plan) Fingerprint() (string, error) {
	b, err := p.Encode()
	if err != nil {
		return "", err
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:8]), nil
}
