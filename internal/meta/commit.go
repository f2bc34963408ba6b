package meta

import (
	"sync/atomic"
	"time"

	bolt "go.etcd.io/bbolt"
)

// commitStats count group commits (for benchmarks; metrics later).
type commitStats struct {
	commits, writes, nanos atomic.Int64
}

// Writes are group-committed. A writer that finds no commit running leads
// the next one: it gathers the writes queued meanwhile (see gather) and
// runs them all in one transaction, one fsync. Writers arriving while it
// runs queue up, and when it is done the first of them leads the next
// commit. Unlike bbolt's DB.Batch, which holds every batch for
// MaxBatchDelay (10ms) unless it fills up, a lone writer never waits, and
// 16 writers share each commit. Each write's result is its own: a failing
// write (ErrConflict, ErrNotFound) does not undo the others in its
// transaction, and nothing runs twice.

// writeOp is one queued write.
type writeOp struct {
	fn   func(*bolt.Tx) error
	err  error
	lead bool          // set before done is closed: run the next commit
	done chan struct{} // closed when err is set, or to hand over the lead
}

// update runs fn in a write transaction, perhaps shared with other writes,
// and returns fn's error or, if fn succeeded, the commit's. fn must fail
// before it changes anything: its transaction commits the other writes
// whatever fn returns.
func (b *Bolt) update(fn func(*bolt.Tx) error) error {
	op := &writeOp{fn: fn, done: make(chan struct{})}
	b.mu.Lock()
	if b.closed.Load() {
		b.mu.Unlock()
		return ErrClosed
	}
	b.inflight.Add(1)
	defer b.inflight.Done()
	b.pending = append(b.pending, op)
	if b.full != nil && len(b.pending) >= b.want {
		close(b.full)
		b.full = nil
	}
	lead := !b.busy
	b.busy = true
	b.mu.Unlock()

	if !lead {
		<-op.done
		if !op.lead {
			return op.err
		}
	}
	b.gather()
	b.mu.Lock()
	batch := b.pending
	b.pending = nil
	b.lastBatch = len(batch)
	b.mu.Unlock()

	t0 := time.Now()
	err := b.db.Update(func(tx *bolt.Tx) error {
		for _, w := range batch {
			w.err = w.fn(tx)
		}
		return nil
	})
	err = mapClosed(err)
	b.stats.commits.Add(1)
	b.stats.writes.Add(int64(len(batch)))
	b.stats.nanos.Add(int64(time.Since(t0)))

	b.mu.Lock()
	var next *writeOp
	if len(b.pending) > 0 {
		next = b.pending[0]
		next.lead = true
	} else {
		b.busy = false
	}
	b.mu.Unlock()
	for _, w := range batch {
		if w.err == nil {
			w.err = err
		}
		if w != op {
			close(w.done)
		}
	}
	if next != nil {
		close(next.done)
	}
	return op.err
}

// gatherWait bounds how long a commit waits for the writers of the
// previous one to come back.
const gatherWait = 200 * time.Microsecond

// gather waits, before a commit, until as many writes are queued as the
// previous commit had, or gatherWait passed. Writers woken by a commit
// take a moment to queue their next write; committing at once would take
// only the quickest of them and leave the rest for the commit after,
// halving the writes per fsync. A lone writer (previous batch of one)
// never waits.
func (b *Bolt) gather() {
	b.mu.Lock()
	if len(b.pending) >= b.lastBatch {
		b.mu.Unlock()
		return
	}
	full := make(chan struct{})
	b.full, b.want = full, b.lastBatch
	b.mu.Unlock()
	t := time.NewTimer(gatherWait)
	select {
	case <-full:
	case <-t.C:
	}
	t.Stop()
	b.mu.Lock()
	if b.full == full {
		b.full = nil
	}
	b.mu.Unlock()
}
