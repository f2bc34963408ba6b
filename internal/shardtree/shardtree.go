// Package shardtree is the Merkle tree over one stored value (a shard) that
// lets a client check a backend still holds the value without downloading
// it: the client keeps only the root and the value's length, asks for one
// leaf chosen at random with the sibling hashes on its path (a proof), and
// recomputes the root.
//
// The value is cut into leaves of LeafSize bytes (the last one may be
// shorter; an empty value is one empty leaf). A leaf hashes to
// BLAKE3-256(leaf) and two nodes to BLAKE3-256(0x01 || left || right). The
// shape is RFC 6962's left-balanced tree: the leaves [0, n) split at k, the
// largest power of two below n, into a perfect left subtree [0, k) and the
// rest [k, n). It is the same tree as pairing adjacent nodes level by level
// with an odd last node carried up unchanged.
//
// A value of at most LeafSize bytes is a single leaf, so its root is its
// plain BLAKE3-256: checksums recorded before the tree existed still hold
// for such values.
//
// Leaves carry no domain prefix (that is what keeps the single-leaf root
// equal to plain BLAKE3), so a 65-byte leaf could read as an inner node,
// and the root does not commit to the value's length. Verify therefore
// takes the length from the verifier and accepts only a leaf of the exact
// length and a path of the exact depth that this length implies for the
// index. The length must come from the verifier's own records (zstor's
// metadata), never from the prover: with a length of its choosing a prover
// could pass an inner node off as a one-leaf value.
package shardtree

import (
	"errors"
	"fmt"
	"math/bits"
	"sync"

	"github.com/zeebo/blake3"
)

// LeafSize is the length of every leaf but the last.
const LeafSize = 8192

// Errors, for errors.Is.
var (
	// ErrIndex: a leaf index outside the value's leaves.
	ErrIndex = errors.New("shardtree: leaf index out of range")
	// ErrInvalid: a proof that does not prove its leaf against the root.
	ErrInvalid = errors.New("shardtree: invalid proof")
)

// Proof shows that Leaf is leaf Index of the value under a root: Path holds
// the sibling hashes from the leaf's level up to just below the root.
type Proof struct {
	Index int
	Leaf  []byte
	Path  [][32]byte
}

// Leaves returns the number of leaves of a value of size bytes: at least
// one (an empty value has one empty leaf), and 0 for a negative size, which
// no value has.
func Leaves(size int) int {
	switch {
	case size < 0:
		return 0
	case size == 0:
		return 1
	}
	// Not (size+LeafSize-1)/LeafSize: that overflows near MaxInt.
	n := size / LeafSize
	if size%LeafSize != 0 {
		n++
	}
	return n
}

// hashers holds reusable BLAKE3 states for the leaves. blake3.Sum256 sets
// up (and zeroes) a fresh 10 KiB state on every call, which for 8 KiB
// leaves costs a tenth of the hashing itself; a reset state does not.
var hashers = sync.Pool{New: func() any { return blake3.New() }}

// Root returns the tree's root over value.
func Root(value []byte) [32]byte {
	if len(value) <= LeafSize {
		return blake3.Sum256(value)
	}
	h := hashers.Get().(*blake3.Hasher)
	defer hashers.Put(h)
	// The stack holds the roots of the perfect subtrees finished so far,
	// largest first: after i leaves, one per set bit of i. Values are at
	// most 2^63 bytes, so 64 entries are plenty.
	var stack [64][32]byte
	top := 0
	for i := 1; len(value) > 0; i++ {
		n := min(LeafSize, len(value))
		h.Reset()
		_, _ = h.Write(value[:n])
		h.Sum(stack[top][:0])
		top++
		value = value[n:]
		// Leaf i completes one perfect subtree per trailing zero bit of i.
		for m := bits.TrailingZeros(uint(i)); m > 0; m-- {
			stack[top-2] = parent(&stack[top-2], &stack[top-1])
			top--
		}
	}
	// The left-balanced shape joins the unfinished subtrees right to left:
	// H(s0, H(s1, H(s2, s3))).
	for ; top > 1; top-- {
		stack[top-2] = parent(&stack[top-2], &stack[top-1])
	}
	return stack[0]
}

// parent hashes two child nodes.
func parent(left, right *[32]byte) [32]byte {
	var buf [1 + 2*32]byte
	buf[0] = 1
	copy(buf[1:33], left[:])
	copy(buf[33:], right[:])
	return blake3.Sum256(buf[:])
}

// split returns where the left-balanced tree of n > 1 leaves splits: the
// largest power of two below n.
func split(n int) int {
	return 1 << (bits.Len(uint(n-1)) - 1)
}

// leafBytes returns leaves [lo, hi) of value.
func leafBytes(value []byte, lo, hi int) []byte {
	return value[lo*LeafSize : min(hi*LeafSize, len(value))]
}

// Prove returns the proof of leaf index of value. Leaf is a copy: it does
// not keep value alive.
func Prove(value []byte, index int) (Proof, error) {
	n := Leaves(len(value))
	if index < 0 || index >= n {
		return Proof{}, fmt.Errorf("%w: leaf %d of a %d-byte value with %d leaves", ErrIndex, index, len(value), n)
	}
	depth, _ := route(n, index)
	path := make([][32]byte, depth)
	// Walk down from the root; the sibling met at each step goes to the
	// path's end first, since the path runs leaf to root.
	lo, count := 0, n
	for d := depth - 1; count > 1; d-- {
		k := split(count)
		if index-lo < k {
			path[d] = Root(leafBytes(value, lo+k, lo+count))
			count = k
		} else {
			path[d] = Root(leafBytes(value, lo, lo+k))
			lo, count = lo+k, count-k
		}
	}
	leaf := leafBytes(value, index, index+1)
	return Proof{Index: index, Leaf: append([]byte(nil), leaf...), Path: path}, nil
}

// route returns the depth of leaf index in the tree of n leaves (the
// length of its path) and which siblings are left ones: bit i set means
// Path[i] is the left child where it meets the running hash.
func route(n, index int) (depth int, left uint64) {
	// Going down from the root, a right turn puts the sibling on the left.
	// Turns are recorded root first, then reversed into path order.
	var turns uint64
	for n > 1 {
		k := split(n)
		turns <<= 1
		if index >= k {
			turns |= 1
			index, n = index-k, n-k
		} else {
			n = k
		}
		depth++
	}
	// turns now has the root's turn in bit depth-1 and the last turn (next
	// to the leaf) in bit 0: path order already.
	return depth, turns
}

// leafLen returns the length leaf index must have in a value of size bytes
// with n leaves.
func leafLen(size, n, index int) int {
	if index < n-1 {
		return LeafSize
	}
	return size - (n-1)*LeafSize
}

// Verify checks that p proves its leaf is leaf p.Index of a value of size
// bytes whose root is root. The leaf length and path length must be exactly
// those the size implies for the index. Every failure wraps ErrInvalid.
func Verify(root [32]byte, size int, p Proof) error {
	if size < 0 {
		return fmt.Errorf("%w: negative value size %d", ErrInvalid, size)
	}
	n := Leaves(size)
	if p.Index < 0 || p.Index >= n {
		return fmt.Errorf("%w: %w: leaf %d of a %d-byte value with %d leaves", ErrInvalid, ErrIndex, p.Index, size, n)
	}
	if want := leafLen(size, n, p.Index); len(p.Leaf) != want {
		return fmt.Errorf("%w: leaf %d is %d bytes, want %d for a %d-byte value", ErrInvalid, p.Index, len(p.Leaf), want, size)
	}
	depth, left := route(n, p.Index)
	if len(p.Path) != depth {
		return fmt.Errorf("%w: path of leaf %d has %d hashes, want %d for a %d-byte value", ErrInvalid, p.Index, len(p.Path), depth, size)
	}
	h := blake3.Sum256(p.Leaf)
	for i := range p.Path {
		if left>>i&1 == 1 {
			h = parent(&p.Path[i], &h)
		} else {
			h = parent(&h, &p.Path[i])
		}
	}
	if h != root {
		return fmt.Errorf("%w: leaf %d and its path do not hash to the root", ErrInvalid, p.Index)
	}
	return nil
}
