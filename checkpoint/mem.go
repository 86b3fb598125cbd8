package checkpoint

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"sync"
)

// MemStore is a Store in memory. It follows the Store contract except that nothing survives the process.
type MemStore struct {
	mu      sync.RWMutex
	regions map[memRegion]map[uint64]map[string][]byte // region -> epoch -> PE -> data
}

type memRegion struct {
	job    string
	region int
}

var _ Store = (*MemStore)(nil)

// NewMemStore returns an empty MemStore.
func NewMemStore() *MemStore {
	return &MemStore{regions: make(map[memRegion]map[uint64]map[string][]byte)}
}

// Save implements Store. It copies data so that the caller may reuse its buffer, as with a durable store.
func (s *MemStore) Save(ctx context.Context, k Key, data []byte) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("checkpoint %s: save: %w", k, err)
	}
	if err := k.validate(); err != nil {
		return fmt.Errorf("checkpoint %s: save: %w", k, err)
	}
	// Copied before locking to keep the critical section short; append keeps an empty blob non-nil.
	blob := append([]byte{}, data...)
	s.mu.Lock()
	defer s.mu.Unlock()
	r := memRegion{k.Job, k.Region}
	epochs := s.regions[r]
	if epochs == nil {
		epochs = make(map[uint64]map[string][]byte)
		s.regions[r] = epochs
	}
	pes := epochs[k.Epoch]
	if pes == nil {
		pes = make(map[string][]byte)
		epochs[k.Epoch] = pes
	}
	pes[k.PE] = blob
	return nil
}

// Load implements Store. It returns a copy so that a caller mutating the result cannot change the checkpoint.
func (s *MemStore) Load(ctx context.Context, k Key) ([]byte, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("checkpoint %s: load: %w", k, err)
	}
	if err := k.validate(); err != nil {
		return nil, fmt.Errorf("checkpoint %s: load: %w", k, err)
	}
	s.mu.RLock()
	blob, ok := s.regions[memRegion{k.Job, k.Region}][k.Epoch][k.PE]
	s.mu.RUnlock()
	if !ok {
		return nil, fmt.Errorf("checkpoint %s: load: %w", k, ErrNotFound)
	}
	// Stored blobs are never mutated, only replaced, so copying outside the lock is safe.
	return append([]byte{}, blob...), nil
}

// Retire implements Store.
func (s *MemStore) Retire(ctx context.Context, job string, region int, below uint64) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("checkpoint %s: retire below epoch %d: %w", regionString(job, region), below, err)
	}
	if err := validRegion(job, region); err != nil {
		return fmt.Errorf("checkpoint %s: retire below epoch %d: %w", regionString(job, region), below, err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	r := memRegion{job, region}
	epochs := s.regions[r]
	maps.DeleteFunc(epochs, func(e uint64, _ map[string][]byte) bool { return e < below })
	if len(epochs) == 0 {
		delete(s.regions, r)
	}
	return nil
}

// Epochs implements Store.
func (s *MemStore) Epochs(ctx context.Context, job string, region int) ([]uint64, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("checkpoint %s: epochs: %w", regionString(job, region), err)
	}
	if err := validRegion(job, region); err != nil {
		return nil, fmt.Errorf("checkpoint %s: epochs: %w", regionString(job, region), err)
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	// Every stored epoch holds at least one PE: entries are only ever created by Save.
	return slices.Sorted(maps.Keys(s.regions[memRegion{job, region}])), nil
}

// DeleteJob implements Store.
func (s *MemStore) DeleteJob(ctx context.Context, job string) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("checkpoint job %s: delete: %w", job, err)
	}
	if err := validName("job", job); err != nil {
		return fmt.Errorf("checkpoint job %s: delete: %w", job, err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	maps.DeleteFunc(s.regions, func(r memRegion, _ map[uint64]map[string][]byte) bool { return r.job == job })
	return nil
}
