package commitlog_test

import (
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/zerostor/zerostor/internal/commitlog"
)

func openLog(t *testing.T, s commitlog.Store, priv ed25519.PrivateKey, opts commitlog.Options) *commitlog.Log {
	t.Helper()
	l, err := commitlog.Open(t.Context(), s, priv, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = l.Close(context.Background()) })
	return l
}

// waitFor polls cond until it holds, failing the test after 10 s.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

// verified verifies the whole log and returns its entries.
func verified(t *testing.T, s commitlog.Store, pub ed25519.PublicKey) (commitlog.Report, []commitlog.Entry) {
	t.Helper()
	var es []commitlog.Entry
	rep, err := commitlog.Verify(t.Context(), s, pub, func(e commitlog.Entry) error {
		es = append(es, e)
		return nil
	})
	if err != nil {
		t.Fatalf("verify: %v", err)
	}
	return rep, es
}

// checkKeys fails unless entries hold exactly the keys "k1".."kN" once
// each, with seqs 1..N.
func checkKeys(t *testing.T, es []commitlog.Entry, n int) {
	t.Helper()
	if len(es) != n {
		t.Fatalf("%d entries, want %d", len(es), n)
	}
	seen := map[string]bool{}
	for i, e := range es {
		if e.Seq != uint64(i+1) {
			t.Fatalf("entry %d has seq %d", i, e.Seq)
		}
		if seen[e.Key] {
			t.Fatalf("key %q twice", e.Key)
		}
		seen[e.Key] = true
	}
	for i := 1; i <= n; i++ {
		if !seen[fmt.Sprintf("k%d", i)] {
			t.Fatalf("key k%d missing", i)
		}
	}
}

func entry(key string) commitlog.Entry {
	return commitlog.Entry{Op: commitlog.OpStore, Key: key, Size: 1}
}

func TestAppendFlushResume(t *testing.T) {
	s, priv := newMemStore(), testKey(1)
	pub := priv.Public().(ed25519.PublicKey)
	ctx := t.Context()
	n := 0
	for round, count := range []int{3, 1, 0, 7} {
		l := openLog(t, s, priv, commitlog.Options{MaxDelay: time.Hour})
		if got := l.Stats().LastSeq; got != uint64(n) {
			t.Fatalf("round %d: resumed at seq %d, want %d", round, got, n)
		}
		for range count {
			n++
			if seq := l.Append(entry(fmt.Sprintf("k%d", n))); seq != uint64(n) {
				t.Fatalf("Append returned seq %d, want %d", seq, n)
			}
		}
		if err := l.Close(ctx); err != nil {
			t.Fatal(err)
		}
		st := l.Stats()
		if st.Appended != uint64(count) || st.Written != uint64(count) || st.Pending != 0 || st.LastError != nil {
			t.Errorf("round %d: stats %+v", round, st)
		}
	}
	rep, es := verified(t, s, pub)
	checkKeys(t, es, n)
	// Rounds that appended something wrote one batch each.
	if rep.Batches != 3 || rep.Entries != uint64(n) || rep.LastSeq != uint64(n) || !rep.PublicKey.Equal(pub) {
		t.Errorf("report %+v", rep)
	}
	var head [32]byte
	last, err := commitlog.DecodeBatch(s.get(2))
	if err != nil {
		t.Fatal(err)
	}
	if head, err = last.Hash(); err != nil || head != rep.Head {
		t.Errorf("head %x, last batch hashes to %x (%v)", rep.Head, head, err)
	}
}

func TestBatching(t *testing.T) {
	for _, c := range []struct {
		name       string
		opts       commitlog.Options
		appends    int
		batches    uint64 // written without a Flush
		maxEntries int    // entries in any batch, at most
	}{
		{"by size", commitlog.Options{MaxEntries: 10, MaxDelay: time.Hour}, 35, 3, 10},
		{"by time", commitlog.Options{MaxEntries: 1000, MaxDelay: 20 * time.Millisecond}, 5, 1, 5},
		{"one entry batches", commitlog.Options{MaxEntries: 1, MaxDelay: time.Hour}, 4, 4, 1},
	} {
		t.Run(c.name, func(t *testing.T) {
			s, priv := newMemStore(), testKey(1)
			l := openLog(t, s, priv, c.opts)
			start := time.Now()
			for i := 1; i <= c.appends; i++ {
				l.Append(entry(fmt.Sprintf("k%d", i)))
			}
			waitFor(t, fmt.Sprintf("%d batches", c.batches), func() bool { return l.Stats().Batches >= c.batches })
			if c.opts.MaxDelay < time.Hour && time.Since(start) < c.opts.MaxDelay {
				t.Errorf("batch written after %v, before MaxDelay", time.Since(start))
			}
			// Nothing else is due: no more batches come.
			time.Sleep(30 * time.Millisecond)
			st := l.Stats()
			if st.Batches != c.batches || st.Pending != c.appends-int(st.Written) {
				t.Errorf("stats %+v, want %d batches", st, c.batches)
			}
			if err := l.Close(t.Context()); err != nil {
				t.Fatal(err)
			}
			rep, es := verified(t, s, nil)
			checkKeys(t, es, c.appends)
			for i := range rep.Batches {
				b, err := commitlog.DecodeBatch(s.get(i))
				if err != nil {
					t.Fatal(err)
				}
				if len(b.Entries) > c.maxEntries {
					t.Errorf("batch %d holds %d entries, more than %d", i, len(b.Entries), c.maxEntries)
				}
			}
		})
	}
}

func TestConcurrentAppends(t *testing.T) {
	const writers, each = 8, 300
	s, priv := newMemStore(), testKey(1)
	l := openLog(t, s, priv, commitlog.Options{MaxEntries: 16, MaxDelay: time.Millisecond})
	var wg sync.WaitGroup
	for w := range writers {
		wg.Go(func() {
			for i := range each {
				l.Append(entry(fmt.Sprintf("k%d", w*each+i+1)))
				if i%50 == 0 {
					_ = l.Stats()
					if err := l.Flush(t.Context()); err != nil {
						t.Error(err)
					}
				}
			}
		})
	}
	wg.Wait()
	if err := l.Close(t.Context()); err != nil {
		t.Fatal(err)
	}
	_, es := verified(t, s, priv.Public().(ed25519.PublicKey))
	checkKeys(t, es, writers*each)
}

func TestTimeAndSeqAssigned(t *testing.T) {
	s, priv := newMemStore(), testKey(1)
	l := openLog(t, s, priv, commitlog.Options{MaxDelay: time.Hour})
	t0 := time.Date(2030, 1, 1, 0, 0, 0, 0, time.FixedZone("x", 3600))
	in := []commitlog.Entry{
		{Op: commitlog.OpStore, Key: "k1", Time: t0, Seq: 77},
		{Op: commitlog.OpStore, Key: "k2", Time: t0.Add(-time.Hour)}, // goes back: raised
		{Op: commitlog.OpStore, Key: "k3", Time: t0.Add(time.Second)},
		{Op: commitlog.OpStore, Key: "k4"}, // now, before t0: raised
	}
	want := []time.Time{t0, t0, t0.Add(time.Second), t0.Add(time.Second)}
	for _, e := range in {
		l.Append(e)
	}
	if err := l.Flush(t.Context()); err != nil {
		t.Fatal(err)
	}
	_, es := verified(t, s, nil)
	checkKeys(t, es, len(in))
	for i, e := range es {
		if !e.Time.Equal(want[i]) || e.Time.Location() != time.UTC {
			t.Errorf("entry %d: time %v, want %v in UTC", i, e.Time, want[i])
		}
	}
}

func TestAppendDrops(t *testing.T) {
	s, priv := newMemStore(), testKey(1)
	s.setFailPut(func(uint64) (bool, error) { return false, errStoreDown })
	var mu sync.Mutex
	var reported []error
	l := openLog(t, s, priv, commitlog.Options{MaxEntries: 5, MaxBuffered: 10, MaxDelay: time.Hour,
		OnError: func(err error) {
			mu.Lock()
			reported = append(reported, err)
			mu.Unlock()
		}})
	for i := 1; i <= 14; i++ {
		seq := l.Append(entry(fmt.Sprintf("k%d", i)))
		if want := uint64(i); i > 10 {
			want = 0
			if seq != want {
				t.Errorf("append %d: seq %d, want %d (dropped)", i, seq, want)
			}
		} else if seq != want {
			t.Errorf("append %d: seq %d, want %d", i, seq, want)
		}
	}
	if seq := l.Append(commitlog.Entry{Op: 0, Key: "bad"}); seq != 0 {
		t.Errorf("invalid entry got seq %d", seq)
	}
	st := l.Stats()
	if st.Appended != 10 || st.Dropped != 5 || st.Pending != 10 {
		t.Errorf("stats %+v", st)
	}
	mu.Lock()
	var full, invalid int
	for _, err := range reported {
		switch {
		case errors.Is(err, commitlog.ErrDropped):
			full++
		case errors.Is(err, commitlog.ErrInvalid):
			invalid++
		}
	}
	mu.Unlock()
	if full != 1 || invalid != 1 {
		t.Errorf("reported %d full-buffer and %d invalid-entry drops, want 1 and 1: %v", full, invalid, reported)
	}
	s.setFailPut(nil)
	if err := l.Close(t.Context()); err != nil {
		t.Fatal(err)
	}
	if seq := l.Append(entry("late")); seq != 0 {
		t.Errorf("append after Close got seq %d", seq)
	}
	mu.Lock()
	last := reported[len(reported)-1]
	mu.Unlock()
	if !errors.Is(last, commitlog.ErrClosed) {
		t.Errorf("append after Close reported %v, want ErrClosed", last)
	}
	_, es := verified(t, s, nil)
	checkKeys(t, es, 10)
}

func TestStoreFailureRecovery(t *testing.T) {
	for _, c := range []struct {
		name string
		// fail says how PutBatch fails while the store is down.
		land bool
	}{
		{"write lost", false},
		{"write landed, reply lost", true},
	} {
		t.Run(c.name, func(t *testing.T) {
			s, priv := newMemStore(), testKey(1)
			var mu sync.Mutex
			var reported []error
			l := openLog(t, s, priv, commitlog.Options{MaxEntries: 4, MaxDelay: time.Hour,
				OnError: func(err error) {
					mu.Lock()
					reported = append(reported, err)
					mu.Unlock()
				}})
			ctx := t.Context()
			for i := 1; i <= 3; i++ {
				l.Append(entry(fmt.Sprintf("k%d", i)))
			}
			if err := l.Flush(ctx); err != nil {
				t.Fatal(err)
			}
			// Batch 1 and later fail.
			s.setFailPut(func(i uint64) (bool, error) {
				if i >= 1 {
					return c.land, errStoreDown
				}
				return false, nil
			})
			for i := 4; i <= 13; i++ {
				l.Append(entry(fmt.Sprintf("k%d", i)))
			}
			err := l.Flush(ctx)
			if !errors.Is(err, errStoreDown) {
				t.Fatalf("flush: %v, want the store's error", err)
			}
			if st := l.Stats(); st.Pending != 10 || !errors.Is(st.LastError, errStoreDown) {
				t.Errorf("stats %+v", st)
			}
			if err := l.Close(ctx); !errors.Is(err, errStoreDown) {
				t.Fatalf("close: %v, want the store's error", err)
			}
			mu.Lock()
			n := len(reported)
			mu.Unlock()
			if n == 0 {
				t.Error("OnError was not called")
			}
			s.setFailPut(nil)
			if err := l.Close(ctx); err != nil {
				t.Fatalf("close again: %v", err)
			}
			if st := l.Stats(); st.Pending != 0 || st.Written != 13 || st.LastError != nil {
				t.Errorf("stats %+v", st)
			}
			_, es := verified(t, s, nil)
			checkKeys(t, es, 13)
		})
	}
}

func TestBackgroundRetry(t *testing.T) {
	s, priv := newMemStore(), testKey(1)
	s.setFailPut(func(uint64) (bool, error) { return false, errStoreDown })
	failures := make(chan error, 100)
	l := openLog(t, s, priv, commitlog.Options{MaxEntries: 2, MaxDelay: 2 * time.Millisecond,
		OnError: func(err error) {
			select {
			case failures <- err:
			default:
			}
		}})
	for i := 1; i <= 5; i++ {
		l.Append(entry(fmt.Sprintf("k%d", i)))
	}
	for range 2 { // the first failure and a retry
		if err := <-failures; !errors.Is(err, errStoreDown) {
			t.Fatalf("OnError got %v", err)
		}
	}
	s.setFailPut(nil)
	waitFor(t, "the backlog to be written", func() bool { return l.Stats().Pending == 0 })
	_, es := verified(t, s, nil)
	checkKeys(t, es, 5)
}

func TestOpenErrors(t *testing.T) {
	priv, other := testKey(1), testKey(2)
	ctx := t.Context()
	// A store holding two good batches by priv.
	good := func(t *testing.T) *memStore {
		s := newMemStore()
		l, err := commitlog.Open(ctx, s, priv, commitlog.Options{MaxEntries: 2, MaxDelay: time.Hour})
		if err != nil {
			t.Fatal(err)
		}
		for i := 1; i <= 4; i++ {
			l.Append(entry(fmt.Sprintf("k%d", i)))
		}
		if err := l.Close(ctx); err != nil {
			t.Fatal(err)
		}
		return s
	}
	for _, c := range []struct {
		name  string
		edit  func(t *testing.T, s *memStore)
		key   ed25519.PrivateKey
		opts  commitlog.Options
		store bool // pass a nil store when false
		want  error
	}{
		{"other key", func(*testing.T, *memStore) {}, other, commitlog.Options{}, true, commitlog.ErrWrongKey},
		{"last batch re-signed", func(t *testing.T, s *memStore) {
			b, err := commitlog.DecodeBatch(s.get(1))
			if err != nil {
				t.Fatal(err)
			}
			if err := b.Sign(other); err != nil {
				t.Fatal(err)
			}
			s.set(1, encodeBatch(t, b))
		}, priv, commitlog.Options{}, true, commitlog.ErrWrongKey},
		{"last batch truncated", func(t *testing.T, s *memStore) { s.set(1, s.get(1)[:100]) }, priv, commitlog.Options{}, true, commitlog.ErrCorrupt},
		{"last batch moved", func(t *testing.T, s *memStore) { s.set(2, s.get(1)) }, priv, commitlog.Options{}, true, commitlog.ErrCorrupt},
		{"last batch tampered", func(t *testing.T, s *memStore) {
			p := s.get(1)
			p[60] ^= 1
			s.set(1, withCRC(p))
		}, priv, commitlog.Options{}, true, commitlog.ErrCorrupt},
		{"last batch unreadable", func(t *testing.T, s *memStore) {
			s.failGet = func(uint64) error { return errStoreDown }
		}, priv, commitlog.Options{}, true, errStoreDown},
		{"short key", func(*testing.T, *memStore) {}, priv[:31], commitlog.Options{}, true, commitlog.ErrInvalid},
		{"nil store", func(*testing.T, *memStore) {}, priv, commitlog.Options{}, false, commitlog.ErrInvalid},
		{"negative MaxEntries", func(*testing.T, *memStore) {}, priv, commitlog.Options{MaxEntries: -1}, true, commitlog.ErrInvalid},
		{"huge MaxEntries", func(*testing.T, *memStore) {}, priv, commitlog.Options{MaxEntries: commitlog.MaxBatchEntries + 1}, true, commitlog.ErrInvalid},
		{"negative MaxDelay", func(*testing.T, *memStore) {}, priv, commitlog.Options{MaxDelay: -1}, true, commitlog.ErrInvalid},
		{"MaxBuffered below MaxEntries", func(*testing.T, *memStore) {}, priv, commitlog.Options{MaxEntries: 10, MaxBuffered: 5}, true, commitlog.ErrInvalid},
	} {
		t.Run(c.name, func(t *testing.T) {
			s := good(t)
			c.edit(t, s)
			var store commitlog.Store
			if c.store {
				store = s
			}
			l, err := commitlog.Open(ctx, store, c.key, c.opts)
			if !errors.Is(err, c.want) {
				if l != nil {
					_ = l.Close(ctx)
				}
				t.Fatalf("Open: %v, want %v", err, c.want)
			}
		})
	}
}

func TestFlushContext(t *testing.T) {
	s, priv := newMemStore(), testKey(1)
	l := openLog(t, s, priv, commitlog.Options{MaxDelay: time.Hour})
	l.Append(entry("k1"))
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if err := l.Flush(ctx); !errors.Is(err, context.Canceled) {
		t.Errorf("flush with a cancelled context: %v", err)
	}
	if err := l.Close(t.Context()); err != nil {
		t.Fatal(err)
	}
	_, es := verified(t, s, nil)
	checkKeys(t, es, 1)
}
