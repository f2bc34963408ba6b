package store

import (
	"errors"
	"fmt"
	"os"

	"github.com/zerostor/zerostor/internal/zdb/index"
	"github.com/zerostor/zerostor/internal/zdb/record"
)

// recover loads the index from the data files (through their hints when
// valid) and opens the last file for appending.
func (s *Store) recover() error {
	ids, err := listIDs(s.opts.DataDir, dataPrefix, dataSuffix)
	if err != nil {
		return fmt.Errorf("store: list %s: %w", s.opts.DataDir, err)
	}
	if err := s.checkMissing(ids); err != nil {
		return err
	}
	ids, _ = listIDs(s.opts.DataDir, dataPrefix, dataSuffix)
	for i, id := range ids {
		f, err := openDataFile(s.opts.DataDir, id, false)
		if err != nil {
			return fmt.Errorf("store: open %s: %w", dataName(s.opts.DataDir, id), err)
		}
		s.files[id] = f
		s.total += f.size.Load()
		last := i == len(ids)-1
		s.lastLen = 0
		if !last && s.loadHint(f) {
			f.last = s.lastLen
			continue
		}
		if err := s.scanData(f, last); err != nil {
			return err
		}
		f.last = s.lastLen
		if !last {
			s.queueHint(f)
		}
	}
	if len(ids) == 0 {
		f, err := openDataFile(s.opts.DataDir, 1, true)
		if err != nil {
			return fmt.Errorf("store: create first data file: %w", err)
		}
		s.files[1] = f
		if err := syncDir(s.opts.DataDir); err != nil {
			return fmt.Errorf("store: %w", err)
		}
	}
	s.active = s.files[ids0(ids)]
	for _, f := range s.files {
		if f == s.active {
			f.mapFile(s.opts.DataSize + maxRecord)
		} else {
			f.mapFile(f.size.Load())
		}
	}
	s.dirty[s.active.id] = struct{}{}
	s.sync.durable = pos{s.active.id, s.active.size.Load()}
	s.removeStrayHints()
	return nil
}

func ids0(ids []uint32) uint32 {
	if len(ids) == 0 {
		return 1
	}
	return ids[len(ids)-1]
}

// checkMissing asks the missing-data hook for data files that have a hint
// but no data file (an archived file an operator may restore).
func (s *Store) checkMissing(ids []uint32) error {
	hints, err := listIDs(s.opts.IndexDir, hintPrefix, hintSuffix)
	if err != nil {
		return fmt.Errorf("store: list %s: %w", s.opts.IndexDir, err)
	}
	have := make(map[uint32]bool, len(ids))
	for _, id := range ids {
		have[id] = true
	}
	for _, id := range hints {
		if have[id] {
			continue
		}
		path := dataName(s.opts.DataDir, id)
		if s.opts.Events != nil && s.opts.Events.MissingData(path) {
			if _, err := os.Stat(path); err == nil {
				continue
			}
		}
		s.opts.Logger.Error("data file missing; its keys are lost unless it is restored", "path", path)
	}
	return nil
}

// scanData replays a data file record by record. Damage in the middle is
// skipped (after a resync) and reported; a torn tail of the last file is
// cut off, which is what a crash mid-write leaves.
func (s *Store) scanData(f *dataFile, last bool) error {
	size := f.size.Load()
	off := int64(0)
	for {
		err := walkFile(f.f, off, size, func(o int64, h record.Header, key []byte) error {
			s.replay(f.id, o, h, key)
			s.lastLen = uint32(h.Len())
			return nil
		})
		var bad *badRecordError
		if err == nil {
			return nil
		}
		if !errors.As(err, &bad) {
			return fmt.Errorf("store: read %s: %w", dataName(s.opts.DataDir, f.id), err)
		}
		if bad.hdr != nil && last {
			// At the end of the last file a record whose value does not
			// verify is what a power cut leaves of an unsynced write (its
			// header reached the disk, its value did not): a torn tail,
			// unless good records follow it.
			end := bad.off + int64(bad.hdr.Len())
			if end >= size || resync(f.f, end-1, size, true) < 0 {
				bad.hdr, bad.torn = nil, true
			}
		}
		if bad.hdr != nil {
			// Only the value is damaged. The record still names its key:
			// index it, so that reads of the key report the damage instead
			// of serving an older version (or nothing).
			s.stats.recoveredCorrupt.Add(1)
			s.corrupt(f.id, bad.off, bad.cause)
			s.replay(f.id, bad.off, *bad.hdr, bad.key)
			s.lastLen = uint32(bad.hdr.Len())
			off = bad.off + int64(bad.hdr.Len())
			continue
		}
		next := int64(-1)
		if !(last && bad.torn) {
			next = resync(f.f, bad.off, size, false)
		}
		if next < 0 && last {
			s.opts.Logger.Warn("cutting torn tail of data file", "file", dataName(s.opts.DataDir, f.id),
				"offset", bad.off, "bytes", size-bad.off, "cause", bad.cause)
			if err := f.f.Truncate(bad.off); err != nil {
				return fmt.Errorf("store: truncate %s: %w", dataName(s.opts.DataDir, f.id), err)
			}
			s.total -= size - bad.off
			f.size.Store(bad.off)
			s.stats.recoveredTorn.Add(1)
			return nil
		}
		s.stats.recoveredCorrupt.Add(1)
		s.corrupt(f.id, bad.off, bad.cause)
		if next < 0 {
			return nil
		}
		s.lastLen = 0 // the back chain is broken across the damage
		off = next
	}
}

// replay applies one record found during recovery to the index.
func (s *Store) replay(file uint32, off int64, h record.Header, key []byte) {
	if s.opts.Mode == ModeSeq {
		id, ok := index.ParseSeqKey(key)
		// Ids may arrive in any order (compaction moves records to the end
		// of the log); the dense index maps only the chunks it touches.
		if !ok || id > index.MaxSeqID {
			s.opts.Logger.Error("ignoring record with an impossible sequential key", "file", file, "offset", off)
			return
		}
		if id >= s.seqNext {
			s.seqNext = id + 1
		}
	}
	if h.Type == record.TypeDelete {
		if old, ok := s.idx.del(key); ok {
			s.dropLiveLocked(old, len(key))
		}
		s.files[file].tomb += int64(h.Len())
		return
	}
	loc := index.Loc{File: file, Offset: uint32(off), Size: h.ValLen, CRC: h.ValCRC}
	if old, ok := s.idx.put(key, loc); ok {
		s.dropLiveLocked(old, len(key))
	}
	s.files[file].live += int64(h.Len())
	s.livePayload += int64(h.ValLen)
}
