package index

import (
	"bytes"
	"fmt"
	"os"
	"runtime"
	"runtime/debug"
	"strconv"
	"testing"
)

const memKeys = 1_000_000

// rss returns the resident set size of the process, after a full GC that
// returns freed heap memory to the OS.
func rss(t testing.TB) int {
	t.Helper()
	runtime.GC()
	debug.FreeOSMemory()
	b, err := os.ReadFile("/proc/self/statm")
	if err != nil {
		t.Skipf("no /proc/self/statm: %v", err)
	}
	f := bytes.Fields(b)
	pages, err := strconv.Atoi(string(f[1]))
	if err != nil {
		t.Fatalf("statm %q: %v", b, err)
	}
	return pages * os.Getpagesize()
}

// memKey formats key i as "key:%012d" into buf (16 bytes).
func memKey(buf []byte, i int) []byte {
	return fmt.Appendf(buf[:0], "key:%012d", i)
}

func TestMemoryUser(t *testing.T) {
	if testing.Short() {
		t.Skip("memory test skipped in -short mode")
	}
	if raceEnabled {
		t.Skip("RSS is meaningless under the race detector")
	}
	buf := make([]byte, 0, 32)
	before := rss(t)
	u := NewUser()
	defer u.Close()
	for i := range memKeys {
		u.Put(memKey(buf, i), Loc{File: uint32(i >> 16), Offset: uint32(i), Size: 100, CRC: uint32(i * 7)})
	}
	after := rss(t)
	keyLen := len(memKey(buf, 0))
	budget := 64 + float64(keyLen)
	mem := float64(u.MemBytes()) / memKeys
	grow := float64(after-before) / memKeys
	t.Logf("user: %d keys of %d bytes: MemBytes %.1f B/key (table %d slots = %.1f, arena %.1f), RSS growth %.1f B/key; budget %.0f",
		u.Len(), keyLen, mem, len(u.slots), float64(len(u.mem))/memKeys, float64(u.ar.memBytes())/memKeys, grow, budget)
	if mem > budget {
		t.Errorf("MemBytes %.1f B/key over budget %.0f", mem, budget)
	}
	if grow > budget {
		t.Errorf("RSS growth %.1f B/key over budget %.0f", grow, budget)
	}
	for i := 0; i < memKeys; i += 997 {
		if l, ok := u.Get(memKey(buf, i)); !ok || l.Offset != uint32(i) {
			t.Fatalf("Get %d = %v,%v", i, l, ok)
		}
	}
	u.Close()
	if freed := rss(t); freed > before+(4<<20) {
		t.Errorf("Close did not return memory: RSS %d before, %d after Close", before, freed)
	}
}

func TestMemorySeq(t *testing.T) {
	if testing.Short() {
		t.Skip("memory test skipped in -short mode")
	}
	if raceEnabled {
		t.Skip("RSS is meaningless under the race detector")
	}
	before := rss(t)
	s := NewSeq()
	defer s.Close()
	for i := range uint64(memKeys) {
		if err := s.Set(i, Loc{File: uint32(i >> 16), Offset: uint32(i), Size: 100, CRC: uint32(i * 7)}); err != nil {
			t.Fatal(err)
		}
	}
	after := rss(t)
	mem := float64(s.MemBytes()) / memKeys
	grow := float64(after-before) / memKeys
	t.Logf("seq: %d ids: MemBytes %.2f B/key, RSS growth %.2f B/key; budget 16, design 12", s.Len(), mem, grow)
	if mem > 12.1 {
		t.Errorf("MemBytes %.2f B/key over 12", mem)
	}
	// RSS also moves with the Go runtime's own pages: allow 0.25 MB of noise.
	if grow > 12.35 {
		t.Errorf("RSS growth %.2f B/key over 12", grow)
	}
	s.Close()
	if freed := rss(t); freed > before+(4<<20) {
		t.Errorf("Close did not return memory: RSS %d before, %d after Close", before, freed)
	}
}

// benchKeys returns n keys "key:%012d" packed in one buffer, and the key
// length.
func benchKeys(n int) ([]byte, int) {
	flat := make([]byte, 0, n*16)
	for i := range n {
		flat = fmt.Appendf(flat, "key:%012d", i)
	}
	return flat, 16
}

// benchPerm maps i to a pseudo-random index in [0, n) (n a power of ten;
// 7919 is coprime with it), so lookups hit the table at random.
func benchPerm(i, n int) int { return (i * 7919) % n }

func BenchmarkUserGet(b *testing.B) {
	flat, kl := benchKeys(memKeys)
	u := NewUser()
	defer u.Close()
	for i := range memKeys {
		u.Put(flat[i*kl:(i+1)*kl], Loc{Offset: uint32(i)})
	}
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		k := benchPerm(i, memKeys)
		if l, ok := u.Get(flat[k*kl : (k+1)*kl]); !ok || l.Offset != uint32(k) {
			b.Fatal("miss")
		}
	}
}

func BenchmarkUserGetMiss(b *testing.B) {
	flat, kl := benchKeys(memKeys)
	u := NewUser()
	defer u.Close()
	for i := range memKeys / 2 {
		u.Put(flat[i*kl:(i+1)*kl], Loc{Offset: uint32(i)})
	}
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		k := memKeys/2 + benchPerm(i, memKeys/2)
		if _, ok := u.Get(flat[k*kl : (k+1)*kl]); ok {
			b.Fatal("hit")
		}
	}
}

// BenchmarkUserPut inserts 1M new keys per round (growth included) and
// reports the time per Put.
func BenchmarkUserPut(b *testing.B) {
	flat, kl := benchKeys(memKeys)
	b.ResetTimer()
	for i := 0; i < b.N; i += memKeys {
		b.StopTimer()
		u := NewUser()
		b.StartTimer()
		n := min(memKeys, b.N-i)
		for k := range n {
			u.Put(flat[k*kl:(k+1)*kl], Loc{Offset: uint32(k)})
		}
		b.StopTimer()
		u.Close()
		b.StartTimer()
	}
}

// BenchmarkUserPutOverwrite overwrites random keys of a 1M-key table.
func BenchmarkUserPutOverwrite(b *testing.B) {
	flat, kl := benchKeys(memKeys)
	u := NewUser()
	defer u.Close()
	for i := range memKeys {
		u.Put(flat[i*kl:(i+1)*kl], Loc{Offset: uint32(i)})
	}
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		k := benchPerm(i, memKeys)
		u.Put(flat[k*kl:(k+1)*kl], Loc{Offset: uint32(i)})
	}
}

func BenchmarkSeqGet(b *testing.B) {
	s := NewSeq()
	defer s.Close()
	for i := range uint64(memKeys) {
		s.Set(i, Loc{Offset: uint32(i)})
	}
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		k := benchPerm(i, memKeys)
		if l, ok := s.Get(uint64(k)); !ok || l.Offset != uint32(k) {
			b.Fatal("miss")
		}
	}
}

// BenchmarkSeqSet appends ids, starting a new Seq every 1M ids so that the
// benchmark's memory stays bounded.
func BenchmarkSeqSet(b *testing.B) {
	s := NewSeq()
	defer func() { s.Close() }()
	for i := 0; b.Loop(); i++ {
		if i%memKeys == memKeys-1 {
			s.Close()
			s = NewSeq()
		}
		s.Set(uint64(i%memKeys), Loc{Offset: uint32(i)})
	}
}
