package placement

import (
	"math/rand/v2"
	"slices"
	"testing"
)

func TestSmallest(t *testing.T) {
	r := rand.New(rand.NewPCG(8, 8))
	for range 2000 {
		c := make([]cand, r.IntN(40))
		for i := range c {
			c[i] = cand{i: int32(i), key: float64(r.IntN(10))} // many ties
		}
		keys := make([]float64, len(c))
		for i := range c {
			keys[i] = c[i].key
		}
		slices.Sort(keys)
		m := r.IntN(len(c) + 1)
		smallest(c, m)
		got := make([]float64, m)
		for i := range got {
			got[i] = c[i].key
		}
		slices.Sort(got)
		if !slices.Equal(got, keys[:m]) {
			t.Fatalf("m=%d: got %v, want %v", m, got, keys[:m])
		}
		seen := map[int32]bool{}
		for _, x := range c {
			seen[x.i] = true
		}
		if len(seen) != len(c) {
			t.Fatal("smallest lost or duplicated elements")
		}
	}
}
