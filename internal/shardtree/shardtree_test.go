package shardtree

import (
	"bytes"
	"encoding/hex"
	"errors"
	"fmt"
	"math"
	"math/rand"
	"strings"
	"testing"

	"github.com/zeebo/blake3"
)

// naiveRoot is RFC 6962's recursive definition, written independently of
// Root: split at the largest power of two below n.
func naiveRoot(value []byte) [32]byte {
	if len(value) <= LeafSize {
		return blake3.Sum256(value)
	}
	n := (len(value) + LeafSize - 1) / LeafSize
	k := 1
	for k*2 < n {
		k *= 2
	}
	l, r := naiveRoot(value[:k*LeafSize]), naiveRoot(value[k*LeafSize:])
	return blake3.Sum256(append(append([]byte{1}, l[:]...), r[:]...))
}

// levelRoot is the other description of the same shape: pair adjacent
// nodes level by level, an odd last node carried up unchanged.
func levelRoot(value []byte) [32]byte {
	var level [][32]byte
	for off := 0; off == 0 || off < len(value); off += LeafSize {
		level = append(level, blake3.Sum256(value[off:min(off+LeafSize, len(value))]))
	}
	for len(level) > 1 {
		var next [][32]byte
		for i := 0; i < len(level); i += 2 {
			if i+1 == len(level) {
				next = append(next, level[i])
				continue
			}
			next = append(next, blake3.Sum256(append(append([]byte{1}, level[i][:]...), level[i+1][:]...)))
		}
		level = next
	}
	return level[0]
}

func randomValue(rng *rand.Rand, n int) []byte {
	b := make([]byte, n)
	rng.Read(b)
	return b
}

func TestLeaves(t *testing.T) {
	for _, tc := range []struct{ size, want int }{
		{-1, 0}, {math.MinInt, 0},
		{0, 1}, {1, 1}, {LeafSize - 1, 1}, {LeafSize, 1},
		{LeafSize + 1, 2}, {2 * LeafSize, 2}, {2*LeafSize + 1, 3},
		{8 << 20, 1024},
		{math.MaxInt, math.MaxInt/LeafSize + 1},
	} {
		if got := Leaves(tc.size); got != tc.want {
			t.Errorf("Leaves(%d) = %d, want %d", tc.size, got, tc.want)
		}
	}
}

func TestRootMatchesNaive(t *testing.T) {
	rng := rand.New(rand.NewSource(1))
	sizes := []int{0, 1, 64, 65, LeafSize - 1, LeafSize, LeafSize + 1, 2 * LeafSize, 2*LeafSize + 1,
		3 * LeafSize, 4 * LeafSize, 4*LeafSize + 1, 5*LeafSize - 1, 7 * LeafSize, 8 * LeafSize, 9*LeafSize + 100,
		256 << 10, 300 << 10}
	random := 300
	if testing.Short() {
		random = 40
	}
	for range random {
		sizes = append(sizes, rng.Intn(300<<10))
	}
	for _, size := range sizes {
		value := randomValue(rng, size)
		got := Root(value)
		if want := naiveRoot(value); got != want {
			t.Fatalf("size %d: Root %x, recursive definition %x", size, got, want)
		}
		if want := levelRoot(value); got != want {
			t.Fatalf("size %d: Root %x, level-by-level definition %x", size, got, want)
		}
	}
}

// TestRootSingleLeafIsPlainBLAKE3: the compatibility promise with shard
// checksums recorded as plain BLAKE3.
func TestRootSingleLeafIsPlainBLAKE3(t *testing.T) {
	rng := rand.New(rand.NewSource(2))
	for _, size := range []int{0, 1, 31, 32, 33, 64, 65, 1023, 1024, 1025, 4096, LeafSize - 1, LeafSize} {
		value := randomValue(rng, size)
		if Root(value) != blake3.Sum256(value) {
			t.Errorf("size %d: root differs from BLAKE3 of the value", size)
		}
	}
	value := randomValue(rng, LeafSize+1)
	if Root(value) == blake3.Sum256(value) {
		t.Error("two leaves: root equals plain BLAKE3")
	}
}

// TestRootVectors pins the definition: a change here changes every
// recorded shard checksum.
func TestRootVectors(t *testing.T) {
	pattern := func(n int) []byte {
		b := make([]byte, n)
		for i := range b {
			b[i] = byte(i % 251)
		}
		return b
	}
	two := pattern(LeafSize + 5)
	l0, l1 := blake3.Sum256(two[:LeafSize]), blake3.Sum256(two[LeafSize:])
	for _, tc := range []struct {
		name  string
		value []byte
		want  string
	}{
		{"empty", nil, "af1349b9f5f9a1a6a0404dea36dcc9499bcb25c9adc112b7cc9a93cae41f3262"},
		{"abc", []byte("abc"), "6437b3ac38465133ffb63b75273a8db548c558465d79db03fd359c6cd5bd9d85"},
		{"two leaves by hand", two, hex.EncodeToString(func() []byte {
			s := blake3.Sum256(append(append([]byte{1}, l0[:]...), l1[:]...))
			return s[:]
		}())},
		// Computed once by Root; TestRootMatchesNaive ties Root to both
		// written-out definitions.
		{"pattern 100000", pattern(100000), "1db69012c6d6283e565c8f0830f6e4242ab1fe4b741b4cc6c304b29af05e6a57"},
	} {
		r := Root(tc.value)
		if got := hex.EncodeToString(r[:]); got != tc.want {
			t.Errorf("%s: root %s, want %s", tc.name, got, tc.want)
		}
	}
}

// proofSizes are value sizes with every interesting shape: one leaf, a
// short last leaf, full powers of two, one past them.
var proofSizes = []int{0, 1, LeafSize, LeafSize + 1, 2 * LeafSize, 3*LeafSize - 7, 4 * LeafSize,
	5*LeafSize + 1, 7 * LeafSize, 8 * LeafSize, 11*LeafSize + 3, 16 * LeafSize, 17*LeafSize + 9}

func TestProveVerifyEveryIndex(t *testing.T) {
	rng := rand.New(rand.NewSource(3))
	for _, size := range proofSizes {
		value := randomValue(rng, size)
		root := Root(value)
		n := Leaves(size)
		for i := range n {
			p, err := Prove(value, i)
			if err != nil {
				t.Fatalf("size %d: Prove(%d): %v", size, i, err)
			}
			want := value[i*LeafSize : min((i+1)*LeafSize, size)]
			if p.Index != i || !bytes.Equal(p.Leaf, want) {
				t.Fatalf("size %d: proof of leaf %d holds leaf %d of %d bytes", size, i, p.Index, len(p.Leaf))
			}
			if err := Verify(root, size, p); err != nil {
				t.Fatalf("size %d: Verify(leaf %d): %v", size, i, err)
			}
		}
	}
}

func TestProveCopiesLeaf(t *testing.T) {
	value := bytes.Repeat([]byte{7}, 3*LeafSize)
	p, err := Prove(value, 1)
	if err != nil {
		t.Fatal(err)
	}
	value[LeafSize] = 8
	if p.Leaf[0] != 7 {
		t.Fatal("the proof's leaf aliases the value")
	}
}

func TestProveIndexOutOfRange(t *testing.T) {
	value := make([]byte, 3*LeafSize)
	for _, index := range []int{-1, 3, 4, math.MaxInt, math.MinInt} {
		if _, err := Prove(value, index); !errors.Is(err, ErrIndex) {
			t.Errorf("Prove(index %d) of 3 leaves: %v, want ErrIndex", index, err)
		}
	}
	if _, err := Prove(nil, 1); !errors.Is(err, ErrIndex) {
		t.Errorf("Prove(index 1) of an empty value: %v", err)
	}
}

func cloneProof(p Proof) Proof {
	return Proof{Index: p.Index, Leaf: bytes.Clone(p.Leaf), Path: append([][32]byte(nil), p.Path...)}
}

// TestVerifyRejects: every way a proof can be wrong fails with ErrInvalid
// and an error saying what did not match.
func TestVerifyRejects(t *testing.T) {
	rng := rand.New(rand.NewSource(4))
	const size = 11*LeafSize + 3 // 12 leaves, paths of 3 or 4 hashes
	value := randomValue(rng, size)
	root := Root(value)
	for _, index := range []int{0, 5, 8, 11} {
		good, err := Prove(value, index)
		if err != nil {
			t.Fatal(err)
		}
		for _, tc := range []struct {
			name   string
			size   int
			root   [32]byte
			edit   func(p *Proof)
			saying string
		}{
			{"wrong index", size, root, func(p *Proof) { p.Index ^= 1 }, ""},
			{"index past the end", size, root, func(p *Proof) { p.Index = 12 }, "out of range"},
			{"negative index", size, root, func(p *Proof) { p.Index = -1 }, "out of range"},
			{"negative size", -size, root, nil, "negative"},
			{"truncated path", size, root, func(p *Proof) { p.Path = p.Path[:len(p.Path)-1] }, "path"},
			{"path missing its first hash", size, root, func(p *Proof) { p.Path = p.Path[1:] }, "path"},
			{"longer path", size, root, func(p *Proof) { p.Path = append(p.Path, p.Path[0]) }, "path"},
			{"no path", size, root, func(p *Proof) { p.Path = nil }, "path"},
			{"path reversed", size, root, func(p *Proof) {
				for i, j := 0, len(p.Path)-1; i < j; i, j = i+1, j-1 {
					p.Path[i], p.Path[j] = p.Path[j], p.Path[i]
				}
			}, "root"},
			{"leaf truncated", size, root, func(p *Proof) { p.Leaf = p.Leaf[:len(p.Leaf)-1] }, "bytes, want"},
			{"leaf extended", size, root, func(p *Proof) { p.Leaf = append(p.Leaf, 0) }, "bytes, want"},
			{"another leaf", size, root, func(p *Proof) { p.Leaf = bytes.Clone(value[:len(p.Leaf)]) }, "root"},
			{"wrong root", size, blake3.Sum256(value), nil, "root"},
		} {
			p := cloneProof(good)
			if tc.edit != nil {
				tc.edit(&p)
			}
			if tc.name == "another leaf" && index == 0 {
				continue // leaf 0 is the first leaf
			}
			err := Verify(tc.root, tc.size, p)
			if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), tc.saying) {
				t.Errorf("leaf %d, %s: %v, want ErrInvalid saying %q", index, tc.name, err, tc.saying)
			}
		}
	}
}

// TestVerifyWrongSize: the root does not commit to the value's length (it
// cannot: a one-leaf root is plain BLAKE3 of the value), so a wrong size is
// caught exactly when it changes the leaf's expected length or depth. For
// the last leaf every wrong size is caught; for another leaf a size that
// keeps its length and depth still proves the same bytes at the same
// place, which is why the verifier must take the size from its own
// records, never from the prover.
func TestVerifyWrongSize(t *testing.T) {
	rng := rand.New(rand.NewSource(7))
	const size = 11*LeafSize + 3 // 12 leaves
	value := randomValue(rng, size)
	root := Root(value)
	wrong := []int{size + 1, size - 1, size - 3, size - 2, size + LeafSize, size - LeafSize, size + 5*LeafSize,
		2 * size, size / 2, 16 * LeafSize, 8 * LeafSize, 1, 0}
	for _, index := range []int{0, 5, 8, 11} {
		p, _ := Prove(value, index)
		depth, _ := route(12, index)
		for _, ws := range wrong {
			n := Leaves(ws)
			d, _ := route(n, index)
			sameShape := index < n && leafLen(ws, n, index) == len(p.Leaf) && d == depth
			err := Verify(root, ws, p)
			switch {
			case index == 11 && err == nil:
				t.Errorf("last leaf verified with size %d instead of %d", ws, size)
			case sameShape && err != nil:
				t.Errorf("leaf %d, size %d of the same shape: %v", index, ws, err)
			case !sameShape && !errors.Is(err, ErrInvalid):
				t.Errorf("leaf %d, size %d instead of %d: %v, want ErrInvalid", index, ws, size, err)
			}
		}
	}
}

// TestVerifyRejectsEveryBitFlip flips every bit of every path, and every
// bit (or a sample of bits) of the leaves.
func TestVerifyRejectsEveryBitFlip(t *testing.T) {
	rng := rand.New(rand.NewSource(5))
	for _, size := range []int{1, LeafSize, 5*LeafSize + 1, 11*LeafSize + 3} {
		value := randomValue(rng, size)
		root := Root(value)
		for index := range Leaves(size) {
			good, _ := Prove(value, index)
			// Every leaf bit of the one-leaf value and of leaf 0 of the
			// largest; a sample elsewhere (each flip hashes up to 8 KiB).
			step := 13
			switch {
			case size == LeafSize || size == 11*LeafSize+3 && index == 0:
				step = 1
			case testing.Short():
				step = 97
			}
			// Flip in place and back: no copy of the leaf per bit.
			p := cloneProof(good)
			for bit := 0; bit < len(p.Leaf)*8; bit += step {
				p.Leaf[bit/8] ^= 1 << (bit % 8)
				if err := Verify(root, size, p); !errors.Is(err, ErrInvalid) {
					t.Fatalf("size %d leaf %d: leaf bit %d flipped: %v", size, index, bit, err)
				}
				p.Leaf[bit/8] ^= 1 << (bit % 8)
			}
			for h := range p.Path {
				for bit := range 256 {
					p.Path[h][bit/8] ^= 1 << (bit % 8)
					if err := Verify(root, size, p); !errors.Is(err, ErrInvalid) {
						t.Fatalf("size %d leaf %d: bit %d of path hash %d flipped: %v", size, index, bit, h, err)
					}
					p.Path[h][bit/8] ^= 1 << (bit % 8)
				}
			}
			if err := Verify(root, size, p); err != nil {
				t.Fatalf("size %d leaf %d: restored proof: %v", size, index, err)
			}
		}
	}
}

// TestVerifyLeafAsInnerNode: leaves carry no domain prefix, so the 65 bytes
// 0x01 || left || right hash to the same node as the two leaves below it.
// Only the size, which the verifier takes from its own records, tells them
// apart: with the true size the exact leaf length and depth checks refuse
// the forgery.
func TestVerifyLeafAsInnerNode(t *testing.T) {
	rng := rand.New(rand.NewSource(6))
	value := randomValue(rng, 2*LeafSize)
	root := Root(value)
	l0, l1 := blake3.Sum256(value[:LeafSize]), blake3.Sum256(value[LeafSize:])
	fake := Proof{Index: 0, Leaf: append(append([]byte{1}, l0[:]...), l1[:]...)}
	if err := Verify(root, len(value), fake); !errors.Is(err, ErrInvalid) {
		t.Errorf("inner node passed as leaf 0 of the true size: %v", err)
	}
	// Why the size must never come from the prover.
	if err := Verify(root, len(fake.Leaf), fake); err != nil {
		t.Errorf("with the forger's size the forgery is a valid one-leaf proof, as documented: %v", err)
	}
}

// FuzzVerify: arbitrary proofs never panic and are accepted only when they
// are right; genuine proofs of arbitrary values always verify.
func FuzzVerify(f *testing.F) {
	value := make([]byte, 2*LeafSize+6)
	for i := range value {
		value[i] = byte(i * 7)
	}
	p, _ := Prove(value, 2)
	root := Root(value)
	var path []byte
	for _, h := range p.Path {
		path = append(path, h[:]...)
	}
	f.Add(root[:], len(value), 2, p.Leaf, path, 3)
	f.Add([]byte{}, 0, 0, []byte{}, []byte{}, 0)
	f.Fuzz(func(t *testing.T, rootb []byte, size, index int, leaf, pathb []byte, reps int) {
		var root [32]byte
		copy(root[:], rootb)
		var p Proof
		p.Index, p.Leaf = index, leaf
		for len(pathb) >= 32 {
			p.Path = append(p.Path, [32]byte(pathb[:32]))
			pathb = pathb[32:]
		}
		if err := Verify(root, size, p); err == nil {
			// Accepted: then the shape matched and the hashes chained up.
			n := Leaves(size)
			if index < 0 || index >= n || len(leaf) != leafLen(size, n, index) {
				t.Fatalf("accepted a proof of a wrong shape: size %d index %d leaf %d bytes", size, index, len(leaf))
			}
		} else if !errors.Is(err, ErrInvalid) {
			t.Fatalf("error not wrapping ErrInvalid: %v", err)
		}
		// A genuine proof of a value made from the input (repeated to
		// span several leaves) always verifies, and fails one byte off.
		n := 1 + int(uint(reps)%(4*LeafSize))
		if len(leaf) > 0 {
			// At most 10 leaves (depth 4): cheap enough for the fuzzer's
			// input minimization, which runs the target many times.
			n = min(n, 1+9*LeafSize/len(leaf))
		}
		value := bytes.Repeat(leaf, n)
		root = Root(value)
		i := int(uint(index) % uint(Leaves(len(value))))
		good, err := Prove(value, i)
		if err != nil {
			t.Fatalf("Prove(%d) of %d bytes: %v", i, len(value), err)
		}
		if err := Verify(root, len(value), good); err != nil {
			t.Fatalf("genuine proof of leaf %d of %d bytes: %v", i, len(value), err)
		}
		if len(good.Leaf) > 0 {
			good.Leaf[0] ^= 1
			if Verify(root, len(value), good) == nil {
				t.Fatalf("altered leaf %d of %d bytes verified", i, len(value))
			}
		}
	})
}

func BenchmarkRoot(b *testing.B) {
	for _, size := range []int{256 << 10, 4 << 20} {
		value := randomValue(rand.New(rand.NewSource(1)), size)
		name := fmt.Sprintf("%dKiB", size>>10)
		b.Run(name+"/shardtree.Root", func(b *testing.B) {
			b.SetBytes(int64(size))
			b.ReportAllocs()
			for b.Loop() {
				Root(value)
			}
		})
		b.Run(name+"/blake3.Sum256", func(b *testing.B) {
			b.SetBytes(int64(size))
			b.ReportAllocs()
			for b.Loop() {
				blake3.Sum256(value)
			}
		})
	}
}

func BenchmarkProve4MiB(b *testing.B) {
	value := randomValue(rand.New(rand.NewSource(1)), 4<<20)
	b.SetBytes(int64(len(value)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Prove(value, 300); err != nil {
			b.Fatal(err)
		}
	}
}
