package commitlog

import (
	"bytes"
	"crypto/ed25519"
	"encoding/binary"
	"fmt"
	"hash/crc32"

	"github.com/zeebo/blake3"
)

// Batch is a sealed group of consecutive entries, one link of the chain.
type Batch struct {
	// Index numbers batches from 0, contiguously.
	Index uint64
	// Prev is the Hash of batch Index-1; zero for batch 0.
	Prev [32]byte
	// FirstSeq is the Seq of Entries[0].
	FirstSeq uint64
	// Entries holds 1 to MaxBatchEntries entries with contiguous Seq.
	Entries []Entry
	// Root is MerkleRoot(Entries).
	Root [32]byte
	// PublicKey is the key that signed the batch.
	PublicKey ed25519.PublicKey
	// Sig is the ed25519 signature of the encoding of every field above.
	Sig []byte
}

const (
	// MaxBatchEntries is the most entries a batch can hold.
	MaxBatchEntries = 1 << 16
	// MaxBatchSize is the longest encoded batch, in bytes; a Log cuts its
	// batches short of it whatever Options.MaxEntries says.
	MaxBatchSize = 16 << 20

	batchMagic   = "zL"
	batchVersion = 1
	// batchHeader is magic, version, index, prev, first seq, count.
	batchHeader = len(batchMagic) + 1 + 8 + 32 + 8 + 4
	// batchTrailer is root, public key, signature, CRC.
	batchTrailer = 32 + ed25519.PublicKeySize + ed25519.SignatureSize + 4
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// validate reports why b cannot be encoded (unsigned: without looking at
// Sig), or nil.
func (b *Batch) validate() error {
	n := len(b.Entries)
	if n == 0 || n > MaxBatchEntries {
		return fmt.Errorf("%w batch %d: %d entries, want 1 to %d", ErrInvalid, b.Index, n, MaxBatchEntries)
	}
	size := batchHeader + batchTrailer
	for i := range b.Entries {
		if err := b.Entries[i].validate(); err != nil {
			return fmt.Errorf("batch %d: %w", b.Index, err)
		}
		size += b.Entries[i].encodedLen()
	}
	if size > MaxBatchSize {
		return fmt.Errorf("%w batch %d: %d bytes encoded, at most %d", ErrInvalid, b.Index, size, MaxBatchSize)
	}
	if len(b.PublicKey) != ed25519.PublicKeySize {
		return fmt.Errorf("%w batch %d: public key of %d bytes, want %d", ErrInvalid, b.Index, len(b.PublicKey), ed25519.PublicKeySize)
	}
	return nil
}

// signed returns the bytes the signature covers: the encoding up to and
// including the public key. b must be valid.
func (b *Batch) signed() []byte {
	size := batchHeader + batchTrailer
	for i := range b.Entries {
		size += b.Entries[i].encodedLen()
	}
	p := make([]byte, 0, size)
	p = append(p, batchMagic...)
	p = append(p, batchVersion)
	p = binary.LittleEndian.AppendUint64(p, b.Index)
	p = append(p, b.Prev[:]...)
	p = binary.LittleEndian.AppendUint64(p, b.FirstSeq)
	p = binary.LittleEndian.AppendUint32(p, uint32(len(b.Entries)))
	for i := range b.Entries {
		p = b.Entries[i].appendTo(p)
	}
	p = append(p, b.Root[:]...)
	return append(p, b.PublicKey...)
}

// Sign sets Root to the entries' Merkle root, PublicKey to priv's public
// key, and Sig to priv's signature of the batch. Index, Prev, FirstSeq and
// Entries must already hold their final values.
func (b *Batch) Sign(priv ed25519.PrivateKey) error {
	if len(priv) != ed25519.PrivateKeySize {
		return fmt.Errorf("%w signing key: %d bytes, want %d", ErrInvalid, len(priv), ed25519.PrivateKeySize)
	}
	root, err := MerkleRoot(b.Entries)
	if err != nil {
		return fmt.Errorf("sign batch %d: %w", b.Index, err)
	}
	b.Root = root
	b.PublicKey = priv.Public().(ed25519.PublicKey)
	if err := b.validate(); err != nil {
		return fmt.Errorf("sign: %w", err)
	}
	b.Sig = ed25519.Sign(priv, b.signed())
	return nil
}

// Encode returns the batch's canonical encoding: everything Sign covers,
// then Sig, then a CRC-32C of all that. It checks the encoding's limits,
// not the signature, root or sequence numbers (Check does).
func (b *Batch) Encode() ([]byte, error) {
	if err := b.validate(); err != nil {
		return nil, fmt.Errorf("encode: %w", err)
	}
	if len(b.Sig) != ed25519.SignatureSize {
		return nil, fmt.Errorf("%w batch %d: signature of %d bytes, want %d (not signed?)", ErrInvalid, b.Index, len(b.Sig), ed25519.SignatureSize)
	}
	p := append(b.signed(), b.Sig...)
	return binary.LittleEndian.AppendUint32(p, crc32.Checksum(p, castagnoli)), nil
}

// Hash is BLAKE3-256 of the batch's encoding, signature included: the
// value the next batch's Prev must hold.
func (b *Batch) Hash() ([32]byte, error) {
	p, err := b.Encode()
	if err != nil {
		return [32]byte{}, err
	}
	return blake3.Sum256(p), nil
}

// DecodeBatch decodes one encoded batch. Anything malformed (wrong magic
// or version, bad checksum, truncation, trailing bytes, out-of-range
// lengths or counts, invalid entries) fails with ErrCorrupt. It checks the
// format only: Check verifies the signature, root and sequence numbers.
// The result shares no memory with data.
func DecodeBatch(data []byte) (*Batch, error) {
	if len(data) > MaxBatchSize {
		return nil, fmt.Errorf("decode batch: %w: %d bytes, at most %d", ErrCorrupt, len(data), MaxBatchSize)
	}
	if len(data) < batchHeader+batchTrailer {
		return nil, fmt.Errorf("decode batch: %w: truncated: %d bytes, at least %d", ErrCorrupt, len(data), batchHeader+batchTrailer)
	}
	if !bytes.HasPrefix(data, []byte(batchMagic)) {
		return nil, fmt.Errorf("decode batch: %w: bad magic %q", ErrCorrupt, data[:len(batchMagic)])
	}
	if v := data[len(batchMagic)]; v != batchVersion {
		return nil, fmt.Errorf("decode batch: %w: unknown format version %d", ErrCorrupt, v)
	}
	body := data[:len(data)-4]
	if got, want := binary.LittleEndian.Uint32(data[len(body):]), crc32.Checksum(body, castagnoli); got != want {
		return nil, fmt.Errorf("decode batch: %w: checksum %08x, content has %08x", ErrCorrupt, got, want)
	}
	d := decoder{b: body, off: len(batchMagic) + 1}
	b := &Batch{}
	b.Index = d.uint64("index")
	copy(b.Prev[:], d.next("prev", 32))
	b.FirstSeq = d.uint64("first seq")
	n := d.uint32("entry count")
	rest := d.left() - (batchTrailer - 4)
	switch {
	case d.err != nil:
	case n == 0 || n > MaxBatchEntries:
		d.fail("entry count %d, want 1 to %d", n, MaxBatchEntries)
	case int(n) > rest/entryFixed:
		d.fail("entry count %d: truncated (%d bytes hold at most %d)", n, rest, rest/entryFixed)
	}
	if d.err == nil {
		b.Entries = make([]Entry, n)
	}
	for i := range b.Entries {
		b.Entries[i] = d.entry()
		if d.err != nil {
			break
		}
	}
	copy(b.Root[:], d.next("root", 32))
	if pk := d.next("public key", ed25519.PublicKeySize); pk != nil {
		b.PublicKey = bytes.Clone(pk)
	}
	if sig := d.next("signature", ed25519.SignatureSize); sig != nil {
		b.Sig = bytes.Clone(sig)
	}
	if d.err == nil && d.left() != 0 {
		d.fail("%d bytes between the signature and the checksum", d.left())
	}
	if d.err != nil {
		return nil, fmt.Errorf("decode batch: %w", d.err)
	}
	return b, nil
}

// Check verifies what a batch says about itself: that it is signed by pub
// (any key when pub is nil), that FirstSeq is the first entry's Seq and
// the Seqs are contiguous, that the entries' times do not go back, that
// Root is their Merkle root and that Sig is a valid signature by
// PublicKey. The first failure is returned as a *VerifyError. It does not
// look at the neighbouring batches (Verify does).
func (b *Batch) Check(pub ed25519.PublicKey) error {
	bad := func(entry int, err error, format string, args ...any) error {
		ve := &VerifyError{Batch: b.Index, Seq: b.FirstSeq, Entry: entry, Reason: fmt.Sprintf(format, args...), Err: err}
		if entry >= 0 {
			ve.Seq = b.FirstSeq + uint64(entry)
		}
		return ve
	}
	if err := b.validate(); err != nil {
		return bad(-1, ErrCorrupt, "%v", err)
	}
	if len(b.Sig) != ed25519.SignatureSize {
		return bad(-1, ErrCorrupt, "signature of %d bytes, want %d", len(b.Sig), ed25519.SignatureSize)
	}
	if pub != nil && !pub.Equal(b.PublicKey) {
		return bad(-1, ErrWrongKey, "signed by key %x, want %x", []byte(b.PublicKey), []byte(pub))
	}
	for i := range b.Entries {
		e := &b.Entries[i]
		if want := b.FirstSeq + uint64(i); e.Seq != want {
			return bad(i, ErrCorrupt, "entry %d of the batch has seq %d, want %d", i, e.Seq, want)
		}
		if e.Time.IsZero() {
			return bad(i, ErrCorrupt, "entry has no time")
		}
		if i > 0 && e.Time.Before(b.Entries[i-1].Time) {
			return bad(i, ErrCorrupt, "time %v is before the previous entry's %v", e.Time, b.Entries[i-1].Time)
		}
	}
	root, err := MerkleRoot(b.Entries)
	if err != nil {
		return bad(-1, ErrCorrupt, "%v", err)
	}
	if root != b.Root {
		return bad(-1, ErrCorrupt, "entries do not match the batch's Merkle root (an entry was changed)")
	}
	if !ed25519.Verify(b.PublicKey, b.signed(), b.Sig) {
		return bad(-1, ErrCorrupt, "bad signature")
	}
	return nil
}
