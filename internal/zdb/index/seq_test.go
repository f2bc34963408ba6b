package index

import (
	"math/rand/v2"
	"slices"
	"testing"
)

func TestSeqKey(t *testing.T) {
	tests := []struct {
		id  uint64
		key []byte
	}{
		{0, []byte{0, 0, 0, 0, 0, 0, 0, 0}},
		{1, []byte{1, 0, 0, 0, 0, 0, 0, 0}},
		{0x0102030405060708, []byte{8, 7, 6, 5, 4, 3, 2, 1}},
		{^uint64(0), []byte{255, 255, 255, 255, 255, 255, 255, 255}},
	}
	for _, tc := range tests {
		if k := SeqKey(tc.id); !slices.Equal(k, tc.key) {
			t.Errorf("SeqKey(%d) = %x want %x", tc.id, k, tc.key)
		}
		if k := AppendSeqKey([]byte("p"), tc.id); !slices.Equal(k, append([]byte("p"), tc.key...)) {
			t.Errorf("AppendSeqKey(%d) = %x", tc.id, k)
		}
		if id, ok := ParseSeqKey(tc.key); !ok || id != tc.id {
			t.Errorf("ParseSeqKey(%x) = %d,%v", tc.key, id, ok)
		}
	}
	for _, k := range [][]byte{nil, {1}, make([]byte, 7), make([]byte, 9)} {
		if _, ok := ParseSeqKey(k); ok {
			t.Errorf("ParseSeqKey accepted %d bytes", len(k))
		}
	}
}

func TestSeqBasic(t *testing.T) {
	s := NewSeq()
	defer s.Close()
	l1 := Loc{1, 2, 3, 0} // Seq keeps no CRC
	l2 := Loc{5, 6, 7, 0}
	zero := Loc{}
	type step struct {
		op      string
		id      uint64
		loc     Loc
		old     Loc
		wantLoc Loc
		want    bool
		next    uint64
	}
	steps := []step{
		{op: "get", id: 0, next: 0},
		{op: "set", id: 0, loc: zero, want: true, next: 1},
		{op: "get", id: 0, wantLoc: zero, want: true, next: 1},
		{op: "set", id: 1, loc: l1, want: true, next: 2},
		{op: "set", id: 5, loc: l2, want: true, next: 6},
		{op: "get", id: 3, next: 6},
		{op: "get", id: 5, wantLoc: l2, want: true, next: 6},
		{op: "del", id: 3, next: 6},
		{op: "del", id: 1, wantLoc: l1, want: true, next: 6},
		{op: "get", id: 1, next: 6},
		{op: "cas", id: 1, old: l1, loc: l2, next: 6},
		{op: "set", id: 1, loc: l2, want: true, next: 6}, // revive
		{op: "cas", id: 1, old: l1, loc: l1, next: 6},
		{op: "cas", id: 1, old: l2, loc: l1, want: true, next: 6},
		{op: "get", id: 1, wantLoc: l1, want: true, next: 6},
		{op: "set", id: 7, loc: Loc{Size: 1 << 31}, next: 6}, // Size too large
		{op: "cas", id: 1, old: l1, loc: Loc{Size: 1 << 31}, next: 6},
		{op: "set", id: MaxSeqID + 1, loc: l1, next: 6},
		{op: "set", id: 200000, loc: Loc{Size: 8 << 20}, want: true, next: 200001},
		{op: "get", id: 200000, wantLoc: Loc{Size: 8 << 20}, want: true, next: 200001},
		{op: "get", id: 100000, next: 200001},
		{op: "get", id: 1 << 40, next: 200001},
		{op: "len", wantLoc: Loc{File: 4}, want: true, next: 200001},
	}
	for i, tc := range steps {
		var got Loc
		var ok bool
		switch tc.op {
		case "get":
			got, ok = s.Get(tc.id)
		case "set":
			ok = s.Set(tc.id, tc.loc) == nil
		case "del":
			got, ok = s.Delete(tc.id)
		case "cas":
			ok = s.CompareAndSwap(tc.id, tc.old, tc.loc)
		case "len":
			got, ok = Loc{File: uint32(s.Len())}, true
		}
		if got != tc.wantLoc || ok != tc.want || s.Next() != tc.next {
			t.Errorf("step %d %s(%d) = %v,%v next %d; want %v,%v next %d", i, tc.op, tc.id, got, ok, s.Next(), tc.wantLoc, tc.want, tc.next)
		}
	}
	// The gap chunks between 65536 and 196608 were never mapped.
	if s.chunks[1].ents != nil || s.chunks[2].ents != nil {
		t.Error("gap chunks were mapped")
	}
	checkSeq(t, s, map[uint64]Loc{0: zero, 1: l1, 5: l2, 200000: {Size: 8 << 20}})
	s.Close()
	if s.Set(0, l1) == nil {
		t.Error("Set after Close succeeded")
	}
	if _, ok := s.Get(0); ok || s.MemBytes() != 0 {
		t.Error("Close kept data")
	}
}

func checkSeq(t *testing.T, s *Seq, model map[uint64]Loc) {
	t.Helper()
	want := make([]uint64, 0, len(model))
	for id := range model {
		want = append(want, id)
	}
	slices.Sort(want)
	var got []uint64
	s.Range(func(id uint64, l Loc) bool {
		if m, ok := model[id]; !ok || m != l {
			t.Fatalf("Range: id %d = %v, model %v,%v", id, l, m, ok)
		}
		got = append(got, id)
		return true
	})
	if !slices.Equal(got, want) {
		t.Fatalf("Range ids %v\nwant %v", head(got), head(want))
	}
	if s.Len() != len(model) {
		t.Fatalf("Len %d, model %d", s.Len(), len(model))
	}
	live := 0
	for c := range s.chunks {
		ch := &s.chunks[c]
		if ch.ents == nil {
			if *ch != (seqChunk{}) {
				t.Fatalf("unmapped chunk %d: %+v", c, ch)
			}
			continue
		}
		n := 0
		for j := range ch.ents {
			if !ch.isTouched(uint32(j) >> seqUnitShift) {
				continue // never written: zero
			}
			if ch.ents[j].Size&seqLive != 0 {
				n++
			} else if ch.ents[j] != (seqEnt{}) {
				t.Fatalf("chunk %d: dead entry %d not zero: %v", c, j, ch.ents[j])
			}
		}
		if n != int(ch.live) {
			t.Fatalf("chunk %d: %d live, recorded %d", c, n, ch.live)
		}
		if n == 0 && uint64(c) < s.next>>seqChunkShift {
			t.Fatalf("chunk %d: complete and empty but still mapped", c)
		}
		live += n
	}
	if live != s.live {
		t.Fatalf("counted %d live, recorded %d", live, s.live)
	}
}

func head(ids []uint64) []uint64 {
	if len(ids) > 20 {
		return ids[:20]
	}
	return ids
}

func TestSeqRangeMutation(t *testing.T) {
	s := NewSeq()
	defer s.Close()
	model := map[uint64]Loc{}
	for id := range uint64(3 * seqChunkLen) {
		l := Loc{File: uint32(id)}
		if err := s.Set(id, l); err != nil {
			t.Fatal(err)
		}
		model[id] = l
	}
	// Delete everything in the first chunk (unmapping it mid-Range) and
	// every other id of the rest.
	last := int64(-1)
	s.Range(func(id uint64, l Loc) bool {
		if int64(id) <= last {
			t.Fatalf("Range not ascending: %d after %d", id, last)
		}
		last = int64(id)
		if id < seqChunkLen || id%2 == 0 {
			if _, ok := s.Delete(id); !ok {
				t.Fatalf("Delete(%d) failed", id)
			}
			delete(model, id)
		}
		return true
	})
	if last != 3*seqChunkLen-1 {
		t.Fatalf("Range stopped at %d", last)
	}
	if s.chunks[0].ents != nil {
		t.Fatal("emptied chunk still mapped")
	}
	checkSeq(t, s, model)
	n := 0
	s.Range(func(uint64, Loc) bool { n++; return n < 3 })
	if n != 3 {
		t.Fatalf("Range did not stop: %d calls", n)
	}
}

// TestSeqQueue checks that a queue-like namespace (append at the head,
// delete at the tail) keeps its memory bounded.
func TestSeqQueue(t *testing.T) {
	s := NewSeq()
	defer s.Close()
	maxMem := 0
	for id := range uint64(1_000_000) {
		if err := s.Set(id, Loc{File: 1, Size: uint32(id)}); err != nil {
			t.Fatal(err)
		}
		if id >= 1000 {
			if _, ok := s.Delete(id - 1000); !ok {
				t.Fatalf("Delete(%d) failed", id-1000)
			}
		}
		maxMem = max(maxMem, s.MemBytes())
	}
	t.Logf("queue of 1000 ids: max MemBytes %d", maxMem)
	if maxMem > 2*seqChunkBytes {
		t.Fatalf("queue used %d bytes", maxMem)
	}
}

func TestSeqProperty(t *testing.T) {
	r := testRand(t)
	s := NewSeq()
	defer s.Close()
	model := map[uint64]Loc{}
	var next uint64
	randLive := func(r *rand.Rand) Loc {
		l := randLoc(r)
		l.Size &^= seqLive
		l.CRC = 0 // not kept by Seq
		return l
	}
	ops := numOps(300000)
	for op := range ops {
		// Mostly ids near the head, sometimes anywhere below next, sometimes
		// a gap (small, or skipping whole chunks).
		var id uint64
		switch x := r.IntN(100); {
		case x < 50 && next > 0:
			id = next - 1 - uint64(r.IntN(int(min(next, 3000))))
		case x < 80 && next > 0:
			id = r.Uint64N(next)
		case x < 99 || r.IntN(10) != 0:
			id = next + uint64(r.IntN(3))
		default:
			id = next + uint64(r.IntN(3*seqChunkLen))
		}
		want, present := model[id]
		switch x := r.IntN(100); {
		case x < 40:
			l := randLive(r)
			if err := s.Set(id, l); err != nil {
				t.Fatalf("op %d Set(%d): %v", op, id, err)
			}
			model[id] = l
			next = max(next, id+1)
		case x < 75:
			old, ok := s.Delete(id)
			if ok != present || old != want {
				t.Fatalf("op %d Delete(%d) = %v,%v want %v,%v", op, id, old, ok, want, present)
			}
			delete(model, id)
		case x < 85:
			old := randLive(r)
			if present && r.IntN(2) == 0 {
				old = want
			}
			nw := randLive(r)
			ok := s.CompareAndSwap(id, old, nw)
			if ok != (present && old == want) {
				t.Fatalf("op %d CAS(%d, %v) = %v, model %v,%v", op, id, old, ok, want, present)
			}
			if ok {
				model[id] = nw
			}
		default:
			l, ok := s.Get(id)
			if ok != present || l != want {
				t.Fatalf("op %d Get(%d) = %v,%v want %v,%v", op, id, l, ok, want, present)
			}
		}
		if s.Next() != next || s.Len() != len(model) {
			t.Fatalf("op %d: Next %d Len %d, model %d %d", op, s.Next(), s.Len(), next, len(model))
		}
		if op%20000 == 0 {
			checkSeq(t, s, model)
		}
	}
	checkSeq(t, s, model)
	t.Logf("%d ops: next %d, %d live, %d bytes", ops, next, len(model), s.MemBytes())
}
