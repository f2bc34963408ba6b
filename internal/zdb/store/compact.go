package store

import (
	"errors"
	"fmt"
	"os"
	"sort"
	"time"

	"github.com/zerostor/zerostor/internal/zdb/index"
	"github.com/zerostor/zerostor/internal/zdb/record"
)

// Compaction copies the live records of a sealed data file to the end of
// the log and then deletes the file. It is crash-safe at every point
// because replay order decides: a copy always lands after its original, so
// while both exist the copy wins and says the same thing.
//
// Deletion records need care: dropping one would let an older version of
// its key come back at the next open. A deletion is copied forward while its
// key is absent, and dropped only when its file is the oldest one (nothing
// older is left for it to hide). In seq mode deletions are always kept, so
// that the highest id ever handed out survives and ids are never reused.

const compactBatch = 4 << 20

// compactEvery is how often the background looks for files to compact.
const compactEvery = 10 * time.Second

// Compact compacts every sealed file whose reclaimable share is at least
// ratio (0 compacts every file with anything to reclaim). It returns the
// number of bytes reclaimed.
func (s *Store) Compact(ratio float64) (int64, error) {
	s.compactMu.Lock()
	defer s.compactMu.Unlock()
	s.stats.compacting.Store(true)
	defer s.stats.compacting.Store(false)
	s.stats.compactRuns.Add(1)
	var reclaimed int64
	for _, id := range s.compactCandidates(ratio) {
		if s.ctx.Err() != nil {
			return reclaimed, ErrClosed
		}
		n, err := s.compactFile(id)
		reclaimed += n
		if err != nil {
			return reclaimed, err
		}
	}
	return reclaimed, nil
}

func (s *Store) compactCandidates(ratio float64) []uint32 {
	s.mu.RLock()
	defer s.mu.RUnlock()
	ids := s.sortedIDsLocked(false)
	var out []uint32
	for i, id := range ids {
		f := s.files[id]
		if f == s.active {
			continue
		}
		size := f.size.Load()
		keep := f.live + f.tomb
		if i == 0 && s.opts.Mode != ModeSeq {
			keep = f.live // the oldest file's deletions can go
		}
		dead := size - keep
		if dead <= 0 || size == 0 {
			if size == 0 {
				out = append(out, id) // empty sealed file: just remove it
			}
			continue
		}
		if float64(dead)/float64(size) >= ratio {
			out = append(out, id)
		}
	}
	return out
}

type pendingCopy struct {
	h   record.Header
	off int64
	key []byte
	val []byte
}

// compactFile moves the live records of one sealed file and removes it.
func (s *Store) compactFile(id uint32) (int64, error) {
	s.mu.RLock()
	f := s.files[id]
	if f == nil || f == s.active {
		s.mu.RUnlock()
		return 0, nil
	}
	ids := s.sortedIDsLocked(false)
	oldest := ids[0] == id
	f.acquire()
	s.mu.RUnlock()
	defer f.release()

	size := f.size.Load()
	dropTombs := oldest && s.opts.Mode != ModeSeq
	var pending []pendingCopy
	var pendingBytes int
	touched := map[uint32]bool{}
	var moved int64
	flush := func() error {
		n, err := s.copyRecords(id, pending, touched)
		moved += n
		pending, pendingBytes = pending[:0], 0
		return err
	}
	err := walkValues(f.f, 0, size, func(off int64, h record.Header, key, val []byte) error {
		if s.ctx.Err() != nil {
			return ErrClosed
		}
		if h.Type == record.TypeSet && !s.isLive(key, id, off) {
			return nil
		}
		if h.Type == record.TypeDelete && (dropTombs || s.Exists(key)) {
			return nil
		}
		pending = append(pending, pendingCopy{h: h, off: off, key: append([]byte(nil), key...), val: append([]byte(nil), val...)})
		pendingBytes += h.Len()
		if pendingBytes >= compactBatch {
			return flush()
		}
		return nil
	})
	if err == nil {
		err = flush()
	}
	if err != nil {
		var bad *badRecordError
		if errors.As(err, &bad) {
			// A damaged file is kept: its good records stay readable
			// and the damage stays visible to scrub and operators.
			s.corrupt(id, bad.off, bad.cause)
			return 0, nil
		}
		return 0, fmt.Errorf("store: compact %s: %w", dataName(s.opts.DataDir, id), err)
	}
	// The copies must be on disk before the originals go.
	for fid := range touched {
		if err := s.syncFile(fid); err != nil {
			return 0, err
		}
	}
	s.mu.Lock()
	if f.live != 0 {
		live := f.live
		s.mu.Unlock()
		return 0, fmt.Errorf("store: compact %s: %d live bytes left after copy", dataName(s.opts.DataDir, id), live)
	}
	delete(s.files, id)
	delete(s.dirty, id)
	s.total -= size
	s.mu.Unlock()
	f.release() // the store's own reference

	os.Remove(hintName(s.opts.IndexDir, id))
	if err := os.Remove(dataName(s.opts.DataDir, id)); err != nil && !errors.Is(err, os.ErrNotExist) {
		return 0, fmt.Errorf("store: remove compacted file: %w", err)
	}
	// Make the removal durable before any later compaction relies on it
	// (a resurrected file could bring back keys whose deletions were
	// dropped meanwhile).
	if err := syncDir(s.opts.DataDir); err != nil {
		return 0, fmt.Errorf("store: %w", err)
	}
	syncDir(s.opts.IndexDir)
	s.stats.compactFiles.Add(1)
	s.stats.compactMoved.Add(moved)
	s.stats.compactReclaimed.Add(size - moved)
	s.opts.Logger.Info("compacted data file", "file", dataName(s.opts.DataDir, id), "bytes", size, "moved", moved)
	return size - moved, nil
}

// copyRecords appends copies of still-live records under the write lock,
// re-checking each one: a key overwritten since it was read is skipped.
func (s *Store) copyRecords(from uint32, recs []pendingCopy, touched map[uint32]bool) (int64, error) {
	if len(recs) == 0 {
		return 0, nil
	}
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return 0, ErrClosed
	}
	if s.writeErr != nil {
		err := s.writeErr
		s.mu.Unlock()
		return 0, err
	}
	var events []func()
	s.resetPendingLocked()
	var moved int64
	var err error
	for _, r := range recs {
		old := index.Loc{File: from, Offset: uint32(r.off), Size: r.h.ValLen, CRC: r.h.ValCRC}
		if r.h.Type == record.TypeSet {
			if cur, ok := s.idx.get(r.key); !ok || !sameRecord(cur, old) {
				continue
			}
		} else if _, ok := s.idx.get(r.key); ok {
			continue
		}
		n := r.h.Len()
		if size := s.active.size.Load() + s.pendLen; size > 0 && size+int64(n) > s.opts.DataSize {
			if err = s.flushLocked(); err != nil {
				break
			}
			var ev func()
			if ev, err = s.rotateLocked(); err != nil {
				break
			}
			events = append(events, ev)
		}
		touched[s.active.id] = true
		h := r.h
		h.BackLen = s.lastLen
		off := s.appendRecordLocked(h, r.key, r.val)
		if h.Type == record.TypeSet {
			nw := index.Loc{File: s.active.id, Offset: uint32(off), Size: h.ValLen, CRC: h.ValCRC}
			s.idx.cas(r.key, old, nw)
			s.active.live += int64(n)
			s.files[from].live -= int64(n)
			s.undo = append(s.undo, undoOp{key: r.key, old: old, existed: true, nw: nw, set: true})
		} else {
			s.active.tomb += int64(n)
			s.undo = append(s.undo, undoOp{key: r.key})
		}
		moved += int64(n)
	}
	if err == nil {
		err = s.flushLocked()
	}
	s.mu.Unlock()
	for _, ev := range events {
		ev()
	}
	return moved, err
}

// syncFile fsyncs one data file if it still exists.
func (s *Store) syncFile(id uint32) error {
	f := s.fileRef(id)
	if f == nil {
		return nil
	}
	defer f.release()
	if err := fdatasync(f.f); err != nil {
		return fmt.Errorf("store: sync %s: %w", dataName(s.opts.DataDir, id), err)
	}
	return nil
}

// sortedIDsLocked lists the data file ids in order.
func (s *Store) sortedIDsLocked(reverse bool) []uint32 {
	ids := make([]uint32, 0, len(s.files))
	for id := range s.files {
		ids = append(ids, id)
	}
	sort.Slice(ids, func(i, j int) bool { return (ids[i] < ids[j]) != reverse })
	return ids
}
