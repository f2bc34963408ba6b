package store

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/zerostor/zerostor/internal/zdb/record"
)

// badRecordError reports where a walk met a record it could not decode.
type badRecordError struct {
	off   int64
	torn  bool // the record runs past the end: a torn tail, not damage
	cause error
	// hdr is set when only the value is damaged: header and key verified,
	// so the record's extent and key are known.
	hdr *record.Header
	key []byte
}

func (e *badRecordError) Error() string {
	return fmt.Sprintf("bad record at offset %d: %v", e.off, e.cause)
}

func (e *badRecordError) Unwrap() error { return e.cause }

// walkFile reads the records of f in [from, end) in order, verifying both
// checksums, and calls fn for each. It stops at the first record that does
// not decode and returns a *badRecordError naming its offset.
func walkFile(f *os.File, from, end int64, fn func(off int64, h record.Header, key []byte) error) error {
	return walkValues(f, from, end, func(off int64, h record.Header, key, _ []byte) error {
		return fn(off, h, key)
	})
}

// walkValues is walkFile that also hands out each value (valid only during
// the call).
func walkValues(f *os.File, from, end int64, fn func(off int64, h record.Header, key, val []byte) error) error {
	br := bufio.NewReaderSize(io.NewSectionReader(f, from, end-from), 1<<20)
	var buf []byte
	off := from
	for off < end {
		hdr, err := br.Peek(record.HeaderSize + record.MaxKeySize)
		if len(hdr) < record.HeaderSize {
			return &badRecordError{off: off, torn: true, cause: record.ErrShort}
		}
		h, _, herr := record.DecodeHeader(hdr)
		if herr != nil {
			torn := errors.Is(herr, record.ErrShort) && (err == io.EOF || errors.Is(err, io.ErrUnexpectedEOF))
			return &badRecordError{off: off, torn: torn, cause: herr}
		}
		n := h.Len()
		if off+int64(n) > end {
			return &badRecordError{off: off, torn: true, cause: record.ErrShort}
		}
		if cap(buf) < n {
			buf = make([]byte, n)
		}
		buf = buf[:n]
		if _, err := io.ReadFull(br, buf); err != nil {
			return &badRecordError{off: off, torn: true, cause: err}
		}
		h, key, val, derr := record.Decode(buf)
		if derr != nil {
			bad := &badRecordError{off: off, cause: derr}
			if hh, k, herr := record.DecodeHeader(buf); herr == nil {
				bad.hdr, bad.key = &hh, append([]byte(nil), k...)
			}
			return bad
		}
		if err := fn(off, h, key, val); err != nil {
			return err
		}
		off += int64(n)
	}
	return nil
}

// resync looks for the next offset in (from, end) where a record starts,
// after damage at from: one whose header and key verify (its value may be
// damaged too: the caller indexes and reports it), or with whole set, a
// fully valid one. It returns -1 if there is none.
func resync(f *os.File, from, end int64, whole bool) int64 {
	const chunk = 1 << 20
	buf := make([]byte, chunk+record.HeaderSize)
	for base := from + 1; base < end; base += chunk {
		n, _ := f.ReadAt(buf, base)
		for i := 0; i+1 < n && base+int64(i) < end; i++ {
			if !record.IsMagic(buf[i:n]) {
				continue
			}
			cand := base + int64(i)
			if validAt(f, cand, end, whole) {
				return cand
			}
		}
	}
	return -1
}

// validAt reports whether a record whose header verifies (and, with whole,
// its value too) starts at off and ends by end.
func validAt(f *os.File, off, end int64, whole bool) bool {
	hdr := make([]byte, record.HeaderSize+record.MaxKeySize)
	n, _ := f.ReadAt(hdr, off)
	h, _, err := record.DecodeHeader(hdr[:n])
	if err != nil || off+int64(h.Len()) > end {
		return false
	}
	if !whole {
		return true
	}
	rec := make([]byte, h.Len())
	if _, err := f.ReadAt(rec, off); err != nil {
		return false
	}
	_, _, _, err = record.Decode(rec)
	return err == nil
}
