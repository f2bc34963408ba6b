package store

import (
	"fmt"
	"os"

	"golang.org/x/sys/unix"

	"github.com/zerostor/zerostor/internal/zdb/record"
)

// directMin is the value size from which a value is handed to pwritev by
// reference instead of being copied into the write buffer.
const directMin = 16 << 10

// wseg is one record of the pending write: its header and key (and small
// value) end at end in wbuf; a large value is referenced by val.
type wseg struct {
	end int
	val []byte
}

// appendRecordLocked adds a record to the pending write and returns its
// offset in the active file.
func (s *Store) appendRecordLocked(h record.Header, key, val []byte) int64 {
	off := s.active.size.Load() + s.pendLen
	if len(val) >= directMin {
		s.wbuf = record.AppendHeader(s.wbuf, h, key, len(val))
		s.segs = append(s.segs, wseg{end: len(s.wbuf), val: val})
	} else {
		s.wbuf = record.Append(s.wbuf, h, key, val)
		s.segs = append(s.segs, wseg{end: len(s.wbuf)})
	}
	n := record.Size(len(key), len(val))
	s.pendLen += int64(n)
	s.lastLen = uint32(n)
	return off
}

// pendingValue returns the value of the pending record at offset off of
// the active file, whose key has length keyLen.
func (s *Store) pendingValue(off int64, keyLen int, valLen int) []byte {
	pos := s.active.size.Load()
	prevEnd := 0
	for _, sg := range s.segs {
		n := int64(sg.end - prevEnd + len(sg.val))
		if pos == off {
			if sg.val != nil {
				return sg.val
			}
			start := prevEnd + record.HeaderSize + keyLen
			return s.wbuf[start : start+valLen]
		}
		pos += n
		prevEnd = sg.end
	}
	return nil
}

func (s *Store) resetPendingLocked() {
	s.wbuf, s.undo = s.wbuf[:0], s.undo[:0]
	clear(s.segs) // drop references to callers' values
	s.segs = s.segs[:0]
	s.pendLen = 0
}

// writePending writes the pending records at base with as few pwritev
// calls as possible. iov is scratch space, returned for reuse.
func writePending(f *os.File, base int64, wbuf []byte, segs []wseg, iov [][]byte) ([][]byte, error) {
	iov = iov[:0]
	prevEnd := 0
	for _, sg := range segs {
		if sg.val == nil {
			continue
		}
		iov = append(iov, wbuf[prevEnd:sg.end], sg.val)
		prevEnd = sg.end
	}
	if len(iov) == 0 {
		// Everything is in wbuf: one plain write.
		n, err := f.WriteAt(wbuf, base)
		if err == nil && n != len(wbuf) {
			err = fmt.Errorf("short write %d of %d", n, len(wbuf))
		}
		return iov, err
	}
	if prevEnd < len(wbuf) {
		iov = append(iov, wbuf[prevEnd:])
	}
	err := pwritevAll(f, base, iov)
	clear(iov) // drop references to callers' values
	return iov, err
}

// pwritevAll writes every buffer of iov at base, resuming after partial
// writes.
func pwritevAll(f *os.File, base int64, iov [][]byte) error {
	fd := int(f.Fd())
	for len(iov) > 0 {
		batch := iov[:min(len(iov), 1024)]
		n, err := unix.Pwritev(fd, batch, base)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return err
		}
		if n == 0 {
			return fmt.Errorf("pwritev wrote nothing")
		}
		base += int64(n)
		// Drop what was written, possibly splitting a buffer.
		for n > 0 && len(iov) > 0 {
			if n >= len(iov[0]) {
				n -= len(iov[0])
				iov = iov[1:]
			} else {
				iov[0] = iov[0][n:]
				n = 0
			}
		}
	}
	return nil
}
