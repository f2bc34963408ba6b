package commitlog_test

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sync"

	"github.com/zerostor/zerostor/internal/commitlog"
)

// memStore is an in-memory commitlog.Store whose writes can be made to
// fail.
type memStore struct {
	mu      sync.Mutex
	batches map[uint64][]byte
	puts    int // PutBatch calls
	// failPut, when set, decides the fate of a PutBatch: an error fails
	// it; land says whether the data is stored anyway (a write that landed
	// but whose reply was lost).
	failPut func(index uint64) (land bool, err error)
	// failGet, when set, fails GetBatch with the error it returns.
	failGet func(index uint64) error
}

var errStoreDown = errors.New("store down")

func newMemStore() *memStore { return &memStore{batches: map[uint64][]byte{}} }

func (s *memStore) PutBatch(ctx context.Context, index uint64, data []byte) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.puts++
	if s.failPut != nil {
		if land, err := s.failPut(index); err != nil {
			if land {
				s.batches[index] = slices.Clone(data)
			}
			return err
		}
	}
	s.batches[index] = slices.Clone(data)
	return nil
}

func (s *memStore) GetBatch(ctx context.Context, index uint64) ([]byte, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.failGet != nil {
		if err := s.failGet(index); err != nil {
			return nil, err
		}
	}
	b, ok := s.batches[index]
	if !ok {
		return nil, fmt.Errorf("batch %d: %w", index, commitlog.ErrNotFound)
	}
	return slices.Clone(b), nil
}

func (s *memStore) LastBatch(ctx context.Context) (uint64, bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.batches) == 0 {
		return 0, false, nil
	}
	return slices.Max(slices.Collect(maps.Keys(s.batches))), true, nil
}

// setFailPut installs (or, with nil, removes) the PutBatch failure hook.
func (s *memStore) setFailPut(f func(uint64) (bool, error)) {
	s.mu.Lock()
	s.failPut = f
	s.mu.Unlock()
}

func (s *memStore) get(i uint64) []byte {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.batches[i])
}

func (s *memStore) set(i uint64, data []byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if data == nil {
		delete(s.batches, i)
		return
	}
	s.batches[i] = slices.Clone(data)
}

func (s *memStore) len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.batches)
}
