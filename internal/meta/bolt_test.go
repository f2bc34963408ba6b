package meta_test

import (
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/zerostor/zerostor/internal/meta"
	"github.com/zerostor/zerostor/internal/meta/metatest"
	bolt "go.etcd.io/bbolt"
)

func openBolt(t testing.TB, path string, opts meta.BoltOptions) *meta.Bolt {
	t.Helper()
	b, err := meta.OpenBolt(path, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	return b
}

func TestBoltConformance(t *testing.T) {
	var mu sync.Mutex
	dirs := map[string]string{} // by test: a reopened store finds its file
	metatest.Run(t, func(t *testing.T) meta.Store {
		mu.Lock()
		dir, ok := dirs[t.Name()]
		if !ok {
			dir = t.TempDir()
			dirs[t.Name()] = dir
		}
		mu.Unlock()
		b, err := meta.OpenBolt(filepath.Join(dir, "meta.db"), meta.BoltOptions{})
		if err != nil {
			t.Fatal(err)
		}
		return b
	})
}

func TestBoltOpen(t *testing.T) {
	path := filepath.Join(t.TempDir(), "a", "b", "meta.db")
	b := openBolt(t, path, meta.BoltOptions{})
	start := time.Now()
	_, err := meta.OpenBolt(path, meta.BoltOptions{Timeout: 100 * time.Millisecond})
	if !errors.Is(err, meta.ErrInUse) || !strings.Contains(err.Error(), path+" is in use by another process") {
		t.Fatalf("second open: %v", err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("second open gave up after %v, want about 100ms", d)
	}
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	if err := b.Close(); !errors.Is(err, meta.ErrClosed) {
		t.Fatalf("second close: %v", err)
	}
	openBolt(t, path, meta.BoltOptions{}) // free again
}

func TestBoltCount(t *testing.T) {
	b := openBolt(t, filepath.Join(t.TempDir(), "meta.db"), meta.BoltOptions{NoSync: true})
	ctx := t.Context()
	for i := range 30 {
		if _, err := b.Put(ctx, metatest.NewObject(fmt.Sprint(i), metatest.Shape{})); err != nil {
			t.Fatal(err)
		}
	}
	b.Table("side").Put(ctx, []byte("x"), []byte("y"))
	if _, err := b.Delete(ctx, "7"); err != nil {
		t.Fatal(err)
	}
	if n, err := b.Count(ctx); n != 29 || err != nil {
		t.Fatalf("count: %d, %v", n, err)
	}
	b.Close()
	if _, err := b.Count(ctx); !errors.Is(err, meta.ErrClosed) {
		t.Fatalf("count after close: %v", err)
	}
}

// TestBoltCorrupt stores damaged records behind the store's back.
func TestBoltCorrupt(t *testing.T) {
	b := openBolt(t, filepath.Join(t.TempDir(), "meta.db"), meta.BoltOptions{NoSync: true})
	ctx := t.Context()
	for _, k := range []string{"a", "b", "c", "d"} {
		if _, err := b.Put(ctx, metatest.NewObject(k, metatest.Shape{Size: 5000})); err != nil {
			t.Fatal(err)
		}
	}
	other, _ := metatest.NewObject("other", metatest.Shape{}).MarshalBinary()
	err := b.DB().Update(func(tx *bolt.Tx) error {
		bk := tx.Bucket([]byte("objects"))
		if err := bk.Put([]byte("b"), []byte("garbage")); err != nil {
			return err
		}
		return bk.Put([]byte("c"), other) // a valid record under another key
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := b.Get(ctx, "b"); !errors.Is(err, meta.ErrCorrupt) || !strings.Contains(err.Error(), `"b"`) {
		t.Fatalf("get of a corrupt record: %v", err)
	}
	if _, err := b.Get(ctx, "c"); !errors.Is(err, meta.ErrCorrupt) {
		t.Fatalf("get of a record under another key: %v", err)
	}
	var seen []string
	collect := func(i meta.Info) error { seen = append(seen, i.Key); return nil }
	err = b.List(ctx, "", "", collect)
	if !errors.Is(err, meta.ErrCorrupt) || !strings.Contains(err.Error(), `"b"`) || !slices.Equal(seen, []string{"a"}) {
		t.Fatalf("list over a corrupt record: %q, %v", seen, err)
	}
	err = b.List(ctx, "", "b", collect)
	if !errors.Is(err, meta.ErrCorrupt) || !strings.Contains(err.Error(), `"c"`) {
		t.Fatalf("list over a record under another key: %v", err)
	}
	seen = nil
	if err := b.List(ctx, "", "c", collect); err != nil || !slices.Equal(seen, []string{"d"}) {
		t.Fatalf("list past the damage: %q, %v", seen, err)
	}
	if err := b.Walk(ctx, "", func(*meta.Object) error { return nil }); !errors.Is(err, meta.ErrCorrupt) {
		t.Fatalf("walk over a corrupt record: %v", err)
	}
	// Replacing and deleting damaged records works, and says what it found.
	if _, err := b.Put(ctx, metatest.NewObject("b", metatest.Shape{})); !errors.Is(err, meta.ErrCorrupt) {
		t.Fatalf("put over a corrupt record: %v", err)
	}
	if _, err := b.Get(ctx, "b"); err != nil {
		t.Fatalf("get after replacing a corrupt record: %v", err)
	}
	o := metatest.NewObject("c", metatest.Shape{})
	if err := b.CompareAndPut(ctx, o, o.Version); !errors.Is(err, meta.ErrCorrupt) {
		t.Fatalf("compare-and-put over another key's record: %v", err)
	}
}

func TestTable(t *testing.T) {
	path := filepath.Join(t.TempDir(), "meta.db")
	b := openBolt(t, path, meta.BoltOptions{NoSync: true})
	ctx := t.Context()
	pending, other := b.Table("pending"), b.Table("other")
	if _, err := pending.Get(ctx, []byte("x")); !errors.Is(err, meta.ErrNotFound) {
		t.Fatalf("get from a new table: %v", err)
	}
	if err := pending.Delete(ctx, []byte("x")); err != nil {
		t.Fatalf("delete from a new table: %v", err)
	}
	if err := pending.Scan(ctx, nil, func(k, v []byte) error { return errors.New("entry in a new table") }); err != nil {
		t.Fatal(err)
	}
	for _, kv := range [][2]string{{"a/1", "one"}, {"a/2", ""}, {"b", "bee"}} {
		if err := pending.Put(ctx, []byte(kv[0]), []byte(kv[1])); err != nil {
			t.Fatal(err)
		}
	}
	if err := other.Put(ctx, []byte("a/1"), []byte("other")); err != nil {
		t.Fatal(err)
	}
	if _, err := b.Put(ctx, metatest.NewObject("a/1", metatest.Shape{})); err != nil {
		t.Fatal(err)
	}
	if err := pending.Put(ctx, nil, []byte("v")); err == nil {
		t.Fatal("put of an empty key succeeded")
	}
	check := func(tb *meta.Table, key, want string) {
		t.Helper()
		v, err := tb.Get(ctx, []byte(key))
		if err != nil || string(v) != want || v == nil {
			t.Fatalf("get %q: %q, %v; want %q", key, v, err, want)
		}
	}
	check(pending, "a/1", "one")
	check(pending, "a/2", "")
	check(other, "a/1", "other")
	scan := func(tb *meta.Table, prefix string) []string {
		t.Helper()
		var got []string
		err := tb.Scan(ctx, []byte(prefix), func(k, v []byte) error {
			got = append(got, string(k)+"="+string(v))
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		return got
	}
	if got := scan(pending, "a/"); !slices.Equal(got, []string{"a/1=one", "a/2="}) {
		t.Fatalf("scan a/: %q", got)
	}
	if got := scan(pending, ""); len(got) != 3 {
		t.Fatalf("scan: %q", got)
	}
	if err := pending.Delete(ctx, []byte("a/1")); err != nil {
		t.Fatal(err)
	}
	if _, err := pending.Get(ctx, []byte("a/1")); !errors.Is(err, meta.ErrNotFound) {
		t.Fatalf("get after delete: %v", err)
	}
	if n, _ := b.Count(ctx); n != 1 {
		t.Fatalf("tables counted as objects: %d", n)
	}

	// Many entries, deleted from inside the scan (a queue being drained).
	const n = 2500
	for i := range n {
		if err := pending.Put(ctx, fmt.Appendf(nil, "q/%05d", i), []byte{byte(i)}); err != nil {
			t.Fatal(err)
		}
	}
	i := 0
	err := pending.Scan(ctx, []byte("q/"), func(k, v []byte) error {
		if string(k) != fmt.Sprintf("q/%05d", i) || v[0] != byte(i) {
			return fmt.Errorf("entry %d: %q=%x", i, k, v)
		}
		i++
		return pending.Delete(ctx, k)
	})
	if err != nil || i != n {
		t.Fatalf("scan while deleting: %d of %d, %v", i, n, err)
	}
	if got := scan(pending, "q/"); len(got) != 0 {
		t.Fatalf("%d entries left", len(got))
	}
	stop := errors.New("stop")
	if err := pending.Scan(ctx, nil, func(k, v []byte) error { return stop }); !errors.Is(err, stop) {
		t.Fatalf("scan stopped by fn: %v", err)
	}

	b.Close()
	if err := pending.Put(ctx, []byte("x"), nil); !errors.Is(err, meta.ErrClosed) {
		t.Fatalf("put after close: %v", err)
	}
	if _, err := pending.Get(ctx, []byte("b")); !errors.Is(err, meta.ErrClosed) {
		t.Fatalf("get after close: %v", err)
	}
	b = openBolt(t, path, meta.BoltOptions{})
	check(b.Table("pending"), "b", "bee")
	check(b.Table("other"), "a/1", "other")
}

// TestList100k lists 100,000 objects by prefix.
func TestList100k(t *testing.T) {
	b := openBolt(t, filepath.Join(t.TempDir(), "meta.db"), meta.BoltOptions{NoSync: true})
	const dirs, per = 100, 1000
	if err := b.BulkLoad(dirs*per, func(i int) *meta.Object { return smallObject(i, per) }); err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	for _, d := range []int{0, 42, 99} {
		want := 0
		err := b.List(ctx, fmt.Sprintf("d%03d/", d), "", func(i meta.Info) error {
			if k := fmt.Sprintf("d%03d/o%06d", d, want); i.Key != k || i.Size != int64((d*per+want)%4096) {
				return fmt.Errorf("got %q (size %d), want %q", i.Key, i.Size, k)
			}
			want++
			return nil
		})
		if err != nil || want != per {
			t.Fatalf("list d%03d/: %d objects, %v", d, want, err)
		}
	}
	n := 0
	if err := b.List(ctx, "", "d050/o000499", func(meta.Info) error { n++; return nil }); err != nil || n != 49*per+500 {
		t.Fatalf("list after d050/o000499: %d objects, %v", n, err)
	}
	if c, err := b.Count(ctx); c != dirs*per || err != nil {
		t.Fatalf("count: %d, %v", c, err)
	}
}

// smallObject is the i-th of the listing tests' objects: a 1-block
// object with 4+2 shards under d<dir>/o<i>.
func smallObject(i, perDir int) *meta.Object {
	key := fmt.Sprintf("d%03d/o%06d", i/perDir, i%perDir)
	return metatest.NewObject(key, metatest.Shape{Size: int64(i % 4096), Seed: uint64(i), UserMeta: map[string]string{"etag": "x"}})
}

// TestBoltCloseWhileWriting closes the store under concurrent writers:
// every write either succeeds (and survives) or fails with ErrClosed.
func TestBoltCloseWhileWriting(t *testing.T) {
	path := filepath.Join(t.TempDir(), "meta.db")
	b := openBolt(t, path, meta.BoltOptions{})
	var mu sync.Mutex
	var done []string
	var wg sync.WaitGroup
	for w := range 8 {
		wg.Go(func() {
			for i := 0; ; i++ {
				key := fmt.Sprintf("w%d/%04d", w, i)
				_, err := b.Put(t.Context(), metatest.NewObject(key, metatest.Shape{}))
				if errors.Is(err, meta.ErrClosed) {
					return
				}
				if err != nil {
					t.Error(err)
					return
				}
				mu.Lock()
				done = append(done, key)
				mu.Unlock()
			}
		})
	}
	time.Sleep(50 * time.Millisecond)
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	wg.Wait()
	b = openBolt(t, path, meta.BoltOptions{})
	n, err := b.Count(t.Context())
	if err != nil || n != len(done) {
		t.Fatalf("%d records after reopening, %d puts succeeded (%v)", n, len(done), err)
	}
}
