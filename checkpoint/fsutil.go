package checkpoint

import (
	"errors"
	"fmt"
	"hash/maphash"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
)

// tempPrefix marks files that are not yet (or no longer) a valid blob. Names may not start with '.', so no
// checkpoint or ledger file can carry it, and OpenDirStore/OpenDirLedger can delete these blindly.
const tempPrefix = ".tmp-"

// syncDir makes the entries of dir (creations, renames, removals) durable; fsyncing a file does not.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	if err := d.Sync(); err != nil {
		d.Close()
		return fmt.Errorf("sync dir %s: %w", dir, err)
	}
	return d.Close()
}

// writeFileAtomic replaces dir/name with a checksummed file holding payload. The rename is what makes the
// replacement atomic for readers; the fsyncs before and after it are what make it survive a machine crash.
func writeFileAtomic(dir, name string, payload []byte) (err error) {
	f, err := os.CreateTemp(dir, tempPrefix+"*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	defer func() {
		if err != nil {
			f.Close() // may already be closed; the error that matters is the first one
			os.Remove(tmp)
		}
	}()
	h := makeHeader(payload)
	if _, err := f.Write(h[:]); err != nil {
		return err
	}
	if _, err := f.Write(payload); err != nil {
		return err
	}
	if err := f.Sync(); err != nil {
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp, filepath.Join(dir, name)); err != nil {
		return err
	}
	return syncDir(dir)
}

// readFile reads and verifies the file at path. A missing file wraps ErrNotFound; damage wraps ErrCorrupt with the path.
func readFile(path string) ([]byte, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("%s: %w", path, ErrNotFound)
	}
	if err != nil {
		return nil, err
	}
	payload, err := decodeFile(b)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return payload, nil
}

// openRoot creates root if needed and removes temp files a crashed predecessor left behind: they hold no
// acknowledged data, and removing them keeps them from piling up across crashes.
func openRoot(root string) error {
	fi, err := os.Stat(root)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		if err := mkdirAllDurable(root); err != nil {
			return err
		}
	case err != nil:
		return err
	case !fi.IsDir():
		return fmt.Errorf("%s is not a directory", root)
	}
	return filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() && strings.HasPrefix(d.Name(), tempPrefix) {
			if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
				return err
			}
		}
		return nil
	})
}

// mkdirAllDurable creates dir and its missing parents and syncs the parent of each one created, because
// saves only sync directories inside the root: a root whose own entry was lost would lose every checkpoint.
func mkdirAllDurable(dir string) error {
	dir = filepath.Clean(dir)
	var missing []string
	for d := dir; ; d = filepath.Dir(d) {
		if _, err := os.Stat(d); err == nil {
			break
		} else if !errors.Is(err, fs.ErrNotExist) {
			return err
		}
		missing = append(missing, d)
		if filepath.Dir(d) == d {
			break
		}
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	for _, d := range missing {
		if err := syncDir(filepath.Dir(d)); err != nil {
			return err
		}
	}
	return nil
}

// durableDirs remembers which directories are known to have a durable entry in their parent. Without it, a save
// that finds a directory created moments ago by a concurrent save could return before that directory's entry
// reaches disk, and a machine crash would lose an acknowledged checkpoint. With it, each directory costs one
// parent fsync per process lifetime rather than one per save.
type durableDirs struct {
	m sync.Map // path -> struct{}
}

// ensure creates each of dirs in order (each must be the parent of the next, the first a child of an existing
// directory) and makes its entry durable.
func (d *durableDirs) ensure(dirs ...string) error {
	for _, dir := range dirs {
		if _, ok := d.m.Load(dir); ok {
			continue
		}
		if err := os.Mkdir(dir, 0o755); err != nil && !errors.Is(err, fs.ErrExist) {
			return err
		}
		// Synced even when the directory already existed: it may have been created by a concurrent call that
		// has not synced yet, or before a restart that did not flush it.
		if err := syncDir(filepath.Dir(dir)); err != nil {
			return err
		}
		d.m.Store(dir, struct{}{})
	}
	return nil
}

// forget drops dir and everything below it, so that recreating a removed directory syncs it again.
func (d *durableDirs) forget(dir string) {
	prefix := dir + string(filepath.Separator)
	d.m.Range(func(k, _ any) bool {
		if p := k.(string); p == dir || strings.HasPrefix(p, prefix) {
			d.m.Delete(k)
		}
		return true
	})
}

// jobLocks serializes removals of a job's directories against saves into them (which would otherwise make
// RemoveAll fail with "directory not empty" or a save fail half-way), while letting saves run in parallel.
// Striping bounds memory without tracking job lifetimes; unrelated jobs rarely share a stripe.
type jobLocks struct {
	seed    maphash.Seed
	stripes [64]sync.RWMutex
}

func newJobLocks() *jobLocks {
	return &jobLocks{seed: maphash.MakeSeed()}
}

func (l *jobLocks) of(job string) *sync.RWMutex {
	return &l.stripes[maphash.String(l.seed, job)%uint64(len(l.stripes))]
}
