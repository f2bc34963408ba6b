package index

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math/bits"
	"unsafe"
)

const (
	seqChunkShift = 16
	seqChunkLen   = 1 << seqChunkShift // entries per chunk
	seqChunkMask  = seqChunkLen - 1
	seqEntSize    = 12
	seqChunkBytes = seqChunkLen * seqEntSize // 768 KiB

	// Touched memory is tracked in units of 1024 entries: 12 KiB, three
	// whole 4 KiB pages of linux/amd64.
	seqUnitShift = 10
	seqUnitLen   = 1 << seqUnitShift
	seqUnits     = seqChunkLen / seqUnitLen
	seqUnitBytes = seqUnitLen * seqEntSize

	// seqLive is the bit of the stored Size that marks an entry live. A
	// zeroed entry (fresh memory, gap ids, deleted ids) is therefore not
	// live, and Sizes must be below 1<<31 (they are at most 8 MiB).
	seqLive = 1 << 31

	// MaxSeqID is the largest id a Seq accepts. It bounds the chunk
	// directory (16 bytes per 65536 ids) if a bogus id is replayed.
	MaxSeqID = 1<<36 - 1
)

var errClosed = errors.New("index: Seq is closed")

// seqEnt is a stored entry: a Loc without its CRC. Sequential namespaces
// keep 12 bytes per id; the CRC is in the record itself, and Seq returns
// Locs with CRC 0 ("not kept"), which the store knows.
type seqEnt struct {
	File, Offset, Size uint32
}

func (e seqEnt) loc() Loc { return Loc{File: e.File, Offset: e.Offset, Size: e.Size &^ seqLive} }

// seqChunk is one off-heap block of seqChunkLen entries.
type seqChunk struct {
	ents    *[seqChunkLen]seqEnt  // nil: not mapped; every id in it is deleted or unassigned
	live    uint32                // live entries
	touched [seqUnits / 64]uint64 // units of ents ever written; the others are zero and take no RAM
}

func (ch *seqChunk) isTouched(unit uint32) bool { return ch.touched[unit/64]&(1<<(unit%64)) != 0 }

// Seq is a dense index for sequential namespaces, whose keys are the ids
// 0, 1, 2, ... Each id takes 12 bytes in off-heap chunks of 65536 entries.
// It does not keep Loc.CRC: Get returns it as 0.
//
// Deleted and unassigned ids are all-zero entries: a live entry has bit 31
// of its stored Size set (seqLive), which Get clears.
//
// A Seq is not safe for concurrent use, except that Next, Get, Len, MemBytes
// and Range may run concurrently with each other (they write nothing).
type Seq struct {
	chunks []seqChunk
	next   uint64
	live   int
	closed bool
}

// NewSeq returns an empty Seq. It holds no off-heap memory until the first
// Set.
func NewSeq() *Seq { return &Seq{} }

// Next returns the next id to be assigned: 1 + the highest id ever set.
func (s *Seq) Next() uint64 { return s.next }

// entry returns the stored entry of id, or nil if its chunk is not mapped.
func (s *Seq) entry(id uint64) *seqEnt {
	c := id >> seqChunkShift
	if c >= uint64(len(s.chunks)) {
		return nil
	}
	ents := s.chunks[c].ents
	if ents == nil {
		return nil
	}
	return &ents[id&seqChunkMask]
}

// Get returns the Loc of id; false for deleted or unassigned ids.
func (s *Seq) Get(id uint64) (Loc, bool) {
	e := s.entry(id)
	if e == nil || e.Size&seqLive == 0 {
		return Loc{}, false
	}
	return e.loc(), true
}

// Set maps id to loc. An id below Next is updated (or revived if deleted);
// an id at or beyond Next is appended and Next becomes id+1; ids skipped
// over are deleted. It fails if loc.Size >= 1<<31, id > MaxSeqID, or s is
// closed.
func (s *Seq) Set(id uint64, loc Loc) error {
	if s.closed {
		return errClosed
	}
	if loc.Size&seqLive != 0 {
		return fmt.Errorf("index: value size %d too large", loc.Size)
	}
	if id > MaxSeqID {
		return fmt.Errorf("index: sequential id %d beyond %d", id, uint64(MaxSeqID))
	}
	c := id >> seqChunkShift
	if n := int(c) + 1; n > len(s.chunks) {
		s.chunks = append(s.chunks, make([]seqChunk, n-len(s.chunks))...)
	}
	ch := &s.chunks[c]
	if ch.ents == nil {
		ch.ents = (*[seqChunkLen]seqEnt)(unsafe.Pointer(unsafe.SliceData(allocBytes(seqChunkBytes))))
	}
	j := uint32(id & seqChunkMask)
	e := &ch.ents[j]
	if e.Size&seqLive == 0 {
		ch.live++
		s.live++
	}
	*e = seqEnt{File: loc.File, Offset: loc.Offset, Size: loc.Size | seqLive}
	u := j >> seqUnitShift
	ch.touched[u/64] |= 1 << (u % 64)
	if id >= s.next {
		from := s.next >> seqChunkShift
		s.next = id + 1
		// Chunks that just became complete (all their ids assigned) and
		// hold nothing live are released.
		for k := from; k < s.next>>seqChunkShift; k++ {
			if s.chunks[k].ents != nil && s.chunks[k].live == 0 {
				s.freeChunk(k)
			}
		}
	}
	return nil
}

// Delete removes id and returns its Loc, if it was live. A chunk whose ids
// have all been assigned and deleted is unmapped.
func (s *Seq) Delete(id uint64) (old Loc, existed bool) {
	e := s.entry(id)
	if e == nil || e.Size&seqLive == 0 {
		return Loc{}, false
	}
	old = e.loc()
	*e = seqEnt{}
	c := id >> seqChunkShift
	s.chunks[c].live--
	s.live--
	if s.chunks[c].live == 0 && c < s.next>>seqChunkShift {
		s.freeChunk(c)
	}
	return old, true
}

// CompareAndSwap sets id to nw only if it is live and maps to old (CRCs
// are not compared: Seq does not keep them). It fails if nw.Size >= 1<<31.
func (s *Seq) CompareAndSwap(id uint64, old, nw Loc) bool {
	e := s.entry(id)
	if e == nil || e.Size&seqLive == 0 || nw.Size&seqLive != 0 {
		return false
	}
	old.CRC = 0
	if e.loc() != old {
		return false
	}
	*e = seqEnt{File: nw.File, Offset: nw.Offset, Size: nw.Size | seqLive}
	return true
}

// Len returns the number of live ids.
func (s *Seq) Len() int { return s.live }

// Range calls fn for every live id in ascending order, until fn returns
// false. fn may call Get, Delete, CompareAndSwap and Set.
func (s *Seq) Range(fn func(id uint64, loc Loc) bool) {
	for c := 0; c < len(s.chunks); c++ {
		// Reread the chunk after every call: fn may have unmapped it.
		for u := uint32(0); u < seqUnits && s.chunks[c].ents != nil; u++ {
			if !s.chunks[c].isTouched(u) {
				continue
			}
			for j := u << seqUnitShift; j < (u+1)<<seqUnitShift; j++ {
				ents := s.chunks[c].ents
				if ents == nil {
					break
				}
				e := ents[j]
				if e.Size&seqLive == 0 {
					continue
				}
				if !fn(uint64(c)<<seqChunkShift|uint64(j), e.loc()) {
					return
				}
			}
		}
	}
}

// MemBytes returns the off-heap memory in use: the touched 4 KiB pages of
// the mapped chunks (pages of a mapping that were never written take no
// RAM).
func (s *Seq) MemBytes() int {
	n := 0
	for i := range s.chunks {
		for _, w := range s.chunks[i].touched {
			n += bits.OnesCount64(w)
		}
	}
	return n * seqUnitBytes
}

// Close releases all memory. s must not be used afterwards: Get finds
// nothing and Set fails.
func (s *Seq) Close() {
	for k := range s.chunks {
		s.freeChunk(uint64(k))
	}
	s.chunks = nil
	s.next, s.live = 0, 0
	s.closed = true
}

func (s *Seq) freeChunk(c uint64) {
	ch := &s.chunks[c]
	ents := ch.ents
	*ch = seqChunk{}
	if ents != nil {
		freeBytes(unsafe.Slice((*byte)(unsafe.Pointer(ents)), seqChunkBytes))
	}
}

// SeqKey returns the wire key of a sequential id: 8 bytes little endian.
func SeqKey(id uint64) []byte { return AppendSeqKey(make([]byte, 0, 8), id) }

// AppendSeqKey appends the wire key of id to b.
func AppendSeqKey(b []byte, id uint64) []byte { return binary.LittleEndian.AppendUint64(b, id) }

// ParseSeqKey decodes a sequential key; it must be exactly 8 bytes.
func ParseSeqKey(k []byte) (uint64, bool) {
	if len(k) != 8 {
		return 0, false
	}
	return binary.LittleEndian.Uint64(k), true
}
