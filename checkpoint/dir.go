package checkpoint

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
)

const (
	ckptExt     = ".ckpt"
	epochPrefix = "epoch-"
	// epochDigits zero-pads epochs so that directory listings sort numerically, which keeps the tree readable
	// for operators; the code itself sorts and does not depend on it.
	epochDigits = 20
)

// DirStore is a durable Store keeping one file per checkpoint under a directory:
//
//	DIR/<job>/region-<r>/epoch-<e, 20 digits>/<pe>.ckpt
type DirStore struct {
	root  string
	dirs  durableDirs
	locks *jobLocks
}

var _ Store = (*DirStore)(nil)

// OpenDirStore opens (creating if missing) the store in dir and removes temp files left by a crash.
// Only one DirStore may use dir at a time.
func OpenDirStore(dir string) (*DirStore, error) {
	if err := openRoot(dir); err != nil {
		return nil, fmt.Errorf("checkpoint: open dir store %s: %w", dir, err)
	}
	return &DirStore{root: dir, locks: newJobLocks()}, nil
}

func (s *DirStore) jobDir(job string) string { return filepath.Join(s.root, job) }

func (s *DirStore) regionDir(job string, region int) string {
	return filepath.Join(s.root, job, "region-"+strconv.Itoa(region))
}

func (s *DirStore) epochDir(job string, region int, epoch uint64) string {
	return filepath.Join(s.regionDir(job, region), fmt.Sprintf("%s%0*d", epochPrefix, epochDigits, epoch))
}

func (s *DirStore) path(k Key) string {
	return filepath.Join(s.epochDir(k.Job, k.Region, k.Epoch), k.PE+ckptExt)
}

// Save implements Store.
func (s *DirStore) Save(ctx context.Context, k Key, data []byte) error {
	if err := s.save(ctx, k, data); err != nil {
		return fmt.Errorf("checkpoint %s: save: %w", k, err)
	}
	return nil
}

func (s *DirStore) save(ctx context.Context, k Key, data []byte) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := k.validate(); err != nil {
		return err
	}
	mu := s.locks.of(k.Job)
	mu.RLock()
	defer mu.RUnlock()
	epochDir := s.epochDir(k.Job, k.Region, k.Epoch)
	if err := s.dirs.ensure(s.jobDir(k.Job), s.regionDir(k.Job, k.Region), epochDir); err != nil {
		return err
	}
	return writeFileAtomic(epochDir, k.PE+ckptExt, data)
}

// Load implements Store. It takes no lock: renames make every read see a whole file, and a concurrent Retire
// simply makes the result ErrNotFound.
func (s *DirStore) Load(ctx context.Context, k Key) ([]byte, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("checkpoint %s: load: %w", k, err)
	}
	if err := k.validate(); err != nil {
		return nil, fmt.Errorf("checkpoint %s: load: %w", k, err)
	}
	data, err := readFile(s.path(k))
	if err != nil {
		return nil, fmt.Errorf("checkpoint %s: load: %w", k, err)
	}
	return data, nil
}

// epochDirs returns the epochs of the parseable epoch directories of (job, region), in directory order.
func (s *DirStore) epochDirs(job string, region int) ([]uint64, error) {
	entries, err := os.ReadDir(s.regionDir(job, region))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var epochs []uint64
	for _, e := range entries {
		if epoch, ok := parseEpochDir(e); ok {
			epochs = append(epochs, epoch)
		}
	}
	return epochs, nil
}

// parseEpochDir accepts only names this package writes, so stray files and directories never count as epochs.
func parseEpochDir(e fs.DirEntry) (uint64, bool) {
	digits, ok := strings.CutPrefix(e.Name(), epochPrefix)
	if !ok || !e.IsDir() || len(digits) != epochDigits {
		return 0, false
	}
	for _, c := range digits {
		if c < '0' || c > '9' {
			return 0, false
		}
	}
	epoch, err := strconv.ParseUint(digits, 10, 64)
	if err != nil || epoch == 0 {
		return 0, false
	}
	return epoch, true
}

// Retire implements Store. It syncs the region directory so that retired epochs do not reappear after a machine
// crash, where recovery code listing Epochs would otherwise see epochs it already gave up.
func (s *DirStore) Retire(ctx context.Context, job string, region int, below uint64) error {
	if err := s.retire(ctx, job, region, below); err != nil {
		return fmt.Errorf("checkpoint %s: retire below epoch %d: %w", regionString(job, region), below, err)
	}
	return nil
}

func (s *DirStore) retire(ctx context.Context, job string, region int, below uint64) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := validRegion(job, region); err != nil {
		return err
	}
	mu := s.locks.of(job)
	mu.Lock()
	defer mu.Unlock()
	epochs, err := s.epochDirs(job, region)
	if err != nil {
		return err
	}
	removed := false
	for _, e := range epochs {
		if e >= below {
			continue
		}
		dir := s.epochDir(job, region, e)
		s.dirs.forget(dir)
		if err := os.RemoveAll(dir); err != nil {
			return err
		}
		removed = true
	}
	if removed {
		return syncDir(s.regionDir(job, region))
	}
	return nil
}

// Epochs implements Store. An epoch directory holding only temp files (a save that crashed) is not listed.
func (s *DirStore) Epochs(ctx context.Context, job string, region int) ([]uint64, error) {
	epochs, err := s.epochs(ctx, job, region)
	if err != nil {
		return nil, fmt.Errorf("checkpoint %s: epochs: %w", regionString(job, region), err)
	}
	return epochs, nil
}

func (s *DirStore) epochs(ctx context.Context, job string, region int) ([]uint64, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if err := validRegion(job, region); err != nil {
		return nil, err
	}
	all, err := s.epochDirs(job, region)
	if err != nil {
		return nil, err
	}
	epochs := all[:0]
	for _, e := range all {
		ok, err := holdsCheckpoint(s.epochDir(job, region, e))
		if err != nil {
			return nil, err
		}
		if ok {
			epochs = append(epochs, e)
		}
	}
	slices.Sort(epochs)
	return epochs, nil
}

func holdsCheckpoint(dir string) (bool, error) {
	entries, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil // retired while we were listing
	}
	if err != nil {
		return false, err
	}
	for _, e := range entries {
		name := e.Name()
		if e.Type().IsRegular() && strings.HasSuffix(name, ckptExt) && !strings.HasPrefix(name, ".") {
			return true, nil
		}
	}
	return false, nil
}

// DeleteJob implements Store.
func (s *DirStore) DeleteJob(ctx context.Context, job string) error {
	if err := s.deleteJob(ctx, job); err != nil {
		return fmt.Errorf("checkpoint job %s: delete: %w", job, err)
	}
	return nil
}

func (s *DirStore) deleteJob(ctx context.Context, job string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := validName("job", job); err != nil {
		return err
	}
	mu := s.locks.of(job)
	mu.Lock()
	defer mu.Unlock()
	dir := s.jobDir(job)
	if _, err := os.Lstat(dir); errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	s.dirs.forget(dir)
	if err := os.RemoveAll(dir); err != nil {
		return err
	}
	// Synced so a deleted job does not come back after a machine crash as a tree nobody will clean up.
	return syncDir(s.root)
}
