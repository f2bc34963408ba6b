package zstor

import (
	"context"
	"fmt"
	"time"

	"github.com/zerostor/zerostor/internal/meta"
)

// Health is the store's state at a glance: backends, redundancy, repair,
// scrub and audits.
type Health struct {
	Backends []BackendStatus
	Objects  int64
	Bytes    int64 // object bytes stored
	// Redundancy counts objects by the shards available for their worst
	// block (on a configured backend that is not down): an object with
	// k+m is whole, with fewer it is being (or waiting to be) repaired,
	// below k it is unreadable now.
	Redundancy map[int]int64
	// Degraded counts objects with fewer than k+m shards available;
	// Unreadable those with fewer than k.
	Degraded, Unreadable int64
	Healing              bool // the background loops run (daemon)
	Repair               RepairStats
	Scrub                ScrubStatus
	Audits               int64
	AuditFailures        int64
}

// RepairStats are the repairer's counters since the client opened.
type RepairStats struct {
	Queue         int   // objects waiting now
	Queued        int64 // entries queued
	Repaired      int64 // objects repaired (or found whole)
	Failed        int64 // attempts that failed (retried)
	RebuiltShards int64
	Bytes         int64 // shard bytes read and written by repair
}

// Health walks the metadata (for the redundancy picture and the shards
// per backend) and reports the store's state. It reads no shard; the
// backends' figures are refreshed when refresh is set.
func (c *Client) Health(ctx context.Context, refresh bool) (Health, error) {
	if err := c.check(); err != nil {
		return Health{}, err
	}
	t := c.top()
	if refresh {
		c.refreshAll(ctx, t.all())
	}
	h := Health{Redundancy: map[int]int64{}, Healing: c.healing.Load()}
	ta := c.terminalAfter()
	now := time.Now()
	live := map[string]bool{}
	index := map[string]int{}
	h.Backends = make([]BackendStatus, len(t.backends))
	for i, b := range t.backends {
		h.Backends[i] = b.status(ta)
		live[b.id] = b.state(now, ta) < StateDown
		index[b.id] = i
	}
	err := c.store.Walk(ctx, "", func(o *meta.Object) error {
		h.Objects++
		h.Bytes += o.Size
		worst := -1
		for bi := range o.Blocks {
			n := 0
			for _, s := range o.Blocks[bi].Shards {
				if s.Backend < 0 || int(s.Backend) >= len(o.Backends) {
					continue
				}
				id := o.Backends[s.Backend]
				if i, ok := index[id]; ok {
					h.Backends[i].Shards++
				}
				if live[id] {
					n++
				}
			}
			if worst < 0 || n < worst {
				worst = n
			}
		}
		if worst < 0 {
			worst = o.Params.K + o.Params.M // no blocks: nothing can be lost
		}
		h.Redundancy[worst]++
		if worst < o.Params.K+o.Params.M {
			h.Degraded++
		}
		if worst < o.Params.K {
			h.Unreadable++
		}
		return nil
	})
	if err != nil {
		return h, fmt.Errorf("zstor: health: %w", err)
	}
	if _, n, err := c.RepairQueue(ctx, 1); err == nil {
		h.Repair.Queue = n
	}
	h.Repair.Queued = c.stats.queued.Load()
	h.Repair.Repaired = c.stats.repaired.Load()
	h.Repair.Failed = c.stats.repairFailed.Load()
	h.Repair.RebuiltShards = c.stats.rebuiltShards.Load()
	h.Repair.Bytes = c.stats.repairBytes.Load()
	h.Scrub = c.scrubStatus()
	h.Audits = c.stats.audits.Load()
	h.AuditFailures = c.stats.auditFailures.Load()
	return h, nil
}
