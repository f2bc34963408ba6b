package commitlog

import (
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"time"

	"github.com/zeebo/blake3"
)

// VerifyError names the first batch, and entry when it can be told, that
// fails verification.
type VerifyError struct {
	// Batch is the index of the bad batch.
	Batch uint64
	// Seq is the bad entry's seq when Entry ≥ 0; else the first seq of the
	// bad batch (the one it should have when it cannot be read).
	Seq uint64
	// Entry is the bad entry's position in the batch, or -1 when the batch
	// as a whole is bad (missing, undecodable, wrong key, signature or
	// root mismatch: which entry was changed cannot be told then).
	Entry int
	// Reason says what is wrong.
	Reason string
	// Err is ErrCorrupt, ErrWrongKey or ErrNotFound (a gap).
	Err error
}

func (e *VerifyError) Error() string {
	if e.Entry >= 0 {
		return fmt.Sprintf("commitlog: batch %d, entry seq %d: %s", e.Batch, e.Seq, e.Reason)
	}
	return fmt.Sprintf("commitlog: batch %d (from seq %d): %s", e.Batch, e.Seq, e.Reason)
}

// Unwrap returns Err, so that errors.Is(err, ErrCorrupt) and the like work.
func (e *VerifyError) Unwrap() error { return e.Err }

// Report sums up a verified log.
type Report struct {
	// Batches and Entries are how many were verified.
	Batches uint64
	Entries uint64
	// LastSeq is the seq of the last entry (0 for an empty log).
	LastSeq uint64
	// Head is the hash of the last batch (zero for an empty log). Kept
	// elsewhere, it lets a later run detect a rolled-back tail.
	Head [32]byte
	// PublicKey is the key that signed the log (nil for an empty log).
	PublicKey ed25519.PublicKey
}

// Verify walks batches 0 to store.LastBatch in order and checks each one:
// it decodes, is stored under its own index, is signed by pub (when pub
// is nil, by the key of batch 0, for every batch), its entries match its
// Merkle root, its Prev is the previous batch's hash, and seqs run on
// from 1 without a gap and times never go back, across batches too. The
// first failure is returned as a *VerifyError, with the report of what
// verified before it; a batch missing below the last is a gap. A failure
// to read the store is returned as itself (the log is then neither good
// nor bad), and so is an error from fn, which, when not nil, is called
// with every entry of each batch once the batch verified. An empty store
// is a valid, empty log.
//
// Verify cannot notice that batches were removed from the end: compare
// Report.Head or LastSeq with a value kept elsewhere for that.
func Verify(ctx context.Context, store Store, pub ed25519.PublicKey, fn func(Entry) error) (Report, error) {
	var rep Report
	if pub != nil && len(pub) != ed25519.PublicKeySize {
		return rep, fmt.Errorf("%w public key: %d bytes, want %d", ErrInvalid, len(pub), ed25519.PublicKeySize)
	}
	last, ok, err := store.LastBatch(ctx)
	if err != nil {
		return rep, fmt.Errorf("verify: find the last batch: %w", err)
	}
	if !ok {
		return rep, nil
	}
	var (
		prev     [32]byte
		nextSeq  uint64 = 1
		lastTime time.Time
	)
	for i := uint64(0); ; i++ {
		if err := ctx.Err(); err != nil {
			return rep, fmt.Errorf("verify batch %d: %w", i, err)
		}
		bad := func(entry int, err error, format string, args ...any) error {
			seq := nextSeq
			if entry > 0 {
				seq += uint64(entry)
			}
			return &VerifyError{Batch: i, Seq: seq, Entry: entry, Reason: fmt.Sprintf(format, args...), Err: err}
		}
		data, err := store.GetBatch(ctx, i)
		if errors.Is(err, ErrNotFound) {
			return rep, bad(-1, ErrNotFound, "missing: gap in the log (batches run to %d)", last)
		}
		if err != nil {
			return rep, fmt.Errorf("verify: read batch %d: %w", i, err)
		}
		b, err := DecodeBatch(data)
		if err != nil {
			return rep, bad(-1, ErrCorrupt, "%v", err)
		}
		if b.Index != i {
			return rep, bad(-1, ErrCorrupt, "batch stored as %d says it is batch %d (moved or swapped)", i, b.Index)
		}
		if i == 0 && pub == nil {
			pub = b.PublicKey
		}
		if !pub.Equal(b.PublicKey) {
			return rep, bad(-1, ErrWrongKey, "signed by key %x, the log's key is %x", []byte(b.PublicKey), []byte(pub))
		}
		if b.Prev != prev {
			return rep, bad(-1, ErrCorrupt, "previous-batch hash %x, batch %d hashes to %x (chain broken)", b.Prev, i-1, prev)
		}
		if b.FirstSeq != nextSeq {
			return rep, bad(-1, ErrCorrupt, "first seq %d, the previous batch ended at %d", b.FirstSeq, nextSeq-1)
		}
		if t := b.Entries[0].Time; !t.IsZero() && t.Before(lastTime) {
			return rep, bad(0, ErrCorrupt, "time %v is before the previous batch's last entry's %v", t, lastTime)
		}
		if err := b.Check(pub); err != nil {
			return rep, err
		}
		for _, e := range b.Entries {
			if fn == nil {
				break
			}
			if err := fn(e); err != nil {
				return rep, fmt.Errorf("verify: visit entry %d of batch %d: %w", e.Seq, i, err)
			}
		}
		n := uint64(len(b.Entries))
		prev = blake3.Sum256(data)
		nextSeq += n
		lastTime = b.Entries[n-1].Time
		rep.Batches++
		rep.Entries += n
		rep.LastSeq = nextSeq - 1
		rep.Head = prev
		rep.PublicKey = pub
		if i == last {
			return rep, nil
		}
	}
}
