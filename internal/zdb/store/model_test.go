package store

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"math/rand"
	"testing"

	"github.com/zerostor/zerostor/internal/zdb/index"
	"time"
)

var modelSeed = flag.Int64("model.seed", 0, "seed for TestStoreAgainstModel (0 = time)")

// TestStoreAgainstModel runs random sets, deletes, rotations, compactions
// and reopens against a map and checks every read, scan and count.
func TestStoreAgainstModel(t *testing.T) {
	for _, mode := range []Mode{ModeUser, ModeSeq} {
		t.Run(mode.String(), func(t *testing.T) {
			seed := *modelSeed
			if seed == 0 {
				seed = time.Now().UnixNano()
			}
			t.Logf("seed %d (rerun with -model.seed=%d)", seed, seed)
			rng := rand.New(rand.NewSource(seed))
			steps := 3000
			if testing.Short() {
				steps = 800
			}
			runModel(t, rng, mode, steps)
		})
	}
}

func runModel(t *testing.T, rng *rand.Rand, mode Mode, steps int) {
	dir := t.TempDir()
	s := openT(t, dir, mode)
	defer func() { s.Close() }()
	model := map[string][]byte{}
	var seqIDs []uint64
	value := func() []byte {
		n := rng.Intn(64 << 10)
		if rng.Intn(10) == 0 {
			n = rng.Intn(600 << 10)
		}
		v := make([]byte, n)
		rng.Read(v)
		return v
	}
	pickKey := func() []byte {
		if mode == ModeSeq {
			if len(seqIDs) == 0 || rng.Intn(4) == 0 {
				return nil
			}
			return index.SeqKey(seqIDs[rng.Intn(len(seqIDs))])
		}
		return []byte(fmt.Sprintf("key-%d", rng.Intn(200)))
	}
	verify := func(where string) {
		t.Helper()
		if s.Len() != len(model) {
			t.Fatalf("%s: Len %d, model %d", where, s.Len(), len(model))
		}
		for k, v := range model {
			got, err := s.Get(nil, []byte(k), nil)
			if err != nil || !bytes.Equal(got, v) {
				t.Fatalf("%s: key %x: err %v, equal %v", where, k, err, bytes.Equal(got, v))
			}
		}
		seen := map[string]bool{}
		var after *Cursor
		for {
			ents, err := s.Scan(after, false, 37, time.Second)
			if err != nil {
				break
			}
			for _, e := range ents {
				if seen[string(e.Key)] {
					t.Fatalf("%s: scan returned %x twice", where, e.Key)
				}
				seen[string(e.Key)] = true
			}
			after = &ents[len(ents)-1].Cursor
		}
		if len(seen) != len(model) {
			t.Fatalf("%s: scan saw %d keys, model has %d", where, len(seen), len(model))
		}
	}
	for i := 0; i < steps; i++ {
		switch r := rng.Intn(100); {
		case r < 55: // set (batches of 1..4)
			n := 1 + rng.Intn(4)
			ops := make([]Op, n)
			for j := range ops {
				ops[j] = Op{Key: pickKey(), Value: value()}
			}
			res := make([]Result, n)
			if err := s.Apply(ops, res); err != nil {
				t.Fatal(err)
			}
			for j, op := range ops {
				if res[j].Err != nil {
					if mode == ModeSeq && op.Key != nil && errors.Is(res[j].Err, ErrBadKey) {
						if _, ok := model[string(op.Key)]; !ok {
							continue // update of a deleted id
						}
					}
					t.Fatalf("step %d: set: %v", i, res[j].Err)
				}
				key := op.Key
				if mode == ModeSeq && key == nil {
					key = index.SeqKey(res[j].ID)
					seqIDs = append(seqIDs, res[j].ID)
				}
				model[string(key)] = op.Value
			}
		case r < 75: // delete
			k := pickKey()
			if k == nil {
				continue
			}
			res := make([]Result, 1)
			s.Apply([]Op{{Key: k, Delete: true}}, res)
			_, had := model[string(k)]
			if had != (res[0].Err == nil) {
				t.Fatalf("step %d: delete %x: had %v, err %v", i, k, had, res[0].Err)
			}
			delete(model, string(k))
		case r < 80:
			if err := s.Rotate(); err != nil {
				t.Fatal(err)
			}
		case r < 88:
			if _, err := s.Compact(rng.Float64()); err != nil {
				t.Fatal(err)
			}
		case r < 93:
			s.Close()
			s = openT(t, dir, mode)
			verify(fmt.Sprintf("step %d after reopen", i))
		default:
			verify(fmt.Sprintf("step %d", i))
		}
	}
	verify("end")
	if _, err := s.Compact(0); err != nil {
		t.Fatal(err)
	}
	verify("after full compaction")
	s.Close()
	s = openT(t, dir, mode)
	verify("reopen after full compaction")
}
