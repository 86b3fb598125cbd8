package checkpoint

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
)

// testStore runs the Store contract against fresh stores from newStore. Every implementation must pass it
// unchanged, so that code tested against MemStore behaves the same against DirStore.
func testStore(t *testing.T, newStore func(t *testing.T) Store) {
	ctx := context.Background()
	key := Key{Job: "squares-3f2a", Region: 1, Epoch: 5, PE: "map[2]"}

	mustSave := func(t *testing.T, s Store, k Key, data []byte) {
		t.Helper()
		if err := s.Save(ctx, k, data); err != nil {
			t.Fatalf("Save(%s): %v", k, err)
		}
	}
	mustLoad := func(t *testing.T, s Store, k Key, want []byte) {
		t.Helper()
		got, err := s.Load(ctx, k)
		if err != nil {
			t.Fatalf("Load(%s): %v", k, err)
		}
		if !bytes.Equal(got, want) {
			t.Fatalf("Load(%s) = %q, want %q", k, got, want)
		}
	}
	mustEpochs := func(t *testing.T, s Store, job string, region int, want ...uint64) {
		t.Helper()
		got, err := s.Epochs(ctx, job, region)
		if err != nil {
			t.Fatalf("Epochs(%s, %d): %v", job, region, err)
		}
		if !slices.Equal(got, want) {
			t.Fatalf("Epochs(%s, %d) = %v, want %v", job, region, got, want)
		}
	}
	mustNotFound := func(t *testing.T, s Store, k Key) {
		t.Helper()
		if got, err := s.Load(ctx, k); !errors.Is(err, ErrNotFound) {
			t.Fatalf("Load(%s) = %q, %v; want ErrNotFound", k, got, err)
		}
	}

	t.Run("SaveLoad", func(t *testing.T) {
		s := newStore(t)
		mustSave(t, s, key, []byte("state"))
		mustLoad(t, s, key, []byte("state"))
	})

	t.Run("EmptyAndBinaryBlobs", func(t *testing.T) {
		s := newStore(t)
		mustSave(t, s, key, nil)
		mustLoad(t, s, key, []byte{})
		bin := make([]byte, 1<<16)
		for i := range bin {
			bin[i] = byte(i * 7)
		}
		k2 := key
		k2.PE = "pe.with-all_chars[9]"
		mustSave(t, s, k2, bin)
		mustLoad(t, s, k2, bin)
	})

	t.Run("Overwrite", func(t *testing.T) {
		s := newStore(t)
		mustSave(t, s, key, []byte("first, and longer than the second"))
		mustSave(t, s, key, []byte("second"))
		mustLoad(t, s, key, []byte("second"))
		mustEpochs(t, s, key.Job, key.Region, key.Epoch)
	})

	t.Run("NotFound", func(t *testing.T) {
		s := newStore(t)
		mustNotFound(t, s, key)
		mustSave(t, s, key, []byte("x"))
		for _, k := range []Key{
			{Job: key.Job, Region: key.Region, Epoch: key.Epoch, PE: "other"},
			{Job: key.Job, Region: key.Region, Epoch: key.Epoch + 1, PE: key.PE},
			{Job: key.Job, Region: key.Region + 1, Epoch: key.Epoch, PE: key.PE},
			{Job: "other", Region: key.Region, Epoch: key.Epoch, PE: key.PE},
		} {
			mustNotFound(t, s, k)
		}
		mustEpochs(t, s, "other", 0)
	})

	t.Run("EpochsOrdering", func(t *testing.T) {
		s := newStore(t)
		for _, e := range []uint64{10, 2, 100, 1, 9, 1 << 63} {
			mustSave(t, s, Key{Job: "j", Region: 0, Epoch: e, PE: "a"}, []byte{byte(e)})
			mustSave(t, s, Key{Job: "j", Region: 0, Epoch: e, PE: "b"}, []byte{byte(e)})
		}
		mustSave(t, s, Key{Job: "j", Region: 1, Epoch: 3, PE: "a"}, nil)
		mustEpochs(t, s, "j", 0, 1, 2, 9, 10, 100, 1<<63)
		mustEpochs(t, s, "j", 1, 3)
		mustEpochs(t, s, "j", 2)
	})

	t.Run("RetireBounds", func(t *testing.T) {
		s := newStore(t)
		for e := uint64(1); e <= 5; e++ {
			for _, pe := range []string{"pe1", "pe2"} {
				mustSave(t, s, Key{Job: "j", Region: 0, Epoch: e, PE: pe}, []byte{byte(e)})
			}
			mustSave(t, s, Key{Job: "j", Region: 1, Epoch: e, PE: "pe1"}, []byte{byte(e)})
			mustSave(t, s, Key{Job: "k", Region: 0, Epoch: e, PE: "pe1"}, []byte{byte(e)})
		}
		retire := func(below uint64) {
			t.Helper()
			if err := s.Retire(ctx, "j", 0, below); err != nil {
				t.Fatalf("Retire(j, 0, %d): %v", below, err)
			}
		}
		retire(0)
		retire(1)
		mustEpochs(t, s, "j", 0, 1, 2, 3, 4, 5)
		retire(3)
		mustEpochs(t, s, "j", 0, 3, 4, 5)
		retire(3) // idempotent
		retire(2) // a lower bound than before is a no-op
		mustEpochs(t, s, "j", 0, 3, 4, 5)
		mustNotFound(t, s, Key{Job: "j", Region: 0, Epoch: 2, PE: "pe1"})
		mustLoad(t, s, Key{Job: "j", Region: 0, Epoch: 3, PE: "pe2"}, []byte{3})
		// Other regions and jobs are untouched.
		mustEpochs(t, s, "j", 1, 1, 2, 3, 4, 5)
		mustEpochs(t, s, "k", 0, 1, 2, 3, 4, 5)
		retire(^uint64(0))
		mustEpochs(t, s, "j", 0)
		if err := s.Retire(ctx, "nobody", 7, 100); err != nil {
			t.Fatalf("Retire of unknown region: %v", err)
		}
		// Saving into a retired region works again.
		mustSave(t, s, Key{Job: "j", Region: 0, Epoch: 6, PE: "pe1"}, []byte("again"))
		mustEpochs(t, s, "j", 0, 6)
	})

	t.Run("DeleteJob", func(t *testing.T) {
		s := newStore(t)
		for r := range 3 {
			mustSave(t, s, Key{Job: "doomed", Region: r, Epoch: 1, PE: "pe1"}, []byte("x"))
		}
		mustSave(t, s, Key{Job: "kept", Region: 0, Epoch: 1, PE: "pe1"}, []byte("y"))
		mustSave(t, s, Key{Job: "doomed-2", Region: 0, Epoch: 1, PE: "pe1"}, []byte("z"))
		for range 2 { // idempotent
			if err := s.DeleteJob(ctx, "doomed"); err != nil {
				t.Fatalf("DeleteJob: %v", err)
			}
		}
		for r := range 3 {
			mustEpochs(t, s, "doomed", r)
			mustNotFound(t, s, Key{Job: "doomed", Region: r, Epoch: 1, PE: "pe1"})
		}
		mustLoad(t, s, Key{Job: "kept", Region: 0, Epoch: 1, PE: "pe1"}, []byte("y"))
		mustLoad(t, s, Key{Job: "doomed-2", Region: 0, Epoch: 1, PE: "pe1"}, []byte("z"))
		if err := s.DeleteJob(ctx, "never-existed"); err != nil {
			t.Fatalf("DeleteJob of unknown job: %v", err)
		}
		mustSave(t, s, Key{Job: "doomed", Region: 0, Epoch: 2, PE: "pe1"}, []byte("reborn"))
		mustLoad(t, s, Key{Job: "doomed", Region: 0, Epoch: 2, PE: "pe1"}, []byte("reborn"))
	})

	t.Run("DataIsolation", func(t *testing.T) {
		s := newStore(t)
		buf := []byte("original")
		mustSave(t, s, key, buf)
		copy(buf, "MUTATED!")
		mustLoad(t, s, key, []byte("original"))
		got, err := s.Load(ctx, key)
		if err != nil {
			t.Fatal(err)
		}
		copy(got, "MUTATED!")
		mustLoad(t, s, key, []byte("original"))
	})

	t.Run("ConcurrentSavesDistinctKeys", func(t *testing.T) {
		s := newStore(t)
		const goroutines, perG = 32, 8
		blob := func(g, i int) []byte { return fmt.Appendf(nil, "g%d-i%d", g, i) }
		keyOf := func(g, i int) Key {
			// Goroutines share regions and epochs so that directory creation races too.
			return Key{Job: "c", Region: g % 2, Epoch: uint64(i + 1), PE: fmt.Sprintf("pe%d", g)}
		}
		var wg sync.WaitGroup
		errs := make(chan error, goroutines*perG)
		for g := range goroutines {
			wg.Go(func() {
				for i := range perG {
					if err := s.Save(ctx, keyOf(g, i), blob(g, i)); err != nil {
						errs <- err
					}
				}
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Error(err)
		}
		for g := range goroutines {
			for i := range perG {
				mustLoad(t, s, keyOf(g, i), blob(g, i))
			}
		}
		mustEpochs(t, s, "c", 0, 1, 2, 3, 4, 5, 6, 7, 8)
	})

	t.Run("ConcurrentOverwriteIsAtomic", func(t *testing.T) {
		s := newStore(t)
		a := bytes.Repeat([]byte{'a'}, 8192)
		b := bytes.Repeat([]byte{'b'}, 100)
		mustSave(t, s, key, a)
		var wg sync.WaitGroup
		stop := make(chan struct{})
		var readErr error
		wg.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				got, err := s.Load(ctx, key)
				if err != nil || !(bytes.Equal(got, a) || bytes.Equal(got, b)) {
					readErr = fmt.Errorf("Load during overwrite = %d bytes, %v", len(got), err)
					return
				}
			}
		})
		for i := range 20 {
			if err := s.Save(ctx, key, [][]byte{a, b}[i%2]); err != nil {
				t.Error(err)
			}
		}
		close(stop)
		wg.Wait()
		if readErr != nil {
			t.Fatal(readErr)
		}
	})

	t.Run("ConcurrentRetireAndSave", func(t *testing.T) {
		s := newStore(t)
		var wg sync.WaitGroup
		const epochs = 20
		for pe := range 4 {
			wg.Go(func() {
				for e := uint64(1); e <= epochs; e++ {
					if err := s.Save(ctx, Key{Job: "r", Region: 0, Epoch: e, PE: fmt.Sprint("pe", pe)}, []byte("x")); err != nil {
						t.Error(err)
					}
				}
			})
		}
		wg.Go(func() {
			for e := uint64(1); e <= epochs; e++ {
				if err := s.Retire(ctx, "r", 0, e); err != nil {
					t.Error(err)
				}
				if _, err := s.Epochs(ctx, "r", 0); err != nil {
					t.Error(err)
				}
			}
		})
		wg.Go(func() {
			for range 5 {
				if err := s.DeleteJob(ctx, "r-other"); err != nil {
					t.Error(err)
				}
				if err := s.Save(ctx, Key{Job: "r-other", Region: 0, Epoch: 1, PE: "p"}, nil); err != nil {
					t.Error(err)
				}
			}
		})
		wg.Wait()
		if err := s.Retire(ctx, "r", 0, epochs); err != nil {
			t.Fatal(err)
		}
		mustEpochs(t, s, "r", 0, epochs)
	})

	t.Run("InvalidKeysRefused", func(t *testing.T) {
		s := newStore(t)
		for _, k := range invalidKeys() {
			if err := s.Save(ctx, k, []byte("x")); !errors.Is(err, ErrInvalidKey) {
				t.Errorf("Save(%q) = %v, want ErrInvalidKey", k, err)
			}
			if _, err := s.Load(ctx, k); !errors.Is(err, ErrInvalidKey) {
				t.Errorf("Load(%q) = %v, want ErrInvalidKey", k, err)
			}
		}
		for _, job := range invalidNames() {
			if err := s.Retire(ctx, job, 0, 10); !errors.Is(err, ErrInvalidKey) {
				t.Errorf("Retire(%q) = %v, want ErrInvalidKey", job, err)
			}
			if _, err := s.Epochs(ctx, job, 0); !errors.Is(err, ErrInvalidKey) {
				t.Errorf("Epochs(%q) = %v, want ErrInvalidKey", job, err)
			}
			if err := s.DeleteJob(ctx, job); !errors.Is(err, ErrInvalidKey) {
				t.Errorf("DeleteJob(%q) = %v, want ErrInvalidKey", job, err)
			}
		}
		if err := s.Retire(ctx, "j", -1, 10); !errors.Is(err, ErrInvalidKey) {
			t.Errorf("Retire(region -1) = %v, want ErrInvalidKey", err)
		}
	})

	t.Run("CanceledContext", func(t *testing.T) {
		s := newStore(t)
		mustSave(t, s, key, []byte("x"))
		cctx, cancel := context.WithCancel(ctx)
		cancel()
		if err := s.Save(cctx, key, []byte("y")); !errors.Is(err, context.Canceled) {
			t.Errorf("Save = %v, want context.Canceled", err)
		}
		if _, err := s.Load(cctx, key); !errors.Is(err, context.Canceled) {
			t.Errorf("Load = %v, want context.Canceled", err)
		}
		if err := s.Retire(cctx, key.Job, key.Region, 100); !errors.Is(err, context.Canceled) {
			t.Errorf("Retire = %v, want context.Canceled", err)
		}
		if _, err := s.Epochs(cctx, key.Job, key.Region); !errors.Is(err, context.Canceled) {
			t.Errorf("Epochs = %v, want context.Canceled", err)
		}
		if err := s.DeleteJob(cctx, key.Job); !errors.Is(err, context.Canceled) {
			t.Errorf("DeleteJob = %v, want context.Canceled", err)
		}
		mustLoad(t, s, key, []byte("x"))
	})
}

func invalidNames() []string {
	return []string{"", ".", "..", ".hidden", ".tmp-123", "a/b", "../escape", `a\b`, "a\x00b", string(make([]byte, maxNameLen+1))}
}

func invalidKeys() []Key {
	var keys []Key
	for _, n := range invalidNames() {
		keys = append(keys,
			Key{Job: n, Region: 0, Epoch: 1, PE: "pe"},
			Key{Job: "j", Region: 0, Epoch: 1, PE: n})
	}
	return append(keys,
		Key{Job: "j", Region: -1, Epoch: 1, PE: "pe"},
		Key{Job: "j", Region: 0, Epoch: 0, PE: "pe"})
}

func TestMemStoreConformance(t *testing.T) {
	testStore(t, func(*testing.T) Store { return NewMemStore() })
}

func TestDirStoreConformance(t *testing.T) {
	testStore(t, func(t *testing.T) Store {
		s, err := OpenDirStore(t.TempDir())
		if err != nil {
			t.Fatal(err)
		}
		return s
	})
}

func TestKeyString(t *testing.T) {
	k := Key{Job: "job", Region: 1, Epoch: 5, PE: "pe3"}
	if got, want := k.String(), "job/region-1/epoch-5/pe3"; got != want {
		t.Fatalf("String() = %q, want %q", got, want)
	}
}
