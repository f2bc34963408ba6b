package meta

import (
	"context"
	"errors"
)

// Errors, for errors.Is.
var (
	ErrNotFound = errors.New("meta: object not found")
	ErrConflict = errors.New("meta: object changed concurrently")
	ErrCorrupt  = errors.New("meta: corrupt record")
	ErrClosed   = errors.New("meta: store closed")
)

// Store keeps object records. Implementations are safe for concurrent use,
// and a call that returns nil has made its change durable.
type Store interface {
	// Get returns key's current record, or ErrNotFound.
	Get(ctx context.Context, key string) (*Object, error)
	// Put makes o the current record of o.Key and returns the record it
	// replaced (nil when there was none).
	Put(ctx context.Context, o *Object) (prev *Object, err error)
	// CompareAndPut replaces key's record only while its current version
	// is expect (repair swaps shard locations this way); otherwise it
	// returns ErrConflict (or ErrNotFound when the key is gone).
	CompareAndPut(ctx context.Context, o *Object, expect VersionID) error
	// Delete removes key's record and returns it, or ErrNotFound.
	Delete(ctx context.Context, key string) (*Object, error)
	// List calls fn with the summary of every object whose key starts
	// with prefix and sorts after after, in key order, without decoding
	// block lists. fn returning an error stops the walk with that error.
	// fn may call the store (Walk's callers rewrite records as they go).
	List(ctx context.Context, prefix, after string, fn func(Info) error) error
	// Walk is List with whole records (for repair, sweep and check).
	Walk(ctx context.Context, prefix string, fn func(*Object) error) error
	// Close releases the store.
	Close() error
}
