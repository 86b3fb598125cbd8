package checkpoint

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
	"testing"
)

// testLedger runs the Ledger contract against fresh ledgers from newLedger.
func testLedger(t *testing.T, newLedger func(t *testing.T) Ledger) {
	ctx := context.Background()
	committed := func(t *testing.T, l Ledger, job string, region int, want uint64) {
		t.Helper()
		got, err := l.Committed(ctx, job, region)
		if err != nil || got != want {
			t.Fatalf("Committed(%s, %d) = %d, %v; want %d", job, region, got, err, want)
		}
	}

	t.Run("CommitIncreasing", func(t *testing.T) {
		l := newLedger(t)
		committed(t, l, "j", 0, 0)
		for _, e := range []uint64{1, 2, 5, 1 << 40} {
			if err := l.Commit(ctx, "j", 0, e); err != nil {
				t.Fatalf("Commit(%d): %v", e, err)
			}
			committed(t, l, "j", 0, e)
		}
	})

	t.Run("NonIncreasingRefused", func(t *testing.T) {
		l := newLedger(t)
		if err := l.Commit(ctx, "j", 0, 0); !errors.Is(err, ErrNonIncreasingEpoch) {
			t.Errorf("Commit(0) on empty ledger = %v, want ErrNonIncreasingEpoch", err)
		}
		if err := l.Commit(ctx, "j", 0, 5); err != nil {
			t.Fatal(err)
		}
		for _, e := range []uint64{5, 4, 1, 0} {
			if err := l.Commit(ctx, "j", 0, e); !errors.Is(err, ErrNonIncreasingEpoch) {
				t.Errorf("Commit(%d) after 5 = %v, want ErrNonIncreasingEpoch", e, err)
			}
		}
		committed(t, l, "j", 0, 5)
	})

	t.Run("RegionsAndJobsIndependent", func(t *testing.T) {
		l := newLedger(t)
		for _, c := range []struct {
			job    string
			region int
			epoch  uint64
		}{{"j", 0, 9}, {"j", 1, 3}, {"k", 0, 1}} {
			if err := l.Commit(ctx, c.job, c.region, c.epoch); err != nil {
				t.Fatal(err)
			}
		}
		committed(t, l, "j", 0, 9)
		committed(t, l, "j", 1, 3)
		committed(t, l, "k", 0, 1)
		committed(t, l, "k", 1, 0)
	})

	t.Run("ConcurrentCommits", func(t *testing.T) {
		l := newLedger(t)
		const regions, epochs = 8, 10
		var wg sync.WaitGroup
		for r := range regions {
			wg.Go(func() {
				for e := uint64(1); e <= epochs; e++ {
					if err := l.Commit(ctx, "c", r, e); err != nil {
						t.Error(err)
					}
				}
			})
		}
		// Racing commits of the same epoch to one region: exactly one wins.
		var wins sync.Map
		for i := range 8 {
			wg.Go(func() {
				if err := l.Commit(ctx, "race", 0, 1); err == nil {
					wins.Store(i, true)
				} else if !errors.Is(err, ErrNonIncreasingEpoch) {
					t.Error(err)
				}
			})
		}
		wg.Wait()
		for r := range regions {
			committed(t, l, "c", r, epochs)
		}
		n := 0
		wins.Range(func(any, any) bool { n++; return true })
		if n != 1 {
			t.Errorf("%d commits of the same epoch succeeded, want 1", n)
		}
	})

	t.Run("InvalidRefused", func(t *testing.T) {
		l := newLedger(t)
		for _, job := range invalidNames() {
			if err := l.Commit(ctx, job, 0, 1); !errors.Is(err, ErrInvalidKey) {
				t.Errorf("Commit(%q) = %v, want ErrInvalidKey", job, err)
			}
			if _, err := l.Committed(ctx, job, 0); !errors.Is(err, ErrInvalidKey) {
				t.Errorf("Committed(%q) = %v, want ErrInvalidKey", job, err)
			}
		}
		if err := l.Commit(ctx, "j", -1, 1); !errors.Is(err, ErrInvalidKey) {
			t.Errorf("Commit(region -1) = %v, want ErrInvalidKey", err)
		}
	})

	t.Run("CanceledContext", func(t *testing.T) {
		l := newLedger(t)
		cctx, cancel := context.WithCancel(ctx)
		cancel()
		if err := l.Commit(cctx, "j", 0, 1); !errors.Is(err, context.Canceled) {
			t.Errorf("Commit = %v, want context.Canceled", err)
		}
		if _, err := l.Committed(cctx, "j", 0); !errors.Is(err, context.Canceled) {
			t.Errorf("Committed = %v, want context.Canceled", err)
		}
		committed(t, l, "j", 0, 0)
	})
}

func TestMemLedgerConformance(t *testing.T) {
	testLedger(t, func(*testing.T) Ledger { return NewMemLedger() })
}

func TestDirLedgerConformance(t *testing.T) {
	testLedger(t, func(t *testing.T) Ledger { return openDirLedger(t, t.TempDir()) })
}

func openDirLedger(t *testing.T, dir string) *DirLedger {
	t.Helper()
	l, err := OpenDirLedger(dir)
	if err != nil {
		t.Fatalf("OpenDirLedger(%s): %v", dir, err)
	}
	return l
}

func TestDirLedgerRestart(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	l := openDirLedger(t, dir)
	for e := uint64(1); e <= 4; e++ {
		if err := l.Commit(ctx, "j", 3, e); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "j", "region-3", "COMMITTED")); err != nil {
		t.Fatalf("COMMITTED not at its documented path: %v", err)
	}
	// A crash between CreateTemp and rename.
	leftover := filepath.Join(dir, "j", "region-3", ".tmp-42")
	if err := os.WriteFile(leftover, []byte("partial"), 0o600); err != nil {
		t.Fatal(err)
	}

	l = openDirLedger(t, dir)
	if _, err := os.Stat(leftover); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("temp file survived reopen: %v", err)
	}
	if got, err := l.Committed(ctx, "j", 3); err != nil || got != 4 {
		t.Fatalf("Committed after restart = %d, %v; want 4", got, err)
	}
	if err := l.Commit(ctx, "j", 3, 4); !errors.Is(err, ErrNonIncreasingEpoch) {
		t.Fatalf("Commit(4) after restart = %v, want ErrNonIncreasingEpoch", err)
	}
	if err := l.Commit(ctx, "j", 3, 5); err != nil {
		t.Fatal(err)
	}
}

func TestDirLedgerCorrupt(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		name    string
		corrupt func(b []byte) []byte
	}{
		{"flip epoch byte", func(b []byte) []byte { b[headerLen] ^= 1; return b }},
		{"truncated", func(b []byte) []byte { return b[:headerLen+3] }},
		// A well-formed file whose payload is not an epoch.
		{"wrong payload size", func([]byte) []byte {
			h := makeHeader([]byte("abc"))
			return append(h[:], "abc"...)
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			l := openDirLedger(t, dir)
			if err := l.Commit(ctx, "j", 0, 7); err != nil {
				t.Fatal(err)
			}
			path := filepath.Join(dir, "j", "region-0", "COMMITTED")
			b, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(path, tc.corrupt(b), 0o600); err != nil {
				t.Fatal(err)
			}
			if got, err := l.Committed(ctx, "j", 0); !errors.Is(err, ErrCorrupt) {
				t.Errorf("Committed = %d, %v; want ErrCorrupt", got, err)
			}
			// Refused rather than overwritten: the committed epoch is unknown.
			if err := l.Commit(ctx, "j", 0, 100); !errors.Is(err, ErrCorrupt) {
				t.Errorf("Commit over corrupt record = %v, want ErrCorrupt", err)
			}
		})
	}
}
