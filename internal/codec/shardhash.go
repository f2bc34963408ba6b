package codec

import "github.com/zerostor/zerostor/internal/shardtree"

// ShardHash is the checksum recorded for a shard: what readers, the
// scrubber and zdb's HASH command compare. It is the root of the shard's
// Merkle tree (internal/shardtree, docs/format.md), so a backend can prove
// it still holds a shard by sending one leaf and its path (zdb's PROOF)
// instead of the whole shard. A shard of at most shardtree.LeafSize bytes
// is one leaf, whose root is its plain BLAKE3-256.
func ShardHash(shard []byte) Hash {
	return Hash(shardtree.Root(shard))
}
