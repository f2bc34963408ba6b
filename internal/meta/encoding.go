package meta

import (
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"math"
	"slices"
	"time"

	"github.com/zerostor/zerostor/internal/codec"
)

// The record format is written down in docs/metadata-format.md; keep the
// two in step.
const (
	recordMagic = "zM"
	// recordVersion is the format written. Format 1 differs only in its
	// shard hashes: plain BLAKE3 instead of the shard tree root (see
	// Object.LegacySums); it is still read, and written back for such
	// records, so a repair does not change what their hashes mean.
	recordVersion       = 2
	recordVersionLegacy = 1
	hashSize            = len(codec.Hash{})
	// minShardBytes is the least a shard takes in a record: its hash, a
	// one-byte backend index and a one-byte key length.
	minShardBytes = hashSize + 2
	// minBlockBytes is the least a block takes besides its shards.
	minBlockBytes = 5
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// zeroTime is how a zero Modified is encoded (it has no UnixNano).
const zeroTime = math.MinInt64

var (
	minTime = time.Unix(0, math.MinInt64+1)
	maxTime = time.Unix(0, math.MaxInt64)
)

// MarshalBinary encodes the record (format version 2, or 1 for
// LegacySums records). The encoding is
// canonical: equal records encode to equal bytes. It fails with ErrInvalid
// when o does not pass Validate.
func (o *Object) MarshalBinary() ([]byte, error) {
	if err := o.Validate(); err != nil {
		return nil, err
	}
	b := make([]byte, 0, o.sizeHint())
	b = append(b, recordMagic...)
	if o.LegacySums {
		b = append(b, recordVersionLegacy)
	} else {
		b = append(b, recordVersion)
	}
	b = appendString(b, o.Key)
	b = append(b, o.Version[:]...)
	b = binary.AppendUvarint(b, uint64(o.Size))
	mod := int64(zeroTime)
	if !o.Modified.IsZero() {
		mod = o.Modified.UnixNano()
	}
	b = binary.LittleEndian.AppendUint64(b, uint64(mod))
	b = append(b, o.Checksum[:]...)
	b = binary.AppendUvarint(b, uint64(len(o.UserMeta)))
	names := make([]string, 0, len(o.UserMeta))
	for k := range o.UserMeta {
		names = append(names, k)
	}
	slices.Sort(names)
	for _, k := range names {
		b = appendString(b, k)
		b = appendString(b, o.UserMeta[k])
	}
	b = binary.AppendUvarint(b, uint64(o.Params.K))
	b = binary.AppendUvarint(b, uint64(o.Params.M))
	b = append(b, byte(o.Params.Compression))
	b = binary.AppendUvarint(b, uint64(o.BlockSize))
	b = binary.AppendUvarint(b, uint64(len(o.WrappedKey)))
	b = append(b, o.WrappedKey...)
	b = append(b, o.KeyID[:]...)
	b = binary.LittleEndian.AppendUint32(b, o.Salt)
	b = append(b, o.Root[:]...)
	b = binary.AppendUvarint(b, uint64(len(o.Backends)))
	for _, id := range o.Backends {
		b = appendString(b, id)
	}
	b = binary.LittleEndian.AppendUint32(b, crc32.Checksum(b, castagnoli))

	b = binary.AppendUvarint(b, uint64(len(o.Blocks)))
	for i := range o.Blocks {
		blk := &o.Blocks[i]
		b = binary.AppendUvarint(b, blk.Index)
		b = binary.AppendUvarint(b, uint64(blk.PlainLen))
		b = append(b, byte(blk.Compression))
		b = binary.AppendUvarint(b, uint64(blk.SealedLen))
		b = binary.AppendUvarint(b, uint64(blk.ShardLen))
		for _, h := range blk.ShardHashes {
			b = append(b, h[:]...)
		}
		for _, s := range blk.Shards {
			b = binary.AppendVarint(b, int64(s.Backend))
			b = binary.AppendUvarint(b, uint64(len(s.Key)))
			b = append(b, s.Key...)
		}
	}
	return binary.LittleEndian.AppendUint32(b, crc32.Checksum(b, castagnoli)), nil
}

// sizeHint is an upper bound of the encoded size of a valid record.
func (o *Object) sizeHint() int {
	n := 3 + 10 + len(o.Key) + 16 + 10 + 8 + hashSize + 10 + 10 + 10 + 1 + 10 + 10 + len(o.WrappedKey) + 8 + 4 + hashSize + 10 + 4 + 10 + 4
	for k, v := range o.UserMeta {
		n += 20 + len(k) + len(v)
	}
	for _, id := range o.Backends {
		n += 10 + len(id)
	}
	for i := range o.Blocks {
		n += 4*10 + 1 + len(o.Blocks[i].Shards)*(hashSize+5+2)
		for _, s := range o.Blocks[i].Shards {
			n += len(s.Key)
		}
	}
	return n
}

func appendString(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

// Unmarshal decodes a record. Every check of Validate holds for what it
// returns, and the result shares no memory with b. Errors wrap ErrCorrupt
// and say what is wrong.
func Unmarshal(b []byte) (*Object, error) {
	return unmarshal(b, true)
}

// unmarshal is Unmarshal that can skip the checksums, so that fuzzing
// reaches the whole parser.
func unmarshal(b []byte, checksums bool) (*Object, error) {
	d := decoder{b: b, checksums: checksums}
	o := new(Object)
	d.header(o, true)
	d.blocks(o)
	if d.err != nil {
		return nil, fmt.Errorf("%w: %v", ErrCorrupt, d.err)
	}
	if err := o.validateBlocks(); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrCorrupt, err)
	}
	return o, nil
}

// UnmarshalInfo decodes only a record's header (checked by its own
// checksum): what listing needs, without the block list.
func UnmarshalInfo(b []byte) (Info, error) {
	d := decoder{b: b, checksums: true}
	var o Object
	d.header(&o, false)
	if d.err != nil {
		return Info{}, fmt.Errorf("%w: %v", ErrCorrupt, d.err)
	}
	return o.Info(), nil
}

// recordVersionID returns the version of the encoded record of key,
// checking its header.
func recordVersionID(key, b []byte) (VersionID, error) {
	d := decoder{b: b, checksums: true}
	var o Object
	d.header(&o, false)
	if d.err == nil && o.Key != string(key) {
		d.err = fmt.Errorf("record holds key %q", o.Key)
	}
	if d.err != nil {
		return VersionID{}, fmt.Errorf("%w: %v", ErrCorrupt, d.err)
	}
	return o.Version, nil
}

// decoder reads a record front to back. The first error sticks: later
// reads return zero values, so parsing code checks d.err only before it
// allocates or loops.
type decoder struct {
	b         []byte
	off       int
	err       error
	checksums bool
	arena     []byte // shard keys are copied here, a chunk at a time
}

func (d *decoder) fail(format string, args ...any) {
	if d.err == nil {
		d.err = fmt.Errorf(format, args...)
	}
}

func (d *decoder) left() int { return len(d.b) - d.off }

func (d *decoder) uvarint(what string) uint64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Uvarint(d.b[d.off:])
	switch {
	case n == 0:
		d.fail("%s at offset %d: truncated", what, d.off)
		return 0
	case n < 0:
		d.fail("%s at offset %d: varint overflows 64 bits", what, d.off)
		return 0
	case n > 1 && d.b[d.off+n-1] == 0:
		// Only the shortest form is accepted, so that a record has one
		// encoding.
		d.fail("%s at offset %d: overlong varint", what, d.off)
		return 0
	}
	d.off += n
	return v
}

// length reads a uvarint that must not exceed limit.
func (d *decoder) length(what string, limit int) int {
	at := d.off
	v := d.uvarint(what)
	if d.err == nil && v > uint64(limit) {
		d.fail("%s at offset %d: %d exceeds %d", what, at, v, limit)
		return 0
	}
	return int(v)
}

func (d *decoder) varint(what string) int64 {
	v := d.uvarint(what)
	return int64(v>>1) ^ -int64(v&1)
}

// next returns the next n bytes of the input (not a copy).
func (d *decoder) next(what string, n int) []byte {
	if d.err != nil {
		return nil
	}
	if n > d.left() {
		d.fail("%s at offset %d: truncated (%d bytes, %d left)", what, d.off, n, d.left())
		return nil
	}
	d.off += n
	return d.b[d.off-n : d.off : d.off]
}

func (d *decoder) byte(what string) byte {
	if p := d.next(what, 1); p != nil {
		return p[0]
	}
	return 0
}

func (d *decoder) uint32(what string) uint32 {
	if p := d.next(what, 4); p != nil {
		return binary.LittleEndian.Uint32(p)
	}
	return 0
}

func (d *decoder) uint64(what string) uint64 {
	if p := d.next(what, 8); p != nil {
		return binary.LittleEndian.Uint64(p)
	}
	return 0
}

func (d *decoder) string(what string, limit int) string {
	return string(d.next(what, d.length(what+" length", limit)))
}

// key copies a shard key out of the input; empty is nil.
func (d *decoder) key(p []byte) []byte {
	if len(p) == 0 {
		return nil
	}
	if cap(d.arena)-len(d.arena) < len(p) {
		d.arena = make([]byte, 0, max(len(p), min(16<<10, len(d.b))))
	}
	s := len(d.arena)
	d.arena = append(d.arena, p...)
	return d.arena[s:len(d.arena):len(d.arena)]
}

// checksum reads a CRC32C and compares it with the one of everything
// before it.
func (d *decoder) checksum(what string) {
	end := d.off
	p := d.next(what, 4)
	if d.err != nil || !d.checksums {
		return
	}
	if got, want := binary.LittleEndian.Uint32(p), crc32.Checksum(d.b[:end], castagnoli); got != want {
		d.fail("%s at offset %d: %08x, content has %08x", what, end, got, want)
	}
}

// header reads everything up to and including the header checksum, and
// checks the header's fields. Unless full, Backends and WrappedKey are
// checked but not kept.
func (d *decoder) header(o *Object, full bool) {
	if m := d.next("magic", len(recordMagic)); d.err == nil && string(m) != recordMagic {
		d.fail("bad magic %q", m)
	}
	if v := d.byte("format version"); d.err == nil && v != recordVersion && v != recordVersionLegacy {
		d.fail("unknown format version %d", v)
	} else {
		o.LegacySums = v == recordVersionLegacy
	}
	o.Key = d.string("key", MaxKeyLen)
	copy(o.Version[:], d.next("version", len(o.Version)))
	o.Size = int64(d.uvarint("size"))
	if mod := int64(d.uint64("modified")); mod != zeroTime {
		o.Modified = time.Unix(0, mod).UTC()
	}
	copy(o.Checksum[:], d.next("checksum", hashSize))
	d.userMeta(o)
	o.Params.K = d.length("k", codec.MaxShards)
	o.Params.M = d.length("m", codec.MaxShards)
	o.Params.Compression = codec.Compression(d.byte("compression"))
	o.BlockSize = d.length("block size", codec.MaxBlockSize)
	wk := d.next("wrapped key", d.length("wrapped key length", MaxWrappedKey))
	if full && len(wk) > 0 {
		o.WrappedKey = slices.Clone(wk)
	}
	copy(o.KeyID[:], d.next("key id", len(o.KeyID)))
	o.Salt = d.uint32("salt")
	copy(o.Root[:], d.next("root", hashSize))
	n := d.length("backend count", MaxBackends)
	if d.err == nil && n > d.left() {
		d.fail("backend count %d: truncated", n)
	}
	if d.err == nil && full && n > 0 {
		o.Backends = make([]string, n)
	}
	for i := 0; i < n && d.err == nil; i++ {
		if full {
			o.Backends[i] = d.string("backend id", MaxBackendID)
		} else {
			d.next("backend id", d.length("backend id length", MaxBackendID))
		}
	}
	d.checksum("header checksum")
	if d.err == nil {
		if err := o.validateHeader(); err != nil {
			d.err = err
		}
	}
}

func (d *decoder) userMeta(o *Object) {
	at := d.off
	n := d.length("user meta count", MaxUserMeta+1)
	if d.err != nil || n == 0 {
		return
	}
	// Every entry takes at least two bytes.
	if n > d.left()/2 {
		d.fail("user meta count %d at offset %d: truncated", n, at)
		return
	}
	o.UserMeta = make(map[string]string, n)
	total := 0
	var prev []byte
	for i := range n {
		k := d.next("user meta name", d.length("user meta name length", MaxUserMeta))
		v := d.next("user meta value", d.length("user meta value length", MaxUserMeta))
		if d.err != nil {
			return
		}
		if i > 0 && string(k) <= string(prev) {
			d.fail("user meta name %q out of order after %q", k, prev)
			return
		}
		if total += len(k) + len(v); total > MaxUserMeta {
			d.fail("user meta exceeds %d bytes", MaxUserMeta)
			return
		}
		o.UserMeta[string(k)] = string(v)
		prev = k
	}
}

// blocks reads the block list and the record checksum.
func (d *decoder) blocks(o *Object) {
	at := d.off
	n := d.length("block count", MaxBlocks)
	if d.err != nil {
		return
	}
	if want := numBlocks(o.Size, o.BlockSize); n != want {
		d.fail("block count %d at offset %d: size %d at %d-byte blocks needs %d", n, at, o.Size, o.BlockSize, want)
		return
	}
	if n == 0 {
		d.checksum("record checksum")
		d.end()
		return
	}
	shards := o.Params.K + o.Params.M
	if n > d.left()/(minBlockBytes+shards*minShardBytes) {
		d.fail("%d blocks of %d shards at offset %d: truncated (%d bytes left)", n, shards, at, d.left())
		return
	}
	hashes := make([]codec.Hash, n*shards)
	locs := make([]Shard, n*shards)
	o.Blocks = make([]Block, n)
	for i := range o.Blocks {
		blk := &o.Blocks[i]
		blk.Index = d.uvarint("block index")
		blk.PlainLen = d.length("plain length", codec.MaxBlockSize)
		blk.Compression = codec.Compression(d.byte("block compression"))
		blk.SealedLen = d.length("sealed length", o.Params.K*maxShardLen)
		blk.ShardLen = d.length("shard length", maxShardLen)
		blk.ShardHashes = hashes[i*shards : (i+1)*shards : (i+1)*shards]
		blk.LegacySum = o.LegacySums
		raw := d.next("shard hashes", shards*hashSize)
		if d.err != nil {
			d.err = fmt.Errorf("block %d: %w", i, d.err)
			return
		}
		for j := range blk.ShardHashes {
			copy(blk.ShardHashes[j][:], raw[j*hashSize:])
		}
		blk.Shards = locs[i*shards : (i+1)*shards : (i+1)*shards]
		for j := range blk.Shards {
			at := d.off
			be := d.varint("shard backend")
			if d.err == nil && (be < NoBackend || be >= int64(len(o.Backends))) {
				d.fail("shard backend at offset %d: %d not in [-1, %d)", at, be, len(o.Backends))
			}
			blk.Shards[j].Backend = int32(be)
			blk.Shards[j].Key = d.key(d.next("shard key", d.length("shard key length", MaxShardKey)))
		}
		if d.err != nil {
			d.err = fmt.Errorf("block %d: %w", i, d.err)
			return
		}
	}
	d.checksum("record checksum")
	d.end()
}

func (d *decoder) end() {
	if d.err == nil && d.off != len(d.b) {
		d.fail("%d trailing bytes at offset %d", len(d.b)-d.off, d.off)
	}
}
