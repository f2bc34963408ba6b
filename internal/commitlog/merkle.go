package commitlog

import "github.com/zeebo/blake3"

// Node prefixes of the Merkle tree: a leaf, an inner node and the empty
// tree hash differently, so that no inner node can pass for a leaf (and a
// batch cannot be shown as a different list of entries with the same root).
const (
	leafPrefix  = 0
	nodePrefix  = 1
	emptyPrefix = 2
)

// MerkleRoot returns the root of the binary Merkle tree over the entries'
// hashes (Entry.Hash), in order: a leaf is BLAKE3(0x00 || entry hash), an
// inner node BLAKE3(0x01 || left || right), a node without a sibling is
// carried up unchanged, and the empty list has root BLAKE3(0x02). It fails
// with ErrInvalid if an entry cannot be encoded.
func MerkleRoot(entries []Entry) ([32]byte, error) {
	leaves := make([][32]byte, len(entries))
	var buf []byte
	for i := range entries {
		e := &entries[i]
		if err := e.validate(); err != nil {
			return [32]byte{}, err
		}
		buf = e.appendTo(buf[:0])
		leaves[i] = blake3.Sum256(buf)
	}
	return merkleRoot(leaves), nil
}

// merkleRoot builds the tree over entry hashes, reusing leaves' storage.
func merkleRoot(leaves [][32]byte) [32]byte {
	if len(leaves) == 0 {
		return blake3.Sum256([]byte{emptyPrefix})
	}
	var buf [1 + 2*32]byte
	buf[0] = leafPrefix
	for i := range leaves {
		copy(buf[1:], leaves[i][:])
		leaves[i] = blake3.Sum256(buf[:1+32])
	}
	level := leaves
	buf[0] = nodePrefix
	for len(level) > 1 {
		next := level[:0]
		for i := 0; i < len(level); i += 2 {
			if i+1 == len(level) {
				next = append(next, level[i])
				continue
			}
			copy(buf[1:], level[i][:])
			copy(buf[1+32:], level[i+1][:])
			next = append(next, blake3.Sum256(buf[:]))
		}
		level = next
	}
	return level[0]
}
