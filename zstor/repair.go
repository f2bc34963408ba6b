package zstor

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"

	"github.com/zerostor/zerostor/internal/codec"
	"github.com/zerostor/zerostor/internal/meta"
	"github.com/zerostor/zerostor/internal/placement"
	"github.com/zerostor/zerostor/internal/zdbclient"
)

// RepairReport says what Repair did to one object.
type RepairReport struct {
	Blocks  int // blocks examined
	Damaged int // blocks that had a shard missing, corrupt or unreachable
	Rebuilt int // shards rebuilt and stored on a backend
	// Unplaced counts rebuilt shards no backend accepted: they stay
	// missing, and Repair returns an error wrapping ErrUnavailable.
	Unplaced int
	// Degraded is set when the rebuilt shards could not be placed by the
	// full redundancy policy (too few healthy backends or groups): the
	// object is readable and as redundant as the backends allow.
	Degraded bool
}

// Repair restores an object's full redundancy in place: every shard is
// verified (zdb's HASH, or a read on 0-db); for each block with shards
// missing, corrupt or on unreachable backends, k good shards are read,
// only the missing shards are rebuilt (no decryption) and checked against
// their recorded hashes, and they are written to healthy backends chosen
// to keep the placement policy. The new shard locations are committed
// atomically, and only while the object is still the version that was
// repaired (else ErrConflict, and nothing changes). The object's content,
// version and Merkle root do not change.
func (c *Client) Repair(ctx context.Context, key string) (RepairReport, error) {
	var rep RepairReport
	o, _, err := c.open(ctx, key)
	if err != nil {
		return rep, fmt.Errorf("zstor: repair %q: %w", key, err)
	}
	cdc, err := c.codec(o.Params)
	if err != nil {
		return rep, err
	}
	fixed := cloneObject(o)
	bidx := map[string]int32{}
	for i, id := range fixed.Backends {
		bidx[id] = int32(i)
	}
	var written []stored // new shards, deleted again if the commit fails
	var replaced []stored
	avoid := map[string]bool{} // backends seen failing during this repair
	rep.Blocks = len(o.Blocks)
	for bi := range o.Blocks {
		states := c.blockStates(ctx, o, bi)
		var bad []int
		for si, st := range states {
			if st != ShardOK {
				bad = append(bad, si)
			}
		}
		if len(bad) == 0 {
			continue
		}
		rep.Damaged++
		shards, err := c.readShards(ctx, o, bi, states)
		if err != nil {
			c.deleteShards(context.WithoutCancel(ctx), written)
			return rep, fmt.Errorf("zstor: repair %q: block %d: %w", key, bi, translate(err))
		}
		if _, err := cdc.Reconstruct(o.Blocks[bi].BlockMeta, shards); err != nil {
			c.deleteShards(context.WithoutCancel(ctx), written)
			return rep, fmt.Errorf("zstor: repair %q: block %d: %w", key, bi, translate(err))
		}
		// Backends that just failed to answer are not candidates, whatever
		// their state says yet; a write that fails is retried elsewhere.
		for si, st := range states {
			if st == ShardUnreachable {
				avoid[o.Backends[o.Blocks[bi].Shards[si].Backend]] = true
			}
		}
		for attempt := 0; len(bad) > 0 && attempt < 3; attempt++ {
			targets, degraded, err := c.replacements(o, bi, bad, avoid)
			if err != nil {
				c.deleteShards(context.WithoutCancel(ctx), written)
				return rep, fmt.Errorf("zstor: repair %q: block %d: %w", key, bi, err)
			}
			rep.Degraded = rep.Degraded || degraded
			var failed []int
			for j, si := range bad {
				b := targets[j]
				var k []byte
				if !b.seq.Load() {
					k = shardKey(o.Version, bi, si)
				}
				var got []byte
				err := b.call(ctx, func(ctx context.Context, cl *zdbclient.Client) (err error) {
					got, err = cl.Set(ctx, k, shards[si])
					return err
				})
				if err != nil {
					c.log.Warn("repair: shard not stored", "key", key, "block", bi, "shard", si, "backend", b.id, "err", err)
					avoid[b.id] = true
					failed = append(failed, si)
					continue
				}
				written = append(written, stored{b, got})
				if ob, _, ok := c.shardAt(o, bi, si); ob != nil && ob != b {
					replaced = append(replaced, stored{ob, ok})
				}
				i, ok := bidx[b.id]
				if !ok {
					i = int32(len(fixed.Backends))
					fixed.Backends = append(fixed.Backends, b.id)
					bidx[b.id] = i
				}
				sk := got
				if !b.seq.Load() {
					sk = nil
				}
				fixed.Blocks[bi].Shards[si] = meta.Shard{Backend: i, Key: sk}
				rep.Rebuilt++
			}
			bad = failed
		}
		rep.Unplaced += len(bad)
	}
	if rep.Rebuilt == 0 {
		if rep.Damaged > 0 {
			return rep, fmt.Errorf("%w: repair %q: no rebuilt shard could be stored", ErrUnavailable, key)
		}
		return rep, nil
	}
	if err := c.commitRepair(ctx, o, fixed); err != nil {
		c.deleteShards(context.WithoutCancel(ctx), written)
		return rep, fmt.Errorf("zstor: repair %q: %w", key, err)
	}
	// The damaged copies left on live backends are garbage now.
	c.deleteShards(context.WithoutCancel(ctx), replaced)
	if rep.Unplaced > 0 {
		return rep, fmt.Errorf("%w: repair %q: %d rebuilt shards found no backend", ErrUnavailable, key, rep.Unplaced)
	}
	return rep, nil
}

// blockStates verifies every shard of one block.
func (c *Client) blockStates(ctx context.Context, o *meta.Object, bi int) []ShardState {
	blk := &o.Blocks[bi]
	states := make([]ShardState, len(blk.Shards))
	var wg sync.WaitGroup
	for si := range blk.Shards {
		b, _, key := c.shardAt(o, bi, si)
		if b == nil {
			states[si] = ShardMissing
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			states[si], _ = c.verifyShard(ctx, b, key, blk.ShardHashes[si])
		}()
	}
	wg.Wait()
	return states
}

// readShards reads the verified shards of a block until k are in hand
// (nil for the others).
func (c *Client) readShards(ctx context.Context, o *meta.Object, bi int, states []ShardState) ([][]byte, error) {
	blk := &o.Blocks[bi]
	shards := make([][]byte, len(blk.Shards))
	good := 0
	for si, st := range states {
		if st != ShardOK || good >= o.Params.K {
			continue
		}
		b, _, key := c.shardAt(o, bi, si)
		var data []byte
		err := b.call(ctx, func(ctx context.Context, cl *zdbclient.Client) (err error) {
			data, err = cl.Get(ctx, key)
			return err
		})
		if err != nil || !codec.ShardOK(&blk.BlockMeta, si, data) {
			continue
		}
		shards[si] = data
		good++
	}
	if good < o.Params.K {
		return nil, fmt.Errorf("%w: %d good shards of %d needed", codec.ErrNotEnough, good, o.Params.K)
	}
	return shards, nil
}

// replacements picks a backend for each bad shard of a block: the block's
// good shards stay where they are, the others are placed by the policy.
func (c *Client) replacements(o *meta.Object, bi int, bad []int, avoid map[string]bool) ([]*backend, bool, error) {
	cands := c.candidatesNow()
	for i := range cands {
		if avoid[cands[i].ID] {
			cands[i].Down = true
		}
	}
	pos := make(map[string]int, len(c.backends))
	for i, b := range c.backends {
		pos[b.id] = i
	}
	n := len(o.Blocks[bi].Shards)
	current := make([]int, n)
	for si, s := range o.Blocks[bi].Shards {
		current[si] = -1
		if slices.Contains(bad, si) || s.Backend < 0 || int(s.Backend) >= len(o.Backends) {
			continue
		}
		if i, ok := pos[o.Backends[s.Backend]]; ok {
			current[si] = i
		}
	}
	p := c.policy
	p.K, p.N = o.Params.K, n // the object's own k+m, whatever the config says now
	c.rndMu.Lock()
	filled, err := placement.Complete(p, cands, current, c.rnd)
	c.rndMu.Unlock()
	degraded := false
	if err != nil {
		if !errors.Is(err, placement.ErrDegraded) || filled == nil {
			return nil, false, fmt.Errorf("%w: placement: %w", ErrUnavailable, err)
		}
		degraded = true
	}
	out := make([]*backend, len(bad))
	for j, si := range bad {
		out[j] = c.backends[filled[si]]
	}
	return out, degraded, nil
}

// commitRepair swaps in the repaired record if the object is still the
// version that was repaired.
func (c *Client) commitRepair(ctx context.Context, o, fixed *meta.Object) error {
	unlock := c.lockKey(o.Key)
	defer unlock()
	cur, err := c.store.Get(ctx, o.Key)
	if err != nil || cur.Version != o.Version {
		return fmt.Errorf("%w: %q changed while it was being repaired", ErrConflict, o.Key)
	}
	if err := c.putMetaCopies(ctx, fixed.Key, fixed); err != nil {
		c.restoreMetaCopies(o.Key)
		return err
	}
	if err := c.store.CompareAndPut(ctx, fixed, o.Version); err != nil {
		c.restoreMetaCopies(o.Key)
		return fmt.Errorf("commit metadata: %w", err)
	}
	return nil
}

// cloneObject copies a record deeply enough to change shard locations.
func cloneObject(o *meta.Object) *meta.Object {
	f := *o
	f.Backends = slices.Clone(o.Backends)
	f.Blocks = make([]meta.Block, len(o.Blocks))
	for i, b := range o.Blocks {
		f.Blocks[i] = b
		f.Blocks[i].Shards = slices.Clone(b.Shards)
	}
	return &f
}
