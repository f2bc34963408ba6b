package commitlog

import "errors"

// Sentinel errors; the errors returned by the package wrap them (test with
// errors.Is) together with what failed.
var (
	// ErrNotFound is what a Store returns (wrapped or not) from GetBatch
	// for a batch it does not hold. Verify reports it as a gap.
	ErrNotFound = errors.New("commitlog: batch not found")
	// ErrInvalid is an entry, batch, option or key that cannot be encoded
	// or used as given.
	ErrInvalid = errors.New("commitlog: invalid")
	// ErrCorrupt is stored data that does not decode or does not verify.
	ErrCorrupt = errors.New("commitlog: corrupt")
	// ErrWrongKey is a stored batch signed by a key other than the one
	// expected.
	ErrWrongKey = errors.New("commitlog: signed by another key")
	// ErrClosed is an Append to a closed Log.
	ErrClosed = errors.New("commitlog: log closed")
	// ErrDropped is an entry dropped because the buffer was full.
	ErrDropped = errors.New("commitlog: buffer full, entry dropped")
)
