package zstor

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/zerostor/zerostor/internal/meta"
)

// The repair queue is a table of the metadata store: object key → why and
// since when it needs repair. It is durable (a write returns after the
// commit), so a kill -9 loses nothing queued, and an entry leaves it only
// after the object's repair committed: an interrupted repair is redone
// from scratch on restart. Repair is idempotent (it rebuilds what is
// missing now and commits only over the version it examined), so doing a
// repair twice never duplicates anything; the shards a killed repair had
// written but not committed are orphans for the sweep.
const repairTable = "repair"

// queueEntry is one queued object.
type queueEntry struct {
	Since     time.Time // first queued
	NotBefore time.Time // retry time after a failed attempt
	Attempts  uint32
	// Verify: damage was found somewhere in the object (scrub, a read, an
	// audit), so the repair verifies every shard first; else only shards
	// on gone or down backends are rebuilt (repairOpts.verify).
	Verify bool
	Reason string
}

const queueEntryVersion = 1

// queueEntryFixed is the size of an entry before its reason.
const queueEntryFixed = 1 + 8 + 8 + 4 + 1

func (e queueEntry) encode() []byte {
	b := []byte{queueEntryVersion}
	b = binary.LittleEndian.AppendUint64(b, uint64(e.Since.UnixNano()))
	b = binary.LittleEndian.AppendUint64(b, uint64(e.NotBefore.UnixNano()))
	b = binary.LittleEndian.AppendUint32(b, e.Attempts)
	var flags byte
	if e.Verify {
		flags |= 1
	}
	b = append(b, flags)
	return append(b, e.Reason...)
}

func decodeQueueEntry(b []byte) (queueEntry, error) {
	if len(b) < queueEntryFixed || b[0] != queueEntryVersion {
		return queueEntry{}, fmt.Errorf("%w: repair queue entry of %d bytes", ErrCorrupt, len(b))
	}
	return queueEntry{
		Since:     time.Unix(0, int64(binary.LittleEndian.Uint64(b[1:]))),
		NotBefore: time.Unix(0, int64(binary.LittleEndian.Uint64(b[9:]))),
		Attempts:  binary.LittleEndian.Uint32(b[17:]),
		Verify:    b[21]&1 != 0,
		Reason:    string(b[queueEntryFixed:]),
	}, nil
}

// QueuedRepair is one object waiting in the repair queue.
type QueuedRepair struct {
	Key       string
	Since     time.Time
	NotBefore time.Time
	Attempts  int
	Reason    string
}

// enqueue asks for key to be repaired; verify when the damage may be on
// any shard (see queueEntry.Verify). A key already queued keeps its first
// time and is due now: there is new evidence.
func (c *Client) enqueue(ctx context.Context, key, reason string, verify bool) {
	if c.queue == nil {
		return
	}
	now := time.Now()
	e := queueEntry{Since: now, NotBefore: now, Reason: reason, Verify: verify}
	if old, err := c.queue.Get(ctx, []byte(key)); err == nil {
		if prev, err := decodeQueueEntry(old); err == nil {
			e.Since, e.Attempts, e.Verify = prev.Since, prev.Attempts, prev.Verify || verify
		}
	}
	if err := c.queue.Put(context.WithoutCancel(ctx), []byte(key), e.encode()); err != nil {
		c.log.Error("repair queue: cannot queue", "key", key, "reason", reason, "err", err)
		return
	}
	c.stats.queued.Add(1)
	c.wakeRepair()
}

// enqueueBackend queues every object with a shard on backend id.
func (c *Client) enqueueBackend(ctx context.Context, id, reason string) (int, error) {
	n := 0
	err := c.store.Walk(ctx, "", func(o *meta.Object) error {
		if slices.Contains(o.Backends, id) && objectUses(o, id) {
			c.enqueue(ctx, o.Key, reason, false)
			n++
		}
		return nil
	})
	if err != nil {
		return n, fmt.Errorf("zstor: queue objects of %s: %w", id, err)
	}
	c.log.Info("queued for repair", "backend", id, "objects", n, "reason", reason)
	return n, nil
}

// objectUses reports whether a shard of o is on backend id.
func objectUses(o *meta.Object, id string) bool {
	idx := int32(slices.Index(o.Backends, id))
	if idx < 0 {
		return false
	}
	for bi := range o.Blocks {
		for _, s := range o.Blocks[bi].Shards {
			if s.Backend == idx {
				return true
			}
		}
	}
	return false
}

// RepairQueue lists the objects waiting for repair (at most limit; 0 for
// all) and how many there are.
func (c *Client) RepairQueue(ctx context.Context, limit int) ([]QueuedRepair, int, error) {
	if err := c.check(); err != nil {
		return nil, 0, err
	}
	var out []QueuedRepair
	total := 0
	err := c.queue.Scan(ctx, nil, func(k, v []byte) error {
		total++
		if limit > 0 && len(out) >= limit {
			return nil
		}
		e, err := decodeQueueEntry(v)
		if err != nil {
			e.Reason = err.Error()
		}
		out = append(out, QueuedRepair{Key: string(k), Since: e.Since, NotBefore: e.NotBefore, Attempts: int(e.Attempts), Reason: e.Reason})
		return nil
	})
	if err != nil {
		return nil, 0, fmt.Errorf("zstor: repair queue: %w", err)
	}
	return out, total, nil
}

// dequeue removes key's entry if it is still raw (not queued again while
// it was being repaired).
func (c *Client) dequeue(ctx context.Context, key string, raw []byte) {
	if _, err := c.queue.CompareAndSwap(context.WithoutCancel(ctx), []byte(key), raw, nil); err != nil {
		c.log.Error("repair queue: cannot remove", "key", key, "err", err)
	}
}

// retryLater pushes key's entry back after a failed or partial attempt:
// exponential backoff from 2s to 10 minutes.
func (c *Client) retryLater(ctx context.Context, key string, raw []byte, e queueEntry, why error, floor time.Duration) {
	e.Attempts++
	d := min(time.Duration(1)<<min(e.Attempts, 20)*time.Second, 10*time.Minute)
	d = max(d, floor)
	e.NotBefore = time.Now().Add(d)
	if why != nil {
		e.Reason = why.Error()
	}
	// Only over the entry we took: a newer one is due now and stays.
	if _, err := c.queue.CompareAndSwap(context.WithoutCancel(ctx), []byte(key), raw, e.encode()); err != nil {
		c.log.Error("repair queue: cannot reschedule", "key", key, "err", err)
	}
}

var errPending = errors.New("shards on backends that are down but not yet terminal")
