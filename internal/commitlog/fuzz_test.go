package commitlog_test

import (
	"bytes"
	"encoding/binary"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/zeebo/blake3"
	"github.com/zerostor/zerostor/internal/commitlog"
)

var updateSeeds = flag.Bool("update-seeds", false, "rewrite the fuzz seed corpus in testdata/fuzz/FuzzDecodeBatch")

// FuzzDecodeBatch checks that DecodeBatch never panics, and that what it
// accepts is canonical: it encodes back to the same bytes. Each input is
// also tried with its checksum made right, so that mutations reach the
// parser behind the checksum.
func FuzzDecodeBatch(f *testing.F) {
	f.Fuzz(func(t *testing.T, data []byte) {
		decodeCanonical(t, data)
		if len(data) >= 4 {
			decodeCanonical(t, withCRC(bytes.Clone(data)))
		}
	})
}

func decodeCanonical(t *testing.T, data []byte) {
	b, err := commitlog.DecodeBatch(data)
	if err != nil {
		if b != nil {
			t.Fatal("a batch and an error")
		}
		return
	}
	p, err := b.Encode()
	if err != nil {
		t.Fatalf("decoded batch does not encode: %v", err)
	}
	if !bytes.Equal(p, data) {
		t.Fatal("decoded batch encodes to other bytes")
	}
	h, err := b.Hash()
	if err != nil || h != blake3.Sum256(data) {
		t.Fatalf("hash %x, %v", h, err)
	}
	_ = b.Check(nil) // must not panic
}

// seedCorpus is the committed seed corpus: deterministic (ed25519
// signatures are), so the files can be checked to be current.
func seedCorpus(t *testing.T) map[string][]byte {
	priv := testKey(3)
	first := signedBatch(t, priv, 0, [32]byte{}, 1, 1)
	h, err := first.Hash()
	if err != nil {
		t.Fatal(err)
	}
	second := signedBatch(t, priv, 1, h, 2, 4)
	long := signedBatch(t, priv, 2, [32]byte{5}, 6, 2)
	long.Entries[1].Key = strings.Repeat("€", 100)
	if err := long.Sign(priv); err != nil {
		t.Fatal(err)
	}
	one := encodeBatch(t, first)
	huge := bytes.Clone(one)
	binary.LittleEndian.PutUint32(huge[51:], commitlog.MaxBatchEntries)
	return map[string][]byte{
		"valid-first":        one,
		"valid-chained":      encodeBatch(t, second),
		"valid-long-key":     encodeBatch(t, long),
		"invalid-truncated":  one[:len(one)/2],
		"invalid-magic":      []byte("zX\x01"),
		"invalid-checksum":   append(bytes.Clone(one[:len(one)-1]), one[len(one)-1]^0xff),
		"invalid-huge-count": withCRC(huge),
	}
}

// TestFuzzSeedCorpus checks that the committed seeds are the ones
// seedCorpus makes (-update-seeds rewrites them) and decode as their names
// say.
func TestFuzzSeedCorpus(t *testing.T) {
	dir := filepath.Join("testdata", "fuzz", "FuzzDecodeBatch")
	seeds := seedCorpus(t)
	if *updateSeeds {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		for name, b := range seeds {
			data := fmt.Sprintf("go test fuzz v1\n[]byte(%q)\n", b)
			if err := os.WriteFile(filepath.Join(dir, name), []byte(data), 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	for name, b := range seeds {
		data, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Fatalf("seed %s: %v (run with -update-seeds)", name, err)
		}
		if want := fmt.Sprintf("go test fuzz v1\n[]byte(%q)\n", b); string(data) != want {
			t.Errorf("seed %s is stale (run with -update-seeds)", name)
		}
		batch, err := commitlog.DecodeBatch(b)
		valid := strings.HasPrefix(name, "valid-")
		if valid != (err == nil) {
			t.Errorf("seed %s: decode error %v", name, err)
		}
		if valid && err == nil {
			if err := batch.Check(nil); err != nil {
				t.Errorf("seed %s: %v", name, err)
			}
		}
	}
}
