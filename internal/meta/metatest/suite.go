package metatest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"sync"
	"testing"

	"github.com/zerostor/zerostor/internal/meta"
)

// Run checks a Store implementation. open must return an empty store the
// first time it is called for a given t, and a store over the same data
// when called again for that t after the first was closed (Run closes
// what open returns). Each subtest opens its own store.
func Run(t *testing.T, open func(t *testing.T) meta.Store) {
	for _, tc := range []struct {
		name string
		fn   func(*testing.T, func(*testing.T) meta.Store)
	}{
		{"GetMissing", testGetMissing},
		{"PutGet", testPutGet},
		{"PutReturnsPrev", testPutReturnsPrev},
		{"PutInvalid", testPutInvalid},
		{"CompareAndPut", testCompareAndPut},
		{"Delete", testDelete},
		{"List", testList},
		{"ListPages", testListPages},
		{"ListStops", testListStops},
		{"ListCancel", testListCancel},
		{"Walk", testWalk},
		{"LargeRecord", testLargeRecord},
		{"ConcurrentCAS", testConcurrentCAS},
		{"ConcurrentPut", testConcurrentPut},
		{"Reopen", testReopen},
		{"Closed", testClosed},
	} {
		t.Run(tc.name, func(t *testing.T) { tc.fn(t, open) })
	}
}

// openStore opens a store that is closed when the test ends.
func openStore(t *testing.T, open func(*testing.T) meta.Store) meta.Store {
	s := open(t)
	t.Cleanup(func() {
		if err := s.Close(); err != nil && !errors.Is(err, meta.ErrClosed) {
			t.Errorf("close: %v", err)
		}
	})
	return s
}

func mustPut(t *testing.T, s meta.Store, o *meta.Object) {
	t.Helper()
	if _, err := s.Put(t.Context(), o); err != nil {
		t.Fatalf("put %q: %v", o.Key, err)
	}
}

func mustGet(t *testing.T, s meta.Store, key string, want *meta.Object) {
	t.Helper()
	got, err := s.Get(t.Context(), key)
	if err != nil {
		t.Fatalf("get %q: %v", key, err)
	}
	if !Equal(got, want) {
		t.Fatalf("get %q: record differs from what was put", key)
	}
}

func wantErr(t *testing.T, what string, err, want error) {
	t.Helper()
	if !errors.Is(err, want) {
		t.Fatalf("%s: got error %v, want %v", what, err, want)
	}
}

// list returns the keys List reports.
func list(t *testing.T, s meta.Store, prefix, after string) []string {
	t.Helper()
	var keys []string
	err := s.List(t.Context(), prefix, after, func(i meta.Info) error {
		keys = append(keys, i.Key)
		return nil
	})
	if err != nil {
		t.Fatalf("list %q after %q: %v", prefix, after, err)
	}
	return keys
}

func testGetMissing(t *testing.T, open func(*testing.T) meta.Store) {
	s := openStore(t, open)
	_, err := s.Get(t.Context(), "missing")
	wantErr(t, "get missing", err, meta.ErrNotFound)
}

func testPutGet(t *testing.T, open func(*testing.T) meta.Store) {
	s := openStore(t, open)
	for i, sh := range []Shape{
		{},
		{Size: 1},
		{Size: 100 << 10, Missing: 7, SeqKeys: true, UserMeta: map[string]string{"content-type": "text/plain", "": "empty name"}},
	} {
		sh.Seed = uint64(i)
		o := NewObject(fmt.Sprintf("obj/%d", i), sh)
		prev, err := s.Put(t.Context(), o)
		if err != nil || prev != nil {
			t.Fatalf("first put of %q: prev %v, err %v", o.Key, prev, err)
		}
		mustGet(t, s, o.Key, o)
	}
}

func testPutReturnsPrev(t *testing.T, open func(*testing.T) meta.Store) {
	s := openStore(t, open)
	o1 := NewObject("k", Shape{Size: 10 << 10, Seed: 1})
	o2 := NewObject("k", Shape{Size: 3, Seed: 2})
	mustPut(t, s, o1)
	prev, err := s.Put(t.Context(), o2)
	if err != nil {
		t.Fatal(err)
	}
	if !Equal(prev, o1) {
		t.Fatal("put did not return the record it replaced")
	}
	mustGet(t, s, "k", o2)
}

func testPutInvalid(t *testing.T, open func(*testing.T) meta.Store) {
	s := openStore(t, open)
	bad := NewObject("bad", Shape{Size: 10 << 10})
	bad.Blocks = bad.Blocks[:1]
	_, err := s.Put(t.Context(), bad)
	wantErr(t, "put of an invalid record", err, meta.ErrInvalid)
	_, err = s.Get(t.Context(), "bad")
	wantErr(t, "get after a failed put", err, meta.ErrNotFound)
}

func testCompareAndPut(t *testing.T, open func(*testing.T) meta.Store) {
	s := openStore(t, open)
	ctx := t.Context()
	o1 := NewObject("k", Shape{Size: 5000, Seed: 1})
	o2 := NewObject("k", Shape{Size: 5000, Seed: 2})
	o3 := NewObject("k", Shape{Size: 5000, Seed: 3})
	wantErr(t, "compare-and-put of a missing key", s.CompareAndPut(ctx, o1, o1.Version), meta.ErrNotFound)
	mustPut(t, s, o1)
	if err := s.CompareAndPut(ctx, o2, o1.Version); err != nil {
		t.Fatalf("compare-and-put with the current version: %v", err)
	}
	mustGet(t, s, "k", o2)
	wantErr(t, "compare-and-put with a stale version", s.CompareAndPut(ctx, o3, o1.Version), meta.ErrConflict)
	mustGet(t, s, "k", o2)
	// Repair keeps the version and swaps shard locations.
	o2b := Clone(o2)
	o2b.Blocks[0].Shards[0].Backend = meta.NoBackend
	if err := s.CompareAndPut(ctx, o2b, o2.Version); err != nil {
		t.Fatalf("compare-and-put keeping the version: %v", err)
	}
	mustGet(t, s, "k", o2b)
	if _, err := s.Delete(ctx, "k"); err != nil {
		t.Fatal(err)
	}
	wantErr(t, "compare-and-put of a deleted key", s.CompareAndPut(ctx, o3, o2.Version), meta.ErrNotFound)
}

func testDelete(t *testing.T, open func(*testing.T) meta.Store) {
	s := openStore(t, open)
	ctx := t.Context()
	o := NewObject("k", Shape{Size: 9000, SeqKeys: true})
	_, err := s.Delete(ctx, "k")
	wantErr(t, "delete of a missing key", err, meta.ErrNotFound)
	mustPut(t, s, o)
	got, err := s.Delete(ctx, "k")
	if err != nil {
		t.Fatal(err)
	}
	if !Equal(got, o) {
		t.Fatal("delete did not return the record")
	}
	_, err = s.Get(ctx, "k")
	wantErr(t, "get after delete", err, meta.ErrNotFound)
	_, err = s.Delete(ctx, "k")
	wantErr(t, "second delete", err, meta.ErrNotFound)
	if keys := list(t, s, "", ""); len(keys) != 0 {
		t.Fatalf("list after delete: %q", keys)
	}
}

func testList(t *testing.T, open func(*testing.T) meta.Store) {
	s := openStore(t, open)
	objs := map[string]*meta.Object{}
	for i, k := range []string{"b/1", "a/2/x", "a", "a/10", "ab", "a/1", "b", "a/2", "\xff", "a/\x00"} {
		o := NewObject(k, Shape{Size: int64(i * 1000), Seed: uint64(i), UserMeta: map[string]string{"i": strconv.Itoa(i)}})
		objs[k] = o
		mustPut(t, s, o)
	}
	for _, tc := range []struct {
		prefix, after string
		want          []string
	}{
		{"", "", []string{"a", "a/\x00", "a/1", "a/10", "a/2", "a/2/x", "ab", "b", "b/1", "\xff"}},
		{"a/", "", []string{"a/\x00", "a/1", "a/10", "a/2", "a/2/x"}},
		{"a/", "a/10", []string{"a/2", "a/2/x"}},
		{"a/", "a/15", []string{"a/2", "a/2/x"}},
		{"a/", "a/", []string{"a/\x00", "a/1", "a/10", "a/2", "a/2/x"}},
		{"a/", "0", []string{"a/\x00", "a/1", "a/10", "a/2", "a/2/x"}},
		{"a/", "a/2/x", nil},
		{"a/", "b", nil},
		{"a", "a", []string{"a/\x00", "a/1", "a/10", "a/2", "a/2/x", "ab"}},
		{"b", "", []string{"b", "b/1"}},
		{"c", "", nil},
		{"", "b/1", []string{"\xff"}},
		{"a/2/x", "", []string{"a/2/x"}},
		{"a/2/xy", "", nil},
	} {
		if got := list(t, s, tc.prefix, tc.after); !slices.Equal(got, tc.want) {
			t.Errorf("list %q after %q: got %q, want %q", tc.prefix, tc.after, got, tc.want)
		}
	}
	err := s.List(t.Context(), "", "", func(i meta.Info) error {
		if !InfoEqual(i, objs[i.Key].Info()) {
			t.Errorf("list: summary of %q differs from the record's", i.Key)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// testListPages lists more objects than a page likely holds, while the
// callback writes to the store.
func testListPages(t *testing.T, open func(*testing.T) meta.Store) {
	s := openStore(t, open)
	const n = 2100
	var want []string
	for i := range n {
		want = append(want, fmt.Sprintf("p/%05d", i))
	}
	putAll(t, s, want)
	got := list(t, s, "p/", "")
	if !slices.Equal(got, want) {
		t.Fatalf("list of %d objects: got %d, out of order or missing", n, len(got))
	}
	if got := list(t, s, "p/", want[1500]); !slices.Equal(got, want[1501:]) {
		t.Fatalf("list after %q: got %d objects, want %d", want[1500], len(got), n-1501)
	}
	// A callback that writes: the listing must neither deadlock nor see
	// a key twice; keys written behind the cursor are not seen.
	seen := map[string]bool{}
	err := s.List(t.Context(), "p/", "", func(i meta.Info) error {
		if seen[i.Key] {
			return fmt.Errorf("%q listed twice", i.Key)
		}
		seen[i.Key] = true
		if len(seen)%500 == 0 {
			mustPut(t, s, NewObject("q/"+i.Key, Shape{}))
		}
		return nil
	})
	if err != nil || len(seen) != n {
		t.Fatalf("list with writes: %d of %d objects, err %v", len(seen), n, err)
	}
}

// putAll puts an object for each key, 16 at a time.
func putAll(t *testing.T, s meta.Store, keys []string) {
	t.Helper()
	parallel(t, 16, func(w int) error {
		for i := w; i < len(keys); i += 16 {
			if _, err := s.Put(t.Context(), NewObject(keys[i], Shape{Size: int64(i), Seed: uint64(i)})); err != nil {
				return err
			}
		}
		return nil
	})
}

// parallel runs work(0) .. work(workers-1) concurrently and fails t with
// the first error one of them returns.
func parallel(t *testing.T, workers int, work func(w int) error) {
	t.Helper()
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	for w := range workers {
		wg.Go(func() {
			if err := work(w); err != nil {
				errs <- err
			}
		})
	}
	wg.Wait()
	close(errs)
	if err := <-errs; err != nil {
		t.Fatal(err)
	}
}

func testListStops(t *testing.T, open func(*testing.T) meta.Store) {
	s := openStore(t, open)
	for _, k := range []string{"a", "b", "c", "d"} {
		mustPut(t, s, NewObject(k, Shape{}))
	}
	stop := errors.New("stop")
	var calls []string
	err := s.List(t.Context(), "", "", func(i meta.Info) error {
		calls = append(calls, i.Key)
		if i.Key == "b" {
			return stop
		}
		return nil
	})
	wantErr(t, "list stopped by fn", err, stop)
	if !slices.Equal(calls, []string{"a", "b"}) {
		t.Fatalf("list went on after fn failed: %q", calls)
	}
	calls = nil
	err = s.Walk(t.Context(), "", func(o *meta.Object) error {
		calls = append(calls, o.Key)
		if o.Key == "c" {
			return stop
		}
		return nil
	})
	wantErr(t, "walk stopped by fn", err, stop)
	if !slices.Equal(calls, []string{"a", "b", "c"}) {
		t.Fatalf("walk went on after fn failed: %q", calls)
	}
}

func testListCancel(t *testing.T, open func(*testing.T) meta.Store) {
	s := openStore(t, open)
	for _, k := range []string{"a", "b", "c", "d"} {
		mustPut(t, s, NewObject(k, Shape{}))
	}
	ctx, cancel := context.WithCancel(t.Context())
	n := 0
	err := s.List(ctx, "", "", func(i meta.Info) error {
		if n++; n == 2 {
			cancel()
		}
		return nil
	})
	wantErr(t, "list cancelled by its context", err, context.Canceled)
	if n != 2 {
		t.Fatalf("list went on for %d objects after its context was cancelled", n-2)
	}
	n = 0
	err = s.Walk(ctx, "", func(*meta.Object) error { n++; return nil })
	wantErr(t, "walk with a cancelled context", err, context.Canceled)
	if n != 0 {
		t.Fatalf("walk with a cancelled context visited %d objects", n)
	}
	_, err = s.Get(ctx, "a")
	wantErr(t, "get with a cancelled context", err, context.Canceled)
}

func testWalk(t *testing.T, open func(*testing.T) meta.Store) {
	s := openStore(t, open)
	objs := map[string]*meta.Object{}
	for i, k := range []string{"x/3", "x/1", "y", "x/2"} {
		o := NewObject(k, Shape{Size: int64(i) * 5000, SeqKeys: i%2 == 0, Missing: 5, Seed: uint64(i)})
		objs[k] = o
		mustPut(t, s, o)
	}
	var keys []string
	err := s.Walk(t.Context(), "x/", func(o *meta.Object) error {
		keys = append(keys, o.Key)
		if !Equal(o, objs[o.Key]) {
			t.Errorf("walk: record %q differs from what was put", o.Key)
		}
		// Repair rewrites records from inside a walk.
		return s.CompareAndPut(t.Context(), o, o.Version)
	})
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"x/1", "x/2", "x/3"}; !slices.Equal(keys, want) {
		t.Fatalf("walk: got %q, want %q", keys, want)
	}
}

func testLargeRecord(t *testing.T, open func(*testing.T) meta.Store) {
	s := openStore(t, open)
	// 1 GiB at 4 MiB blocks, 16+4, sequential-mode keys: 256 blocks.
	o := NewObject("large", Shape{Size: 1 << 30, BlockSize: 4 << 20, K: 16, M: 4, SeqKeys: true})
	mustPut(t, s, o)
	mustGet(t, s, "large", o)
	n := 0
	if err := s.List(t.Context(), "", "", func(meta.Info) error { n++; return nil }); err != nil || n != 1 {
		t.Fatalf("list: %d objects, err %v", n, err)
	}
}

// testConcurrentCAS has 16 goroutines increment a counter in one record
// with read-modify-compare-and-put: no increment may be lost.
func testConcurrentCAS(t *testing.T, open func(*testing.T) meta.Store) {
	s := openStore(t, open)
	ctx := t.Context()
	const workers, incs = 16, 15
	mustPut(t, s, NewObject("counter", Shape{UserMeta: map[string]string{"n": "0"}}))
	parallel(t, workers, func(w int) error {
		for i := 0; i < incs; {
			cur, err := s.Get(ctx, "counter")
			if err != nil {
				return err
			}
			n, _ := strconv.Atoi(cur.UserMeta["n"])
			next := Clone(cur)
			next.UserMeta["n"] = strconv.Itoa(n + 1)
			next.Version[0], next.Version[1], next.Version[2] = byte(w), byte(i), byte(n)
			switch err := s.CompareAndPut(ctx, next, cur.Version); {
			case err == nil:
				i++
			case !errors.Is(err, meta.ErrConflict):
				return err
			}
		}
		return nil
	})
	o, err := s.Get(ctx, "counter")
	if err != nil {
		t.Fatal(err)
	}
	if got := o.UserMeta["n"]; got != strconv.Itoa(workers*incs) {
		t.Fatalf("counter is %s after %d increments", got, workers*incs)
	}
}

// testConcurrentPut has 16 goroutines put distinct keys and replace them.
func testConcurrentPut(t *testing.T, open func(*testing.T) meta.Store) {
	s := openStore(t, open)
	ctx := t.Context()
	const workers, each = 16, 40
	parallel(t, workers, func(w int) error {
		for i := range each {
			key := fmt.Sprintf("w%02d/%03d", w, i)
			for round := range 2 {
				o := NewObject(key, Shape{Size: int64(round), Seed: uint64(round)})
				prev, err := s.Put(ctx, o)
				if err == nil && (prev == nil) != (round == 0) {
					err = fmt.Errorf("put %q round %d: prev %v", key, round, prev != nil)
				}
				if err != nil {
					return err
				}
			}
		}
		return nil
	})
	n := 0
	err := s.Walk(ctx, "w", func(o *meta.Object) error {
		n++
		if !Equal(o, NewObject(o.Key, Shape{Size: 1, Seed: 1})) {
			return fmt.Errorf("%q: not the last record put", o.Key)
		}
		return nil
	})
	if err != nil || n != workers*each {
		t.Fatalf("walk: %d of %d records, err %v", n, workers*each, err)
	}
}

func testReopen(t *testing.T, open func(*testing.T) meta.Store) {
	s := open(t)
	ctx := t.Context()
	a := NewObject("a", Shape{Size: 20000, SeqKeys: true, UserMeta: map[string]string{"x": "y"}})
	b := NewObject("b", Shape{Size: 1})
	c := NewObject("c", Shape{})
	for _, o := range []*meta.Object{a, b, c} {
		mustPut(t, s, o)
	}
	if _, err := s.Delete(ctx, "b"); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("close: %v", err)
	}
	s = openStore(t, open)
	mustGet(t, s, "a", a)
	mustGet(t, s, "c", c)
	_, err := s.Get(ctx, "b")
	wantErr(t, "get of a deleted key after reopening", err, meta.ErrNotFound)
	if got := list(t, s, "", ""); !slices.Equal(got, []string{"a", "c"}) {
		t.Fatalf("list after reopening: %q", got)
	}
}

func testClosed(t *testing.T, open func(*testing.T) meta.Store) {
	s := open(t)
	ctx := t.Context()
	o := NewObject("a", Shape{})
	mustPut(t, s, o)
	if err := s.Close(); err != nil {
		t.Fatalf("close: %v", err)
	}
	_, err := s.Get(ctx, "a")
	wantErr(t, "get after close", err, meta.ErrClosed)
	_, err = s.Put(ctx, o)
	wantErr(t, "put after close", err, meta.ErrClosed)
	wantErr(t, "compare-and-put after close", s.CompareAndPut(ctx, o, o.Version), meta.ErrClosed)
	_, err = s.Delete(ctx, "a")
	wantErr(t, "delete after close", err, meta.ErrClosed)
	wantErr(t, "list after close", s.List(ctx, "", "", func(meta.Info) error { return nil }), meta.ErrClosed)
	wantErr(t, "walk after close", s.Walk(ctx, "", func(*meta.Object) error { return nil }), meta.ErrClosed)
}
