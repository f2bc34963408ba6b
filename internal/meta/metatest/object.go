// Package metatest checks implementations of meta.Store: Run is the
// conformance suite every Store must pass, and NewObject makes valid
// records of any shape for tests and benchmarks.
package metatest

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"maps"
	"math/rand/v2"
	"time"

	"github.com/zerostor/zerostor/internal/codec"
	"github.com/zerostor/zerostor/internal/meta"
)

// Shape is what NewObject makes. Zero fields take the defaults.
type Shape struct {
	Size      int64 // plaintext bytes; blocks follow from it
	BlockSize int   // default 4 KiB
	K, M      int   // default 4+2
	// Missing makes every Missing-th shard (counting over the whole
	// object) NoBackend, as after a write straggler.
	Missing int
	// SeqKeys gives every shard an 8-byte key, as sequential-mode backends
	// assign; otherwise keys are nil (derived).
	SeqKeys  bool
	UserMeta map[string]string
	Seed     uint64 // drives the version, hashes and keys
}

// NewObject returns a valid record for key with shape s. Equal seeds and
// shapes give equal records.
func NewObject(key string, s Shape) *meta.Object {
	if s.BlockSize == 0 {
		s.BlockSize = 4 << 10
	}
	if s.K == 0 {
		s.K, s.M = 4, 2
	}
	rng := rand.New(rand.NewPCG(s.Seed, uint64(len(key))))
	fill := func(b []byte) {
		for i := range b {
			b[i] = byte(rng.Uint32())
		}
	}
	n := s.K + s.M
	o := &meta.Object{
		Key:        key,
		Size:       s.Size,
		Modified:   time.Unix(0, 1_780_000_000_000_000_000+int64(s.Seed%1e9)).UTC(),
		UserMeta:   maps.Clone(s.UserMeta),
		Params:     codec.Params{K: s.K, M: s.M, Compression: codec.Zstd},
		BlockSize:  s.BlockSize,
		WrappedKey: make([]byte, 61),
		Salt:       rng.Uint32(),
	}
	fill(o.Version[:])
	fill(o.Checksum[:])
	fill(o.WrappedKey)
	fill(o.KeyID[:])
	fill(o.Root[:])
	for i := range n {
		o.Backends = append(o.Backends, fmt.Sprintf("10.0.%d.%d:9900/zstor", i/250, i%250+1))
	}
	nblocks := int((s.Size + int64(s.BlockSize) - 1) / int64(s.BlockSize))
	if nblocks > 0 {
		o.Blocks = make([]meta.Block, nblocks)
	}
	shard := 0
	for i := range o.Blocks {
		b := &o.Blocks[i]
		b.Index = uint64(i)
		b.PlainLen = int(min(int64(s.BlockSize), s.Size-int64(i)*int64(s.BlockSize)))
		b.Compression = codec.None
		if i%2 == 1 {
			b.Compression = codec.Zstd
		}
		b.SealedLen = b.PlainLen + 16
		b.ShardLen = (b.SealedLen + s.K - 1) / s.K
		b.ShardHashes = make([]codec.Hash, n)
		b.Shards = make([]meta.Shard, n)
		for j := range n {
			fill(b.ShardHashes[j][:])
			b.Shards[j].Backend = int32(j)
			if s.Missing > 0 && shard%s.Missing == s.Missing-1 {
				b.Shards[j].Backend = meta.NoBackend
			}
			if s.SeqKeys {
				b.Shards[j].Key = binary.LittleEndian.AppendUint64(nil, rng.Uint64())
			}
			shard++
		}
	}
	return o
}

// Equal reports whether a and b are the same record (they encode alike;
// invalid records are equal to nothing).
func Equal(a, b *meta.Object) bool {
	if a == nil || b == nil {
		return a == b
	}
	ea, err := a.MarshalBinary()
	if err != nil {
		return false
	}
	eb, err := b.MarshalBinary()
	return err == nil && bytes.Equal(ea, eb)
}

// InfoEqual reports whether two summaries are the same.
func InfoEqual(a, b meta.Info) bool {
	return a.Key == b.Key && a.Version == b.Version && a.Size == b.Size && a.Modified.Equal(b.Modified) &&
		a.Checksum == b.Checksum && maps.Equal(a.UserMeta, b.UserMeta)
}

// Clone returns a deep copy of a valid record.
func Clone(o *meta.Object) *meta.Object {
	b, err := o.MarshalBinary()
	if err != nil {
		panic(err)
	}
	c, err := meta.Unmarshal(b)
	if err != nil {
		panic(err)
	}
	return c
}
