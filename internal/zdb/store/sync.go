package store

import (
	"fmt"
	"sync"
)

// syncer implements group commit: writers that need durability wait for
// one fdatasync that covers their position instead of each issuing their
// own, so a burst of concurrent writes costs one disk flush.
type syncer struct {
	mu      sync.Mutex
	cond    *sync.Cond
	running bool
	durable pos // everything before this is on disk
}

// advance records that everything before p is durable.
func (y *syncer) advance(p pos) {
	y.mu.Lock()
	if y.durable.less(p) {
		y.durable = p
	}
	y.mu.Unlock()
}

// waitDurable returns once everything before p is on disk.
func (s *Store) waitDurable(p pos) error {
	y := &s.sync
	y.mu.Lock()
	for {
		if !y.durable.less(p) {
			y.mu.Unlock()
			return nil
		}
		if !y.running {
			break
		}
		y.cond.Wait()
	}
	y.running = true
	y.mu.Unlock()

	err := s.SyncNow()

	y.mu.Lock()
	y.running = false
	y.cond.Broadcast()
	y.mu.Unlock()
	return err
}

// SyncNow flushes the active data file to disk.
func (s *Store) SyncNow() error {
	s.mu.RLock()
	if s.closed {
		s.mu.RUnlock()
		return ErrClosed
	}
	f := s.active
	target := pos{f.id, f.size.Load()}
	f.acquire()
	s.mu.RUnlock()
	defer f.release()
	if err := fdatasync(f.f); err != nil {
		return fmt.Errorf("store: sync %s: %w", dataName(s.opts.DataDir, f.id), err)
	}
	s.sync.advance(target)
	return nil
}
