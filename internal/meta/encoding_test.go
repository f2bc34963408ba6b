package meta_test

import (
	"bytes"
	"encoding/binary"
	"errors"
	"flag"
	"fmt"
	"hash/crc32"
	"os"
	"path/filepath"
	"reflect"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/zerostor/zerostor/internal/codec"
	"github.com/zerostor/zerostor/internal/meta"
	"github.com/zerostor/zerostor/internal/meta/metatest"
)

var updateSeeds = flag.Bool("update-seeds", false, "rewrite the fuzz seed corpus in testdata/fuzz/FuzzUnmarshal")

// shapes are the round-trip cases; small enough that every prefix and
// every bit flip of their records can be tried.
var shapes = []struct {
	name string
	key  string
	s    metatest.Shape
}{
	{"empty object", "e", metatest.Shape{}},
	{"one byte", "one", metatest.Shape{Size: 1, K: 1}},
	{"one block", "dir/one-block", metatest.Shape{Size: 4096}},
	{"short last block", "dir/short", metatest.Shape{Size: 3*4096 + 17}},
	{"many blocks", "many", metatest.Shape{Size: 40 << 10, BlockSize: 1 << 10, K: 3, M: 1}},
	{"missing shards", "missing", metatest.Shape{Size: 9000, Missing: 3}},
	{"seq keys", "seq", metatest.Shape{Size: 9000, SeqKeys: true, Missing: 4}},
	{"user meta", "um", metatest.Shape{Size: 10, UserMeta: map[string]string{
		"content-type": "application/json", "etag": `"abc"`, "": "", "x-amz-meta-ü": strings.Repeat("v", 300)}}},
	{"wide", "wide", metatest.Shape{Size: 5000, K: 16, M: 4, SeqKeys: true}},
}

func encode(t testing.TB, o *meta.Object) []byte {
	t.Helper()
	b, err := o.MarshalBinary()
	if err != nil {
		t.Fatalf("encode %q: %v", o.Key, err)
	}
	return b
}

func TestRoundTrip(t *testing.T) {
	for i, c := range shapes {
		t.Run(c.name, func(t *testing.T) {
			c.s.Seed = uint64(i)
			o := metatest.NewObject(c.key, c.s)
			b := encode(t, o)
			got, err := meta.Unmarshal(b)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, o) {
				t.Fatalf("decoded record differs:\n got %+v\nwant %+v", got, o)
			}
			if b2 := encode(t, got); !bytes.Equal(b, b2) {
				t.Fatal("re-encoding differs")
			}
			info, err := meta.UnmarshalInfo(b)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(info, got.Info()) {
				t.Fatalf("UnmarshalInfo: %+v, want %+v", info, got.Info())
			}
		})
	}
}

// TestRoundTripNormalizes covers what the encoding does not keep apart:
// empty and nil, time zones, the zero time.
func TestRoundTripNormalizes(t *testing.T) {
	o := metatest.NewObject("k", metatest.Shape{Size: 100})
	o.UserMeta = map[string]string{}
	o.WrappedKey = []byte{}
	o.Blocks[0].Shards[1].Key = []byte{}
	o.Modified = time.Date(2026, 5, 1, 12, 0, 0, 7, time.FixedZone("x", 3600))
	got, err := meta.Unmarshal(encode(t, o))
	if err != nil {
		t.Fatal(err)
	}
	if got.UserMeta != nil || got.WrappedKey != nil || got.Blocks[0].Shards[1].Key != nil {
		t.Error("empty fields did not decode as nil")
	}
	if !got.Modified.Equal(o.Modified) || got.Modified.Location() != time.UTC {
		t.Errorf("modified %v, want %v in UTC", got.Modified, o.Modified)
	}
	o.Modified = time.Time{}
	if got, err = meta.Unmarshal(encode(t, o)); err != nil || !got.Modified.IsZero() {
		t.Errorf("zero time: %v, %v", got.Modified, err)
	}
}

func TestMarshalInvalid(t *testing.T) {
	valid := func() *meta.Object {
		return metatest.NewObject("k", metatest.Shape{Size: 9000, SeqKeys: true})
	}
	for name, mod := range map[string]func(o *meta.Object){
		"empty key":         func(o *meta.Object) { o.Key = "" },
		"long key":          func(o *meta.Object) { o.Key = strings.Repeat("k", meta.MaxKeyLen+1) },
		"negative size":     func(o *meta.Object) { o.Size = -1 },
		"size off blocks":   func(o *meta.Object) { o.Size += 4096 },
		"zero block size":   func(o *meta.Object) { o.BlockSize = 0 },
		"no data shards":    func(o *meta.Object) { o.Params.K = 0 },
		"bad compression":   func(o *meta.Object) { o.Params.Compression = 9 },
		"user meta":         func(o *meta.Object) { o.UserMeta = map[string]string{"a": strings.Repeat("v", meta.MaxUserMeta)} },
		"wrapped key":       func(o *meta.Object) { o.WrappedKey = make([]byte, meta.MaxWrappedKey+1) },
		"time":              func(o *meta.Object) { o.Modified = time.Date(3000, 1, 1, 0, 0, 0, 0, time.UTC) },
		"index":             func(o *meta.Object) { o.Blocks[1].Index = 5 },
		"plain length":      func(o *meta.Object) { o.Blocks[0].PlainLen-- },
		"block compression": func(o *meta.Object) { o.Blocks[0].Compression = codec.Snappy },
		"shard length":      func(o *meta.Object) { o.Blocks[0].ShardLen = 0 },
		"sealed length":     func(o *meta.Object) { o.Blocks[0].SealedLen = 4*o.Blocks[0].ShardLen + 1 },
		"hash count":        func(o *meta.Object) { o.Blocks[0].ShardHashes = o.Blocks[0].ShardHashes[:5] },
		"shard count":       func(o *meta.Object) { o.Blocks[2].Shards = o.Blocks[2].Shards[:5] },
		"backend index":     func(o *meta.Object) { o.Blocks[0].Shards[0].Backend = int32(len(o.Backends)) },
		"negative backend":  func(o *meta.Object) { o.Blocks[0].Shards[0].Backend = -2 },
		"shard key":         func(o *meta.Object) { o.Blocks[0].Shards[0].Key = make([]byte, meta.MaxShardKey+1) },
	} {
		o := valid()
		mod(o)
		if _, err := o.MarshalBinary(); !errors.Is(err, meta.ErrInvalid) {
			t.Errorf("%s: got %v, want ErrInvalid", name, err)
		}
	}
}

func TestTruncated(t *testing.T) {
	for i, c := range shapes {
		c.s.Seed = uint64(i)
		b := encode(t, metatest.NewObject(c.key, c.s))
		for n := range len(b) {
			if _, err := meta.Unmarshal(b[:n]); !errors.Is(err, meta.ErrCorrupt) {
				t.Fatalf("%s: %d of %d bytes: got %v, want ErrCorrupt", c.name, n, len(b), err)
			}
			if _, err := meta.UnmarshalUnchecked(b[:n]); !errors.Is(err, meta.ErrCorrupt) {
				t.Fatalf("%s: %d of %d bytes, unchecked: got %v, want ErrCorrupt", c.name, n, len(b), err)
			}
		}
		if _, err := meta.Unmarshal(append(b, 0)); !errors.Is(err, meta.ErrCorrupt) {
			t.Fatalf("%s: trailing byte: got %v, want ErrCorrupt", c.name, err)
		}
	}
}

// TestBitFlips flips every bit of the records: the checksums catch each
// flip, and without them the decoder still never panics and keeps its
// guarantees.
func TestBitFlips(t *testing.T) {
	for i, c := range shapes {
		c.s.Seed = uint64(i)
		b := encode(t, metatest.NewObject(c.key, c.s))
		// Every bit of small records; of larger ones, a spread of 3,000.
		step := max(1, 8*len(b)/3000)
		for bit := 0; bit < 8*len(b); bit += step {
			m := bytes.Clone(b)
			m[bit/8] ^= 1 << (bit % 8)
			if _, err := meta.Unmarshal(m); !errors.Is(err, meta.ErrCorrupt) {
				t.Fatalf("%s: bit %d flipped: got %v, want ErrCorrupt", c.name, bit, err)
			}
			checkDecoder(t, m)
		}
	}
}

// checkDecoder is what FuzzUnmarshal asserts about any input.
func checkDecoder(t *testing.T, b []byte) {
	t.Helper()
	o, err := meta.Unmarshal(b)
	if err != nil {
		if !errors.Is(err, meta.ErrCorrupt) {
			t.Fatalf("error does not wrap ErrCorrupt: %v", err)
		}
	} else {
		// The encoding is canonical: what decodes re-encodes to itself.
		if re, err := o.MarshalBinary(); err != nil || !bytes.Equal(re, b) {
			t.Fatalf("decoded record re-encodes differently (%v)", err)
		}
		info, err := meta.UnmarshalInfo(b)
		if err != nil || !reflect.DeepEqual(info, o.Info()) {
			t.Fatalf("UnmarshalInfo disagrees with Unmarshal (%v)", err)
		}
	}
	// Without the checksums mutated input reaches the whole parser.
	o, err = meta.UnmarshalUnchecked(b)
	if err != nil {
		if !errors.Is(err, meta.ErrCorrupt) {
			t.Fatalf("unchecked: error does not wrap ErrCorrupt: %v", err)
		}
		return
	}
	re, err := o.MarshalBinary()
	if err != nil {
		t.Fatalf("unchecked: decoded record does not encode: %v", err)
	}
	o2, err := meta.Unmarshal(re)
	if err != nil {
		t.Fatalf("unchecked: re-encoded record does not decode: %v", err)
	}
	if !reflect.DeepEqual(o, o2) {
		t.Fatalf("unchecked: re-encoded record decodes to another value")
	}
}

func FuzzUnmarshal(f *testing.F) {
	for i, c := range shapes {
		c.s.Seed = uint64(i)
		f.Add(encode(f, metatest.NewObject(c.key, c.s)))
	}
	f.Fuzz(checkDecoder)
}

// TestFuzzSeeds keeps the committed corpus meaningful: its valid records
// must still decode. With -update-seeds it rewrites the corpus.
func TestFuzzSeeds(t *testing.T) {
	dir := filepath.Join("testdata", "fuzz", "FuzzUnmarshal")
	seeds := map[string][]byte{}
	for i, c := range shapes[:4] {
		c.s.Seed = uint64(i)
		seeds["valid-"+strings.ReplaceAll(c.name, " ", "-")] = encode(t, metatest.NewObject(c.key, c.s))
	}
	seeds["valid-seq-keys"] = encode(t, metatest.NewObject("seq", metatest.Shape{Size: 5000, SeqKeys: true, Missing: 3, K: 2, M: 1}))
	seeds["valid-user-meta"] = encode(t, metatest.NewObject("um", metatest.Shape{Size: 10, K: 1, UserMeta: map[string]string{"a": "b", "c": ""}}))
	one := seeds["valid-one-block"]
	seeds["invalid-truncated"] = one[:len(one)/2]
	seeds["invalid-magic"] = []byte("zX\x01")
	seeds["invalid-huge-count"] = hugeBlockCount(t)
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
		_, err = meta.Unmarshal(b)
		if valid := strings.HasPrefix(name, "valid-"); valid != (err == nil) {
			t.Errorf("seed %s: decode error %v", name, err)
		}
	}
}

// hugeBlockCount is a record whose header (checksum and all) is valid and
// claims MaxBlocks blocks, followed by a few bytes.
func hugeBlockCount(t testing.TB) []byte {
	o := metatest.NewObject("k", metatest.Shape{K: 16, M: 4})
	b := encode(t, o)
	// The header ends with its checksum, before the block count (one zero
	// byte) and the record checksum.
	hdr := b[:len(b)-1-4-4]
	// Size follows the magic, the key and the version.
	at := 3 + 1 + len(o.Key) + 16
	if hdr[at] != 0 {
		t.Fatal("size is not where expected")
	}
	h := append([]byte{}, hdr[:at]...)
	h = binary.AppendUvarint(h, uint64(meta.MaxBlocks)*uint64(o.BlockSize))
	h = append(h, hdr[at+1:]...)
	h = binary.LittleEndian.AppendUint32(h, crc32.Checksum(h, crc32.MakeTable(crc32.Castagnoli)))
	h = binary.AppendUvarint(h, meta.MaxBlocks)
	return append(h, make([]byte, 10)...)
}

// TestHostileCounts checks that counts in a short input do not make large
// allocations.
func TestHostileCounts(t *testing.T) {
	b := hugeBlockCount(t)
	if _, err := meta.UnmarshalInfo(b); err != nil {
		t.Fatalf("header should be valid: %v", err)
	}
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	_, err := meta.Unmarshal(b)
	runtime.ReadMemStats(&after)
	if !errors.Is(err, meta.ErrCorrupt) {
		t.Fatalf("got %v, want ErrCorrupt", err)
	}
	if n := after.TotalAlloc - before.TotalAlloc; n > 64<<10 {
		t.Fatalf("decoding %d bytes allocated %d", len(b), n)
	}
	t.Logf("decoding a %d-byte record claiming %d blocks: %v", len(b), meta.MaxBlocks, err)
}

// TestRecordSizes logs (and bounds) the size of typical records.
func TestRecordSizes(t *testing.T) {
	for _, c := range []struct {
		name  string
		s     metatest.Shape
		limit int
	}{
		{"4 KiB, 16+4", metatest.Shape{Size: 4 << 10, K: 16, M: 4}, 1400},
		{"4 KiB, 16+4, seq keys", metatest.Shape{Size: 4 << 10, K: 16, M: 4, SeqKeys: true}, 1600},
		{"10 GiB at 4 MiB, 16+4", metatest.Shape{Size: 10 << 30, BlockSize: 4 << 20, K: 16, M: 4}, 2560*(20*34+14) + 1000},
		{"10 GiB at 4 MiB, 16+4, seq keys", metatest.Shape{Size: 10 << 30, BlockSize: 4 << 20, K: 16, M: 4, SeqKeys: true}, 2560*(20*42+14) + 1000},
	} {
		o := metatest.NewObject("photos/2026/05/IMG_0001.jpg", c.s)
		b := encode(t, o)
		t.Logf("%-32s %d blocks: %9d bytes", c.name, len(o.Blocks), len(b))
		if len(b) > c.limit {
			t.Errorf("%s: %d bytes, more than %d", c.name, len(b), c.limit)
		}
	}
}

func BenchmarkUnmarshal(b *testing.B) {
	for _, c := range []struct {
		name string
		s    metatest.Shape
	}{
		{"4KiB", metatest.Shape{Size: 4 << 10, K: 16, M: 4}},
		{"10GiB", metatest.Shape{Size: 10 << 30, BlockSize: 4 << 20, K: 16, M: 4, SeqKeys: true}},
	} {
		rec := encode(b, metatest.NewObject("photos/2026/05/IMG_0001.jpg", c.s))
		b.Run(c.name+"/full", func(b *testing.B) {
			b.SetBytes(int64(len(rec)))
			for b.Loop() {
				if _, err := meta.Unmarshal(rec); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(c.name+"/info", func(b *testing.B) {
			for b.Loop() {
				if _, err := meta.UnmarshalInfo(rec); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// TestInfoSkipsBlocks checks that UnmarshalInfo reads the header only:
// damage past it goes unnoticed by it, not by Unmarshal.
func TestInfoSkipsBlocks(t *testing.T) {
	o := metatest.NewObject("k", metatest.Shape{Size: 1 << 20, SeqKeys: true})
	b := encode(t, o)
	b[len(b)-100] ^= 0xff
	if _, err := meta.Unmarshal(b); !errors.Is(err, meta.ErrCorrupt) {
		t.Fatalf("Unmarshal of a damaged block list: %v", err)
	}
	info, err := meta.UnmarshalInfo(b[:len(b)/2])
	if err != nil || !reflect.DeepEqual(info, o.Info()) {
		t.Fatalf("UnmarshalInfo of a record cut in its block list: %+v, %v", info, err)
	}
}

// TestFormat1Records: records written before the shard tree (format 1,
// plain BLAKE3 shard hashes) still decode, say so, and encode back to the
// same bytes, so a repair keeps what their hashes mean.
func TestFormat1Records(t *testing.T) {
	data, err := os.ReadFile(filepath.Join("testdata", "format1", "one-block"))
	if err != nil {
		t.Fatal(err)
	}
	// The file is in the fuzz corpus format: one []byte("...") line.
	lines := strings.Split(strings.TrimSpace(string(data)), "\n")
	lit := strings.TrimSuffix(strings.TrimPrefix(lines[len(lines)-1], "[]byte("), ")")
	s, err := strconv.Unquote(lit)
	if err != nil {
		t.Fatal(err)
	}
	raw := []byte(s)
	if raw[2] != 1 {
		t.Fatalf("test record is format %d, want 1", raw[2])
	}
	o, err := meta.Unmarshal(raw)
	if err != nil {
		t.Fatal(err)
	}
	if !o.LegacySums || len(o.Blocks) == 0 || !o.Blocks[0].LegacySum {
		t.Fatalf("format 1 record: legacy %v, blocks %d", o.LegacySums, len(o.Blocks))
	}
	again, err := o.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(again, raw) {
		t.Fatal("format 1 record does not encode back to itself")
	}
	o.Blocks[0].LegacySum = false
	if _, err := o.MarshalBinary(); err == nil {
		t.Fatal("record with mixed shard hash kinds encoded")
	}
	o.LegacySums = false
	for i := range o.Blocks {
		o.Blocks[i].LegacySum = false
	}
	cur, err := o.MarshalBinary()
	if err != nil || cur[2] != 2 {
		t.Fatalf("current record: version %d, %v", cur[2], err)
	}
}
