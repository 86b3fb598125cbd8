package fsm

import (
	"bytes"
	"errors"
	"fmt"
	"reflect"
	"strconv"
	"sync"
	"time"

	"github.com/hashicorp/go-msgpack/v2/codec"
)

// CommandType is the first byte of every Raft log entry the FSM applies.
type CommandType uint8

// Command types. APPEND-ONLY: these numbers are written into Raft logs and snapshots that outlive every
// binary. Never renumber, reorder, remove or reuse one, and never change what one means; add a new type at the
// end instead (see the compatibility rules in doc.go).
const (
	RegisterNodeType  CommandType = iota // 0: RegisterNode
	NodeStatusType                       // 1: SetNodeStatus
	SubmitJobType                        // 2: SubmitJob
	JobStateType                         // 3: SetJobState
	PlaceType                            // 4: Place
	BeginEpochType                       // 5: BeginEpoch
	CommitEpochType                      // 6: CommitEpoch
	NewGenerationType                    // 7: NewGeneration
	RegionStateType                      // 8: RegionState
	DeleteJobType                        // 9: DeleteJob
	// Add new types here, and to newBody and String.
)

var commandNames = [...]string{
	RegisterNodeType:  "register-node",
	NodeStatusType:    "node-status",
	SubmitJobType:     "submit-job",
	JobStateType:      "job-state",
	PlaceType:         "place",
	BeginEpochType:    "begin-epoch",
	CommitEpochType:   "commit-epoch",
	NewGenerationType: "new-generation",
	RegionStateType:   "region-state",
	DeleteJobType:     "delete-job",
}

func (t CommandType) String() string {
	if int(t) < len(commandNames) {
		return commandNames[t]
	}
	return "command-type-" + strconv.Itoa(int(t))
}

// newBody returns a pointer to a zero body of type t, or nil when this binary does not know t.
func newBody(t CommandType) any {
	switch t {
	case RegisterNodeType:
		return new(RegisterNode)
	case NodeStatusType:
		return new(SetNodeStatus)
	case SubmitJobType:
		return new(SubmitJob)
	case JobStateType:
		return new(SetJobState)
	case PlaceType:
		return new(Place)
	case BeginEpochType:
		return new(BeginEpoch)
	case CommitEpochType:
		return new(CommitEpoch)
	case NewGenerationType:
		return new(NewGeneration)
	case RegionStateType:
		return new(RegionState)
	case DeleteJobType:
		return new(DeleteJob)
	}
	return nil
}

// RegisterNode adds a node or replaces its whole record (nothing of an older record is kept). Name is
// required; an empty Status means alive.
type RegisterNode struct {
	Node Node
}

// SetNodeStatus sets a registered node's Status and Since. (It is the NodeStatusType body; the name
// NodeStatus belongs to the status values.) An unknown node is rejected.
type SetNodeStatus struct {
	Name   string
	Status NodeStatus
	Since  time.Time
}

// SubmitJob adds a job. The ID must be non-empty and not in use. The FSM forces State to running and clears
// Error and Ended: a job always starts from the beginning of its life. Placements, when given, place its
// PEs in the same entry (PlacementVersion 1), so that a job is never recorded without its placement: a
// leader lost between two commands would leave a job that its submitter was told had failed.
type SubmitJob struct {
	Job        Job
	Placements map[string]string
}

// SetJobState ends a running job: the only transitions are running -> finished, failed or cancelled. Ended is
// set to At. A terminal job never changes. (It is the JobStateType body; the name JobState belongs to the
// state values.)
type SetJobState struct {
	ID    string
	State JobState
	Error string
	At    time.Time
}

// RegionGeneration sets one region's generation in a Place command.
type RegionGeneration struct {
	Index      int
	Generation uint64
}

// Place replaces the placements of a running job (PE ID -> node name), bumps its PlacementVersion and sets
// the Generation of each listed region. A generation may not go down; listing a region twice applies the
// entries in order.
type Place struct {
	Job        string
	Placements map[string]string
	Regions    []RegionGeneration
}

// BeginEpoch records that the coordinator began an epoch: Started = max(Started, Epoch). Epoch must be
// positive and Generation must be the region's current one.
type BeginEpoch struct {
	Job        string
	Region     int
	Epoch      uint64
	Generation uint64
}

// CommitEpoch commits an epoch: Epoch must be above Committed and Generation must be the region's current
// one. It sets Committed, Manifest and LastCheckpoint (= At), sets Attempts to 0, counts the commit and
// raises Started to at least Epoch.
type CommitEpoch struct {
	Job        string
	Region     int
	Epoch      uint64
	Generation uint64
	Manifest   map[string]string // PE ID -> checkpoint reference
	At         time.Time
}

// NewGeneration fences the past of a region on reset: Generation must be above the current one. It sets
// Generation, Attempts and LastError (= Reason) and counts the reset.
type NewGeneration struct {
	Job        string
	Region     int
	Generation uint64
	Attempts   int
	Reason     string
}

// RegionState records the coordinator's state of a region. State is required; Attempts may not be negative.
type RegionState struct {
	Job       string
	Region    int
	State     string
	Attempts  int
	LastError string
}

// DeleteJob removes a terminal job with its placements and regions.
type DeleteJob struct {
	ID string
}

// msgpackHandle encodes commands and snapshot records. WriteExt selects the current msgpack spec (str/bin
// types, the timestamp extension for time.Time, decoded in UTC); Canonical sorts map keys so that equal
// values always encode to equal bytes (replicas write identical snapshots).
var msgpackHandle = func() *codec.MsgpackHandle {
	h := &codec.MsgpackHandle{}
	h.WriteExt = true
	h.RawToString = true
	h.Canonical = true
	return h
}()

// Encode returns the Raft log entry for a command: the type byte, then msgpack of body. body must be the
// type's body struct (a value or a pointer), so that a mismatched pair fails here rather than in Apply.
func Encode(t CommandType, body any) ([]byte, error) {
	want := newBody(t)
	if want == nil {
		return nil, fmt.Errorf("encode %s: %w", t, ErrUnknownCommand)
	}
	if bt := reflect.TypeOf(body); bt != reflect.TypeOf(want) && bt != reflect.TypeOf(want).Elem() {
		return nil, fmt.Errorf("encode %s: body is %v, want %v", t, bt, reflect.TypeOf(want).Elem())
	}
	var buf bytes.Buffer
	buf.WriteByte(byte(t))
	if err := codec.NewEncoder(&buf, msgpackHandle).Encode(body); err != nil {
		return nil, fmt.Errorf("encode %s: %w", t, err)
	}
	return buf.Bytes(), nil
}

// decoders pools msgpack decoders: a Decoder is large, and Apply decodes one body per entry.
var decoders = sync.Pool{New: func() any { return codec.NewDecoderBytes(nil, msgpackHandle) }}

// decodeCommand splits a log entry into its type and decoded body. It returns ErrUnknownCommand for a type
// this binary does not know and ErrMalformed for a body that does not decode exactly.
func decodeCommand(data []byte) (CommandType, any, error) {
	if len(data) == 0 {
		return 0, nil, fmt.Errorf("empty entry: %w", ErrMalformed)
	}
	t := CommandType(data[0])
	body := newBody(t)
	if body == nil {
		return t, nil, ErrUnknownCommand
	}
	if err := decodeExact(data[1:], body); err != nil {
		return t, nil, fmt.Errorf("decode %s: %w: %v", t, ErrMalformed, err)
	}
	return t, body, nil
}

// decodeExact decodes b into v and requires that b holds exactly one value: trailing bytes mean the entry was
// not written by Encode.
func decodeExact(b []byte, v any) (err error) {
	if len(b) == 0 {
		return errors.New("empty body")
	}
	dec := decoders.Get().(*codec.Decoder)
	defer decoders.Put(dec)
	// The codec recovers its own panics; this guards Apply against any it misses on hostile input.
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("decoder panic: %v", r)
		}
	}()
	dec.ResetBytes(b)
	if err := dec.Decode(v); err != nil {
		return err
	}
	if n := dec.NumBytesRead(); n != len(b) {
		return fmt.Errorf("%d trailing bytes", len(b)-n)
	}
	return nil
}
