package commitlog_test

import (
	"context"
	"crypto/ed25519"
	"errors"
	"testing"
	"time"

	"github.com/zerostor/zerostor/internal/commitlog"
)

// threeBatches is a store holding entries 1-12 in batches 0-2 (seqs 1-4,
// 5-8, 9-12), signed by priv, with the times of testEntries.
func threeBatches(t *testing.T, priv ed25519.PrivateKey) *memStore {
	t.Helper()
	s := newMemStore()
	l, err := commitlog.Open(t.Context(), s, priv, commitlog.Options{MaxEntries: 4, MaxDelay: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range testEntries(1, 12) {
		l.Append(e)
	}
	if err := l.Close(t.Context()); err != nil {
		t.Fatal(err)
	}
	if s.len() != 3 {
		t.Fatalf("%d batches, want 3", s.len())
	}
	return s
}

// rewrite decodes batch i, edits it, signs it again with resign (unless
// nil: the old signature stays) and stores it back, with a valid checksum.
func rewrite(t *testing.T, s *memStore, i uint64, resign ed25519.PrivateKey, edit func(*commitlog.Batch)) {
	t.Helper()
	b, err := commitlog.DecodeBatch(s.get(i))
	if err != nil {
		t.Fatal(err)
	}
	edit(b)
	if resign != nil {
		if err := b.Sign(resign); err != nil {
			t.Fatal(err)
		}
	}
	s.set(i, encodeBatch(t, b))
}

func TestVerifyGood(t *testing.T) {
	priv := testKey(1)
	s := threeBatches(t, priv)
	rep, es := verified(t, s, priv.Public().(ed25519.PublicKey))
	want := testEntries(1, 12)
	if len(es) != len(want) {
		t.Fatalf("%d entries visited, want %d", len(es), len(want))
	}
	for i := range es {
		if es[i].Seq != want[i].Seq || es[i].Key != want[i].Key || !es[i].Time.Equal(want[i].Time) ||
			es[i].Op != want[i].Op || es[i].Root != want[i].Root || es[i].Version != want[i].Version || es[i].Size != want[i].Size {
			t.Errorf("entry %d: %+v, want %+v", i, es[i], want[i])
		}
	}
	last, err := commitlog.DecodeBatch(s.get(2))
	if err != nil {
		t.Fatal(err)
	}
	head, err := last.Hash()
	if err != nil {
		t.Fatal(err)
	}
	if rep.Batches != 3 || rep.Entries != 12 || rep.LastSeq != 12 || rep.Head != head {
		t.Errorf("report %+v", rep)
	}
	// Without a pinned key, the key of batch 0 is the log's.
	if rep, _ := verified(t, s, nil); !rep.PublicKey.Equal(priv.Public()) {
		t.Error("report names another key")
	}
}

func TestVerifyEmpty(t *testing.T) {
	rep, err := commitlog.Verify(t.Context(), newMemStore(), nil, nil)
	if err != nil || rep.Batches != 0 || rep.Entries != 0 || rep.LastSeq != 0 || rep.Head != [32]byte{} || rep.PublicKey != nil {
		t.Errorf("empty store: %+v, %v", rep, err)
	}
}

// TestVerifyTampering changes the stored log in one way per case and
// checks that Verify names the first bad batch, and entry when it can.
func TestVerifyTampering(t *testing.T) {
	priv, other := testKey(1), testKey(2)
	pub := priv.Public().(ed25519.PublicKey)
	// Entry 2 of batch 1 is seq 7; batch 1 starts at seq 5.
	entry7 := func(edit func(*commitlog.Entry)) func(*testing.T, *memStore) {
		return func(t *testing.T, s *memStore) {
			rewrite(t, s, 1, nil, func(b *commitlog.Batch) { edit(&b.Entries[2]) })
		}
	}
	batch1 := func(resign ed25519.PrivateKey, edit func(*commitlog.Batch)) func(*testing.T, *memStore) {
		return func(t *testing.T, s *memStore) { rewrite(t, s, 1, resign, edit) }
	}
	for _, c := range []struct {
		name  string
		edit  func(*testing.T, *memStore)
		pub   ed25519.PublicKey
		want  error
		batch uint64
		entry int // -1: the batch as a whole
		seq   uint64
	}{
		// Each field of an entry, the signature left as it was.
		{"entry seq", entry7(func(e *commitlog.Entry) { e.Seq = 99 }), pub, commitlog.ErrCorrupt, 1, 2, 7},
		{"entry time later", entry7(func(e *commitlog.Entry) { e.Time = e.Time.Add(time.Nanosecond) }), pub, commitlog.ErrCorrupt, 1, -1, 5},
		{"entry time earlier than the previous", entry7(func(e *commitlog.Entry) { e.Time = baseTime }), pub, commitlog.ErrCorrupt, 1, 2, 7},
		{"entry op", entry7(func(e *commitlog.Entry) { e.Op = commitlog.OpDelete }), pub, commitlog.ErrCorrupt, 1, -1, 5},
		{"entry key", entry7(func(e *commitlog.Entry) { e.Key = "other" }), pub, commitlog.ErrCorrupt, 1, -1, 5},
		{"entry version", entry7(func(e *commitlog.Entry) { e.Version[3] ^= 1 }), pub, commitlog.ErrCorrupt, 1, -1, 5},
		{"entry root", entry7(func(e *commitlog.Entry) { e.Root[31] ^= 1 }), pub, commitlog.ErrCorrupt, 1, -1, 5},
		{"entry size", entry7(func(e *commitlog.Entry) { e.Size++ }), pub, commitlog.ErrCorrupt, 1, -1, 5},
		{"entry removed", batch1(nil, func(b *commitlog.Batch) { b.Entries = append(b.Entries[:1], b.Entries[2:]...) }), pub, commitlog.ErrCorrupt, 1, 1, 6},
		{"entry removed, re-signed", batch1(priv, func(b *commitlog.Batch) { b.Entries = b.Entries[:3] }), pub, commitlog.ErrCorrupt, 2, -1, 8},
		// The batch's own fields.
		{"batch index", batch1(nil, func(b *commitlog.Batch) { b.Index = 2 }), pub, commitlog.ErrCorrupt, 1, -1, 5},
		{"batch prev", batch1(nil, func(b *commitlog.Batch) { b.Prev[0] ^= 1 }), pub, commitlog.ErrCorrupt, 1, -1, 5},
		{"batch first seq", batch1(nil, func(b *commitlog.Batch) { b.FirstSeq++ }), pub, commitlog.ErrCorrupt, 1, -1, 5},
		{"batch root", batch1(nil, func(b *commitlog.Batch) { b.Root[0] ^= 1 }), pub, commitlog.ErrCorrupt, 1, -1, 5},
		{"batch public key", batch1(nil, func(b *commitlog.Batch) { b.PublicKey = other.Public().(ed25519.PublicKey) }), nil, commitlog.ErrWrongKey, 1, -1, 5},
		{"batch signature", batch1(nil, func(b *commitlog.Batch) { b.Sig[0] ^= 1 }), pub, commitlog.ErrCorrupt, 1, -1, 5},
		// Rewrites by someone with a key.
		{"re-signed with another key", batch1(other, func(b *commitlog.Batch) { b.Entries[2].Key = "evil" }), nil, commitlog.ErrWrongKey, 1, -1, 5},
		{"re-signed with the log's key", batch1(priv, func(b *commitlog.Batch) { b.Entries[2].Key = "evil" }), pub, commitlog.ErrCorrupt, 2, -1, 9},
		{"whole log re-signed, key pinned", func(t *testing.T, s *memStore) {
			var prev [32]byte
			for i := range uint64(3) {
				rewrite(t, s, i, other, func(b *commitlog.Batch) { b.Prev = prev })
				b, err := commitlog.DecodeBatch(s.get(i))
				if err != nil {
					t.Fatal(err)
				}
				prev, _ = b.Hash()
			}
		}, pub, commitlog.ErrWrongKey, 0, -1, 1},
		{"first batch with a prev", func(t *testing.T, s *memStore) {
			rewrite(t, s, 0, priv, func(b *commitlog.Batch) { b.Prev[0] = 1 })
		}, pub, commitlog.ErrCorrupt, 0, -1, 1},
		{"time goes back across batches", func(t *testing.T, s *memStore) {
			rewrite(t, s, 2, priv, func(b *commitlog.Batch) { b.Entries[0].Time = baseTime })
		}, pub, commitlog.ErrCorrupt, 2, 0, 9},
		{"seq gap across batches", func(t *testing.T, s *memStore) {
			rewrite(t, s, 2, priv, func(b *commitlog.Batch) {
				b.FirstSeq++
				for i := range b.Entries {
					b.Entries[i].Seq++
				}
			})
		}, pub, commitlog.ErrCorrupt, 2, -1, 9},
		// Damage to the stored bytes.
		{"bit flipped", func(t *testing.T, s *memStore) {
			p := s.get(1)
			p[100] ^= 4
			s.set(1, p)
		}, pub, commitlog.ErrCorrupt, 1, -1, 5},
		{"bit flipped, checksum fixed", func(t *testing.T, s *memStore) {
			p := s.get(1)
			p[100] ^= 4
			s.set(1, withCRC(p))
		}, pub, commitlog.ErrCorrupt, 1, -1, 5},
		{"truncated", func(t *testing.T, s *memStore) { s.set(1, s.get(1)[:200]) }, pub, commitlog.ErrCorrupt, 1, -1, 5},
		{"empty", func(t *testing.T, s *memStore) { s.set(1, []byte{}) }, pub, commitlog.ErrCorrupt, 1, -1, 5},
		{"garbage", func(t *testing.T, s *memStore) { s.set(0, []byte("hello")) }, pub, commitlog.ErrCorrupt, 0, -1, 1},
		// Batches moved.
		{"middle batch deleted", func(t *testing.T, s *memStore) { s.set(1, nil) }, pub, commitlog.ErrNotFound, 1, -1, 5},
		{"first batch deleted", func(t *testing.T, s *memStore) { s.set(0, nil) }, pub, commitlog.ErrNotFound, 0, -1, 1},
		{"two batches swapped", func(t *testing.T, s *memStore) {
			b1, b2 := s.get(1), s.get(2)
			s.set(1, b2)
			s.set(2, b1)
		}, pub, commitlog.ErrCorrupt, 1, -1, 5},
		{"batch copied over the next", func(t *testing.T, s *memStore) { s.set(2, s.get(1)) }, pub, commitlog.ErrCorrupt, 2, -1, 9},
	} {
		t.Run(c.name, func(t *testing.T) {
			s := threeBatches(t, priv)
			c.edit(t, s)
			visited := 0
			rep, err := commitlog.Verify(t.Context(), s, c.pub, func(commitlog.Entry) error {
				visited++
				return nil
			})
			var ve *commitlog.VerifyError
			if !errors.As(err, &ve) || !errors.Is(err, c.want) {
				t.Fatalf("Verify: %v, want a VerifyError wrapping %v", err, c.want)
			}
			if ve.Batch != c.batch || ve.Entry != c.entry || ve.Seq != c.seq {
				t.Errorf("%v: names batch %d, entry %d, seq %d; want batch %d, entry %d, seq %d",
					err, ve.Batch, ve.Entry, ve.Seq, c.batch, c.entry, c.seq)
			}
			if rep.Batches != c.batch || uint64(visited) != rep.Entries || rep.LastSeq != rep.Entries || rep.LastSeq != c.seq-uint64(max(c.entry, 0))-1 {
				t.Errorf("report %+v after visiting %d entries: want the %d good batches before the bad one", rep, visited, c.batch)
			}
		})
	}
}

// TestVerifyLimits shows what Verify cannot see by itself: a tail removed
// or rewritten by the key's holder, and a log re-signed with another key
// when no key is pinned. Report.Head (or the pinned key) tells.
func TestVerifyLimits(t *testing.T) {
	priv, other := testKey(1), testKey(2)
	pub := priv.Public().(ed25519.PublicKey)
	orig, _ := verified(t, threeBatches(t, priv), pub)
	for _, c := range []struct {
		name string
		edit func(*testing.T, *memStore)
	}{
		{"last batch removed", func(t *testing.T, s *memStore) { s.set(2, nil) }},
		{"last batch rewritten with the log's key", func(t *testing.T, s *memStore) {
			rewrite(t, s, 2, priv, func(b *commitlog.Batch) { b.Entries[0].Key = "rewritten" })
		}},
		{"whole log re-signed, no key pinned", func(t *testing.T, s *memStore) {
			var prev [32]byte
			for i := range uint64(3) {
				rewrite(t, s, i, other, func(b *commitlog.Batch) { b.Prev = prev })
				b, err := commitlog.DecodeBatch(s.get(i))
				if err != nil {
					t.Fatal(err)
				}
				prev, _ = b.Hash()
			}
		}},
	} {
		t.Run(c.name, func(t *testing.T) {
			s := threeBatches(t, priv)
			c.edit(t, s)
			rep, err := commitlog.Verify(t.Context(), s, nil, nil)
			if err != nil {
				t.Fatalf("Verify: %v", err)
			}
			if rep.Head == orig.Head {
				t.Error("the head did not change")
			}
		})
	}
}

func TestVerifyErrors(t *testing.T) {
	priv := testKey(1)
	errVisit := errors.New("visitor says no")
	for _, c := range []struct {
		name string
		edit func(*memStore)
		pub  ed25519.PublicKey
		fn   func(commitlog.Entry) error
		want error
	}{
		{"read fails", func(s *memStore) {
			s.failGet = func(i uint64) error {
				if i == 1 {
					return errStoreDown
				}
				return nil
			}
		}, nil, nil, errStoreDown},
		{"visitor fails", func(*memStore) {}, nil, func(e commitlog.Entry) error {
			if e.Seq == 6 {
				return errVisit
			}
			return nil
		}, errVisit},
		{"short pinned key", func(*memStore) {}, make([]byte, 5), nil, commitlog.ErrInvalid},
	} {
		t.Run(c.name, func(t *testing.T) {
			s := threeBatches(t, priv)
			c.edit(s)
			_, err := commitlog.Verify(t.Context(), s, c.pub, c.fn)
			var ve *commitlog.VerifyError
			if !errors.Is(err, c.want) || errors.As(err, &ve) {
				t.Fatalf("Verify: %v, want %v and no VerifyError", err, c.want)
			}
		})
	}
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if _, err := commitlog.Verify(ctx, threeBatches(t, priv), nil, nil); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled: %v", err)
	}
}

func TestVerifyErrorText(t *testing.T) {
	for _, c := range []struct {
		err  commitlog.VerifyError
		want string
	}{
		{commitlog.VerifyError{Batch: 3, Seq: 771, Entry: 2, Reason: "why"}, "commitlog: batch 3, entry seq 771: why"},
		{commitlog.VerifyError{Batch: 3, Seq: 769, Entry: -1, Reason: "why"}, "commitlog: batch 3 (from seq 769): why"},
	} {
		if got := c.err.Error(); got != c.want {
			t.Errorf("Error() = %q, want %q", got, c.want)
		}
	}
}
