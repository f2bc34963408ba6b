// Package record defines the on-disk record format of zdb data files.
//
// A data file is a plain sequence of records. Every record is
//
//	offset size field
//	0      2    magic "zR"
//	2      1    type (1 = set, 2 = delete)
//	3      1    key length (1..255)
//	4      4    value length (0..8 MiB; 0 for a delete)
//	8      8    timestamp, unix nanoseconds
//	16     4    file id of the previous version of this key (NoPrev if none)
//	20     4    offset of the previous version of this key
//	24     4    length of the record just before this one in the same file (0 at file start)
//	28     4    CRC32C of the value
//	32     4    CRC32C of bytes 0..31 followed by the key
//	36     klen key
//	36+klen vlen value
//
// All integers are little-endian. The header checksum covers the key, so a
// header that decodes is known to describe its own key; the value checksum
// makes every value self-verifying (CHECK, scrub, every GET). The back length
// lets RSCAN walk a file backwards; the previous-version pointer serves HISTORY.
// The format is documented for operators in docs/format.md.
package record

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
)

// HeaderSize is the fixed size of a record header, before the key.
const HeaderSize = 36

// Limits of keys and values, as in 0-db.
const (
	MaxKeySize   = 255
	MaxValueSize = 8 << 20
)

// NoPrev marks a record that has no previous version.
const NoPrev = ^uint32(0)

// Type is the kind of a record.
type Type uint8

// Record types.
const (
	TypeSet    Type = 1
	TypeDelete Type = 2
)

var magic = [2]byte{'z', 'R'}

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// Checksum returns the CRC32C used for values.
func Checksum(b []byte) uint32 { return crc32.Checksum(b, castagnoli) }

// Errors returned by the decoders. ErrShort means the buffer ends before the
// record does (a torn tail at the end of a file); ErrCorrupt means the bytes
// are not a valid record.
var (
	ErrShort   = errors.New("record: truncated")
	ErrCorrupt = errors.New("record: corrupt")
)

// Header is the decoded fixed part of a record.
type Header struct {
	Type     Type
	KeyLen   uint8
	ValLen   uint32
	Time     int64
	PrevFile uint32
	PrevOff  uint32
	BackLen  uint32
	ValCRC   uint32
}

// Len is the length of the whole record described by h.
func (h Header) Len() int { return HeaderSize + int(h.KeyLen) + int(h.ValLen) }

// Size returns the length of a record with the given key and value lengths.
func Size(keyLen, valLen int) int { return HeaderSize + keyLen + valLen }

// Append encodes a record onto dst. h.KeyLen and h.ValLen are taken from key
// and val; h.ValCRC must already hold Checksum(val) (callers compute it once
// outside their locks).
func Append(dst []byte, h Header, key, val []byte) []byte {
	return append(AppendHeader(dst, h, key, len(val)), val...)
}

// AppendHeader encodes the header and key of a record whose value, of
// length valLen, the caller writes right after them (with writev, so a
// large value is never copied). h.ValCRC must hold the value's checksum.
func AppendHeader(dst []byte, h Header, key []byte, valLen int) []byte {
	start := len(dst)
	dst = append(dst, magic[0], magic[1], byte(h.Type), byte(len(key)))
	dst = binary.LittleEndian.AppendUint32(dst, uint32(valLen))
	dst = binary.LittleEndian.AppendUint64(dst, uint64(h.Time))
	dst = binary.LittleEndian.AppendUint32(dst, h.PrevFile)
	dst = binary.LittleEndian.AppendUint32(dst, h.PrevOff)
	dst = binary.LittleEndian.AppendUint32(dst, h.BackLen)
	dst = binary.LittleEndian.AppendUint32(dst, h.ValCRC)
	c := crc32.Update(0, castagnoli, dst[start:start+32])
	c = crc32.Update(c, castagnoli, key)
	dst = binary.LittleEndian.AppendUint32(dst, c)
	return append(dst, key...)
}

// DecodeHeader decodes and verifies the header and key at the start of b.
// b must hold at least HeaderSize bytes plus the key; the value is not
// needed and not verified.
func DecodeHeader(b []byte) (Header, []byte, error) {
	if len(b) < HeaderSize {
		return Header{}, nil, ErrShort
	}
	if b[0] != magic[0] || b[1] != magic[1] {
		return Header{}, nil, fmt.Errorf("%w: bad magic", ErrCorrupt)
	}
	h := Header{
		Type:     Type(b[2]),
		KeyLen:   b[3],
		ValLen:   binary.LittleEndian.Uint32(b[4:]),
		Time:     int64(binary.LittleEndian.Uint64(b[8:])),
		PrevFile: binary.LittleEndian.Uint32(b[16:]),
		PrevOff:  binary.LittleEndian.Uint32(b[20:]),
		BackLen:  binary.LittleEndian.Uint32(b[24:]),
		ValCRC:   binary.LittleEndian.Uint32(b[28:]),
	}
	end := HeaderSize + int(h.KeyLen)
	if len(b) < end {
		return Header{}, nil, ErrShort
	}
	key := b[HeaderSize:end]
	c := crc32.Update(0, castagnoli, b[:32])
	c = crc32.Update(c, castagnoli, key)
	if c != binary.LittleEndian.Uint32(b[32:]) {
		return Header{}, nil, fmt.Errorf("%w: header checksum mismatch", ErrCorrupt)
	}
	// Checked after the CRC: a header that passes its checksum but carries
	// impossible fields was written by a buggy or hostile writer.
	switch {
	case h.Type != TypeSet && h.Type != TypeDelete:
		return Header{}, nil, fmt.Errorf("%w: unknown type %d", ErrCorrupt, h.Type)
	case h.KeyLen == 0:
		return Header{}, nil, fmt.Errorf("%w: empty key", ErrCorrupt)
	case h.ValLen > MaxValueSize:
		return Header{}, nil, fmt.Errorf("%w: value length %d", ErrCorrupt, h.ValLen)
	case h.Type == TypeDelete && h.ValLen != 0:
		return Header{}, nil, fmt.Errorf("%w: delete with a value", ErrCorrupt)
	}
	return h, key, nil
}

// Decode decodes and fully verifies the record at the start of b, returning
// its header, key and value (aliasing b) and its total length.
func Decode(b []byte) (Header, []byte, []byte, error) {
	h, key, err := DecodeHeader(b)
	if err != nil {
		return h, nil, nil, err
	}
	n := h.Len()
	if len(b) < n {
		return h, nil, nil, ErrShort
	}
	val := b[HeaderSize+int(h.KeyLen) : n]
	if Checksum(val) != h.ValCRC {
		return h, nil, nil, fmt.Errorf("%w: value checksum mismatch", ErrCorrupt)
	}
	return h, key, val, nil
}

// IsMagic reports whether b starts with the record magic; used to resync
// after a corrupt region.
func IsMagic(b []byte) bool { return len(b) >= 2 && b[0] == magic[0] && b[1] == magic[1] }
