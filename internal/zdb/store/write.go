package store

import (
	"bytes"
	"fmt"
	"time"

	"github.com/zerostor/zerostor/internal/zdb/index"
	"github.com/zerostor/zerostor/internal/zdb/record"
)

// Op is one write in a batch given to Apply.
type Op struct {
	// Key is the key. In seq mode an empty key asks for a new id and a
	// non-empty key must be an existing id.
	Key []byte
	// Value is the value of a set; ignored for a delete.
	Value []byte
	// Delete appends a deletion instead of a value.
	Delete bool
	// Time is the record's timestamp in unix nanoseconds; 0 means now.
	Time int64
	// Worm refuses to overwrite or delete a live key (ErrExists).
	Worm bool

	crc uint32
}

// Result is the outcome of one Op.
type Result struct {
	// ID is the key's id in seq mode (new or updated).
	ID uint64
	// Unchanged is set when the value equals the stored one: nothing was
	// written (0-db replies nil).
	Unchanged bool
	// Err is ErrNotFound, ErrExists, ErrNoSpace, ErrBadKey, ErrTooLarge or
	// a wrapped I/O error.
	Err error
}

// undoOp remembers how to revert one index change if the write of its
// segment fails.
type undoOp struct {
	key     []byte
	old     index.Loc
	existed bool
	nw      index.Loc
	set     bool // nw is a live record (not a deletion)
}

// pos is a position in the log: data file id, then offset.
type pos struct {
	file uint32
	off  int64
}

func (p pos) less(q pos) bool { return p.file < q.file || (p.file == q.file && p.off < q.off) }

// Apply performs a batch of writes with a single write(2) per data file
// touched. It returns once every written record is in the kernel (or on
// disk with Options.Sync). res must have len(ops) entries. The returned
// error is set only when the store itself failed (closed, I/O error); the
// per-op outcome is in res.
func (s *Store) Apply(ops []Op, res []Result) error {
	for i := range ops {
		if !ops[i].Delete {
			ops[i].crc = record.Checksum(ops[i].Value)
		}
	}
	now := time.Now().UnixNano()

	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		for i := range res {
			res[i].Err = ErrClosed
		}
		return ErrClosed
	}
	if s.writeErr != nil {
		err := s.writeErr
		s.mu.Unlock()
		for i := range res {
			res[i].Err = err
		}
		return err
	}
	var events []func()
	s.resetPendingLocked()
	if s.opts.Mode == ModeSeq && cap(s.seqKeys) < 8*len(ops) {
		s.seqKeys = make([]byte, 0, 8*len(ops))
	}
	s.seqKeys = s.seqKeys[:0]
	segFirst := 0 // first op of the segment not yet written
	var failed error
	fail := func(from, to int, err error) {
		failed = err
		for j := from; j < to; j++ {
			if res[j].Err == nil && !res[j].Unchanged {
				res[j].Err = err
			}
		}
	}
	for i := range ops {
		if failed != nil {
			res[i] = Result{Err: failed}
			continue
		}
		op := &ops[i]
		res[i] = Result{}
		recLen := record.Size(len(op.Key), len(op.Value))
		if s.opts.Mode == ModeSeq && len(op.Key) == 0 {
			recLen += 8
		}
		// Seal the active file when this record would pass DataSize;
		// a record larger than a whole file still goes into an empty one.
		if size := s.active.size.Load() + s.pendLen; size > 0 && size+int64(recLen) > s.opts.DataSize {
			if err := s.flushLocked(); err != nil {
				fail(segFirst, i+1, err)
				continue
			}
			segFirst = i
			ev, err := s.rotateLocked()
			if err != nil {
				fail(i, i+1, err)
				continue
			}
			events = append(events, ev)
		}
		res[i] = s.encodeLocked(op, now)
	}
	if failed == nil {
		if err := s.flushLocked(); err != nil {
			fail(segFirst, len(ops), err)
		}
	}
	end := pos{s.active.id, s.active.size.Load()}
	s.mu.Unlock()

	for _, ev := range events {
		ev()
	}
	if failed != nil {
		return failed
	}
	if s.opts.Sync {
		if err := s.waitDurable(end); err != nil {
			for i := range res {
				if res[i].Err == nil {
					res[i].Err = err
				}
			}
			return err
		}
	}
	return nil
}

// encodeLocked validates op, appends its record to wbuf and updates the
// index, remembering how to undo it.
func (s *Store) encodeLocked(op *Op, now int64) Result {
	key := op.Key
	var r Result
	seq := s.opts.Mode == ModeSeq
	switch {
	case seq && len(key) == 0 && !op.Delete:
		if s.seqNext > index.MaxSeqID {
			return Result{Err: ErrNoSpace}
		}
		r.ID = s.seqNext
		// Keys of new ids live in seqKeys, sized for the batch up front so
		// that earlier keys (kept by the undo log) never move.
		n := len(s.seqKeys)
		s.seqKeys = index.AppendSeqKey(s.seqKeys, r.ID)
		key = s.seqKeys[n : n+8 : n+8]
	case len(key) == 0 || len(key) > record.MaxKeySize:
		return Result{Err: ErrBadKey}
	case len(op.Value) > record.MaxValueSize:
		return Result{Err: ErrTooLarge}
	}
	cur, exists := s.idx.get(key)
	if seq && len(op.Key) != 0 {
		id, _ := index.ParseSeqKey(key)
		r.ID = id
		if !exists && !op.Delete {
			return Result{Err: ErrBadKey}
		}
	}
	if op.Delete {
		if !exists {
			return Result{Err: ErrNotFound}
		}
		if op.Worm {
			return Result{Err: ErrExists}
		}
	} else {
		if exists && op.Worm {
			return Result{Err: ErrExists}
		}
		// CRC 0 means the index does not keep it (seq mode): compare bytes.
		if exists && cur.Size == uint32(len(op.Value)) && (cur.CRC == op.crc || cur.CRC == 0) && s.sameValueLocked(cur, key, op.Value) {
			r.Unchanged = true
			return r
		}
		if s.opts.MaxSize > 0 && s.livePayload+int64(len(op.Value)) > s.opts.MaxSize+int64(cur.Size) {
			return Result{Err: ErrNoSpace}
		}
	}
	t := op.Time
	if t == 0 {
		t = now
	}
	h := record.Header{Type: record.TypeSet, Time: t, PrevFile: record.NoPrev, ValCRC: op.crc}
	if op.Delete {
		h.Type = record.TypeDelete
		h.ValCRC = record.Checksum(nil)
	}
	if exists {
		h.PrevFile, h.PrevOff = cur.File, cur.Offset
	}
	if s.pendLen == 0 {
		s.segSeq = s.seqNext
	}
	h.BackLen = s.lastLen
	var off int64
	if op.Delete {
		off = s.appendRecordLocked(h, key, nil)
	} else {
		off = s.appendRecordLocked(h, key, op.Value)
	}
	if seq && len(op.Key) == 0 {
		s.seqNext++
	}
	// The undo log keeps the key: in seq mode it is a fresh slice, in user
	// mode the caller's, which outlives the call.
	u := undoOp{key: key, old: cur, existed: exists}
	if op.Delete {
		s.idx.del(key)
		s.active.tomb += int64(s.lastLen)
	} else {
		u.set = true
		u.nw = index.Loc{File: s.active.id, Offset: uint32(off), Size: uint32(len(op.Value)), CRC: op.crc}
		s.idx.put(key, u.nw)
		s.active.live += int64(s.lastLen)
		s.livePayload += int64(len(op.Value))
	}
	if exists {
		s.dropLiveLocked(cur, len(key))
	}
	s.undo = append(s.undo, u)
	return r
}

// dropLiveLocked accounts for a record that the index no longer points to.
func (s *Store) dropLiveLocked(l index.Loc, keyLen int) {
	if f := s.files[l.File]; f != nil {
		f.live -= int64(record.Size(keyLen, int(l.Size)))
	}
	s.livePayload -= int64(l.Size)
}

// sameValueLocked compares a stored value with v; the caller has already
// matched length and CRC, so this runs only for true rewrites.
func (s *Store) sameValueLocked(l index.Loc, key, v []byte) bool {
	if l.File == s.active.id && int64(l.Offset) >= s.active.size.Load() {
		// Written earlier in this same batch, not yet in the file.
		return bytes.Equal(s.pendingValue(int64(l.Offset), len(key), len(v)), v)
	}
	f := s.files[l.File]
	if f == nil {
		return false
	}
	eq, err := f.equalAt(v, int64(l.Offset)+int64(record.HeaderSize+len(key)))
	return err == nil && eq
}

// flushLocked writes wbuf to the active file. On failure the file is cut
// back and the index changes of the segment are undone, so nothing of a
// failed write is ever visible.
func (s *Store) flushLocked() error {
	if s.pendLen == 0 {
		s.resetPendingLocked()
		return nil
	}
	f := s.active
	base := f.size.Load()
	n := s.pendLen
	s.preallocLocked(f, base+n)
	var err error
	s.iov, err = writePending(f.f, base, s.wbuf, s.segs, s.iov)
	if err != nil {
		err = fmt.Errorf("store: write %s at %d: %w", dataName(s.opts.DataDir, f.id), base, err)
		for i := len(s.undo) - 1; i >= 0; i-- {
			u := s.undo[i]
			if u.set {
				s.dropLiveLocked(u.nw, len(u.key))
			}
			if u.existed {
				s.idx.put(u.key, u.old)
				if ff := s.files[u.old.File]; ff != nil {
					ff.live += int64(record.Size(len(u.key), int(u.old.Size)))
				}
				s.livePayload += int64(u.old.Size)
			} else {
				s.idx.del(u.key)
			}
		}
		if terr := f.f.Truncate(base); terr != nil {
			// Garbage now sits where the next record would go: refuse
			// further writes rather than append after it.
			s.writeErr = fmt.Errorf("store: cannot cut back failed write: %w", terr)
		}
		s.lastLen = s.lastLenAt(base)
		s.seqNext = s.segSeq
		s.resetPendingLocked()
		return err
	}
	f.size.Store(base + n)
	f.last = s.lastLen
	s.total += n
	s.dirty[f.id] = struct{}{}
	s.resetPendingLocked()
	return nil
}

// lastLenAt recovers the length of the last record of the active file after
// a failed write reset lastLen's chain. It reads the chain from the start;
// failures are rare enough for that to be fine.
func (s *Store) lastLenAt(end int64) uint32 {
	var last uint32
	_ = walkFile(s.active.f, 0, end, func(off int64, h record.Header, key []byte) error {
		last = uint32(h.Len())
		return nil
	})
	return last
}

// rotateLocked seals the active file and starts the next one. It returns
// the notifications to send once the lock is released.
func (s *Store) rotateLocked() (func(), error) {
	old := s.active
	old.last = s.lastLen
	if s.opts.Sync {
		if err := old.f.Sync(); err != nil {
			return nil, fmt.Errorf("store: sync %s: %w", dataName(s.opts.DataDir, old.id), err)
		}
		s.sync.advance(pos{old.id, old.size.Load()})
	}
	trimPrealloc(old)
	nf, err := openDataFile(s.opts.DataDir, old.id+1, true)
	if err != nil {
		return nil, fmt.Errorf("store: new data file: %w", err)
	}
	if s.opts.Sync {
		if err := syncDir(s.opts.DataDir); err != nil {
			s.opts.Logger.Warn("sync data directory", "dir", s.opts.DataDir, "err", err)
		}
	}
	nf.mapFile(s.opts.DataSize + maxRecord)
	s.files[nf.id] = nf
	s.active = nf
	s.lastLen = 0
	s.dirty[nf.id] = struct{}{}
	s.queueHint(old)
	prev, next := old.id, nf.id
	dirty := s.dirtyLocked()
	return func() {
		if s.opts.Events != nil {
			s.opts.Events.Rotated(prev, next, dirty)
		}
	}, nil
}

// Rotate seals the active file now (NSJUMP), unless it is empty.
func (s *Store) Rotate() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return ErrClosed
	}
	if s.active.size.Load() == 0 {
		s.mu.Unlock()
		return nil
	}
	ev, err := s.rotateLocked()
	s.mu.Unlock()
	if err == nil {
		ev()
	}
	return err
}
