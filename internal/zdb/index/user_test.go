package index

import (
	"bytes"
	"flag"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"testing"
	"time"
)

var (
	seedFlag = flag.Uint64("seed", 0, "seed of the property tests (0: derived from the clock)")
	opsFlag  = flag.Int("ops", 0, "operations per property test run (0: default; fewer with -short)")
)

// testRand returns a reproducible generator and logs its seed.
func testRand(t testing.TB) *rand.Rand {
	t.Helper()
	seed := *seedFlag
	if seed == 0 {
		seed = uint64(time.Now().UnixNano())
	}
	t.Logf("seed %d (rerun with -seed=%d)", seed, seed)
	return rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
}

func numOps(def int) int {
	if *opsFlag > 0 {
		return *opsFlag
	}
	if testing.Short() {
		return def / 10
	}
	return def
}

// sk shortens a key for error messages.
func sk(k []byte) string {
	if len(k) > 24 {
		return fmt.Sprintf("%q...(%d bytes)", k[:24], len(k))
	}
	return fmt.Sprintf("%q", k)
}

func randLoc(r *rand.Rand) Loc {
	if r.IntN(20) == 0 {
		return Loc{}
	}
	return Loc{File: r.Uint32(), Offset: r.Uint32(), Size: r.Uint32N(8<<20 + 1), CRC: r.Uint32()}
}

// keyPool returns n distinct keys of many shapes: 1-byte keys (including
// 0x00), binary keys full of zero bytes, 255-byte keys differing only in
// their last bytes, and keys that are prefixes of each other.
func keyPool(r *rand.Rand, n int) [][]byte {
	seen := map[string]bool{}
	var keys [][]byte
	add := func(k []byte) {
		if len(k) < 1 || len(k) > MaxKeyLen || seen[string(k)] || len(keys) >= n {
			return
		}
		seen[string(k)] = true
		keys = append(keys, k)
	}
	for b := 0; b < 256; b += 17 {
		add([]byte{byte(b)})
	}
	add([]byte{0, 0})
	add(make([]byte, 255))
	long := bytes.Repeat([]byte{0xAB}, 255)
	for len(keys) < n {
		switch r.IntN(5) {
		case 0: // binary, many zero bytes
			k := make([]byte, 1+r.IntN(40))
			for i := range k {
				if r.IntN(3) == 0 {
					k[i] = byte(r.Uint32())
				}
			}
			add(k)
		case 1: // 255 bytes, shared prefix
			k := bytes.Clone(long)
			k[254] = byte(r.Uint32())
			k[253] = byte(r.Uint32())
			add(k)
		case 2: // prefix of a long key
			add(bytes.Clone(long[:1+r.IntN(255)]))
		default: // text
			add(fmt.Appendf(nil, "key:%d", r.IntN(1<<20)))
		}
	}
	return keys
}

// checkUser verifies the internal invariants of u.
func checkUser(t *testing.T, u *User) {
	t.Helper()
	if len(u.slots) == 0 {
		if u.live != 0 {
			t.Fatalf("no table but live=%d", u.live)
		}
		return
	}
	live, tombs, liveBytes := 0, 0, 0
	for i, s := range u.slots {
		switch {
		case s == slotEmpty:
		case s == slotTomb:
			tombs++
		case s&tagMask < minLiveTag:
			t.Fatalf("slot %d: bad tag %x", i, s)
		default:
			live++
			e := u.ar.entry(s >> tagBits)
			key := e[1 : 1+int(e[0])]
			liveBytes += entOverhead + len(key)
			h := u.hash(key)
			if s&tagMask != tagOf(h) {
				t.Fatalf("slot %d: tag %x, want %x", i, s&tagMask, tagOf(h))
			}
			// No empty slot between home and position.
			for j := h & u.mask; j != uint64(i); j = (j + 1) & u.mask {
				if u.slots[j] == slotEmpty {
					t.Fatalf("slot %d (key %q): empty slot %d in its probe sequence", i, key, j)
				}
			}
		}
	}
	if live != u.live || tombs != u.tombs {
		t.Fatalf("counted live=%d tombs=%d, recorded %d %d", live, tombs, u.live, u.tombs)
	}
	if live+tombs > maxLoad(len(u.slots)) {
		t.Fatalf("load %d+%d over %d slots", live, tombs, len(u.slots))
	}
	if liveBytes+u.dead != u.ar.total {
		t.Fatalf("arena: live %d + dead %d != total %d", liveBytes, u.dead, u.ar.total)
	}
}

func checkRangeUser(t *testing.T, u *User, model map[string]Loc) {
	t.Helper()
	got := map[string]Loc{}
	u.Range(func(k []byte, l Loc) bool {
		if _, dup := got[string(k)]; dup {
			t.Fatalf("Range: key %q twice", k)
		}
		got[string(k)] = l
		return true
	})
	if len(got) != len(model) || u.Len() != len(model) {
		t.Fatalf("Range: %d keys, Len %d, model %d", len(got), u.Len(), len(model))
	}
	for k, l := range model {
		if g, ok := got[k]; !ok || g != l {
			t.Fatalf("Range: key %q = %v,%v want %v", k, g, ok, l)
		}
	}
}

func TestUserBasic(t *testing.T) {
	u := NewUser()
	defer u.Close()
	l1 := Loc{1, 2, 3, 4}
	l2 := Loc{5, 6, 7, 8}
	tests := []struct {
		op      string
		key     string
		loc     Loc
		old     Loc
		wantLoc Loc
		want    bool
	}{
		{op: "get", key: "a"},
		{op: "del", key: "a"},
		{op: "put", key: "a", loc: l1},
		{op: "get", key: "a", wantLoc: l1, want: true},
		{op: "put", key: "a", loc: l2, wantLoc: l1, want: true},
		{op: "get", key: "a", wantLoc: l2, want: true},
		{op: "cas", key: "a", old: l1, loc: l1, want: false},
		{op: "cas", key: "a", old: l2, loc: l1, want: true},
		{op: "get", key: "a", wantLoc: l1, want: true},
		{op: "cas", key: "b", old: Loc{}, loc: l1, want: false},
		{op: "put", key: "\x00", loc: Loc{}},
		{op: "get", key: "\x00", want: true},
		{op: "get", key: "\x00\x00"},
		{op: "put", key: strings.Repeat("z", 255), loc: l2},
		{op: "get", key: strings.Repeat("z", 255), wantLoc: l2, want: true},
		{op: "get", key: strings.Repeat("z", 254)},
		{op: "get", key: strings.Repeat("z", 256)},
		{op: "get", key: ""},
		{op: "del", key: ""},
		{op: "cas", key: ""},
		{op: "del", key: "a", wantLoc: l1, want: true},
		{op: "get", key: "a"},
		{op: "del", key: "a"},
		{op: "len", want: true, wantLoc: Loc{File: 2}},
	}
	for i, tc := range tests {
		var got Loc
		var ok bool
		switch tc.op {
		case "get":
			got, ok = u.Get([]byte(tc.key))
		case "put":
			got, ok = u.Put([]byte(tc.key), tc.loc)
		case "del":
			got, ok = u.Delete([]byte(tc.key))
		case "cas":
			ok = u.CompareAndSwap([]byte(tc.key), tc.old, tc.loc)
		case "len":
			got, ok = Loc{File: uint32(u.Len())}, true
		}
		if got != tc.wantLoc || ok != tc.want {
			t.Errorf("step %d %s(%q) = %v,%v want %v,%v", i, tc.op, tc.key, got, ok, tc.wantLoc, tc.want)
		}
	}
	checkUser(t, u)
}

func TestUserBadKeyPanics(t *testing.T) {
	u := NewUser()
	defer u.Close()
	for _, k := range [][]byte{nil, {}, make([]byte, 256)} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("Put of %d-byte key did not panic", len(k))
				}
			}()
			u.Put(k, Loc{})
		}()
	}
	if u.Len() != 0 {
		t.Fatal("bad keys were stored")
	}
}

func TestUserRangeMutation(t *testing.T) {
	u := NewUser()
	defer u.Close()
	model := map[string]Loc{}
	for i := range 5000 {
		k := fmt.Sprintf("k%d", i)
		u.Put([]byte(k), Loc{File: uint32(i)})
		model[k] = Loc{File: uint32(i)}
	}
	// Delete every other key and rewrite the rest while ranging.
	seen := map[string]bool{}
	u.Range(func(k []byte, l Loc) bool {
		if seen[string(k)] {
			t.Fatalf("key %q visited twice", k)
		}
		seen[string(k)] = true
		if l.File%2 == 0 {
			if _, ok := u.Delete(k); !ok {
				t.Fatalf("Delete(%s) during Range failed", k)
			}
			delete(model, string(k))
		} else {
			nl := Loc{File: l.File, Offset: 1}
			if _, ok := u.Put(bytes.Clone(k), nl); !ok {
				t.Fatalf("Put(%s) during Range: not found", k)
			}
			model[string(k)] = nl
		}
		return true
	})
	if len(seen) != 5000 {
		t.Fatalf("Range visited %d keys, want 5000", len(seen))
	}
	checkUser(t, u)
	checkRangeUser(t, u, model)

	// Inserting a new key during Range panics.
	func() {
		defer func() {
			if recover() == nil {
				t.Fatal("Put of a new key during Range did not panic")
			}
		}()
		u.Range(func(k []byte, l Loc) bool {
			u.Put([]byte("brand new"), Loc{})
			return false
		})
	}()
	// Deferred maintenance runs on the next mutation.
	u.Put([]byte("brand new"), Loc{File: 7})
	model["brand new"] = Loc{File: 7}
	checkUser(t, u)
	checkRangeUser(t, u, model)

	// Early stop.
	n := 0
	u.Range(func([]byte, Loc) bool { n++; return n < 10 })
	if n != 10 {
		t.Fatalf("Range did not stop: %d calls", n)
	}
}

func TestUserGrowShrinkCompact(t *testing.T) {
	u := NewUser()
	defer u.Close()
	const n = 200000
	key := func(i int) []byte { return fmt.Appendf(nil, "grow:%08d", i) }
	for i := range n {
		u.Put(key(i), Loc{File: uint32(i)})
	}
	checkUser(t, u)
	peak := u.MemBytes()
	for i := range n - 10 {
		if _, ok := u.Delete(key(i)); !ok {
			t.Fatalf("Delete %d failed", i)
		}
	}
	checkUser(t, u)
	after := u.MemBytes()
	t.Logf("MemBytes: %d keys %d, 10 keys %d", n, peak, after)
	if after > 64<<10 {
		t.Fatalf("memory not released after deletions: %d bytes", after)
	}
	for i := n - 10; i < n; i++ {
		if l, ok := u.Get(key(i)); !ok || l.File != uint32(i) {
			t.Fatalf("Get %d = %v %v", i, l, ok)
		}
	}
	u.Close()
	if u.MemBytes() != 0 || u.Len() != 0 {
		t.Fatal("Close kept memory")
	}
	if _, ok := u.Get(key(n - 1)); ok {
		t.Fatal("Get after Close found a key")
	}
}

// TestUserChurn checks that repeatedly adding and removing keys keeps the
// table and arena bounded.
func TestUserChurn(t *testing.T) {
	u := NewUser()
	defer u.Close()
	var k [8]byte
	maxMem := 0
	for i := range 300000 {
		k[0], k[1], k[2], k[3] = byte(i), byte(i>>8), byte(i>>16), byte(i>>24)
		u.Put(k[:], Loc{File: uint32(i)})
		if i >= 1000 {
			j := i - 1000
			k[0], k[1], k[2], k[3] = byte(j), byte(j>>8), byte(j>>16), byte(j>>24)
			if _, ok := u.Delete(k[:]); !ok {
				t.Fatalf("Delete %d failed", j)
			}
		}
		maxMem = max(maxMem, u.MemBytes())
	}
	checkUser(t, u)
	t.Logf("max MemBytes with 1000 live keys under churn: %d", maxMem)
	if maxMem > 256<<10 {
		t.Fatalf("churn used %d bytes for 1000 keys", maxMem)
	}
}

func TestUserProperty(t *testing.T) {
	t.Run("maphash", func(t *testing.T) { userProperty(t, ^uint64(0), numOps(300000)) })
	// Collisions: 1024 home slots and 16 tags, so probe sequences are long
	// and tags match often.
	t.Run("collide", func(t *testing.T) { userProperty(t, 0x3FF|0xF<<offBits, numOps(60000)) })
}

func userProperty(t *testing.T, hmask uint64, ops int) {
	r := testRand(t)
	u := NewUser()
	u.hmask = hmask
	defer u.Close()
	pool := keyPool(r, 4000)
	model := map[string]Loc{}
	// Phases alternate between filling and draining, to force growth,
	// shrinking, tombstone rebuilds and arena compaction.
	putBias := 60
	resizes, compactions := 0, 0
	for op := range ops {
		nslots, total := len(u.slots), u.ar.total
		if phase := max(ops/9, 500); op%phase == 0 {
			putBias = []int{80, 10, 50}[(op/phase)%3]
		}
		k := pool[r.IntN(len(pool))]
		want, present := model[string(k)]
		switch x := r.IntN(100); {
		case x < putBias/2+10: // Put
			l := randLoc(r)
			old, ok := u.Put(k, l)
			if ok != present || old != want {
				t.Fatalf("op %d Put(%s) = %v,%v want %v,%v", op, sk(k), old, ok, want, present)
			}
			model[string(k)] = l
		case x < 60: // Delete
			old, ok := u.Delete(k)
			if ok != present || old != want {
				t.Fatalf("op %d Delete(%s) = %v,%v want %v,%v", op, sk(k), old, ok, want, present)
			}
			delete(model, string(k))
		case x < 75: // CompareAndSwap
			old := randLoc(r)
			if present && r.IntN(2) == 0 {
				old = want
			}
			nw := randLoc(r)
			ok := u.CompareAndSwap(k, old, nw)
			if ok != (present && old == want) {
				t.Fatalf("op %d CAS(%s, %v) = %v, model %v,%v", op, sk(k), old, ok, want, present)
			}
			if ok {
				model[string(k)] = nw
			}
		default: // Get
			l, ok := u.Get(k)
			if ok != present || l != want {
				t.Fatalf("op %d Get(%s) = %v,%v want %v,%v", op, sk(k), l, ok, want, present)
			}
		}
		if len(u.slots) != nslots {
			resizes++
		}
		if u.ar.total < total {
			compactions++
		}
		if u.Len() != len(model) {
			t.Fatalf("op %d: Len %d, model %d", op, u.Len(), len(model))
		}
		if op%5000 == 0 {
			checkUser(t, u)
			checkRangeUser(t, u, model)
		}
	}
	checkUser(t, u)
	checkRangeUser(t, u, model)
	// Every key of the pool agrees with the model.
	for _, k := range pool {
		want, present := model[string(k)]
		if l, ok := u.Get(k); ok != present || l != want {
			t.Fatalf("final Get(%s) = %v,%v want %v,%v", sk(k), l, ok, want, present)
		}
	}
	t.Logf("%d ops, %d live keys at the end; %d table resizes, %d arena compactions", ops, len(model), resizes, compactions)
	if ops >= 10000 && (resizes == 0 || compactions == 0) {
		t.Fatalf("property run did not exercise rebuilds: %d resizes, %d compactions", resizes, compactions)
	}
}

// TestConcurrentReaders runs readers under a read lock against a writer
// under the write lock; with -race it checks that readers write nothing.
func TestConcurrentReaders(t *testing.T) {
	u := NewUser()
	defer u.Close()
	s := NewSeq()
	defer s.Close()
	var mu sync.RWMutex
	var wg sync.WaitGroup
	const n = 20000
	for g := range 3 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range n {
				k := fmt.Appendf(nil, "c%d", (i*31+g)%n)
				mu.RLock()
				if l, ok := u.Get(k); ok && l.Offset != uint32((i*31+g)%n) {
					t.Errorf("Get(%s) = %v", k, l)
				}
				if l, ok := s.Get(uint64(i)); ok && l.Offset != uint32(i) {
					t.Errorf("Seq.Get(%d) = %v", i, l)
				}
				if i%5000 == 0 {
					u.Range(func([]byte, Loc) bool { return true })
					s.Range(func(uint64, Loc) bool { return true })
				}
				_, _ = u.Len()+s.Len(), u.MemBytes()+s.MemBytes()
				mu.RUnlock()
			}
		}()
	}
	for i := range n {
		mu.Lock()
		u.Put(fmt.Appendf(nil, "c%d", i), Loc{Offset: uint32(i)})
		if err := s.Set(uint64(i), Loc{Offset: uint32(i)}); err != nil {
			t.Error(err)
		}
		if i%3 == 0 {
			u.Delete(fmt.Appendf(nil, "c%d", i/2))
			s.Delete(uint64(i / 2))
		}
		mu.Unlock()
	}
	wg.Wait()
}
