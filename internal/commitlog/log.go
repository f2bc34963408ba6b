package commitlog

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"fmt"
	"sync"
	"time"

	"github.com/zeebo/blake3"
)

// Options tune a Log. The zero value is the defaults.
type Options struct {
	// MaxEntries seals a batch as soon as this many entries are buffered
	// (default 256, at most MaxBatchEntries). A batch is also cut short
	// of MaxBatchSize bytes.
	MaxEntries int
	// MaxDelay seals a batch when its first entry has waited this long
	// (default 1s): the most a crash can lose while the store works.
	MaxDelay time.Duration
	// MaxBuffered bounds the entries held in memory, written or not
	// (default 65536). While the store fails and that many are held,
	// Append drops entries, counted in Stats.Dropped.
	MaxBuffered int
	// OnError, when set, is called with every failed batch write (but
	// one whose context ended: its caller has the error) and every entry
	// Append drops (for a full buffer, once until a write succeeds). It may be called from any goroutine, with no lock
	// held, and must not wait on Flush or Close.
	OnError func(error)
}

const (
	defaultMaxEntries  = 256
	defaultMaxDelay    = time.Second
	defaultMaxBuffered = 65536
	// maxRetryDelay caps the background writer's back-off after failures.
	maxRetryDelay = 30 * time.Second
)

func (o *Options) setDefaults() error {
	if o.MaxEntries == 0 {
		o.MaxEntries = defaultMaxEntries
	}
	if o.MaxDelay == 0 {
		o.MaxDelay = defaultMaxDelay
	}
	if o.MaxBuffered == 0 {
		o.MaxBuffered = defaultMaxBuffered
	}
	switch {
	case o.MaxEntries < 0 || o.MaxEntries > MaxBatchEntries:
		return fmt.Errorf("%w option MaxEntries %d: want 1 to %d", ErrInvalid, o.MaxEntries, MaxBatchEntries)
	case o.MaxDelay < 0:
		return fmt.Errorf("%w option MaxDelay %v: negative", ErrInvalid, o.MaxDelay)
	case o.MaxBuffered < o.MaxEntries:
		return fmt.Errorf("%w option MaxBuffered %d: less than MaxEntries %d", ErrInvalid, o.MaxBuffered, o.MaxEntries)
	}
	return nil
}

// Stats are a Log's counters since Open.
type Stats struct {
	// Appended counts the entries Append accepted (and numbered).
	Appended uint64
	// Dropped counts the entries Append refused: invalid, buffer full, or
	// log closed. They have no seq, so they leave no gap.
	Dropped uint64
	// Written counts the entries in batches stored.
	Written uint64
	// Batches counts the batches stored.
	Batches uint64
	// Pending is the entries accepted and not yet stored.
	Pending int
	// LastSeq is the seq of the last accepted entry, or of the last
	// entry of the log when Open found one and none was appended since.
	LastSeq uint64
	// LastError is the error of the last batch write, nil if it
	// succeeded (or none was tried).
	LastError error
}

// Log appends entries to a commit log: it buffers them, seals them into
// signed, chained batches and writes the batches to a Store in order, from
// a background goroutine and on Flush and Close. Its methods are safe for
// concurrent use.
type Log struct {
	store Store
	priv  ed25519.PrivateKey
	opts  Options

	mu       sync.Mutex
	buf      []Entry   // accepted, not yet sealed, in seq order
	firstAt  time.Time // when buf's oldest entry was appended
	nextSeq  uint64
	lastTime time.Time // time of the last accepted entry
	sealedN  int       // entries in the sealed batch awaiting its write
	closed   bool
	full     bool // dropping for a full buffer, already reported
	stats    Stats

	// wsem is held (a token in it) by whoever seals and writes batches;
	// it guards the fields below, and unlike a mutex can be waited on
	// with a context.
	wsem      chan struct{}
	sealed    *sealedBatch
	nextIndex uint64
	prev      [32]byte

	kick   chan struct{} // wakes the background writer
	quit   chan struct{} // closed by Close: the writer stops
	done   chan struct{} // closed by the writer when it stopped
	cancel context.CancelFunc
}

// sealedBatch is a signed batch not yet stored. It is written again as is
// until a write succeeds: the chain must not fork behind a write that
// landed but reported a failure.
type sealedBatch struct {
	index uint64
	first uint64
	n     int
	data  []byte
	hash  [32]byte
}

// Open resumes the log in store, or starts it if the store holds no
// batch. The last stored batch must decode and be signed by priv: one
// signed by another key fails with ErrWrongKey, a damaged one with
// ErrCorrupt, since appending behind either would chain onto a batch
// Verify rejects. Open checks only the last batch; Verify checks them all.
// ctx bounds Open's reads only.
func Open(ctx context.Context, store Store, priv ed25519.PrivateKey, opts Options) (*Log, error) {
	if store == nil {
		return nil, fmt.Errorf("open commit log: %w store: nil", ErrInvalid)
	}
	if len(priv) != ed25519.PrivateKeySize {
		return nil, fmt.Errorf("open commit log: %w signing key: %d bytes, want %d", ErrInvalid, len(priv), ed25519.PrivateKeySize)
	}
	if err := opts.setDefaults(); err != nil {
		return nil, fmt.Errorf("open commit log: %w", err)
	}
	l := &Log{
		store:   store,
		priv:    bytes.Clone(priv), // the caller may reuse its slice
		opts:    opts,
		nextSeq: 1,
		wsem:    make(chan struct{}, 1),
		kick:    make(chan struct{}, 1),
		quit:    make(chan struct{}),
		done:    make(chan struct{}),
	}
	last, ok, err := store.LastBatch(ctx)
	if err != nil {
		return nil, fmt.Errorf("open commit log: find the last batch: %w", err)
	}
	if ok {
		data, err := store.GetBatch(ctx, last)
		if err != nil {
			return nil, fmt.Errorf("open commit log: read last batch %d: %w", last, err)
		}
		b, err := DecodeBatch(data)
		if err != nil {
			return nil, fmt.Errorf("open commit log: last batch %d: %w", last, err)
		}
		if b.Index != last {
			return nil, fmt.Errorf("open commit log: %w: batch stored as %d says it is batch %d", ErrCorrupt, last, b.Index)
		}
		if err := b.Check(l.PublicKey()); err != nil {
			return nil, fmt.Errorf("open commit log: last batch: %w", err)
		}
		e := b.Entries[len(b.Entries)-1]
		l.nextIndex = last + 1
		l.prev = blake3.Sum256(data)
		l.nextSeq = e.Seq + 1
		l.lastTime = e.Time
		l.stats.LastSeq = e.Seq
	}
	var bg context.Context
	bg, l.cancel = context.WithCancel(context.Background())
	go l.run(bg)
	return l, nil
}

// PublicKey is the key that verifies the log's batches.
func (l *Log) PublicKey() ed25519.PublicKey {
	return l.priv.Public().(ed25519.PublicKey)
}

// Append numbers e and buffers it; it never blocks on the store and
// returns e's seq. The log sets e.Seq (a caller's value is replaced) and,
// when zero, e.Time to now; a time before the previous entry's is raised
// to it, so that times never go back. An entry that cannot be encoded
// (see Entry.MarshalBinary), or that comes when MaxBuffered entries are
// already held or after Close, is dropped: Append returns 0, counts it in
// Stats.Dropped and reports it to Options.OnError.
func (l *Log) Append(e Entry) uint64 {
	if err := e.validate(); err != nil {
		l.drop(fmt.Errorf("commitlog: append %v entry for key %.64q: %w", e.Op, e.Key, err), true)
		return 0
	}
	l.mu.Lock()
	switch {
	case l.closed:
		l.mu.Unlock()
		l.drop(fmt.Errorf("commitlog: append %v entry for key %.64q: %w", e.Op, e.Key, ErrClosed), true)
		return 0
	case len(l.buf)+l.sealedN >= l.opts.MaxBuffered:
		report := !l.full
		l.full = true
		l.mu.Unlock()
		l.drop(fmt.Errorf("commitlog: append %v entry for key %.64q: %w (%d entries waiting for the store)", e.Op, e.Key, ErrDropped, l.opts.MaxBuffered), report)
		return 0
	}
	if e.Time.IsZero() {
		e.Time = time.Now()
	}
	e.Time = e.Time.UTC() // also drops the monotonic reading
	if e.Time.Before(l.lastTime) {
		e.Time = l.lastTime
	}
	e.Seq = l.nextSeq
	l.nextSeq++
	l.lastTime = e.Time
	l.buf = append(l.buf, e)
	l.stats.Appended++
	l.stats.LastSeq = e.Seq
	wake := len(l.buf) == 1 || len(l.buf) == l.opts.MaxEntries
	if len(l.buf) == 1 {
		l.firstAt = time.Now()
	}
	l.mu.Unlock()
	if wake {
		select {
		case l.kick <- struct{}{}:
		default:
		}
	}
	return e.Seq
}

// drop counts a refused entry and, if report, tells OnError.
func (l *Log) drop(err error, report bool) {
	l.mu.Lock()
	l.stats.Dropped++
	l.mu.Unlock()
	if report && l.opts.OnError != nil {
		l.opts.OnError(err)
	}
}

// Stats returns the log's counters.
func (l *Log) Stats() Stats {
	l.mu.Lock()
	defer l.mu.Unlock()
	s := l.stats
	s.Pending = len(l.buf) + l.sealedN
	return s
}

// Flush writes every entry appended before the call, in as many batches
// as needed. On failure the entries stay buffered, to be written by the
// next attempt (the background writer's, Flush's or Close's), and the
// error is returned.
func (l *Log) Flush(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("commitlog: flush: %w", err)
	}
	l.mu.Lock()
	upto := l.nextSeq - 1
	l.mu.Unlock()
	select {
	case l.wsem <- struct{}{}:
	case <-ctx.Done():
		return fmt.Errorf("commitlog: flush: wait for the writer: %w", ctx.Err())
	}
	defer func() { <-l.wsem }()
	return l.write(ctx, upto)
}

// Close stops the background writer (waiting for its write in progress
// until ctx is done) and flushes. Later Appends are dropped. If the flush
// fails the entries are kept: Flush or Close can be called again.
func (l *Log) Close(ctx context.Context) error {
	l.mu.Lock()
	first := !l.closed
	l.closed = true
	l.mu.Unlock()
	if first {
		close(l.quit)
		select {
		case <-l.done:
		case <-ctx.Done():
			l.cancel()
			<-l.done
		}
		l.cancel()
	}
	return l.Flush(ctx)
}

// write seals and stores batches until none is due; the caller holds
// wsem. With upto > 0 every entry up to that seq is due; else only full
// batches and those whose first entry waited MaxDelay.
func (l *Log) write(ctx context.Context, upto uint64) error {
	for {
		if l.sealed == nil {
			entries := l.take(upto)
			if entries == nil {
				return nil
			}
			if err := l.seal(entries); err != nil {
				return err
			}
		}
		s := l.sealed
		if err := l.store.PutBatch(ctx, s.index, s.data); err != nil {
			err = fmt.Errorf("commitlog: write batch %d (seq %d to %d): %w", s.index, s.first, s.first+uint64(s.n)-1, err)
			l.mu.Lock()
			l.stats.LastError = err
			l.mu.Unlock()
			// A write whose context ended (Close stopping the writer, a
			// caller's deadline) is reported to that caller only.
			if l.opts.OnError != nil && ctx.Err() == nil {
				l.opts.OnError(err)
			}
			return err
		}
		l.sealed = nil
		l.nextIndex++
		l.prev = s.hash
		l.mu.Lock()
		l.sealedN = 0
		l.full = false
		l.stats.Written += uint64(s.n)
		l.stats.Batches++
		l.stats.LastError = nil
		l.mu.Unlock()
	}
}

// take removes from the buffer the entries of the next batch if one is
// due, or returns nil.
func (l *Log) take(upto uint64) []Entry {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.buf) == 0 {
		return nil
	}
	due := len(l.buf) >= l.opts.MaxEntries ||
		(upto > 0 && l.buf[0].Seq <= upto) ||
		time.Since(l.firstAt) >= l.opts.MaxDelay
	if !due {
		return nil
	}
	n, size := 0, batchHeader+batchTrailer
	for n < len(l.buf) && n < l.opts.MaxEntries {
		size += l.buf[n].encodedLen()
		if size > MaxBatchSize && n > 0 {
			break
		}
		n++
	}
	// The batch keeps the front of the buffer's array; appends go past
	// it, and the array is freed once both are done with it.
	entries := l.buf[:n:n]
	l.buf = l.buf[n:]
	if len(l.buf) == 0 {
		l.buf = nil
	}
	// Entries left behind came after firstAt: keeping it seals them no
	// later than MaxDelay after they came.
	l.sealedN = n
	return entries
}

// seal signs entries as the next batch and keeps it in l.sealed; the
// caller holds wsem.
func (l *Log) seal(entries []Entry) error {
	b := Batch{Index: l.nextIndex, Prev: l.prev, FirstSeq: entries[0].Seq, Entries: entries}
	err := b.Sign(l.priv)
	var data []byte
	if err == nil {
		data, err = b.Encode()
	}
	if err != nil {
		// Append checked every entry, so this is a bug; put the entries
		// back rather than lose them or leave a gap in the seqs.
		l.mu.Lock()
		l.buf = append(entries[:len(entries):len(entries)], l.buf...)
		l.sealedN = 0
		l.mu.Unlock()
		return fmt.Errorf("commitlog: seal batch %d: %w", b.Index, err)
	}
	l.sealed = &sealedBatch{
		index: b.Index,
		first: b.FirstSeq,
		n:     len(entries),
		data:  data,
		hash:  blake3.Sum256(data),
	}
	return nil
}

// run is the background writer: it writes batches as they come due,
// backing off after failures, until Close.
func (l *Log) run(ctx context.Context) {
	defer close(l.done)
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	var backoff time.Duration // zero while writes succeed
	for {
		wait, idle, failing := l.nextDue()
		if !failing {
			backoff = 0 // a Flush got through meanwhile
		}
		kick := l.kick
		var due <-chan time.Time // nil while idle: only a kick wakes it
		if !idle {
			if backoff > 0 {
				wait = backoff
				kick = nil // a failing store is not retried on every append
			}
			timer.Reset(wait)
			due = timer.C
		}
		select {
		case <-l.quit:
			return
		case <-kick:
			timer.Stop()
			continue
		case <-due:
		}
		select {
		case l.wsem <- struct{}{}:
		case <-l.quit:
			return
		}
		err := l.write(ctx, 0)
		<-l.wsem
		switch {
		case err == nil:
			backoff = 0
		case backoff == 0:
			backoff = l.opts.MaxDelay
		default:
			backoff = min(2*backoff, max(maxRetryDelay, l.opts.MaxDelay))
		}
	}
}

// nextDue returns how long until a batch is due, or idle when nothing is
// buffered, and whether the last write failed.
func (l *Log) nextDue() (wait time.Duration, idle, failing bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	failing = l.stats.LastError != nil
	switch {
	case l.sealedN > 0 || len(l.buf) >= l.opts.MaxEntries:
		return 0, false, failing
	case len(l.buf) == 0:
		return 0, true, failing
	}
	return max(0, l.opts.MaxDelay-time.Since(l.firstAt)), false, failing
}
