package zstor

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

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
	// Moved counts good shards moved off draining backends (included in
	// Rebuilt).
	Moved int
	// Pending counts shards left alone because their backend is down but
	// not yet terminal (the background repair only; Repair treats
	// unreachable backends as lost).
	Pending int
	// Bytes is the shard data read and written.
	Bytes int64
}

// repairOpts tune one repair.
type repairOpts struct {
	// lostUnreachable rebuilds shards whose backend does not answer now;
	// else only those on terminal backends are.
	lostUnreachable bool
	// verify checks every shard with the backends first (scrub, reads
	// and audits found damage: it may be anywhere); else shards are
	// presumed good unless their backend is gone or down, and only those
	// read are verified (a lost backend: the cheap case).
	verify bool
	// pace, when set, is called with the bytes about to be read or
	// written: the repair rate limit.
	pace func(ctx context.Context, n int) error
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
	if err := c.check(); err != nil {
		return RepairReport{}, err
	}
	return c.repair(ctx, key, repairOpts{lostUnreachable: true, verify: true})
}

func (c *Client) repair(ctx context.Context, key string, ro repairOpts) (RepairReport, error) {
	var rep RepairReport
	pace := func(n int) error {
		rep.Bytes += int64(n)
		if ro.pace == nil {
			return nil
		}
		return ro.pace(ctx, n)
	}
	ta := c.terminalAfter()
	o, _, err := c.open(ctx, key)
	if err != nil {
		return rep, fmt.Errorf("zstor: repair %q: %w", key, err)
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
		now := time.Now()
		var states []ShardState
		if ro.verify {
			states = c.blockStates(ctx, o, bi)
		} else {
			states = c.presumedStates(o, bi, now, ta)
		}
		// lost shards are rebuilt from the others; moving ones are good
		// but on a draining backend: copied as they are.
		var lost, moving []int
		for si, st := range states {
			b, _, _ := c.shardAt(o, bi, si)
			switch {
			case st == ShardUnreachable && !ro.lostUnreachable && b != nil && !b.draining.Load() && b.state(now, ta) < StateTerminal:
				rep.Pending++
			case st != ShardOK:
				lost = append(lost, si)
			case b != nil && b.draining.Load():
				moving = append(moving, si)
			}
		}
		if len(lost)+len(moving) == 0 {
			continue
		}
		rep.Damaged++
		shards, lost, err := c.gatherBlock(ctx, o, bi, states, lost, moving, pace)
		if err != nil {
			c.deleteShards(context.WithoutCancel(ctx), written)
			return rep, fmt.Errorf("zstor: repair %q: block %d: %w", key, bi, translate(err))
		}
		bad := append(slices.Clone(lost), moving...)
		slices.Sort(bad)
		bad = slices.Compact(bad)
		if err := pace(len(bad) * o.Blocks[bi].ShardLen); err != nil {
			c.deleteShards(context.WithoutCancel(ctx), written)
			return rep, err
		}
		rep.Moved += len(moving)
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
		if rep.Damaged > 0 && rep.Unplaced > 0 {
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

// RepairAllReport sums up RepairAll.
type RepairAllReport struct {
	Objects  int // objects examined
	Repaired int // objects that needed and got a repair
	Rebuilt  int // shards rebuilt (moves included)
	Moved    int
	Failed   int // objects whose repair failed
	Bytes    int64
	Errors   []string // the first failures
}

// RepairAll repairs every object now (`zstor rebuild --all`), treating
// backends that do not answer as lost, and clears the repair queue of the
// objects it repaired. progress, when set, is called after each object.
func (c *Client) RepairAll(ctx context.Context, progress func(key string, rep RepairReport, err error)) (RepairAllReport, error) {
	var all RepairAllReport
	if err := c.check(); err != nil {
		return all, err
	}
	workers := max(c.top().cfg.Repair.Workers, 1)
	var mu sync.Mutex
	sem := make(chan struct{}, workers)
	var wg sync.WaitGroup
	err := c.store.List(ctx, "", "", func(i meta.Info) error {
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
			return ctx.Err()
		}
		wg.Add(1)
		go func() {
			defer func() { <-sem; wg.Done() }()
			raw, _ := c.queue.Get(ctx, []byte(i.Key))
			rep, err := c.repair(ctx, i.Key, repairOpts{lostUnreachable: true, verify: true})
			for try := 0; errors.Is(err, ErrConflict) && try < 3; try++ {
				// The background repair (or a write) got there first: look
				// again at what is there now.
				rep, err = c.repair(ctx, i.Key, repairOpts{lostUnreachable: true, verify: true})
			}
			if errors.Is(err, ErrNotFound) {
				return
			}
			if err == nil && raw != nil {
				c.dequeue(ctx, i.Key, raw)
			}
			mu.Lock()
			defer mu.Unlock()
			all.Objects++
			all.Rebuilt += rep.Rebuilt
			all.Moved += rep.Moved
			all.Bytes += rep.Bytes
			if rep.Rebuilt > 0 {
				all.Repaired++
			}
			if err != nil {
				all.Failed++
				if len(all.Errors) < 10 {
					all.Errors = append(all.Errors, err.Error())
				}
			}
			if progress != nil {
				progress(i.Key, rep, err)
			}
		}()
		return nil
	})
	wg.Wait()
	if err != nil {
		return all, fmt.Errorf("zstor: repair all: %w", err)
	}
	if all.Failed > 0 {
		return all, fmt.Errorf("zstor: repair all: %d of %d objects failed, first: %s", all.Failed, all.Objects, all.Errors[0])
	}
	return all, nil
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
			states[si], _ = c.verifyShard(ctx, b, key, &blk.BlockMeta, si)
		}()
	}
	wg.Wait()
	return states
}

// presumedStates is blockStates without asking the backends: a shard is
// missing when it never landed or its backend is no longer configured,
// unreachable when its backend is down, else presumed good (the scrubber
// verifies them; gatherBlock verifies what it reads).
func (c *Client) presumedStates(o *meta.Object, bi int, now time.Time, ta time.Duration) []ShardState {
	states := make([]ShardState, len(o.Blocks[bi].Shards))
	for si := range states {
		b, _, _ := c.shardAt(o, bi, si)
		switch {
		case b == nil:
			states[si] = ShardMissing
		case b.state(now, ta) >= StateDown:
			states[si] = ShardUnreachable
		}
	}
	return states
}

// gatherBlock reads what a block's repair needs and rebuilds the lost
// shards: with only moves, the moving shards themselves; else k verified
// shards (moving ones last), read in parallel, and the lost and unread
// moving shards rebuilt from them. Shards found missing or corrupt while
// reading join lost, which it returns.
func (c *Client) gatherBlock(ctx context.Context, o *meta.Object, bi int, states []ShardState, lost, moving []int, pace func(int) error) ([][]byte, []int, error) {
	blk := &o.Blocks[bi]
	shards := make([][]byte, len(states))
	if len(lost) == 0 {
		if err := pace(len(moving) * blk.ShardLen); err != nil {
			return nil, lost, err
		}
		for _, si := range moving {
			if data, st := c.readShard(ctx, o, bi, si); st == ShardOK {
				shards[si] = data
			} else {
				lost = append(lost, si)
			}
		}
		if len(lost) == 0 {
			return shards, lost, nil
		}
	}
	if err := pace(o.Params.K * blk.ShardLen); err != nil {
		return nil, lost, err
	}
	var cands []int
	for _, last := range []bool{false, true} {
		for si, st := range states {
			if st == ShardOK && shards[si] == nil && slices.Contains(moving, si) == last {
				cands = append(cands, si)
			}
		}
	}
	type result struct {
		si   int
		data []byte
		st   ShardState
	}
	results := make(chan result, len(cands))
	good := 0
	for _, s := range shards {
		if s != nil {
			good++
		}
	}
	next, running := 0, 0
	for good < o.Params.K {
		for running < o.Params.K-good && next < len(cands) {
			si := cands[next]
			next++
			running++
			go func() {
				data, st := c.readShard(ctx, o, bi, si)
				results <- result{si, data, st}
			}()
		}
		if running == 0 {
			break
		}
		r := <-results
		running--
		switch r.st {
		case ShardOK:
			shards[r.si] = r.data
			good++
		case ShardMissing, ShardCorrupt:
			lost = append(lost, r.si)
		}
	}
	for ; running > 0; running-- {
		<-results // no goroutine left behind; extra shards are dropped
	}
	if good < o.Params.K {
		return nil, lost, fmt.Errorf("%w: %d good shards of %d needed", codec.ErrNotEnough, good, o.Params.K)
	}
	cdc, err := c.codec(o.Params)
	if err != nil {
		return nil, lost, err
	}
	var need []int
	for _, si := range append(slices.Clone(lost), moving...) {
		if shards[si] == nil && !slices.Contains(need, si) {
			need = append(need, si)
		}
	}
	if err := cdc.ReconstructSome(blk.BlockMeta, shards, need); err != nil {
		return nil, lost, err
	}
	return shards, lost, nil
}

// readShard reads one shard and verifies it.
func (c *Client) readShard(ctx context.Context, o *meta.Object, bi, si int) ([]byte, ShardState) {
	b, _, key := c.shardAt(o, bi, si)
	if b == nil {
		return nil, ShardMissing
	}
	var data []byte
	err := b.call(ctx, func(ctx context.Context, cl *zdbclient.Client) (err error) {
		data, err = cl.Get(ctx, key)
		return err
	})
	switch {
	case errors.Is(err, zdbclient.ErrNotFound):
		return nil, ShardMissing
	case errors.Is(err, zdbclient.ErrCorrupt):
		return nil, ShardCorrupt
	case err != nil:
		return nil, ShardUnreachable
	case !codec.ShardOK(&o.Blocks[bi].BlockMeta, si, data):
		return nil, ShardCorrupt
	}
	return data, ShardOK
}

// replacements picks a backend for each bad shard of a block: the block's
// good shards stay where they are, the others are placed by the policy.
func (c *Client) replacements(o *meta.Object, bi int, bad []int, avoid map[string]bool) ([]*backend, bool, error) {
	t := c.top()
	cands, p := c.candidatesNow(t)
	for i := range cands {
		if avoid[cands[i].ID] {
			cands[i].Down = true
		}
	}
	pos := make(map[string]int, len(t.backends))
	for i, b := range t.backends {
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
		out[j] = t.backends[filled[si]]
	}
	return out, degraded, nil
}

// commitRepair swaps in the repaired record if the object is still the
// version that was repaired.
func (c *Client) commitRepair(ctx context.Context, o, fixed *meta.Object) error {
	unlock := c.lockKey(o.Key)
	defer unlock()
	// Not only the version: another repair of the same version may have
	// moved shards meanwhile, and committing over it would point at
	// copies it has deleted. Every writer of a record holds the key's
	// lock, so this check and the put below are atomic.
	cur, err := c.store.Get(ctx, o.Key)
	if err != nil || cur.Version != o.Version || !sameRecord(cur, o) {
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
	c.logCommit(commitRepair, fixed)
	return nil
}

// sameRecord reports whether two records are identical (the encoding is
// canonical).
func sameRecord(a, b *meta.Object) bool {
	ea, err1 := a.MarshalBinary()
	eb, err2 := b.MarshalBinary()
	return err1 == nil && err2 == nil && bytes.Equal(ea, eb)
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
