package codec

import "fmt"

// Reconstruct rebuilds the missing (nil) shards of a block, data and
// parity, from the others: what repair needs to restore a block's full
// redundancy without decrypting it. Present shards that fail their hash
// are treated as missing and rebuilt too. Every rebuilt shard is checked
// against its recorded hash, so a repair can never store a shard that
// differs from the original. shards must have k+m entries; the rebuilt
// ones are filled in place.
func (c *Codec) Reconstruct(m BlockMeta, shards [][]byte) (rebuilt []int, err error) {
	k, n := c.p.K, c.p.K+c.p.M
	if len(shards) != n || len(m.ShardHashes) != n || m.ShardLen < 1 {
		return nil, fmt.Errorf("%w: block %d metadata does not match %d+%d", ErrCorrupt, m.Index, k, c.p.M)
	}
	good := 0
	for i, s := range shards {
		if s != nil && (len(s) != m.ShardLen || m.ShardSum(s) != m.ShardHashes[i]) {
			shards[i] = nil
		}
		if shards[i] == nil {
			rebuilt = append(rebuilt, i)
		} else {
			good++
		}
	}
	if len(rebuilt) == 0 {
		return nil, nil
	}
	if good < k {
		return nil, fmt.Errorf("%w: block %d has %d good shards of %d needed", ErrNotEnough, m.Index, good, k)
	}
	if c.rs == nil {
		// k+0: nothing can be rebuilt, and good >= k means none is missing.
		return nil, nil
	}
	if err := c.rs.Reconstruct(shards); err != nil {
		return nil, fmt.Errorf("%w: block %d: %v", ErrCorrupt, m.Index, err)
	}
	for _, i := range rebuilt {
		if m.ShardSum(shards[i]) != m.ShardHashes[i] {
			shards[i] = nil
			return nil, fmt.Errorf("%w: block %d: rebuilt shard %d does not match its hash", ErrCorrupt, m.Index, i)
		}
	}
	return rebuilt, nil
}

// ReconstructSome rebuilds only the shards listed in need (nil entries of
// shards) from the present ones, which the caller has already checked
// against their hashes (as a repair does while reading them, to replace
// a bad one at once): it hashes each byte once. The other nil shards stay
// nil. Every rebuilt shard is checked against its recorded hash.
func (c *Codec) ReconstructSome(m BlockMeta, shards [][]byte, need []int) error {
	k, n := c.p.K, c.p.K+c.p.M
	if len(shards) != n || len(m.ShardHashes) != n || m.ShardLen < 1 {
		return fmt.Errorf("%w: block %d metadata does not match %d+%d", ErrCorrupt, m.Index, k, c.p.M)
	}
	good := 0
	for _, s := range shards {
		if s != nil {
			if len(s) != m.ShardLen {
				return fmt.Errorf("%w: block %d: a present shard has %d bytes, want %d", ErrCorrupt, m.Index, len(s), m.ShardLen)
			}
			good++
		}
	}
	if len(need) == 0 {
		return nil
	}
	if good < k {
		return fmt.Errorf("%w: block %d has %d good shards of %d needed", ErrNotEnough, m.Index, good, k)
	}
	required := make([]bool, n)
	for _, i := range need {
		if i < 0 || i >= n || shards[i] != nil {
			return fmt.Errorf("%w: block %d: shard %d is not missing", ErrCorrupt, m.Index, i)
		}
		required[i] = true
	}
	if c.rs == nil {
		return fmt.Errorf("%w: block %d: k+0 cannot rebuild a shard", ErrNotEnough, m.Index)
	}
	if err := c.rs.ReconstructSome(shards, required); err != nil {
		return fmt.Errorf("%w: block %d: %v", ErrCorrupt, m.Index, err)
	}
	for _, i := range need {
		if m.ShardSum(shards[i]) != m.ShardHashes[i] {
			shards[i] = nil
			return fmt.Errorf("%w: block %d: rebuilt shard %d does not match its hash", ErrCorrupt, m.Index, i)
		}
	}
	return nil
}
