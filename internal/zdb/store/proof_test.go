package store

import (
	"bytes"
	"errors"
	"math/rand"
	"testing"

	"github.com/zeebo/blake3"

	"github.com/zerostor/zerostor/internal/shardtree"
)

// TestHashAndProof: HASH is the shard tree root (plain BLAKE3 up to one
// leaf) and every leaf's proof verifies against it; missing keys, bad
// indexes and damaged values are refused with the right errors.
func TestHashAndProof(t *testing.T) {
	dir := t.TempDir()
	s := openT(t, dir, ModeUser)
	defer s.Close()
	rng := rand.New(rand.NewSource(1))
	values := map[string][]byte{}
	for _, tc := range []struct {
		key  string
		size int
	}{
		{"empty", 0}, {"small", 100}, {"one-leaf", shardtree.LeafSize}, {"two-leaves", shardtree.LeafSize + 1},
		{"shard", 256<<10 + 17},
	} {
		v := make([]byte, tc.size)
		rng.Read(v)
		values[tc.key] = v
		set(t, s, tc.key, string(v))
	}
	for key, v := range values {
		root, err := s.Hash([]byte(key))
		if err != nil || root != shardtree.Root(v) {
			t.Fatalf("%s: Hash = %x, %v; want the tree root", key, root, err)
		}
		if len(v) <= shardtree.LeafSize && root != blake3.Sum256(v) {
			t.Errorf("%s: one-leaf Hash is not plain BLAKE3", key)
		}
		for i := range shardtree.Leaves(len(v)) {
			p, err := s.Proof([]byte(key), i)
			if err != nil {
				t.Fatalf("%s: Proof(%d): %v", key, i, err)
			}
			if err := shardtree.Verify(root, len(v), p); err != nil {
				t.Fatalf("%s: proof of leaf %d: %v", key, i, err)
			}
		}
	}

	set(t, s, "damaged", string(bytes.Repeat([]byte("d"), 3*shardtree.LeafSize)))
	flipValueByte(t, dir, s, "damaged")
	for _, tc := range []struct {
		name  string
		key   string
		index int
		want  error
	}{
		{"missing key", "missing", 0, ErrNotFound},
		{"index past the end", "shard", shardtree.Leaves(256<<10 + 17), shardtree.ErrIndex},
		{"index far past the end", "small", 1 << 30, shardtree.ErrIndex},
		{"negative index", "shard", -1, shardtree.ErrIndex},
		{"index 1 of an empty value", "empty", 1, shardtree.ErrIndex},
		{"damaged value", "damaged", 0, ErrCorrupt},
	} {
		if _, err := s.Proof([]byte(tc.key), tc.index); !errors.Is(err, tc.want) {
			t.Errorf("%s: Proof(%s, %d): %v, want %v", tc.name, tc.key, tc.index, err, tc.want)
		}
	}
	if _, err := s.Hash([]byte("damaged")); !errors.Is(err, ErrCorrupt) {
		t.Errorf("Hash of a damaged value: %v", err)
	}
	if ok, err := s.Check([]byte("damaged")); ok || err != nil {
		t.Errorf("Check of a damaged value: %v %v", ok, err)
	}
	if ok, err := s.Check([]byte("shard")); !ok || err != nil {
		t.Errorf("Check of a good value: %v %v", ok, err)
	}
	s.Close()
	if _, err := s.Proof([]byte("shard"), 0); !errors.Is(err, ErrClosed) {
		t.Errorf("Proof on a closed store: %v", err)
	}
}
