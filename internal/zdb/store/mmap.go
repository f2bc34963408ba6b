package store

import (
	"bytes"
	"errors"
	"fmt"
	"runtime/debug"
	"syscall"
)

// Reads go through a read-only shared mapping of each data file instead of
// pread(2): on this class of machine a syscall costs more than copying a
// 4 KiB value, and GET is the hot path. Writes still use pwrite; the page
// cache is shared, so the mapping sees every write once it returned.
//
// A mapping may extend past the end of the file (the active file is mapped
// for its whole capacity); only bytes below the file's size are ever read.
// Touching a page that is gone (a file truncated behind our back, a disk
// I/O error) raises SIGBUS; readAt turns that into an error instead of a
// crash with debug.SetPanicOnFault.

// maxRecord is the largest record: header, key and value.
const maxRecord = 36 + 255 + 8<<20

// mapFile maps length bytes of d read-only; without a mapping reads fall
// back to pread.
func (d *dataFile) mapFile(length int64) {
	if length <= 0 {
		return
	}
	mm, err := syscall.Mmap(int(d.f.Fd()), 0, int(length), syscall.PROT_READ, syscall.MAP_SHARED)
	if err != nil {
		return
	}
	d.mm = mm
}

func (d *dataFile) unmap() {
	if d.mm != nil {
		syscall.Munmap(d.mm)
		d.mm = nil
	}
}

var errFault = errors.New("memory fault reading data file")

// readAt fills buf from offset off, from the mapping when it covers the
// range and with pread otherwise.
func (d *dataFile) readAt(buf []byte, off int64) (err error) {
	end := off + int64(len(buf))
	if d.mm == nil || end > int64(len(d.mm)) || end > d.size.Load() {
		_, err = d.f.ReadAt(buf, off)
		return err
	}
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("%w at offset %d: %v", errFault, off, r)
		}
	}()
	copy(buf, d.mm[off:end])
	return nil
}

// equalAt reports whether the file holds v at offset off, comparing in
// place through the mapping when it covers the range.
func (d *dataFile) equalAt(v []byte, off int64) (eq bool, err error) {
	end := off + int64(len(v))
	if d.mm == nil || end > int64(len(d.mm)) || end > d.size.Load() {
		buf := make([]byte, len(v))
		if err := d.readAt(buf, off); err != nil {
			return false, err
		}
		return bytes.Equal(buf, v), nil
	}
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	defer func() {
		if r := recover(); r != nil {
			eq, err = false, fmt.Errorf("%w at offset %d: %v", errFault, off, r)
		}
	}()
	return bytes.Equal(d.mm[off:end], v), nil
}
