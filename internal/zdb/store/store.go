// Package store keeps the data of one zdb namespace: append-only data files
// of checksummed records (package record), an in-memory index of the latest
// record of every key (package index), crash recovery, group commit,
// online compaction and a background scrubber.
//
// Durability contract: Apply returns only after every record it wrote was
// handed to the kernel (write(2)), so a kill -9 of the process never loses
// an acknowledged write; with Options.Sync it returns only after fdatasync.
// On Open, a torn record at the end of the last data file is cut off, and
// the index is loaded from hint files where they are valid and rebuilt from
// the data files where they are not.
package store

import (
	"context"
	"errors"
	"fmt"
	"os"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/zerostor/zerostor/internal/zdb/index"
)

// Errors returned by the store; the daemon maps them to 0-db's replies.
var (
	ErrNotFound  = errors.New("key not found")
	ErrExists    = errors.New("key already exists")
	ErrNoSpace   = errors.New("no space left on this namespace")
	ErrCorrupt   = errors.New("data corrupted")
	ErrClosed    = errors.New("store closed")
	ErrBadKey    = errors.New("invalid key")
	ErrTooLarge  = errors.New("value too large")
	ErrBadCursor = errors.New("invalid cursor")
)

// Store is one namespace's data. It is safe for concurrent use.
type Store struct {
	opts Options

	// mu guards the index, the file table and the active file's tail.
	// Reads take it shared just long enough to find a record.
	mu      sync.RWMutex
	idx     keyIndex
	files   map[uint32]*dataFile
	active  *dataFile
	seqNext uint64 // next id to hand out in seq mode
	total   int64  // bytes of all data files
	closed  bool
	// livePayload is the sum of live value lengths (0-db's data_size,
	// what maxsize limits).
	livePayload int64
	lastLen     uint32              // length of the last record of the active file
	dirty       map[uint32]struct{} // files written since the last ResetDirty
	writeErr    error               // sticky: a failed write could not be cut back
	wbuf        []byte              // encoding buffer for Apply, reused under mu
	segs        []wseg              // records in wbuf (see wbuf.go)
	pendLen     int64               // bytes of the pending write
	iov         [][]byte            // pwritev scratch
	noPrealloc  bool                // the filesystem cannot fallocate
	undo        []undoOp            // reused under mu
	segSeq      uint64              // seqNext when the unwritten segment began
	seqKeys     []byte              // keys of ids handed out by the current Apply

	hints chan uint32 // sealed files waiting for their hint
	sync  syncer
	stats counters

	ctx    context.Context
	cancel context.CancelFunc
	bg     sync.WaitGroup
	// compactMu serialises compaction passes (background and on demand).
	compactMu sync.Mutex
	// scrubMu serialises scrub passes.
	scrubMu sync.Mutex
}

// counters are updated atomically and read by Stats.
type counters struct {
	compactRuns, compactFiles, compactReclaimed, compactMoved atomic.Int64
	compacting                                                atomic.Bool
	scrubPasses, scrubBytes, scrubRecords, scrubErrors        atomic.Int64
	scrubProgress                                             atomic.Int64 // bytes into the current pass
	scrubLast                                                 atomic.Int64 // unix seconds of the last finished pass
	readErrors                                                atomic.Int64
	recoveredTorn, recoveredCorrupt                           atomic.Int64
}

// Open opens (creating if needed) the store in opts.DataDir.
func Open(opts Options) (*Store, error) {
	if err := opts.ensureDefaults(); err != nil {
		return nil, err
	}
	for _, d := range []string{opts.DataDir, opts.IndexDir} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			return nil, fmt.Errorf("store: %w", err)
		}
	}
	s := &Store{opts: opts, files: make(map[uint32]*dataFile), dirty: make(map[uint32]struct{})}
	if opts.Mode == ModeSeq {
		s.idx = seqIndex{index.NewSeq()}
	} else {
		s.idx = userIndex{index.NewUser()}
	}
	s.sync.cond = sync.NewCond(&s.sync.mu)
	if err := s.recover(); err != nil {
		s.closeFiles()
		s.idx.close()
		return nil, err
	}
	s.ctx, s.cancel = context.WithCancel(context.Background())
	s.startBackground()
	return s, nil
}

// Mode returns the store's key mode.
func (s *Store) Mode() Mode { return s.opts.Mode }

// SetMaxSize changes the size limit (0 = unlimited).
func (s *Store) SetMaxSize(n int64) {
	s.mu.Lock()
	s.opts.MaxSize = n
	s.mu.Unlock()
}

// Close stops background work and closes the files. Pending writes are
// synced first.
func (s *Store) Close() error {
	s.cancel()
	s.bg.Wait()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil
	}
	s.closed = true
	var err error
	if s.active != nil {
		err = s.active.f.Sync()
	}
	s.closeFiles()
	s.idx.close()
	return err
}

func (s *Store) closeFiles() {
	for id, f := range s.files {
		f.release()
		delete(s.files, id)
	}
	s.active = nil
}

// Stats describe a store for NSINFO, INFO and metrics.
type Stats struct {
	Entries       int
	DataFiles     int
	DataBytes     int64 // bytes of all data files
	LiveBytes     int64 // bytes of records still referenced
	IndexMemBytes int
	ActiveFile    uint32
	ActiveSize    int64
	NextSeq       uint64

	Compacting       bool
	CompactRuns      int64
	CompactFiles     int64
	CompactReclaimed int64
	CompactMoved     int64

	ScrubPasses   int64
	ScrubBytes    int64
	ScrubRecords  int64
	ScrubErrors   int64
	ScrubProgress int64
	ScrubLast     int64

	ReadErrors       int64
	RecoveredTorn    int64
	RecoveredCorrupt int64
}

// Stats returns a snapshot of the store's figures.
func (s *Store) Stats() Stats {
	s.mu.RLock()
	st := Stats{
		Entries:       s.idx.len(),
		DataFiles:     len(s.files),
		DataBytes:     s.total,
		IndexMemBytes: s.idx.memBytes(),
		NextSeq:       s.seqNext,
	}
	for _, f := range s.files {
		st.LiveBytes += f.live
	}
	if s.active != nil {
		st.ActiveFile = s.active.id
		st.ActiveSize = s.active.size.Load()
	}
	s.mu.RUnlock()
	c := &s.stats
	st.Compacting = c.compacting.Load()
	st.CompactRuns, st.CompactFiles = c.compactRuns.Load(), c.compactFiles.Load()
	st.CompactReclaimed, st.CompactMoved = c.compactReclaimed.Load(), c.compactMoved.Load()
	st.ScrubPasses, st.ScrubBytes = c.scrubPasses.Load(), c.scrubBytes.Load()
	st.ScrubRecords, st.ScrubErrors = c.scrubRecords.Load(), c.scrubErrors.Load()
	st.ScrubProgress, st.ScrubLast = c.scrubProgress.Load(), c.scrubLast.Load()
	st.ReadErrors = c.readErrors.Load()
	st.RecoveredTorn, st.RecoveredCorrupt = c.recoveredTorn.Load(), c.recoveredCorrupt.Load()
	return st
}

// Len returns the number of live keys.
func (s *Store) Len() int {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.idx.len()
}

func (s *Store) startBackground() {
	if s.hints == nil {
		s.hints = make(chan uint32, 64)
	}
	s.bg.Add(1)
	go s.hintLoop()
	if s.opts.SyncInterval > 0 && !s.opts.Sync {
		s.bg.Add(1)
		go s.tick(s.opts.SyncInterval, "periodic sync", s.SyncNow)
	}
	if s.opts.CompactRatio > 0 {
		// Compaction of files whose dead share passes CompactRatio.
		s.bg.Add(1)
		go s.tick(compactEvery, "compaction", func() error {
			_, err := s.Compact(s.opts.CompactRatio)
			return err
		})
	}
	if s.opts.ScrubRate > 0 {
		s.bg.Add(1)
		go s.scrubLoop()
	}
}

// tick runs fn every period until the store closes, logging failures.
func (s *Store) tick(every time.Duration, what string, fn func() error) {
	defer s.bg.Done()
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-s.ctx.Done():
			return
		case <-t.C:
			if err := fn(); err != nil && !errors.Is(err, ErrClosed) && s.ctx.Err() == nil {
				s.opts.Logger.Error(what+" failed", "dir", s.opts.DataDir, "err", err)
			}
		}
	}
}

// corrupt records a checksum failure and tells the event sink.
func (s *Store) corrupt(file uint32, off int64, err error) {
	s.opts.Logger.Error("corrupt record", "dir", s.opts.DataDir, "file", file, "offset", off, "err", err)
	if s.opts.Events != nil {
		s.opts.Events.Corrupt(file, off, err)
	}
}

// Dirty returns the ids of the data files written since the last
// ResetDirty (INDEX DIRTY), ascending.
func (s *Store) Dirty() []uint32 {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.dirtyLocked()
}

func (s *Store) dirtyLocked() []uint32 {
	ids := make([]uint32, 0, len(s.dirty))
	for id := range s.dirty {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	return ids
}

// ResetDirty forgets which files were written.
func (s *Store) ResetDirty() {
	s.mu.Lock()
	clear(s.dirty)
	s.mu.Unlock()
}

// DataSize returns the live payload bytes (0-db's data_size).
func (s *Store) DataSize() int64 {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.livePayload
}
