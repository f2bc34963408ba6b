package meta

import (
	"sync/atomic"
	"time"

	bolt "go.etcd.io/bbolt"
)

var Commits, CommitOps, CommitNanos atomic.Int64

// Writes are group-committed: a writer that finds no commit running runs
// one at once with every write queued so far; writers that arrive while it
// runs queue up, and when it is done the first of them runs the next
// commit for all of them. Concurrent writers thus share transactions and
// fsyncs without the fixed wait of bbolt's DB.Batch (which holds every
// batch for MaxBatchDelay unless it fills up, so that 16 writers get at
// most 16 writes per delay). Each write's result is its own: a failing
// write (ErrConflict, ErrNotFound) does not undo the others in its
// transaction, and nothing is run twice.

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
	lead := !b.busy
	b.busy = true
	b.mu.Unlock()

	if !lead {
		<-op.done
		if !op.lead {
			return op.err
		}
	}
	b.mu.Lock()
	batch := b.pending
	b.pending = nil
	b.mu.Unlock()

	t0 := time.Now()
	err := b.db.Update(func(tx *bolt.Tx) error {
		for _, w := range batch {
			w.err = w.fn(tx)
		}
		return nil
	})
	err = mapClosed(err)
	Commits.Add(1)
	CommitOps.Add(int64(len(batch)))
	CommitNanos.Add(int64(time.Since(t0)))

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
