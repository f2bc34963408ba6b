package store

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"slices"

	"github.com/zerostor/zerostor/internal/shardtree"
	"github.com/zerostor/zerostor/internal/zdb/index"
	"github.com/zerostor/zerostor/internal/zdb/record"
)

// Info describes the stored version of a key.
type Info struct {
	Size     uint32 // value length
	Time     int64  // unix nanoseconds
	CRC      uint32 // CRC32C of the value
	File     uint32 // data file id
	Offset   uint32 // record offset in that file
	PrevFile uint32 // previous version (record.NoPrev if none)
	PrevOff  uint32
}

// lookup finds key and takes a reference on its data file.
func (s *Store) lookup(key []byte) (index.Loc, *dataFile, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.closed {
		return index.Loc{}, nil, ErrClosed
	}
	loc, ok := s.idx.get(key)
	if !ok {
		return loc, nil, ErrNotFound
	}
	f := s.files[loc.File]
	if f == nil {
		return loc, nil, fmt.Errorf("%w: data file %d is missing", ErrCorrupt, loc.File)
	}
	f.acquire()
	return loc, f, nil
}

// readRecordInto reads the whole record at off into buf (grown as needed)
// and verifies it. It returns the header, key and value aliasing the buffer.
func (s *Store) readRecordInto(buf []byte, f *dataFile, off int64, n int) ([]byte, record.Header, []byte, []byte, error) {
	buf = slices.Grow(buf[:0], n)[:n]
	if err := f.readAt(buf, off); err != nil {
		if errors.Is(err, io.EOF) {
			err = fmt.Errorf("%w: record at %d runs past the end of file %d", ErrCorrupt, off, f.id)
		}
		s.stats.readErrors.Add(1)
		return buf, record.Header{}, nil, nil, fmt.Errorf("store: read file %d at %d: %w", f.id, off, err)
	}
	h, key, val, err := record.Decode(buf)
	if err != nil {
		s.stats.readErrors.Add(1)
		s.corrupt(f.id, off, err)
		return buf, h, nil, nil, fmt.Errorf("%w: file %d offset %d: %v", ErrCorrupt, f.id, off, err)
	}
	return buf, h, key, val, nil
}

// Get appends the value of key to dst. head, when not nil, is called with
// the value length just before the value is appended (the daemon writes the
// RESP bulk header there), so the value is read straight into its final
// place. Every value is verified against its checksum before it is returned.
func (s *Store) Get(dst, key []byte, head func(b []byte, n int) []byte) ([]byte, error) {
	loc, f, err := s.lookup(key)
	if err != nil {
		return dst, err
	}
	defer f.release()
	n := record.Size(len(key), int(loc.Size))
	start := len(dst)
	if head != nil {
		dst = head(dst, int(loc.Size))
	}
	at := len(dst)
	dst = slices.Grow(dst, n)
	_, h, k, val, err := s.readRecordInto(dst[at:at], f, int64(loc.Offset), n)
	if err != nil {
		return dst[:start], err
	}
	if !bytes.Equal(k, key) || !crcMatches(loc, h.ValCRC) || h.Type != record.TypeSet {
		return dst[:start], fmt.Errorf("%w: file %d offset %d holds another record", ErrCorrupt, f.id, loc.Offset)
	}
	// The value sits after header and key: slide it down into place.
	dst = dst[:at+n]
	copy(dst[at:], val)
	return dst[:at+len(val)], nil
}

// Exists reports whether key has a live value.
func (s *Store) Exists(key []byte) bool {
	s.mu.RLock()
	defer s.mu.RUnlock()
	_, ok := s.idx.get(key)
	return ok
}

// Length returns the value length of key from the index alone.
func (s *Store) Length(key []byte) (uint32, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	loc, ok := s.idx.get(key)
	if !ok {
		return 0, ErrNotFound
	}
	return loc.Size, nil
}

// Stat returns the stored version's details, reading only its header.
func (s *Store) Stat(key []byte) (Info, error) {
	loc, f, err := s.lookup(key)
	if err != nil {
		return Info{}, err
	}
	defer f.release()
	buf := make([]byte, record.HeaderSize+len(key))
	if err := f.readAt(buf, int64(loc.Offset)); err != nil {
		s.stats.readErrors.Add(1)
		return Info{}, fmt.Errorf("store: read file %d at %d: %w", f.id, loc.Offset, err)
	}
	h, k, err := record.DecodeHeader(buf)
	if err != nil || !bytes.Equal(k, key) {
		s.stats.readErrors.Add(1)
		return Info{}, fmt.Errorf("%w: header of file %d offset %d", ErrCorrupt, f.id, loc.Offset)
	}
	return Info{Size: loc.Size, Time: h.Time, CRC: h.ValCRC, File: loc.File, Offset: loc.Offset, PrevFile: h.PrevFile, PrevOff: h.PrevOff}, nil
}

// Check re-reads key's value and verifies it. It returns false (and no
// error) when the stored bytes are damaged.
func (s *Store) Check(key []byte) (bool, error) {
	_, err := s.verifiedValue(key, nil)
	if errors.Is(err, ErrCorrupt) {
		return false, nil
	}
	return err == nil, err
}

// verifiedValue reads key's whole value into a new buffer and verifies it:
// the record's checksums, that it is key's live version, and the value CRC
// against the index's copy. precheck, when not nil, sees the value length
// from the index first, so a request it refuses costs no disk read.
func (s *Store) verifiedValue(key []byte, precheck func(size int) error) ([]byte, error) {
	loc, f, err := s.lookup(key)
	if err != nil {
		return nil, err
	}
	defer f.release()
	if precheck != nil {
		if err := precheck(int(loc.Size)); err != nil {
			return nil, err
		}
	}
	_, h, k, val, err := s.readRecordInto(nil, f, int64(loc.Offset), record.Size(len(key), int(loc.Size)))
	if err != nil {
		return nil, err
	}
	if !bytes.Equal(k, key) || !crcMatches(loc, h.ValCRC) || h.Type != record.TypeSet {
		return nil, fmt.Errorf("%w: value of file %d offset %d", ErrCorrupt, f.id, loc.Offset)
	}
	return val, nil
}

// Hash returns the shard checksum of key's value (shardtree.Root: plain
// BLAKE3-256 up to one 8 KiB leaf, a Merkle root beyond), verified against
// its checksum first, so a remote checker can verify a value without
// reading it.
func (s *Store) Hash(key []byte) ([32]byte, error) {
	val, err := s.verifiedValue(key, nil)
	if err != nil {
		return [32]byte{}, err
	}
	return shardtree.Root(val), nil
}

// Proof returns leaf index of key's value with the sibling hashes up to
// shardtree.Root of the value, so that a checker holding only the root and
// the length can verify that the value is still here while reading one
// leaf. The value is verified against its checksum first. An index outside
// the value's leaves is an error wrapping shardtree.ErrIndex.
func (s *Store) Proof(key []byte, index int) (shardtree.Proof, error) {
	val, err := s.verifiedValue(key, func(size int) error {
		if n := shardtree.Leaves(size); index < 0 || index >= n {
			return fmt.Errorf("store: proof of a %d-byte value: %w: leaf %d of %d", size, shardtree.ErrIndex, index, n)
		}
		return nil
	})
	if err != nil {
		return shardtree.Proof{}, err
	}
	p, err := shardtree.Prove(val, index)
	if err != nil {
		return shardtree.Proof{}, fmt.Errorf("store: proof of a %d-byte value: %w", len(val), err)
	}
	return p, nil
}

// Raw is one record read by position (HISTORY, DATA RAW, scans).
type Raw struct {
	Header record.Header
	Key    []byte
	Value  []byte
	Next   int64 // offset of the record after this one
}

// ReadRaw reads and verifies the record at (file, off). It returns io.EOF
// when off is at or past the end of the file and ErrNotFound when the file
// does not exist.
func (s *Store) ReadRaw(file uint32, off int64) (Raw, error) {
	f := s.fileRef(file)
	if f == nil {
		return Raw{}, ErrNotFound
	}
	defer f.release()
	raw, err := s.headerAt(f, off)
	if err != nil {
		if err != io.EOF {
			err = fmt.Errorf("%w: file %d offset %d: %v", ErrCorrupt, file, off, err)
		}
		return Raw{}, err
	}
	_, h, key, val, err := s.readRecordInto(nil, f, off, raw.Header.Len())
	if err != nil {
		return Raw{}, err
	}
	return Raw{Header: h, Key: key, Value: val, Next: raw.Next}, nil
}

// fileRef returns data file id with a reference taken (release it), or nil
// if there is no such file.
func (s *Store) fileRef(id uint32) *dataFile {
	s.mu.RLock()
	defer s.mu.RUnlock()
	f := s.files[id]
	if f != nil {
		f.acquire()
	}
	return f
}

// crcMatches checks a record's value CRC against the index's copy; the seq
// index keeps none (CRC 0) and the record verifies itself anyway.
func crcMatches(loc index.Loc, crc uint32) bool { return loc.CRC == 0 || loc.CRC == crc }

// sameRecord reports whether two Locs name the same record; a position
// identifies a record, the CRC may be absent (seq index).
func sameRecord(a, b index.Loc) bool {
	return a.File == b.File && a.Offset == b.Offset && a.Size == b.Size
}
