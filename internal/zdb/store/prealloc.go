package store

import "golang.org/x/sys/unix"

// Appending into space the filesystem has already allocated is much faster
// than having it allocate blocks write by write (measured here: ~4.1 GB/s
// against ~5.5 GB/s). The active file is therefore preallocated ahead of
// its end, a step at a time, without changing its size (KEEP_SIZE: readers
// and recovery still see the true end). The unused rest is released when
// the file is sealed.
const preallocStep = 16 << 20

// preallocLocked makes sure space up to end is allocated.
func (s *Store) preallocLocked(f *dataFile, end int64) {
	if s.noPrealloc || end <= f.prealloc {
		return
	}
	from := max(f.prealloc, f.size.Load())
	// Ahead by one to two steps, but not past where the file will be
	// sealed.
	to := min((end/preallocStep+2)*preallocStep, max(end, s.opts.DataSize))
	if to <= from {
		return
	}
	if err := unix.Fallocate(int(f.f.Fd()), unix.FALLOC_FL_KEEP_SIZE, from, to-from); err != nil {
		// Not supported here (or the disk is full: the write will say so).
		if err == unix.EOPNOTSUPP || err == unix.ENOSYS {
			s.noPrealloc = true
		}
		return
	}
	f.prealloc = to
}

// trimPrealloc gives back the preallocated space past the end of a sealed
// file. (Punching a hole does not: ext4 clamps holes to the file size. A
// truncate to the same size does.)
func trimPrealloc(f *dataFile) {
	if f.prealloc > f.size.Load() {
		f.f.Truncate(f.size.Load())
		f.prealloc = 0
	}
}
