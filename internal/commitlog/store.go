package commitlog

import (
	"context"
	"fmt"
	"strconv"
	"strings"
)

// Store keeps the encoded batches. A Log writes batch i only after batch
// i-1 landed, and may write the same batch (same bytes) again after a
// failure, so PutBatch must replace what it holds for that index.
type Store interface {
	// PutBatch stores data as batch index, replacing any previous value.
	PutBatch(ctx context.Context, index uint64, data []byte) error
	// GetBatch returns batch index; for a batch it does not hold it
	// returns an error wrapping ErrNotFound.
	GetBatch(ctx context.Context, index uint64) ([]byte, error)
	// LastBatch returns the highest index it holds; ok is false when it
	// holds none.
	LastBatch(ctx context.Context) (index uint64, ok bool, err error)
}

// KeyPrefix is the object key prefix under which an object store keeps
// the batches (see BatchKey).
const KeyPrefix = ".zstor/log/"

// BatchKey is the object key of batch i: KeyPrefix and i in 16 lower-case
// hex digits, so that the keys sort in batch order and the last key listed
// under KeyPrefix is the last batch.
func BatchKey(i uint64) string {
	return fmt.Sprintf("%s%016x", KeyPrefix, i)
}

// ParseBatchKey returns the index of a key made by BatchKey; ok is false
// for any other key (other prefix, length, upper-case or non-hex digits).
func ParseBatchKey(key string) (index uint64, ok bool) {
	h, found := strings.CutPrefix(key, KeyPrefix)
	if !found || len(h) != 16 || strings.ToLower(h) != h {
		return 0, false
	}
	i, err := strconv.ParseUint(h, 16, 64)
	if err != nil {
		return 0, false
	}
	return i, true
}
