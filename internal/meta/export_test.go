package meta

import (
	"time"

	bolt "go.etcd.io/bbolt"
)

// CommitStats returns the number of write transactions, the writes they
// held and the time they took.
func (b *Bolt) CommitStats() (commits, writes int64, d time.Duration) {
	return b.stats.commits.Load(), b.stats.writes.Load(), time.Duration(b.stats.nanos.Load())
}

// UnmarshalUnchecked is Unmarshal without the checksums, for fuzzing.
func UnmarshalUnchecked(b []byte) (*Object, error) { return unmarshal(b, false) }

// DB is the store's bbolt database, for tests that write around the Store.
func (b *Bolt) DB() *bolt.DB { return b.db }

// BulkLoad stores n records made by gen straight through bbolt, many per
// transaction, for filling large test stores quickly. Keys must come in
// increasing order.
func (b *Bolt) BulkLoad(n int, gen func(i int) *Object) error {
	const perTx = 50_000
	for start := 0; start < n; start += perTx {
		err := b.db.Update(func(tx *bolt.Tx) error {
			bk := tx.Bucket(objectsBucket)
			bk.FillPercent = 0.9
			for i := start; i < min(n, start+perTx); i++ {
				o := gen(i)
				rec, err := o.MarshalBinary()
				if err != nil {
					return err
				}
				if err := bk.Put([]byte(o.Key), rec); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			return err
		}
	}
	return nil
}
