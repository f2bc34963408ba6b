package codec

import (
	"encoding/binary"
	"fmt"
	"runtime"

	"github.com/klauspost/compress/snappy"
	"github.com/klauspost/compress/zstd"
	"github.com/klauspost/reedsolomon"
	"github.com/zeebo/blake3"
)

// MaxBlockSize bounds one block's plaintext (and what decompression may
// produce, against hostile input).
const MaxBlockSize = 64 << 20

// Hash is a BLAKE3-256 digest.
type Hash [32]byte

// BlockMeta describes one coded block: what metadata keeps to decode it.
type BlockMeta struct {
	Index       uint64
	PlainLen    int         // plaintext bytes
	Compression Compression // as stored: None when compressing did not help
	SealedLen   int         // ciphertext bytes spread over the data shards
	ShardLen    int         // bytes per shard
	ShardHashes []Hash      // one per shard, k data then m parity
	// LegacySum: the shard hashes are plain BLAKE3-256 of the shard (the
	// records of format 1), not ShardHash's tree root. Not encoded per
	// block: the metadata record's format version says it.
	LegacySum bool
}

// ShardSum is the checksum of a shard of this block as its hashes were
// recorded: ShardHash, or plain BLAKE3 for LegacySum blocks.
func (m *BlockMeta) ShardSum(shard []byte) Hash {
	if m.LegacySum {
		return blake3.Sum256(shard)
	}
	return ShardHash(shard)
}

// Leaf is the block's Merkle leaf: a hash over its index, length and shard
// hashes. Shards are checked against their hashes and the plaintext is
// authenticated by GCM, so the leaf commits to the block's content without
// hashing the plaintext a second time.
func (m *BlockMeta) Leaf() Hash {
	h := blake3.New()
	h.Write(aad(m))
	for _, s := range m.ShardHashes {
		h.Write(s[:])
	}
	var out Hash
	h.Sum(out[:0])
	return out
}

// Codec codes blocks with fixed parameters. It is safe for concurrent use.
type Codec struct {
	p    Params
	rs   reedsolomon.Encoder
	zenc *zstd.Encoder
	zdec *zstd.Decoder
}

// New returns a Codec for p.
func New(p Params) (*Codec, error) {
	if err := p.Validate(); err != nil {
		return nil, err
	}
	c := &Codec{p: p}
	var err error
	if p.M > 0 {
		if c.rs, err = reedsolomon.New(p.K, p.M); err != nil {
			return nil, fmt.Errorf("codec: reed-solomon %d+%d: %w", p.K, p.M, err)
		}
	}
	if c.zenc, err = zstd.NewWriter(nil, zstd.WithEncoderLevel(zstd.SpeedFastest), zstd.WithEncoderConcurrency(runtime.GOMAXPROCS(0))); err != nil {
		return nil, err
	}
	if c.zdec, err = zstd.NewReader(nil, zstd.WithDecoderConcurrency(0), zstd.WithDecoderMaxMemory(MaxBlockSize)); err != nil {
		return nil, err
	}
	return c, nil
}

// Params returns the codec's parameters.
func (c *Codec) Params() Params { return c.p }

// aad binds a block's position and shape to its ciphertext, so shards of
// one block cannot be passed off as another's.
func aad(m *BlockMeta) []byte {
	b := binary.LittleEndian.AppendUint64(nil, m.Index)
	b = binary.LittleEndian.AppendUint64(b, uint64(m.PlainLen))
	return append(b, byte(m.Compression))
}

// sampleSize is how much of a large block is test-compressed first.
const sampleSize = 64 << 10

// worthCompressing test-compresses a sample of a large block: a sample that
// does not shrink by 5% means the block is left raw.
func (c *Codec) worthCompressing(plain []byte) bool {
	if len(plain) <= 4*sampleSize {
		return true
	}
	sample := plain[len(plain)/2 : len(plain)/2+sampleSize]
	var n int
	if c.p.Compression == Snappy {
		n = len(snappy.Encode(nil, sample))
	} else {
		n = len(c.zenc.EncodeAll(sample, nil))
	}
	return n < sampleSize*95/100
}

// Encode codes block idx of an object (data key, nonce salt) into k+m
// shards of equal length.
func (c *Codec) Encode(key Key, salt uint32, idx uint64, plain []byte) ([][]byte, BlockMeta, error) {
	if len(plain) > MaxBlockSize {
		return nil, BlockMeta{}, fmt.Errorf("codec: block of %d bytes exceeds %d", len(plain), MaxBlockSize)
	}
	m := BlockMeta{Index: idx, PlainLen: len(plain), Compression: None}
	body := plain
	switch comp := c.p.Compression; {
	case comp == None:
	case !c.worthCompressing(plain):
		// Incompressible (already compressed or encrypted data): skip the
		// cost of trying on the whole block.
	case comp == Zstd:
		if z := c.zenc.EncodeAll(plain, nil); len(z) < len(plain) {
			body, m.Compression = z, Zstd
		}
	case comp == Snappy:
		if z := snappy.Encode(nil, plain); len(z) < len(plain) {
			body, m.Compression = z, Snappy
		}
	}
	a, err := key.AEAD()
	if err != nil {
		return nil, m, err
	}
	nonce := blockNonce(salt, idx)
	k, n := c.p.K, c.p.K+c.p.M
	m.SealedLen = len(body) + a.Overhead()
	m.ShardLen = max((m.SealedLen+k-1)/k, 1)
	// One allocation for all shards; the ciphertext is sealed straight
	// into the data shards' space.
	buf := make([]byte, m.ShardLen*n)
	a.Seal(buf[:0], nonce[:], body, aad(&m))
	shards := make([][]byte, n)
	for i := range shards {
		shards[i] = buf[i*m.ShardLen : (i+1)*m.ShardLen : (i+1)*m.ShardLen]
	}
	if c.rs != nil {
		if err := c.rs.Encode(shards); err != nil {
			return nil, m, fmt.Errorf("codec: encode block %d: %w", idx, err)
		}
	}
	m.ShardHashes = make([]Hash, n)
	for i, s := range shards {
		m.ShardHashes[i] = ShardHash(s)
	}
	return shards, m, nil
}

// Decode rebuilds a block from its shards (nil for a missing one; the
// slice must have k+m entries). Shards that fail their hash are ignored and
// returned in bad, so the caller can have them repaired. It needs k good
// shards; the result is authenticated (GCM) before it is returned.
func (c *Codec) Decode(key Key, salt uint32, m BlockMeta, shards [][]byte) (plain []byte, bad []int, err error) {
	return c.decode(key, salt, m, shards, true)
}

// DecodeVerified is Decode for shards the caller has already checked
// against m.ShardHashes (a reader verifies each shard as it arrives, to
// replace a bad one at once): it skips hashing them a second time.
func (c *Codec) DecodeVerified(key Key, salt uint32, m BlockMeta, shards [][]byte) ([]byte, error) {
	plain, _, err := c.decode(key, salt, m, shards, false)
	return plain, err
}

// ShardOK reports whether shard i of a block matches its recorded hash.
func ShardOK(m *BlockMeta, i int, shard []byte) bool {
	return i >= 0 && i < len(m.ShardHashes) && len(shard) == m.ShardLen && m.ShardSum(shard) == m.ShardHashes[i]
}

func (c *Codec) decode(key Key, salt uint32, m BlockMeta, shards [][]byte, verify bool) (plain []byte, bad []int, err error) {
	k, n := c.p.K, c.p.K+c.p.M
	if len(shards) != n || len(m.ShardHashes) != n || m.ShardLen < 1 || m.SealedLen < 0 || m.SealedLen > k*m.ShardLen ||
		m.PlainLen < 0 || m.PlainLen > MaxBlockSize {
		return nil, nil, fmt.Errorf("%w: block %d metadata does not match %d+%d", ErrCorrupt, m.Index, k, c.p.M)
	}
	work := make([][]byte, n)
	good := 0
	for i, s := range shards {
		switch {
		case s == nil:
		case len(s) != m.ShardLen || verify && m.ShardSum(s) != m.ShardHashes[i]:
			bad = append(bad, i)
		default:
			work[i] = s
			good++
		}
	}
	if good < k {
		return nil, bad, fmt.Errorf("%w: block %d has %d good shards of %d needed (bad: %v)", ErrNotEnough, m.Index, good, k, bad)
	}
	if c.rs != nil {
		if err := c.rs.ReconstructData(work); err != nil {
			return nil, bad, fmt.Errorf("%w: block %d: %v", ErrCorrupt, m.Index, err)
		}
	}
	sealed := make([]byte, 0, k*m.ShardLen)
	for _, s := range work[:k] {
		sealed = append(sealed, s...)
	}
	sealed = sealed[:m.SealedLen]
	a, err := key.AEAD()
	if err != nil {
		return nil, bad, err
	}
	nonce := blockNonce(salt, m.Index)
	body, err := a.Open(sealed[:0], nonce[:], sealed, aad(&m))
	if err != nil {
		return nil, bad, fmt.Errorf("%w: block %d", ErrBadKey, m.Index)
	}
	switch m.Compression {
	case None:
		plain = body
	case Zstd:
		plain, err = c.zdec.DecodeAll(body, make([]byte, 0, m.PlainLen))
	case Snappy:
		if l, lerr := snappy.DecodedLen(body); lerr != nil || l != m.PlainLen {
			err = fmt.Errorf("snappy length %d: %v", l, lerr)
		} else {
			plain, err = snappy.Decode(make([]byte, m.PlainLen), body)
		}
	default:
		err = fmt.Errorf("unknown compression %d", m.Compression)
	}
	if err != nil {
		return nil, bad, fmt.Errorf("%w: block %d: decompress: %v", ErrCorrupt, m.Index, err)
	}
	if len(plain) != m.PlainLen {
		return nil, bad, fmt.Errorf("%w: block %d decompressed to %d bytes, want %d", ErrCorrupt, m.Index, len(plain), m.PlainLen)
	}
	return plain, bad, nil
}
