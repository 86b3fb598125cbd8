package checkpoint

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// Key names one PE's checkpoint of one epoch of one consistent region of one job.
type Key struct {
	Job    string // job ID, e.g. "squares-3f2a"
	Region int    // consistent region index within the job
	Epoch  uint64 // > 0
	PE     string // PE ID, e.g. "pe3" or "map[2]"; may contain [ ] . - _ and digits/letters
}

// String returns the key as "job/region-1/epoch-5/pe3".
func (k Key) String() string {
	return k.Job + "/region-" + strconv.Itoa(k.Region) + "/epoch-" + strconv.FormatUint(k.Epoch, 10) + "/" + k.PE
}

var (
	// ErrNotFound is wrapped by Load when nothing is stored under the key.
	ErrNotFound = errors.New("checkpoint not found")
	// ErrCorrupt is wrapped by Load (and DirLedger) when stored bytes fail their format or checksum check.
	ErrCorrupt = errors.New("checkpoint corrupt")
	// ErrInvalidKey is wrapped when a job, PE, region or epoch cannot name a checkpoint. Every Store refuses the
	// same keys, so code tested against MemStore does not fail later against DirStore.
	ErrInvalidKey = errors.New("invalid checkpoint key")
)

// Store keeps checkpoints. Implementations are safe for concurrent use.
//
// Callers may rely on: a nil error from Save means Load returns exactly the saved bytes (after a crash too, for
// durable stores); the store keeps its own copy, so the caller may reuse its buffer; the slice returned by Load
// belongs to the caller. Operations check ctx before starting but do not interrupt file I/O once begun.
// Job and PE names must be non-empty, at most 200 bytes, must not start with '.' and must not contain '/', '\'
// or NUL; regions must be >= 0 and epochs > 0. Other names are refused with ErrInvalidKey.
type Store interface {
	// Save stores data under k. When Save returns nil the data survives a crash of this process
	// (for durable stores): Load returns exactly these bytes. Saving the same key twice replaces it atomically:
	// a reader sees the old or the new blob, never a mix.
	Save(ctx context.Context, k Key, data []byte) error
	// Load returns the bytes saved under k; an error wrapping ErrNotFound if there are none, ErrCorrupt if
	// they fail their checksum.
	Load(ctx context.Context, k Key) ([]byte, error)
	// Retire deletes every checkpoint of (job, region) whose epoch is below `below`. Idempotent.
	Retire(ctx context.Context, job string, region int, below uint64) error
	// Epochs lists the epochs of (job, region) that hold at least one checkpoint, ascending.
	Epochs(ctx context.Context, job string, region int) ([]uint64, error)
	// DeleteJob removes everything stored for job. Idempotent.
	DeleteJob(ctx context.Context, job string) error
}

// maxNameLen keeps "<pe>.ckpt" and the temporary file names derived from it under the 255-byte file name limit
// of common file systems.
const maxNameLen = 200

// validName checks a job or PE name. The rules exist so that a name is exactly one path component inside the
// store directory: no separators, nothing that walks up, and no leading dot, which is reserved for temp files.
func validName(what, s string) error {
	switch {
	case s == "":
		return fmt.Errorf("%w: empty %s", ErrInvalidKey, what)
	case len(s) > maxNameLen:
		return fmt.Errorf("%w: %s longer than %d bytes", ErrInvalidKey, what, maxNameLen)
	case s[0] == '.':
		return fmt.Errorf("%w: %s %q starts with '.'", ErrInvalidKey, what, s)
	case strings.ContainsAny(s, "/\\\x00"):
		return fmt.Errorf("%w: %s %q contains '/', '\\' or NUL", ErrInvalidKey, what, s)
	}
	return nil
}

func validRegion(job string, region int) error {
	if err := validName("job", job); err != nil {
		return err
	}
	if region < 0 {
		return fmt.Errorf("%w: negative region %d", ErrInvalidKey, region)
	}
	return nil
}

func (k Key) validate() error {
	if err := validRegion(k.Job, k.Region); err != nil {
		return err
	}
	if k.Epoch == 0 {
		// Epoch 0 means "nothing committed" in a Ledger, so it cannot hold state.
		return fmt.Errorf("%w: epoch 0", ErrInvalidKey)
	}
	return validName("PE", k.PE)
}

func regionString(job string, region int) string {
	return job + "/region-" + strconv.Itoa(region)
}
