package checkpoint

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"path/filepath"
	"strconv"
	"sync"
)

// ErrNonIncreasingEpoch is wrapped by Ledger.Commit when the epoch is not above the committed one. Callers
// retrying a commit whose outcome they do not know can compare Committed to the epoch instead.
var ErrNonIncreasingEpoch = errors.New("commit epoch not above committed epoch")

// Ledger records the last committed epoch of each consistent region of a job, durably for DirLedger.
//
// Callers may rely on: Committed never goes backwards, and after Commit returns nil it reports that epoch
// (after a crash too, for DirLedger) until a higher one commits. Job and region names follow the Store rules.
// Implementations are safe for concurrent use; concurrent commits to one region are serialized, so at most one
// of two commits of the same epoch succeeds.
type Ledger interface {
	// Commit records epoch as the last committed epoch of (job, region). Epochs must increase: committing an
	// epoch <= the current one is an error wrapping ErrNonIncreasingEpoch.
	Commit(ctx context.Context, job string, region int, epoch uint64) error
	// Committed returns the last committed epoch of (job, region), 0 if none.
	Committed(ctx context.Context, job string, region int) (uint64, error)
}

// MemLedger is a Ledger in memory; nothing survives the process.
type MemLedger struct {
	mu        sync.Mutex
	committed map[memRegion]uint64
}

var _ Ledger = (*MemLedger)(nil)

// NewMemLedger returns an empty MemLedger.
func NewMemLedger() *MemLedger {
	return &MemLedger{committed: make(map[memRegion]uint64)}
}

// Commit implements Ledger.
func (l *MemLedger) Commit(ctx context.Context, job string, region int, epoch uint64) error {
	if err := ctx.Err(); err != nil {
		return commitErr(job, region, epoch, err)
	}
	if err := validRegion(job, region); err != nil {
		return commitErr(job, region, epoch, err)
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	r := memRegion{job, region}
	if cur := l.committed[r]; epoch <= cur {
		return commitErr(job, region, epoch, fmt.Errorf("%w %d", ErrNonIncreasingEpoch, cur))
	}
	l.committed[r] = epoch
	return nil
}

// Committed implements Ledger.
func (l *MemLedger) Committed(ctx context.Context, job string, region int) (uint64, error) {
	if err := ctx.Err(); err != nil {
		return 0, committedErr(job, region, err)
	}
	if err := validRegion(job, region); err != nil {
		return 0, committedErr(job, region, err)
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.committed[memRegion{job, region}], nil
}

func commitErr(job string, region int, epoch uint64, err error) error {
	return fmt.Errorf("ledger %s: commit epoch %d: %w", regionString(job, region), epoch, err)
}

func committedErr(job string, region int, err error) error {
	return fmt.Errorf("ledger %s: committed: %w", regionString(job, region), err)
}

// committedFile holds the last committed epoch of a region as an 8-byte little-endian payload in the checkpoint
// file format, so it gets the same checksum and atomic replacement as checkpoints.
const committedFile = "COMMITTED"

// DirLedger is a durable Ledger keeping DIR/<job>/region-<r>/COMMITTED.
type DirLedger struct {
	root  string
	dirs  durableDirs
	locks *jobLocks
}

var _ Ledger = (*DirLedger)(nil)

// OpenDirLedger opens (creating if missing) the ledger in dir and removes temp files left by a crash.
// Only one DirLedger may use dir at a time, and it should not be a DirStore's directory.
func OpenDirLedger(dir string) (*DirLedger, error) {
	if err := openRoot(dir); err != nil {
		return nil, fmt.Errorf("ledger: open dir ledger %s: %w", dir, err)
	}
	return &DirLedger{root: dir, locks: newJobLocks()}, nil
}

func (l *DirLedger) regionDir(job string, region int) string {
	return filepath.Join(l.root, job, "region-"+strconv.Itoa(region))
}

// Commit implements Ledger. A corrupt COMMITTED file makes Commit fail rather than overwrite it: the committed
// epoch is unknown, so the monotonicity the caller relies on cannot be checked.
func (l *DirLedger) Commit(ctx context.Context, job string, region int, epoch uint64) error {
	if err := l.commit(ctx, job, region, epoch); err != nil {
		return commitErr(job, region, epoch, err)
	}
	return nil
}

func (l *DirLedger) commit(ctx context.Context, job string, region int, epoch uint64) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := validRegion(job, region); err != nil {
		return err
	}
	// Exclusive, because the check and the write must not interleave with another commit of the region.
	mu := l.locks.of(job)
	mu.Lock()
	defer mu.Unlock()
	cur, err := l.read(job, region)
	if err != nil {
		return err
	}
	if epoch <= cur {
		return fmt.Errorf("%w %d", ErrNonIncreasingEpoch, cur)
	}
	regionDir := l.regionDir(job, region)
	if err := l.dirs.ensure(filepath.Join(l.root, job), regionDir); err != nil {
		return err
	}
	var payload [8]byte
	binary.LittleEndian.PutUint64(payload[:], epoch)
	return writeFileAtomic(regionDir, committedFile, payload[:])
}

// Committed implements Ledger.
func (l *DirLedger) Committed(ctx context.Context, job string, region int) (uint64, error) {
	if err := ctx.Err(); err != nil {
		return 0, committedErr(job, region, err)
	}
	if err := validRegion(job, region); err != nil {
		return 0, committedErr(job, region, err)
	}
	epoch, err := l.read(job, region)
	if err != nil {
		return 0, committedErr(job, region, err)
	}
	return epoch, nil
}

func (l *DirLedger) read(job string, region int) (uint64, error) {
	path := filepath.Join(l.regionDir(job, region), committedFile)
	payload, err := readFile(path)
	if errors.Is(err, ErrNotFound) {
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	if len(payload) != 8 {
		return 0, fmt.Errorf("%s: %w: payload is %d bytes, want 8", path, ErrCorrupt, len(payload))
	}
	return binary.LittleEndian.Uint64(payload), nil
}
