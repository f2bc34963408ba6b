package index

import "encoding/binary"

// Loc is where a record's value lives.
type Loc struct {
	File   uint32 // data file id
	Offset uint32 // byte offset of the record in that file
	Size   uint32 // value length in bytes (<= 8 MiB, so fits 24 bits)
	CRC    uint32 // CRC32C of the value
}

// locSize is the encoded size of a Loc in the key arena.
const locSize = 16

// getLoc decodes a Loc from the first 16 bytes of b (little endian).
func getLoc(b []byte) Loc {
	_ = b[locSize-1]
	return Loc{
		File:   binary.LittleEndian.Uint32(b[0:]),
		Offset: binary.LittleEndian.Uint32(b[4:]),
		Size:   binary.LittleEndian.Uint32(b[8:]),
		CRC:    binary.LittleEndian.Uint32(b[12:]),
	}
}

// putLoc encodes l into the first 16 bytes of b.
func putLoc(b []byte, l Loc) {
	_ = b[locSize-1]
	binary.LittleEndian.PutUint32(b[0:], l.File)
	binary.LittleEndian.PutUint32(b[4:], l.Offset)
	binary.LittleEndian.PutUint32(b[8:], l.Size)
	binary.LittleEndian.PutUint32(b[12:], l.CRC)
}
