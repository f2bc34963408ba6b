package meta

import (
	"bytes"
	"context"
	"fmt"
	"slices"

	bolt "go.etcd.io/bbolt"
)

// Table is a durable byte key/value table inside the same store, for
// zstor's own state (write intents, the repair queue). Writes are durable
// on return and group-committed with the store's other writes; values
// returned are copies.
type Table struct {
	b    *Bolt
	name []byte
}

const tablePage = 1000

// Table returns the table called name (non-empty), created by its first
// Put. Tables are apart from the objects and from each other.
func (b *Bolt) Table(name string) *Table {
	return &Table{b: b, name: []byte(name)}
}

func (t *Table) errorf(op string, key []byte, err error) error {
	return opError(fmt.Sprintf("table %s: %s", t.name, op), string(key), err)
}

// Put sets key (non-empty) to val.
func (t *Table) Put(ctx context.Context, key, val []byte) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	val = slices.Clone(val) // bbolt keeps it until the commit
	if val == nil {
		val = []byte{}
	}
	err := t.b.update(func(tx *bolt.Tx) error {
		bk, err := tx.Bucket(tablesBucket).CreateBucketIfNotExists(t.name)
		if err != nil {
			return err
		}
		return bk.Put(key, val)
	})
	if err != nil {
		return t.errorf("put", key, err)
	}
	return nil
}

// Get returns key's value, or ErrNotFound.
func (t *Table) Get(ctx context.Context, key []byte) ([]byte, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	var val []byte
	err := t.b.view(func(tx *bolt.Tx) error {
		bk := tx.Bucket(tablesBucket).Bucket(t.name)
		if bk == nil {
			return ErrNotFound
		}
		v := bk.Get(key)
		if v == nil {
			return ErrNotFound
		}
		val = append([]byte{}, v...)
		return nil
	})
	if err != nil {
		return nil, t.errorf("get", key, err)
	}
	return val, nil
}

// Delete removes key; a missing key is not an error.
func (t *Table) Delete(ctx context.Context, key []byte) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	err := t.b.update(func(tx *bolt.Tx) error {
		bk := tx.Bucket(tablesBucket).Bucket(t.name)
		if bk == nil {
			return nil
		}
		return bk.Delete(key)
	})
	if err != nil {
		return t.errorf("delete", key, err)
	}
	return nil
}

// Scan calls fn with each entry whose key starts with prefix, in key
// order, with copies that fn may keep. fn may change the table (entries
// are read a page at a time); an error from fn stops the scan with that
// error.
func (t *Table) Scan(ctx context.Context, prefix []byte, fn func(k, v []byte) error) error {
	type kv struct{ k, v []byte }
	var page []kv
	return t.b.pages(ctx, t.name, tablesBucket, prefix, nil,
		func(k, v []byte) (bool, error) {
			page = append(page, kv{slices.Clone(k), append([]byte{}, v...)})
			return len(page) == tablePage, nil
		},
		func() error {
			defer func() { clear(page); page = page[:0] }()
			for _, e := range page {
				if err := ctx.Err(); err != nil {
					return err
				}
				if err := fn(e.k, e.v); err != nil {
					return err
				}
			}
			return nil
		})
}

// CompareAndSwap sets key to val (deletes it when val is nil) only while
// its value is old: a worker that took an entry does not overwrite or drop
// a newer one written meanwhile. It reports whether it swapped.
func (t *Table) CompareAndSwap(ctx context.Context, key, old, val []byte) (bool, error) {
	if err := ctx.Err(); err != nil {
		return false, err
	}
	val = slices.Clone(val)
	swapped := false
	err := t.b.update(func(tx *bolt.Tx) error {
		bk := tx.Bucket(tablesBucket).Bucket(t.name)
		if bk == nil {
			return nil
		}
		if v := bk.Get(key); v == nil || !bytes.Equal(v, old) {
			return nil
		}
		swapped = true
		if val == nil {
			return bk.Delete(key)
		}
		return bk.Put(key, val)
	})
	if err != nil {
		return false, t.errorf("compare-and-swap", key, err)
	}
	return swapped, nil
}

// Count returns the number of entries in the table.
func (t *Table) Count(ctx context.Context) (int, error) {
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	n := 0
	err := t.b.view(func(tx *bolt.Tx) error {
		if bk := tx.Bucket(tablesBucket).Bucket(t.name); bk != nil {
			n = bk.Stats().KeyN
		}
		return nil
	})
	if err != nil {
		return 0, t.errorf("count", nil, err)
	}
	return n, nil
}
