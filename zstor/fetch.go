package zstor

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/zerostor/zerostor/internal/codec"
	"github.com/zerostor/zerostor/internal/meta"
	"github.com/zerostor/zerostor/internal/zdbclient"
)

// defaultHedge is how long a shard read may take before another backend is
// asked too, while the backend's p95 is not known yet.
const defaultHedge = 200 * time.Millisecond

// candidate is one shard a read may use.
type candidate struct {
	shard int
	b     *backend
	key   []byte
	score time.Duration
}

// candidates orders a block's stored shards for reading: healthy before
// down, then by measured latency, with data shards before parity ones at
// equal speed (they decode without reconstruction).
func (c *Client) candidates(o *meta.Object, bi int) []candidate {
	blk := &o.Blocks[bi]
	out := make([]candidate, 0, len(blk.Shards))
	for si := range blk.Shards {
		b, _, key := c.shardAt(o, bi, si)
		if b == nil {
			continue
		}
		ewma, _ := b.latency()
		score := ewma
		if si >= o.Params.K {
			score += score/2 + 50*time.Microsecond
		}
		if b.down() {
			score += time.Hour
		}
		out = append(out, candidate{si, b, key, score})
	}
	slices.SortStableFunc(out, func(a, b candidate) int { return int(a.score - b.score) })
	return out
}

// fetchBlock reads and decodes one block under the read rule: ask the k
// best backends; a shard that fails or is late (past its backend's p95)
// makes another backend be asked; the first k good shards win.
//
// Shards are verified lazily: k shards are decoded and the block's GCM
// tag, under the object's key, authenticates the result. Only when that
// fails are the shards checked against their BLAKE3 hashes, the bad ones
// discarded and reported, and more shards fetched. A healthy read thus
// never hashes, and a damaged one still finds the damaged shards.
func (c *Client) fetchBlock(ctx context.Context, o *meta.Object, bi int, cdc *codec.Codec, dk codec.Key) ([]byte, error) {
	blk := &o.Blocks[bi]
	k, n := o.Params.K, o.Params.K+o.Params.M
	cands := c.candidates(o, bi)
	type result struct {
		ci   int
		data []byte
		err  error
	}
	// One deadline for the block bounds every shard read of it.
	ctx, cancel := context.WithTimeout(ctx, c.opts.ShardTimeout)
	defer cancel()
	results := make(chan result, len(cands))
	hedges := make(chan int, len(cands))
	next, inflight := 0, 0
	hedged := make([]bool, len(cands))
	launch := func() bool {
		if next >= len(cands) {
			return false
		}
		ci := next
		next++
		inflight++
		cd := cands[ci]
		_, p95 := cd.b.latency()
		wait := defaultHedge
		if p95 > 0 {
			wait = max(p95, time.Millisecond)
		}
		t := time.AfterFunc(wait, func() { hedges <- ci })
		go func() {
			var data []byte
			start := time.Now()
			err := cd.b.call(ctx, func(ctx context.Context, cl *zdbclient.Client) (err error) {
				data, err = cl.Get(ctx, cd.key)
				return err
			})
			t.Stop()
			if err != nil && errors.Is(ctx.Err(), context.Canceled) {
				// Abandoned because the block was done: the backend took
				// at least this long, which the latency figures must know
				// or a slow backend would keep being picked first.
				cd.b.observeAtLeast(time.Since(start))
			}
			results <- result{ci, data, err}
		}()
		return true
	}
	for range k {
		launch()
	}
	shards := make([][]byte, n)
	from := make([]*backend, n)
	have := 0
	var errs []string
	for {
		if have >= k {
			plain, err := cdc.DecodeVerified(dk, o.Salt, blk.BlockMeta, shards)
			if err == nil {
				return plain, nil
			}
			// Find the shards that fail their hash, drop them and go on.
			dropped := 0
			for si, sh := range shards {
				if sh != nil && !codec.ShardOK(&blk.BlockMeta, si, sh) {
					err := fmt.Errorf("shard %d on %s fails its checksum", si, from[si].id)
					errs = append(errs, err.Error())
					c.reportBad(o, bi, si, from[si], err)
					shards[si] = nil
					have--
					dropped++
				}
			}
			if dropped == 0 {
				return nil, fmt.Errorf("block %d: %w", bi, err)
			}
			for range dropped {
				launch()
			}
			continue
		}
		if inflight == 0 && !launch() {
			return nil, fmt.Errorf("%w: block %d: %d good shards of %d needed: %s", codec.ErrNotEnough, bi, have, k, strings.Join(errs, "; "))
		}
		select {
		case r := <-results:
			inflight--
			cd := cands[r.ci]
			switch {
			case r.err != nil:
				errs = append(errs, fmt.Sprintf("shard %d: %v", cd.shard, r.err))
				if errors.Is(r.err, zdbclient.ErrCorrupt) {
					c.reportBad(o, bi, cd.shard, cd.b, r.err)
				}
				if !hedged[r.ci] {
					launch()
				}
			case len(r.data) != blk.ShardLen:
				err := fmt.Errorf("shard %d on %s has %d bytes, want %d", cd.shard, cd.b.id, len(r.data), blk.ShardLen)
				errs = append(errs, err.Error())
				c.reportBad(o, bi, cd.shard, cd.b, err)
				if !hedged[r.ci] {
					launch()
				}
			default:
				shards[cd.shard] = r.data
				from[cd.shard] = cd.b
				have++
			}
		case ci := <-hedges:
			if !hedged[ci] {
				hedged[ci] = true
				launch()
			}
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
}

// reportBad records a shard found damaged: the object is queued for
// repair.
func (c *Client) reportBad(o *meta.Object, bi, si int, b *backend, err error) {
	c.log.Warn("bad shard", "key", o.Key, "version", o.Version.String(), "block", bi, "shard", si, "backend", b.id, "err", err)
	c.enqueue(context.Background(), o.Key, fmt.Sprintf("read: shard %d/%d on %s: %v", bi, si, b.id, err), true)
}
