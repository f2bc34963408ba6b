package codec

import (
	"bytes"
	"errors"
	"math/rand/v2"
	"testing"
)

func TestReconstruct(t *testing.T) {
	c, err := New(Params{K: 4, M: 3})
	if err != nil {
		t.Fatal(err)
	}
	key, _ := NewDataKey()
	rnd := rand.New(rand.NewPCG(1, 2))
	plain := make([]byte, 100_000)
	for i := range plain {
		plain[i] = byte(rnd.Uint32())
	}
	orig, m, err := c.Encode(key, 7, 3, plain)
	if err != nil {
		t.Fatal(err)
	}
	clone := func() [][]byte {
		out := make([][]byte, len(orig))
		for i, s := range orig {
			out[i] = bytes.Clone(s)
		}
		return out
	}
	for _, tc := range []struct {
		name    string
		missing []int
		garble  []int
		wantErr error
	}{
		{"nothing missing", nil, nil, nil},
		{"one data", []int{1}, nil, nil},
		{"data and parity", []int{0, 5, 6}, nil, nil},
		{"a garbled shard counts as missing", []int{2}, []int{4}, nil},
		{"too many", []int{0, 1, 2, 3}, nil, ErrNotEnough},
		{"too many with garbage", []int{0, 1}, []int{2, 3}, ErrNotEnough},
	} {
		t.Run(tc.name, func(t *testing.T) {
			shards := clone()
			for _, i := range tc.missing {
				shards[i] = nil
			}
			for _, i := range tc.garble {
				shards[i][10] ^= 0x40
			}
			rebuilt, err := c.Reconstruct(m, shards)
			if tc.wantErr != nil {
				if !errors.Is(err, tc.wantErr) {
					t.Fatalf("err %v, want %v", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(rebuilt) != len(tc.missing)+len(tc.garble) {
				t.Fatalf("rebuilt %v", rebuilt)
			}
			for i := range orig {
				if !bytes.Equal(shards[i], orig[i]) {
					t.Fatalf("shard %d differs after reconstruct", i)
				}
			}
		})
	}
	// Shards that do not belong to the metadata (another block's) are
	// never passed off as rebuilt.
	_, m2, _ := c.Encode(key, 7, 4, plain)
	shards := clone()
	shards[0] = nil
	if _, err := c.Reconstruct(m2, shards); err == nil {
		t.Fatal("shards of block 3 reconstructed against block 4's metadata")
	}
}

// TestReconstructSome: only the needed shards are rebuilt (and checked);
// other missing ones stay nil.
func TestReconstructSome(t *testing.T) {
	c, err := New(Params{K: 4, M: 3})
	if err != nil {
		t.Fatal(err)
	}
	key, _ := NewDataKey()
	plain := bytes.Repeat([]byte("reconstruct some "), 5000)
	orig, m, err := c.Encode(key, 9, 0, plain)
	if err != nil {
		t.Fatal(err)
	}
	shards := make([][]byte, len(orig))
	for _, i := range []int{0, 2, 4, 6} {
		shards[i] = bytes.Clone(orig[i])
	}
	if err := c.ReconstructSome(m, shards, []int{1}); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(shards[1], orig[1]) || shards[3] != nil || shards[5] != nil {
		t.Fatalf("rebuilt: 1 ok %v, 3 %v, 5 %v", bytes.Equal(shards[1], orig[1]), shards[3] != nil, shards[5] != nil)
	}
	// A present shard that does not belong makes the rebuilt one fail
	// its hash: never passed off as good.
	shards[1], shards[3] = nil, nil
	shards[0][0] ^= 1
	if err := c.ReconstructSome(m, shards, []int{3}); !errors.Is(err, ErrCorrupt) || shards[3] != nil {
		t.Fatalf("rebuilt from a garbled shard: %v", err)
	}
	shards[0] = nil
	shards[2] = nil
	if err := c.ReconstructSome(m, shards, []int{1}); !errors.Is(err, ErrNotEnough) {
		t.Fatalf("too few shards: %v", err)
	}
	if err := c.ReconstructSome(m, shards, []int{4}); err == nil {
		t.Fatal("a present shard accepted as needed")
	}
}
