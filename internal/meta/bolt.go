package meta

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	bolt "go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"
)

// Top-level buckets: records by object key, and the parent of the side
// tables (one nested bucket each).
var (
	objectsBucket = []byte("objects")
	tablesBucket  = []byte("tables")
)

// Pages of List, Walk and Table.Scan: each is read in one transaction, then
// handed to the callback outside it.
const (
	listPage  = 1000
	walkPage  = 256
	walkBytes = 8 << 20 // encoded bytes per Walk page (a 10 GiB object is ~1.8 MB)
)

// BoltOptions configure OpenBolt. The zero value is the default.
type BoltOptions struct {
	// Timeout is how long to wait for the file lock while another process
	// holds the store; default 1s.
	Timeout time.Duration
	// NoSync skips fsync: a crash can lose or damage the store. For tests.
	NoSync bool
}

// ErrInUse is what OpenBolt returns (wrapped) when another process holds
// the store.
var ErrInUse = errors.New("meta: store in use")

// inUseError names the store that another process holds.
type inUseError struct{ path string }

func (e *inUseError) Error() string {
	return fmt.Sprintf("metadata store %s is in use by another process", e.path)
}

func (e *inUseError) Unwrap() error { return ErrInUse }

// Bolt is the Store kept in one bbolt file, and the Tables beside it.
//
// Writes are durable on return (fsync), and concurrent writes share
// transactions (see update). List, Walk and Table.Scan read a page of
// entries at a time in a read transaction and run their callback outside
// it, so callbacks may write to the store; they see every key that exists
// throughout the walk exactly once, in key order, and keys changed during
// it may or may not be seen.
type Bolt struct {
	db   *bolt.DB
	path string

	closed    atomic.Bool
	mu        sync.Mutex    // guards busy and pending (group commit)
	busy      bool          // a commit is running or gathering
	pending   []*writeOp    // writes for the next commit
	lastBatch int           // writes in the last commit
	full      chan struct{} // closed when want writes are pending
	want      int
	stats     commitStats
	inflight  sync.WaitGroup
}

var _ Store = (*Bolt)(nil)

// OpenBolt opens the store at path, creating the file and its directory
// if needed. When another process holds it, OpenBolt waits up to
// opts.Timeout and then fails with an error wrapping ErrInUse.
func OpenBolt(path string, opts BoltOptions) (*Bolt, error) {
	if opts.Timeout <= 0 {
		opts.Timeout = time.Second
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("meta: create store directory: %w", err)
	}
	db, err := bolt.Open(path, 0o600, &bolt.Options{
		Timeout:      opts.Timeout,
		NoSync:       opts.NoSync,
		FreelistType: bolt.FreelistMapType,
	})
	if errors.Is(err, berrors.ErrTimeout) {
		return nil, &inUseError{path}
	}
	if err != nil {
		return nil, fmt.Errorf("meta: open %s: %w", path, err)
	}
	err = db.Update(func(tx *bolt.Tx) error {
		for _, name := range [][]byte{objectsBucket, tablesBucket} {
			if _, err := tx.CreateBucketIfNotExists(name); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("meta: open %s: %w", path, err)
	}
	return &Bolt{db: db, path: path}, nil
}

// Path returns the store's file.
func (b *Bolt) Path() string { return b.path }

// Close waits for the writes under way and closes the file. Later calls,
// a second Close included, return ErrClosed.
func (b *Bolt) Close() error {
	b.mu.Lock()
	if b.closed.Load() {
		b.mu.Unlock()
		return ErrClosed
	}
	b.closed.Store(true)
	b.mu.Unlock()
	b.inflight.Wait()
	if err := b.db.Close(); err != nil {
		return fmt.Errorf("meta: close %s: %w", b.path, err)
	}
	return nil
}

func mapClosed(err error) error {
	if errors.Is(err, berrors.ErrDatabaseNotOpen) {
		return ErrClosed
	}
	return err
}

func (b *Bolt) view(fn func(*bolt.Tx) error) error {
	if b.closed.Load() {
		return ErrClosed
	}
	return mapClosed(b.db.View(fn))
}

// opError names the operation and key of a failure; the package's
// sentinels lead the message.
func opError(op, key string, err error) error {
	if errors.Is(err, ErrNotFound) || errors.Is(err, ErrConflict) || errors.Is(err, ErrClosed) {
		return fmt.Errorf("%w: %s %q", err, op, key)
	}
	return fmt.Errorf("meta: %s %q: %w", op, key, err)
}

// Get returns key's record, or ErrNotFound.
func (b *Bolt) Get(ctx context.Context, key string) (*Object, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	var o *Object
	err := b.view(func(tx *bolt.Tx) error {
		v := tx.Bucket(objectsBucket).Get([]byte(key))
		if v == nil {
			return ErrNotFound
		}
		var err error
		o, err = Unmarshal(v) // copies out of the mmap
		if err == nil && o.Key != key {
			err = fmt.Errorf("%w: record holds key %q", ErrCorrupt, o.Key)
		}
		return err
	})
	if err != nil {
		return nil, opError("get", key, err)
	}
	return o, nil
}

// Put stores o and returns the record it replaced. Should the replaced
// record not decode, o is stored all the same and the error wraps
// ErrCorrupt.
func (b *Bolt) Put(ctx context.Context, o *Object) (*Object, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	rec, err := o.MarshalBinary()
	if err != nil {
		return nil, err
	}
	key := []byte(o.Key)
	var prev []byte
	err = b.update(func(tx *bolt.Tx) error {
		bk := tx.Bucket(objectsBucket)
		prev = slices.Clone(bk.Get(key))
		return bk.Put(key, rec)
	})
	if err != nil {
		return nil, opError("put", o.Key, err)
	}
	if prev == nil {
		return nil, nil
	}
	p, err := Unmarshal(prev)
	if err != nil {
		return nil, opError("put: replaced record", o.Key, err)
	}
	return p, nil
}

// CompareAndPut stores o while the current version of o.Key is expect.
func (b *Bolt) CompareAndPut(ctx context.Context, o *Object, expect VersionID) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	rec, err := o.MarshalBinary()
	if err != nil {
		return err
	}
	key := []byte(o.Key)
	err = b.update(func(tx *bolt.Tx) error {
		bk := tx.Bucket(objectsBucket)
		cur := bk.Get(key)
		if cur == nil {
			return ErrNotFound
		}
		v, err := recordVersionID(key, cur)
		if err != nil {
			return err
		}
		if v != expect {
			return ErrConflict
		}
		return bk.Put(key, rec)
	})
	if err != nil {
		return opError("compare-and-put", o.Key, err)
	}
	return nil
}

// Delete removes key's record and returns it. Should the record not
// decode, it is removed all the same and the error wraps ErrCorrupt.
func (b *Bolt) Delete(ctx context.Context, key string) (*Object, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	k := []byte(key)
	var prev []byte
	err := b.update(func(tx *bolt.Tx) error {
		bk := tx.Bucket(objectsBucket)
		if prev = slices.Clone(bk.Get(k)); prev == nil {
			return ErrNotFound
		}
		return bk.Delete(k)
	})
	if err != nil {
		return nil, opError("delete", key, err)
	}
	o, err := Unmarshal(prev)
	if err != nil {
		return nil, opError("delete: removed record", key, err)
	}
	return o, nil
}

// List calls fn with the summary of each object whose key starts with
// prefix and sorts after after. A record that does not decode stops the
// listing with an error wrapping ErrCorrupt that names its key; listing
// can go on past it with after set to that key.
func (b *Bolt) List(ctx context.Context, prefix, after string, fn func(Info) error) error {
	page := make([]Info, 0, listPage)
	return b.pages(ctx, objectsBucket, nil, []byte(prefix), []byte(after),
		func(k, v []byte) (bool, error) {
			info, err := UnmarshalInfo(v)
			if err == nil && info.Key != string(k) {
				err = fmt.Errorf("%w: record holds key %q", ErrCorrupt, info.Key)
			}
			if err != nil {
				return false, opError("list: record", string(k), err)
			}
			page = append(page, info)
			return len(page) == listPage, nil
		},
		func() error {
			defer func() { page = page[:0] }()
			for _, info := range page {
				if err := ctx.Err(); err != nil {
					return err
				}
				if err := fn(info); err != nil {
					return err
				}
			}
			return nil
		})
}

// Walk calls fn with each record whose key starts with prefix, in key
// order. A record that does not decode stops the walk with an error
// wrapping ErrCorrupt that names its key.
func (b *Bolt) Walk(ctx context.Context, prefix string, fn func(*Object) error) error {
	var page []*Object
	size := 0
	return b.pages(ctx, objectsBucket, nil, []byte(prefix), nil,
		func(k, v []byte) (bool, error) {
			o, err := Unmarshal(v)
			if err == nil && o.Key != string(k) {
				err = fmt.Errorf("%w: record holds key %q", ErrCorrupt, o.Key)
			}
			if err != nil {
				return false, opError("walk: record", string(k), err)
			}
			page = append(page, o)
			size += len(v)
			return len(page) == walkPage || size >= walkBytes, nil
		},
		func() error {
			defer func() { clear(page); page, size = page[:0], 0 }()
			for _, o := range page {
				if err := ctx.Err(); err != nil {
					return err
				}
				if err := fn(o); err != nil {
					return err
				}
			}
			return nil
		})
}

// pages walks the entries of a bucket (top-level, or nested in parent)
// whose keys start with prefix and sort after after, a page at a time:
// collect sees each entry inside a read transaction, keeps a copy of what
// it needs and says when the page is full; flush then runs outside the
// transaction. An error from collect is returned after the entries before
// it were flushed. A missing nested bucket is empty.
func (b *Bolt) pages(ctx context.Context, name, parent, prefix, after []byte,
	collect func(k, v []byte) (full bool, err error), flush func() error,
) error {
	seek, skip := prefix, false
	if bytes.Compare(after, prefix) >= 0 {
		seek, skip = after, true
	}
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		var more bool
		var collectErr error
		err := b.view(func(tx *bolt.Tx) error {
			bk := tx.Bucket(name)
			if parent != nil {
				bk = tx.Bucket(parent).Bucket(name)
			}
			if bk == nil {
				return nil
			}
			c := bk.Cursor()
			k, v := c.Seek(seek)
			if skip && bytes.Equal(k, seek) {
				k, v = c.Next()
			}
			for ; k != nil && bytes.HasPrefix(k, prefix); k, v = c.Next() {
				if v == nil {
					continue // a nested bucket, not an entry
				}
				full, err := collect(k, v)
				if err != nil {
					collectErr = err
					return nil
				}
				if full {
					seek, skip, more = slices.Clone(k), true, true
					return nil
				}
			}
			return nil
		})
		if err != nil {
			return err
		}
		if err := flush(); err != nil {
			return err
		}
		if collectErr != nil {
			return collectErr
		}
		if !more {
			return nil
		}
	}
}

// Count returns the number of records.
func (b *Bolt) Count(ctx context.Context) (int, error) {
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	var n int
	err := b.view(func(tx *bolt.Tx) error {
		n = tx.Bucket(objectsBucket).Stats().KeyN
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("meta: count: %w", err)
	}
	return n, nil
}
