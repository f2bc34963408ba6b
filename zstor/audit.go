package zstor

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/zerostor/zerostor/internal/codec"
	"github.com/zerostor/zerostor/internal/meta"
	"github.com/zerostor/zerostor/internal/shardtree"
	"github.com/zerostor/zerostor/internal/zdbclient"
)

// AuditResult is the outcome of one proof-of-storage audit.
type AuditResult struct {
	Key          string
	Block, Shard int
	Backend      string
	Leaf         int  // piece of the shard asked for
	Full         bool // the backend has no PROOF (0-db), or the record predates shard trees: the whole shard was read
	State        ShardState
	// Lied is set when the backend answered with data that does not match
	// the shard's Merkle root: it lost trust and is being drained.
	Lied bool
	Err  string
}

// Audit challenges one randomly chosen shard piece: the backend returns
// the piece and its Merkle path, which must lead to the root recorded in
// zstor's metadata (the backend never sees the root). A missing or
// corrupt shard is queued for repair; a wrong answer makes the backend
// untrusted: it is drained, so its shards are rebuilt elsewhere. With no
// object stored, Audit returns ErrNotFound.
func (c *Client) Audit(ctx context.Context) (AuditResult, error) {
	if err := c.check(); err != nil {
		return AuditResult{}, err
	}
	o, err := c.randomObject(ctx)
	if err != nil {
		return AuditResult{}, err
	}
	c.rndMu.Lock()
	bi := c.rnd.IntN(len(o.Blocks))
	order := c.rnd.Perm(len(o.Blocks[bi].Shards))
	c.rndMu.Unlock()
	now, ta := time.Now(), c.terminalAfter()
	for _, si := range order {
		b, _, key := c.shardAt(o, bi, si)
		if b == nil || b.state(now, ta) >= StateDown {
			continue
		}
		return c.auditShard(ctx, o, bi, si, b, key), nil
	}
	return AuditResult{Key: o.Key, Block: bi, Shard: -1}, fmt.Errorf("%w: audit %q: no shard of block %d on a live backend", ErrUnavailable, o.Key, bi)
}

func (c *Client) auditShard(ctx context.Context, o *meta.Object, bi, si int, b *backend, key []byte) AuditResult {
	blk := &o.Blocks[bi].BlockMeta
	c.rndMu.Lock()
	leaf := c.rnd.IntN(shardtree.Leaves(blk.ShardLen))
	c.rndMu.Unlock()
	res := AuditResult{Key: o.Key, Block: bi, Shard: si, Backend: b.id, Leaf: leaf}
	c.stats.audits.Add(1)
	var err error
	full := blk.LegacySum || !b.hasProof(ctx)
	if !full {
		var p shardtree.Proof
		err = b.call(ctx, func(ctx context.Context, cl *zdbclient.Client) (err error) {
			p, err = cl.Proof(ctx, key, leaf)
			return err
		})
		switch {
		case err == nil:
			if verr := shardtree.Verify(blk.ShardHashes[si], blk.ShardLen, p); verr != nil {
				return c.auditLied(ctx, res, b, verr)
			}
		case errors.Is(err, zdbclient.ErrLeafIndex):
			// The stored value is shorter than the shard: damaged.
			err = fmt.Errorf("%w: %w", zdbclient.ErrCorrupt, err)
		}
	} else {
		res.Full = true
		var data []byte
		err = b.call(ctx, func(ctx context.Context, cl *zdbclient.Client) (err error) {
			data, err = cl.Get(ctx, key)
			return err
		})
		if err == nil && !codec.ShardOK(blk, si, data) {
			// Without PROOF a backend cannot be told lying from rotten
			// (0-db has no checksums of its own to report damage with):
			// repair the shard, keep the backend.
			err = fmt.Errorf("%w: shard fails its checksum", zdbclient.ErrCorrupt)
		}
	}
	switch {
	case err == nil:
		b.audited(false)
		res.State = ShardOK
	case errors.Is(err, zdbclient.ErrNotFound), errors.Is(err, zdbclient.ErrCorrupt):
		// Lost or damaged and said so: an honest backend; repair the shard.
		b.audited(false)
		res.State, res.Err = ShardMissing, err.Error()
		if errors.Is(err, zdbclient.ErrCorrupt) {
			res.State = ShardCorrupt
		}
		c.stats.auditFailures.Add(1)
		c.enqueue(ctx, o.Key, fmt.Sprintf("audit: shard %d/%d on %s: %v", bi, si, b.id, err), true)
	default:
		res.State, res.Err = ShardUnreachable, err.Error()
	}
	return res
}

// auditLied handles a backend whose answer did not match the root.
func (c *Client) auditLied(ctx context.Context, res AuditResult, b *backend, why error) AuditResult {
	b.audited(true)
	c.stats.auditFailures.Add(1)
	res.State, res.Lied, res.Err = ShardCorrupt, true, why.Error()
	c.log.Error("audit: backend answered with wrong data; draining it", "backend", b.id, "key", res.Key, "block", res.Block, "shard", res.Shard, "err", why)
	if err := c.drain(ctx, b.id, "failed audit: "+why.Error()); err != nil {
		c.log.Error("audit: cannot drain", "backend", b.id, "err", err)
		c.enqueue(ctx, res.Key, "audit: wrong data from "+b.id, true)
	}
	return res
}

// auditWindow is how many keys randomObject chooses among.
const auditWindow = 64

// randomObject picks an object at random: it starts at a random point of
// the key space and chooses uniformly among the next auditWindow keys
// (wrapping around), so stores of up to auditWindow objects are sampled
// uniformly and larger ones close to it, without walking all metadata.
func (c *Client) randomObject(ctx context.Context) (*meta.Object, error) {
	var r [8]byte
	c.rndMu.Lock()
	for i := range r {
		r[i] = byte(c.rnd.IntN(256))
	}
	c.rndMu.Unlock()
	start := string(r[:1+int(r[0]%8)])
	errStop := errors.New("stop")
	var keys []string
	seen := map[string]bool{}
	collect := func(after string) error {
		err := c.store.List(ctx, "", after, func(i meta.Info) error {
			if len(keys) >= auditWindow || seen[i.Key] {
				return errStop
			}
			seen[i.Key] = true
			keys = append(keys, i.Key)
			return nil
		})
		if err != nil && !errors.Is(err, errStop) {
			return fmt.Errorf("zstor: audit: %w", err)
		}
		return nil
	}
	if err := collect(start); err != nil {
		return nil, err
	}
	if len(keys) < auditWindow {
		if err := collect(""); err != nil {
			return nil, err
		}
	}
	c.rndMu.Lock()
	c.rnd.Shuffle(len(keys), func(i, j int) { keys[i], keys[j] = keys[j], keys[i] })
	c.rndMu.Unlock()
	for _, key := range keys {
		o, err := c.store.Get(ctx, key)
		if errors.Is(err, meta.ErrNotFound) {
			continue // deleted since it was listed
		}
		if err != nil {
			return nil, fmt.Errorf("zstor: audit: %w", translate(err))
		}
		if len(o.Blocks) > 0 {
			return o, nil
		}
	}
	return nil, fmt.Errorf("%w: audit: no object with data stored", ErrNotFound)
}

// auditLoop runs an audit every audit_interval.
func (c *Client) auditLoop(ctx context.Context) {
	for {
		d := c.top().cfg.Repair.AuditInterval
		if d <= 0 {
			d = time.Minute // disabled; the config may change
		} else {
			actx, cancel := context.WithTimeout(ctx, 30*time.Second)
			res, err := c.Audit(actx)
			cancel()
			if err != nil && !errors.Is(err, ErrNotFound) && ctx.Err() == nil {
				c.log.Debug("audit", "err", err)
			} else if res.State != ShardOK && res.Err != "" {
				c.log.Warn("audit failed", "key", res.Key, "backend", res.Backend, "state", res.State, "err", res.Err)
			}
		}
		if !sleep(ctx, d) {
			return
		}
	}
}
