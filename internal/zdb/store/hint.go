package store

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"path/filepath"

	"github.com/zerostor/zerostor/internal/zdb/record"
)

// A hint file is the index of one sealed data file, so that opening a
// namespace reads a few bytes per key instead of every value:
//
//	"ZDBHINT1" | data file size u64 | entries | entry count u32 | CRC32C u32
//	entry: type u8 | key length u8 | offset u32 | value length u32 | value CRC u32 | key
//
// The trailing CRC covers everything before it. A hint is used only when
// its CRC holds and the data file still has the size it records; otherwise
// the data file is scanned and the hint written anew. Hints are an
// optimisation: losing all of them loses nothing.
var hintMagic = []byte("ZDBHINT1")

const hintEntryFixed = 14

// queueHint asks the hint writer to index a sealed file. When the queue is
// full the hint is skipped; the next open scans that file instead.
func (s *Store) queueHint(f *dataFile) {
	if s.hints == nil {
		s.hints = make(chan uint32, 64)
	}
	select {
	case s.hints <- f.id:
	default:
	}
}

// hintLoop writes queued hints until the store closes.
func (s *Store) hintLoop() {
	defer s.bg.Done()
	for {
		select {
		case <-s.ctx.Done():
			return
		case id := <-s.hints:
			f := s.fileRef(id)
			if f == nil {
				continue
			}
			if err := s.writeHint(f); err != nil && s.ctx.Err() == nil {
				s.opts.Logger.Warn("writing index hint failed; the file will be scanned at next open",
					"file", dataName(s.opts.DataDir, id), "err", err)
			}
			f.release()
		}
	}
}

// writeHint scans a sealed data file and writes its hint atomically.
func (s *Store) writeHint(f *dataFile) error {
	size := f.size.Load()
	path := hintName(s.opts.IndexDir, f.id)
	tmp := path + ".tmp"
	out, err := os.OpenFile(tmp, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o600)
	if err != nil {
		return err
	}
	defer os.Remove(tmp)
	defer out.Close()
	crc := crc32.New(castagnoliTable)
	w := bufio.NewWriterSize(io.MultiWriter(out, crc), 256<<10)
	w.Write(hintMagic)
	var b [hintEntryFixed]byte
	binary.LittleEndian.PutUint64(b[:8], uint64(size))
	w.Write(b[:8])
	var count uint32
	err = walkFile(f.f, 0, size, func(off int64, h record.Header, key []byte) error {
		if s.ctx.Err() != nil {
			return s.ctx.Err()
		}
		b[0], b[1] = byte(h.Type), h.KeyLen
		binary.LittleEndian.PutUint32(b[2:], uint32(off))
		binary.LittleEndian.PutUint32(b[6:], h.ValLen)
		binary.LittleEndian.PutUint32(b[10:], h.ValCRC)
		w.Write(b[:])
		w.Write(key)
		count++
		return nil
	})
	if err != nil {
		// A damaged sealed file keeps being scanned at open, so that its
		// damage is found and reported every time.
		return err
	}
	binary.LittleEndian.PutUint32(b[:4], count)
	w.Write(b[:4])
	if err := w.Flush(); err != nil {
		return err
	}
	binary.LittleEndian.PutUint32(b[:4], crc.Sum32())
	if _, err := out.Write(b[:4]); err != nil {
		return err
	}
	if err := out.Sync(); err != nil {
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		return err
	}
	return syncDir(s.opts.IndexDir)
}

var castagnoliTable = crc32.MakeTable(crc32.Castagnoli)

// loadHint replays a sealed file from its hint; false means the hint is
// missing or invalid and the data file must be scanned.
func (s *Store) loadHint(f *dataFile) bool {
	path := hintName(s.opts.IndexDir, f.id)
	data, err := os.ReadFile(path)
	if err != nil {
		if !errors.Is(err, os.ErrNotExist) {
			s.opts.Logger.Warn("cannot read index hint", "path", path, "err", err)
		}
		return false
	}
	if err := s.replayHint(f, data); err != nil {
		s.opts.Logger.Warn("index hint unusable; rebuilding from data file", "path", path, "err", err)
		return false
	}
	return true
}

// replayHint validates a whole hint before applying any of it, so a bad
// hint never leaves a half-applied index behind.
func (s *Store) replayHint(f *dataFile, data []byte) error {
	n := len(data)
	if n < len(hintMagic)+8+8 || string(data[:len(hintMagic)]) != string(hintMagic) {
		return errors.New("bad header")
	}
	if crc32.Checksum(data[:n-4], castagnoliTable) != binary.LittleEndian.Uint32(data[n-4:]) {
		return errors.New("checksum mismatch")
	}
	if sz := int64(binary.LittleEndian.Uint64(data[8:])); sz != f.size.Load() {
		return fmt.Errorf("data file is %d bytes, hint is for %d", f.size.Load(), sz)
	}
	body := data[16 : n-8]
	count := binary.LittleEndian.Uint32(data[n-8:])
	type ent struct {
		h   record.Header
		off int64
		key []byte
	}
	var ents []ent
	var lastLen uint32
	for len(body) > 0 {
		if len(body) < hintEntryFixed {
			return errors.New("truncated entry")
		}
		h := record.Header{Type: record.Type(body[0]), KeyLen: body[1]}
		off := int64(binary.LittleEndian.Uint32(body[2:]))
		h.ValLen = binary.LittleEndian.Uint32(body[6:])
		h.ValCRC = binary.LittleEndian.Uint32(body[10:])
		kl := int(h.KeyLen)
		if kl == 0 || len(body) < hintEntryFixed+kl || (h.Type != record.TypeSet && h.Type != record.TypeDelete) ||
			off+int64(h.Len()) > f.size.Load() {
			return errors.New("invalid entry")
		}
		ents = append(ents, ent{h, off, body[hintEntryFixed : hintEntryFixed+kl]})
		lastLen = uint32(h.Len())
		body = body[hintEntryFixed+kl:]
	}
	if uint32(len(ents)) != count {
		return errors.New("entry count mismatch")
	}
	for _, e := range ents {
		s.replay(f.id, e.off, e.h, e.key)
	}
	s.lastLen = lastLen
	return nil
}

// removeStrayHints deletes hints that cannot belong to a sealed file (at or
// past the active file) and leftovers of interrupted hint writes. Hints of
// missing data files stay: the file may still be restored.
func (s *Store) removeStrayHints() {
	ids, err := listIDs(s.opts.IndexDir, hintPrefix, hintSuffix)
	if err != nil {
		return
	}
	for _, id := range ids {
		if id >= s.active.id {
			os.Remove(hintName(s.opts.IndexDir, id))
		}
	}
	tmps, _ := filepath.Glob(filepath.Join(s.opts.IndexDir, hintPrefix+"*"+hintSuffix+".tmp"))
	for _, t := range tmps {
		os.Remove(t)
	}
}
