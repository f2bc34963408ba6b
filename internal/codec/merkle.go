package codec

import "github.com/zeebo/blake3"

// MerkleRoot returns the root of a binary Merkle tree over an object's
// block hashes, in block order. Leaves and inner nodes are hashed with
// different prefixes (so a node can never pass for a leaf), an odd node is
// carried up unchanged, and the empty object has a fixed root.
func MerkleRoot(leaves []Hash) Hash {
	if len(leaves) == 0 {
		return blake3.Sum256([]byte{2})
	}
	level := make([]Hash, len(leaves))
	var buf [1 + 2*32]byte
	for i, l := range leaves {
		buf[0] = 0
		copy(buf[1:], l[:])
		level[i] = blake3.Sum256(buf[:33])
	}
	for len(level) > 1 {
		next := level[:0]
		for i := 0; i < len(level); i += 2 {
			if i+1 == len(level) {
				next = append(next, level[i])
				continue
			}
			buf[0] = 1
			copy(buf[1:], level[i][:])
			copy(buf[33:], level[i+1][:])
			next = append(next, blake3.Sum256(buf[:]))
		}
		level = next
	}
	return level[0]
}
