package zstor

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"strings"
	"sync"
	"time"

	"github.com/zerostor/zerostor/internal/codec"
	"github.com/zerostor/zerostor/internal/meta"
	"github.com/zerostor/zerostor/internal/zdbclient"
)

// Stat returns key's info.
func (c *Client) Stat(ctx context.Context, key string) (ObjectInfo, error) {
	if err := c.check(); err != nil {
		return ObjectInfo{}, err
	}
	if err := validKey(key); err != nil {
		return ObjectInfo{}, err
	}
	o, err := c.store.Get(ctx, key)
	if err != nil {
		return ObjectInfo{}, fmt.Errorf("zstor: stat %q: %w", key, translate(err))
	}
	return info(o), nil
}

// Delete removes key: a tombstone goes to the metadata copies first (so
// Recover cannot bring the object back), then the record, then its shards.
func (c *Client) Delete(ctx context.Context, key string) error {
	if err := c.check(); err != nil {
		return err
	}
	if err := validKey(key); err != nil {
		return err
	}
	if err := notReserved(key); err != nil {
		return err
	}
	if _, err := c.store.Get(ctx, key); err != nil {
		return fmt.Errorf("zstor: delete %q: %w", key, translate(err))
	}
	unlock := c.lockKey(key)
	defer unlock()
	if err := c.putMetaCopies(ctx, key, nil); err != nil {
		c.restoreMetaCopies(key)
		return fmt.Errorf("zstor: delete %q: %w", key, err)
	}
	o, err := c.store.Delete(ctx, key)
	if err != nil {
		return fmt.Errorf("zstor: delete %q: %w", key, translate(err))
	}
	c.logCommit(commitDelete, o)
	c.deleteShardsLater(o)
	return nil
}

// List yields the objects whose key starts with prefix, in key order,
// starting after after ("" for the beginning). Stop iterating to stop.
func (c *Client) List(ctx context.Context, prefix, after string) iter.Seq2[ObjectInfo, error] {
	return func(yield func(ObjectInfo, error) bool) {
		if err := c.check(); err != nil {
			yield(ObjectInfo{}, err)
			return
		}
		errStop := errors.New("stop")
		// zstor's own objects (the commit log) are listed only when asked
		// for by their prefix.
		hide := !strings.HasPrefix(prefix, reservedPrefix)
		err := c.store.List(ctx, prefix, after, func(i meta.Info) error {
			if hide && strings.HasPrefix(i.Key, reservedPrefix) {
				return nil
			}
			if !yield(ObjectInfo{Key: i.Key, Size: i.Size, Modified: i.Modified, Checksum: fmt.Sprintf("%x", i.Checksum[:]), Version: i.Version.String(), UserMeta: i.UserMeta}, nil) {
				return errStop
			}
			return nil
		})
		if err != nil && !errors.Is(err, errStop) {
			yield(ObjectInfo{}, fmt.Errorf("zstor: list %q: %w", prefix, err))
		}
	}
}

// Check verifies every shard of key without decoding it: on zdb backends
// by their HASH command, on 0-db by reading the shard.
func (c *Client) Check(ctx context.Context, key string) (CheckReport, error) {
	o, _, err := c.open(ctx, key)
	if err != nil {
		return CheckReport{}, fmt.Errorf("zstor: check %q: %w", key, err)
	}
	n := o.Params.K + o.Params.M
	rep := CheckReport{Info: info(o), Blocks: len(o.Blocks), Shards: n, MinGood: n}
	if len(o.Blocks) == 0 {
		return rep, nil
	}
	var mu sync.Mutex
	var wg sync.WaitGroup
	sem := make(chan struct{}, 32)
	good := make([]int, len(o.Blocks))
	for bi := range o.Blocks {
		for si := range o.Blocks[bi].Shards {
			b, name, key := c.shardAt(o, bi, si)
			if b == nil {
				mu.Lock()
				rep.Missing++
				rep.Problems = append(rep.Problems, ShardProblem{bi, si, name, ShardMissing, "not stored"})
				mu.Unlock()
				continue
			}
			blk := &o.Blocks[bi].BlockMeta
			wg.Add(1)
			sem <- struct{}{}
			go func() {
				defer wg.Done()
				defer func() { <-sem }()
				st, err := c.verifyShard(ctx, b, key, blk, si)
				mu.Lock()
				defer mu.Unlock()
				switch st {
				case ShardOK:
					rep.OK++
					good[bi]++
					return
				case ShardMissing:
					rep.Missing++
				case ShardCorrupt:
					rep.Corrupt++
					c.reportBad(o, bi, si, b, err)
				case ShardUnreachable:
					rep.Unreachable++
				}
				rep.Problems = append(rep.Problems, ShardProblem{bi, si, b.id, st, fmt.Sprint(err)})
			}()
		}
	}
	wg.Wait()
	for _, g := range good {
		rep.MinGood = min(rep.MinGood, g)
	}
	if err := ctx.Err(); err != nil {
		return rep, err
	}
	return rep, nil
}

// verifyShard checks shard si of a block, stored on b under key, against
// its hash: by the backend's HASH when it computes the same checksum (a
// zdb with PROOF, for blocks with tree-root hashes), else by reading it.
func (c *Client) verifyShard(ctx context.Context, b *backend, key []byte, blk *codec.BlockMeta, si int) (ShardState, error) {
	var sum [32]byte
	var err error
	if !blk.LegacySum && b.hasProof(ctx) {
		err = b.call(ctx, func(ctx context.Context, cl *zdbclient.Client) (err error) {
			sum, err = cl.Hash(ctx, key)
			return err
		})
	} else {
		var data []byte
		err = b.call(ctx, func(ctx context.Context, cl *zdbclient.Client) (err error) {
			data, err = cl.Get(ctx, key)
			return err
		})
		if err == nil && len(data) != blk.ShardLen {
			return ShardCorrupt, fmt.Errorf("shard on %s has %d bytes, want %d", b.id, len(data), blk.ShardLen)
		}
		sum = blk.ShardSum(data)
	}
	want := blk.ShardHashes[si]
	switch {
	case errors.Is(err, zdbclient.ErrNotFound):
		return ShardMissing, err
	case errors.Is(err, zdbclient.ErrCorrupt):
		return ShardCorrupt, err
	case err != nil:
		return ShardUnreachable, err
	case sum != want:
		return ShardCorrupt, fmt.Errorf("shard on %s fails its checksum", b.id)
	}
	return ShardOK, nil
}

// Rebuild re-encodes key under the current config (0-stor's rebuild): it
// is read back, verified, and stored as a new version with the same user
// metadata; the old version's shards are deleted after.
func (c *Client) Rebuild(ctx context.Context, key string) (ObjectInfo, error) {
	o, _, err := c.open(ctx, key)
	if err != nil {
		return ObjectInfo{}, fmt.Errorf("zstor: rebuild %q: %w", key, err)
	}
	r, err := c.Get(ctx, key, GetOptions{})
	if err != nil {
		return ObjectInfo{}, fmt.Errorf("zstor: rebuild %q: %w", key, err)
	}
	defer r.Close()
	// Committed only if nobody replaced or deleted the object meanwhile.
	return c.put(ctx, key, r, PutOptions{UserMeta: r.Info().UserMeta}, o)
}

// Sweep is the orphan collector: it deletes shards that no committed
// object references (left by failed or crashed writes, or by deletions
// that could not reach a backend) and that are older than grace, so
// writes in progress are never touched. On user-mode backends only keys
// of zstor's shard format are considered.
func (c *Client) Sweep(ctx context.Context, grace time.Duration) (SweepReport, error) {
	var rep SweepReport
	if err := c.check(); err != nil {
		return rep, err
	}
	// A write in progress when the walk begins may commit, and stop being
	// active, before its shards are scanned: the versions active now are
	// spared too. Writes begun later have only shards stamped at or after
	// start, which the cutoff (in the backends' whole seconds) spares.
	start := time.Now()
	active := c.activeVersions()
	activeSeq := c.activeSeqKeys()
	versions := map[meta.VersionID]bool{}
	seqKeys := map[string]bool{} // backend id + "\x00" + key
	reference := func(o *meta.Object) {
		versions[o.Version] = true
		for _, blk := range o.Blocks {
			for _, s := range blk.Shards {
				if s.Key != nil && s.Backend >= 0 && int(s.Backend) < len(o.Backends) {
					seqKeys[o.Backends[s.Backend]+"\x00"+string(s.Key)] = true
				}
			}
		}
	}
	local := 0
	err := c.store.Walk(ctx, "", func(o *meta.Object) error {
		local++
		reference(o)
		return nil
	})
	if err != nil {
		return rep, fmt.Errorf("zstor: sweep: %w", err)
	}
	// The local store alone is not trusted to list every live object (a
	// lost or unmounted meta_dir starts empty): what the metadata copies
	// on the backends reference is spared too, and without every copy
	// readable nothing is swept.
	if len(c.top().metaCopies) > 0 {
		copies, failed, err := c.scanCopies(ctx)
		if err != nil {
			return rep, fmt.Errorf("zstor: sweep: %w", err)
		}
		if failed > 0 {
			return rep, fmt.Errorf("%w: sweep: %d metadata backends could not be read, so shards they may reference cannot be told from orphans; nothing was deleted", ErrUnavailable, failed)
		}
		for _, f := range copies {
			if f.o != nil {
				reference(f.o)
			}
		}
	} else if local == 0 {
		return rep, fmt.Errorf("%w: sweep: the local metadata store is empty and no metadata copies exist to check it against: if it was lost, nothing can tell live shards from orphans; nothing was deleted", ErrInvalid)
	}
	cutoff := start.Add(-grace).Truncate(time.Second)
	var errs []error
	for _, b := range c.top().backends {
		var orphans [][]byte
		seq := b.seq.Load()
		err := scanAll(ctx, b, func(e zdbclient.ScanEntry) error {
			rep.Scanned++
			if !e.Timestamp.Before(cutoff) {
				return nil
			}
			if seq {
				id := b.id + "\x00" + string(e.Key)
				if !seqKeys[id] && !activeSeq[id] && !c.isActiveSeq(id) {
					orphans = append(orphans, e.Key)
				}
				return nil
			}
			if len(e.Key) != shardKeyLen || string(e.Key[:len(shardTag)]) != shardTag {
				return nil
			}
			var v meta.VersionID
			copy(v[:], e.Key[len(shardTag):])
			if !versions[v] && !active[v] && !c.isActive(v) {
				orphans = append(orphans, e.Key)
			}
			return nil
		})
		if err != nil {
			rep.Errors++
			errs = append(errs, err)
			continue
		}
		for _, k := range orphans {
			err := b.call(ctx, func(ctx context.Context, cl *zdbclient.Client) error { return cl.Delete(ctx, k) })
			if err != nil && !errors.Is(err, zdbclient.ErrNotFound) {
				rep.Errors++
				errs = append(errs, err)
				continue
			}
			rep.Deleted++
		}
	}
	if len(errs) > 0 {
		return rep, fmt.Errorf("zstor: sweep: %w", errors.Join(errs...))
	}
	return rep, nil
}
