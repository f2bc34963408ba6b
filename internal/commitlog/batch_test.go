package commitlog_test

import (
	"bytes"
	"crypto/ed25519"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"testing"
	"time"

	"github.com/zerostor/zerostor/internal/commitlog"
)

// testKey is a deterministic signing key, different for each b.
func testKey(b byte) ed25519.PrivateKey {
	return ed25519.NewKeyFromSeed(bytes.Repeat([]byte{b}, ed25519.SeedSize))
}

// baseTime is when the test entries start.
var baseTime = time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)

// testEntries are n deterministic entries from seq first, 1 ms apart,
// going through every op.
func testEntries(first uint64, n int) []commitlog.Entry {
	ops := []commitlog.Op{commitlog.OpStore, commitlog.OpDelete, commitlog.OpRepair, commitlog.OpRotate}
	es := make([]commitlog.Entry, n)
	for i := range es {
		seq := first + uint64(i)
		e := commitlog.Entry{
			Seq:  seq,
			Time: baseTime.Add(time.Duration(seq) * time.Millisecond),
			Op:   ops[seq%4],
			Key:  fmt.Sprintf("dir/object-%d", seq),
		}
		e.Version[0] = byte(seq)
		if e.Op != commitlog.OpDelete {
			e.Root[0], e.Root[31] = byte(seq), 0xee
			e.Size = int64(seq) * 1000
		}
		es[i] = e
	}
	return es
}

// signedBatch is batch index holding n entries from seq first, signed.
func signedBatch(t testing.TB, priv ed25519.PrivateKey, index uint64, prev [32]byte, first uint64, n int) *commitlog.Batch {
	t.Helper()
	b := &commitlog.Batch{Index: index, Prev: prev, FirstSeq: first, Entries: testEntries(first, n)}
	if err := b.Sign(priv); err != nil {
		t.Fatal(err)
	}
	return b
}

func encodeBatch(t testing.TB, b *commitlog.Batch) []byte {
	t.Helper()
	p, err := b.Encode()
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// withCRC replaces the last 4 bytes of an encoded batch by the CRC-32C of
// the rest, so that a change passes the checksum and reaches the checks
// behind it.
func withCRC(p []byte) []byte {
	body := p[:len(p)-4]
	return binary.LittleEndian.AppendUint32(body[:len(body):len(body)], crc32.Checksum(body, crc32.MakeTable(crc32.Castagnoli)))
}

func TestBatchRoundTrip(t *testing.T) {
	priv := testKey(1)
	for _, n := range []int{1, 2, 3, 7, 64} {
		t.Run(fmt.Sprint(n), func(t *testing.T) {
			b := signedBatch(t, priv, 5, [32]byte{9, 9}, 100, n)
			if err := b.Check(priv.Public().(ed25519.PublicKey)); err != nil {
				t.Fatal(err)
			}
			p := encodeBatch(t, b)
			got, err := commitlog.DecodeBatch(p)
			if err != nil {
				t.Fatal(err)
			}
			if err := got.Check(nil); err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(encodeBatch(t, got), p) {
				t.Error("re-encoding the decoded batch gives other bytes")
			}
			if got.Index != 5 || got.FirstSeq != 100 || got.Prev != b.Prev || got.Root != b.Root || len(got.Entries) != n {
				t.Errorf("decoded header %d %d %x %x %d", got.Index, got.FirstSeq, got.Prev, got.Root, len(got.Entries))
			}
			for i := range got.Entries {
				if g, w := got.Entries[i], b.Entries[i]; g.Key != w.Key || !g.Time.Equal(w.Time) || g.Seq != w.Seq {
					t.Errorf("entry %d: %+v, want %+v", i, g, w)
				}
			}
			h1, err := b.Hash()
			if err != nil {
				t.Fatal(err)
			}
			h2, err := got.Hash()
			if err != nil {
				t.Fatal(err)
			}
			if h1 != h2 {
				t.Error("hash changed through encoding")
			}
		})
	}
}

func TestBatchEncodeInvalid(t *testing.T) {
	priv := testKey(1)
	for _, c := range []struct {
		name string
		edit func(*commitlog.Batch)
	}{
		{"no entries", func(b *commitlog.Batch) { b.Entries = nil }},
		{"too many entries", func(b *commitlog.Batch) {
			b.Entries = testEntries(1, commitlog.MaxBatchEntries+1)
		}},
		{"too large", func(b *commitlog.Batch) {
			b.Entries = testEntries(1, 300)
			for i := range b.Entries {
				b.Entries[i].Key = string(bytes.Repeat([]byte{'k'}, commitlog.MaxKeyLen))
			}
		}},
		{"invalid entry", func(b *commitlog.Batch) { b.Entries[0].Op = 0 }},
		{"short public key", func(b *commitlog.Batch) { b.PublicKey = b.PublicKey[:31] }},
		{"unsigned", func(b *commitlog.Batch) { b.Sig = nil }},
	} {
		t.Run(c.name, func(t *testing.T) {
			b := signedBatch(t, priv, 0, [32]byte{}, 1, 3)
			c.edit(b)
			if _, err := b.Encode(); !errors.Is(err, commitlog.ErrInvalid) {
				t.Errorf("Encode: %v, want ErrInvalid", err)
			}
			if _, err := b.Hash(); !errors.Is(err, commitlog.ErrInvalid) {
				t.Errorf("Hash: %v, want ErrInvalid", err)
			}
		})
	}
	b := signedBatch(t, priv, 0, [32]byte{}, 1, 3)
	if err := b.Sign(priv[:10]); !errors.Is(err, commitlog.ErrInvalid) {
		t.Errorf("Sign with a short key: %v, want ErrInvalid", err)
	}
}

func TestDecodeBatchRejects(t *testing.T) {
	priv := testKey(1)
	good := encodeBatch(t, signedBatch(t, priv, 3, [32]byte{1}, 10, 3))
	// Offsets (docs/commit-log.md): magic 0, version 2, index 3, prev 11,
	// first seq 43, count 51, entries 55.
	with := func(at int, p ...byte) []byte {
		b := bytes.Clone(good)
		copy(b[at:], p)
		return withCRC(b)
	}
	cases := []struct {
		name string
		data []byte
	}{
		{"empty", nil},
		{"bad magic", with(0, 'z', 'M')},
		{"unknown version", with(2, 2)},
		{"bad checksum", append(bytes.Clone(good[:len(good)-1]), good[len(good)-1]^1)},
		{"trailing byte", withCRC(append(bytes.Clone(good), 0, 0, 0, 0, 0)[:len(good)+1])},
		{"zero entries", with(51, 0, 0, 0, 0)},
		{"more entries than bytes", with(51, 4)},
		{"absurd entry count", with(51, 0xff, 0xff, 0xff, 0xff)},
		{"entry count one over the limit", with(51, 0x01, 0x00, 0x01, 0x00)},
		{"bad entry op", with(55+16, 0)},
		{"absurd key length", with(55+73, 0xff, 0xff, 0xff, 0x7f)},
		{"too large", make([]byte, commitlog.MaxBatchSize+1)},
	}
	for n := range good {
		cases = append(cases, struct {
			name string
			data []byte
		}{fmt.Sprintf("truncated to %d", n), good[:n]})
		// A prefix with a valid checksum must fail on its structure.
		if n >= 4 {
			cases = append(cases, struct {
				name string
				data []byte
			}{fmt.Sprintf("truncated to %d, checksum fixed", n), withCRC(bytes.Clone(good[:n]))})
		}
	}
	for i := range good {
		for bit := range 8 {
			p := bytes.Clone(good)
			p[i] ^= 1 << bit
			cases = append(cases, struct {
				name string
				data []byte
			}{fmt.Sprintf("bit %d of byte %d flipped", bit, i), p})
		}
	}
	for _, c := range cases {
		if _, err := commitlog.DecodeBatch(c.data); !errors.Is(err, commitlog.ErrCorrupt) {
			t.Errorf("%s: %v, want ErrCorrupt", c.name, err)
		}
	}
}

func TestBatchCheck(t *testing.T) {
	priv, other := testKey(1), testKey(2)
	pub := priv.Public().(ed25519.PublicKey)
	for _, c := range []struct {
		name   string
		edit   func(*commitlog.Batch)
		resign bool
		pub    ed25519.PublicKey
		want   error
		entry  int // -1: the whole batch
	}{
		{"good", func(*commitlog.Batch) {}, false, pub, nil, 0},
		{"good, any key", func(*commitlog.Batch) {}, false, nil, nil, 0},
		{"other key", func(*commitlog.Batch) {}, false, other.Public().(ed25519.PublicKey), commitlog.ErrWrongKey, -1},
		{"key swapped in", func(b *commitlog.Batch) { b.PublicKey = other.Public().(ed25519.PublicKey) }, false, nil, commitlog.ErrCorrupt, -1},
		{"signature flipped", func(b *commitlog.Batch) { b.Sig[5] ^= 1 }, false, pub, commitlog.ErrCorrupt, -1},
		{"short signature", func(b *commitlog.Batch) { b.Sig = b.Sig[:10] }, false, pub, commitlog.ErrCorrupt, -1},
		{"index changed", func(b *commitlog.Batch) { b.Index++ }, false, pub, commitlog.ErrCorrupt, -1},
		{"prev changed", func(b *commitlog.Batch) { b.Prev[0] ^= 1 }, false, pub, commitlog.ErrCorrupt, -1},
		{"root changed", func(b *commitlog.Batch) { b.Root[0] ^= 1 }, false, pub, commitlog.ErrCorrupt, -1},
		{"entry key changed", func(b *commitlog.Batch) { b.Entries[2].Key = "evil" }, false, pub, commitlog.ErrCorrupt, -1},
		{"first seq off", func(b *commitlog.Batch) { b.FirstSeq++ }, true, pub, commitlog.ErrCorrupt, 0},
		{"seq gap", func(b *commitlog.Batch) { b.Entries[2].Seq++ }, true, pub, commitlog.ErrCorrupt, 2},
		{"time goes back", func(b *commitlog.Batch) { b.Entries[3].Time = baseTime }, true, pub, commitlog.ErrCorrupt, 3},
		{"no time", func(b *commitlog.Batch) { b.Entries[1].Time = time.Time{} }, true, pub, commitlog.ErrCorrupt, 1},
		{"no entries", func(b *commitlog.Batch) { b.Entries = nil }, false, pub, commitlog.ErrCorrupt, -1},
	} {
		t.Run(c.name, func(t *testing.T) {
			b := signedBatch(t, priv, 4, [32]byte{7}, 20, 5)
			c.edit(b)
			if c.resign {
				if err := b.Sign(priv); err != nil {
					t.Fatal(err)
				}
			}
			err := b.Check(c.pub)
			if c.want == nil {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			var ve *commitlog.VerifyError
			if !errors.As(err, &ve) || !errors.Is(err, c.want) {
				t.Fatalf("Check: %v, want a VerifyError wrapping %v", err, c.want)
			}
			if ve.Batch != b.Index || ve.Entry != c.entry {
				t.Errorf("names batch %d entry %d, want batch %d entry %d", ve.Batch, ve.Entry, b.Index, c.entry)
			}
		})
	}
}

func TestMerkleRoot(t *testing.T) {
	es := testEntries(1, 9)
	seen := map[[32]byte]string{}
	add := func(name string, entries []commitlog.Entry) {
		t.Helper()
		r, err := commitlog.MerkleRoot(entries)
		if err != nil {
			t.Fatal(err)
		}
		if prev, dup := seen[r]; dup {
			t.Errorf("%s has the same root as %s", name, prev)
		}
		seen[r] = name
	}
	for n := 0; n <= len(es); n++ {
		add(fmt.Sprintf("first %d", n), es[:n])
	}
	add("swapped", []commitlog.Entry{es[1], es[0], es[2]})
	add("duplicated last", []commitlog.Entry{es[0], es[1], es[2], es[2]})
	bad := testEntries(1, 2)
	bad[1].Op = 0
	if _, err := commitlog.MerkleRoot(bad); !errors.Is(err, commitlog.ErrInvalid) {
		t.Errorf("invalid entry: %v, want ErrInvalid", err)
	}
}

func TestBatchKey(t *testing.T) {
	for _, c := range []struct {
		key   string
		index uint64
		ok    bool
	}{
		{".zstor/log/0000000000000000", 0, true},
		{".zstor/log/00000000000000ff", 255, true},
		{".zstor/log/ffffffffffffffff", 1<<64 - 1, true},
		{".zstor/log/00000000000000FF", 0, false},
		{".zstor/log/ff", 0, false},
		{".zstor/log/000000000000000g", 0, false},
		{".zstor/log/+000000000000000", 0, false},
		{".zstor/log/0000000000000000/x", 0, false},
		{"zstor/log/0000000000000000", 0, false},
		{"", 0, false},
	} {
		i, ok := commitlog.ParseBatchKey(c.key)
		if i != c.index || ok != c.ok {
			t.Errorf("ParseBatchKey(%q) = %d, %v, want %d, %v", c.key, i, ok, c.index, c.ok)
		}
		if c.ok && commitlog.BatchKey(c.index) != c.key {
			t.Errorf("BatchKey(%d) = %q, want %q", c.index, commitlog.BatchKey(c.index), c.key)
		}
	}
	if a, b := commitlog.BatchKey(9), commitlog.BatchKey(10); a >= b {
		t.Errorf("keys do not sort in batch order: %q >= %q", a, b)
	}
}
