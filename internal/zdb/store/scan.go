package store

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/zerostor/zerostor/internal/zdb/index"
	"github.com/zerostor/zerostor/internal/zdb/record"
)

// CursorSize is the length of a scan cursor on the wire, as in 0-db.
const CursorSize = 17

// Cursor is a position in the log: the record of one key version. Scans
// walk the data files in write order and return only records the index
// still points to, so an overwritten key shows up where it was last written.
type Cursor struct {
	KeyLen uint8
	File   uint32
	Size   uint32
	Offset uint32
	CRC    uint32
}

// Encode returns the 17-byte wire form.
func (c Cursor) Encode() []byte {
	b := make([]byte, CursorSize)
	b[0] = c.KeyLen
	binary.LittleEndian.PutUint32(b[1:], c.File)
	binary.LittleEndian.PutUint32(b[5:], c.Size)
	binary.LittleEndian.PutUint32(b[9:], c.Offset)
	binary.LittleEndian.PutUint32(b[13:], c.CRC)
	return b
}

// DecodeCursor parses a wire cursor.
func DecodeCursor(b []byte) (Cursor, error) {
	if len(b) != CursorSize {
		return Cursor{}, ErrBadCursor
	}
	c := Cursor{
		KeyLen: b[0],
		File:   binary.LittleEndian.Uint32(b[1:]),
		Size:   binary.LittleEndian.Uint32(b[5:]),
		Offset: binary.LittleEndian.Uint32(b[9:]),
		CRC:    binary.LittleEndian.Uint32(b[13:]),
	}
	if c.KeyLen == 0 || c.File == 0 || c.Size > record.MaxValueSize {
		return Cursor{}, ErrBadCursor
	}
	return c, nil
}

func (c Cursor) recLen() int64 { return int64(record.Size(int(c.KeyLen), int(c.Size))) }

// Entry is one key found by a scan.
type Entry struct {
	Key    []byte
	Size   uint32
	Time   int64
	Cursor Cursor
}

// KeyCursor returns the cursor of key's current version (KEYCUR).
func (s *Store) KeyCursor(key []byte) (Cursor, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	loc, ok := s.idx.get(key)
	if !ok {
		return Cursor{}, ErrNotFound
	}
	return Cursor{KeyLen: uint8(len(key)), File: loc.File, Size: loc.Size, Offset: loc.Offset, CRC: loc.CRC}, nil
}

// Scan returns up to max live entries after the cursor (from the start when
// after is nil), or before it when reverse is set, stopping early once
// budget has elapsed. It returns io.EOF when there is nothing more.
func (s *Store) Scan(after *Cursor, reverse bool, max int, budget time.Duration) ([]Entry, error) {
	deadline := time.Now().Add(budget)
	var file uint32
	var off int64
	var ok bool
	if after == nil {
		file, off, ok = s.firstPos(reverse)
	} else {
		if err := s.validCursor(*after); err != nil {
			return nil, err
		}
		file, off, ok = s.stepFrom(after.File, int64(after.Offset), after.recLen())
		if reverse {
			if raw, err := s.readHeader(after.File, int64(after.Offset)); err == nil {
				file, off, ok = s.stepBack(after.File, int64(after.Offset), raw.Header.BackLen)
			} else {
				file, off, ok = s.nextFile(after.File, true)
			}
		}
	}
	var out []Entry
	for ok && len(out) < max {
		raw, err := s.readHeader(file, off)
		if err != nil {
			// Damage ends the walk through this file; scrub reports it.
			file, off, ok = s.nextFile(file, reverse)
			continue
		}
		if raw.Header.Type == record.TypeSet && s.isLive(raw.Key, file, off) {
			out = append(out, Entry{
				Key:  raw.Key,
				Size: raw.Header.ValLen,
				Time: raw.Header.Time,
				Cursor: Cursor{KeyLen: raw.Header.KeyLen, File: file, Size: raw.Header.ValLen,
					Offset: uint32(off), CRC: raw.Header.ValCRC},
			})
		}
		if reverse {
			file, off, ok = s.stepBack(file, off, raw.Header.BackLen)
		} else {
			file, off, ok = s.stepFrom(file, off, int64(raw.Header.Len()))
		}
		if len(out) > 0 && time.Now().After(deadline) {
			break
		}
	}
	if len(out) == 0 {
		return nil, io.EOF
	}
	return out, nil
}

// validCursor checks that a cursor names a record that was really written
// (its file may since have been compacted away: the scan then resumes at
// the next file).
func (s *Store) validCursor(c Cursor) error {
	raw, err := s.readHeader(c.File, int64(c.Offset))
	if errors.Is(err, ErrNotFound) {
		return nil
	}
	// KEYCUR cursors of seq namespaces carry no CRC (the index keeps none).
	if err != nil || raw.Header.KeyLen != c.KeyLen || raw.Header.ValLen != c.Size || (c.CRC != 0 && raw.Header.ValCRC != c.CRC) {
		return ErrBadCursor
	}
	return nil
}

func (s *Store) isLive(key []byte, file uint32, off int64) bool {
	s.mu.RLock()
	defer s.mu.RUnlock()
	loc, ok := s.idx.get(key)
	return ok && loc.File == file && int64(loc.Offset) == off
}

// readHeader reads the header and key at a position.
func (s *Store) readHeader(file uint32, off int64) (Raw, error) {
	f := s.fileRef(file)
	if f == nil {
		return Raw{}, ErrNotFound
	}
	defer f.release()
	return s.headerAt(f, off)
}

// headerAt reads and verifies the header and key of the record at off of a
// referenced file; the record must end within the file.
func (s *Store) headerAt(f *dataFile, off int64) (Raw, error) {
	size := f.size.Load()
	if off < 0 || off >= size {
		return Raw{}, io.EOF
	}
	buf := make([]byte, min(int64(record.HeaderSize+record.MaxKeySize), size-off))
	if err := f.readAt(buf, off); err != nil {
		return Raw{}, err
	}
	h, key, err := record.DecodeHeader(buf)
	if err != nil {
		return Raw{}, err
	}
	if off+int64(h.Len()) > size {
		return Raw{}, fmt.Errorf("%w: record passes the end of the file", record.ErrCorrupt)
	}
	return Raw{Header: h, Key: key, Next: off + int64(h.Len())}, nil
}

// firstPos is where a scan without a cursor starts.
func (s *Store) firstPos(reverse bool) (uint32, int64, bool) {
	if !reverse {
		return s.stepFrom(0, 0, 0)
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	for _, id := range s.sortedIDsLocked(true) {
		f := s.files[id]
		if sz := f.size.Load(); sz > 0 && f.last > 0 {
			return id, sz - int64(f.last), true
		}
	}
	return 0, 0, false
}

// stepFrom moves forward past a record of length n at (file, off).
func (s *Store) stepFrom(file uint32, off, n int64) (uint32, int64, bool) {
	s.mu.RLock()
	f := s.files[file]
	if f != nil && off+n < f.size.Load() {
		s.mu.RUnlock()
		return file, off + n, true
	}
	s.mu.RUnlock()
	return s.nextFile(file, false)
}

// stepBack moves to the record before (file, off).
func (s *Store) stepBack(file uint32, off int64, back uint32) (uint32, int64, bool) {
	if back > 0 && int64(back) <= off {
		return file, off - int64(back), true
	}
	return s.nextFile(file, true)
}

// nextFile is the first record of the next file (or the last record of the
// previous one when reverse), skipping empty files.
func (s *Store) nextFile(file uint32, reverse bool) (uint32, int64, bool) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	for _, id := range s.sortedIDsLocked(reverse) {
		if (!reverse && id <= file) || (reverse && id >= file) {
			continue
		}
		f := s.files[id]
		sz := f.size.Load()
		if sz == 0 {
			continue
		}
		if !reverse {
			return id, 0, true
		}
		if f.last > 0 {
			return id, sz - int64(f.last), true
		}
	}
	return 0, 0, false
}

// History returns the version at (file, off) of key, verified; it is the
// step of HISTORY.
func (s *Store) History(key []byte, file uint32, off uint32) (Raw, error) {
	raw, err := s.ReadRaw(file, int64(off))
	if err != nil {
		return raw, err
	}
	if string(raw.Key) != string(key) {
		return raw, ErrBadKey
	}
	return raw, nil
}

// Keys returns up to limit live keys for which match is true (KSCAN), in
// no particular order.
func (s *Store) Keys(match func([]byte) bool, limit int) [][]byte {
	s.mu.RLock()
	defer s.mu.RUnlock()
	var out [][]byte
	if u, ok := s.idx.(userIndex); ok {
		u.u.Range(func(k []byte, _ index.Loc) bool {
			if match(k) {
				out = append(out, append([]byte(nil), k...))
			}
			return len(out) < limit
		})
	}
	return out
}
