package placement

import (
	"errors"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
)

func TestCompleteCases(t *testing.T) {
	// Groups g0 = {0,1,2}, g1 = {3,4,5}, g2 = {6,7,8}.
	p := Policy{K: 4, N: 6, RedundantGroups: 1}
	r := rand.New(rand.NewPCG(9, 9))

	t.Run("holes go where the policy needs them", func(t *testing.T) {
		bs := layout(3, 3, 3)
		cur := []int{0, 1, 3, 4, -1, -1} // 2+2: only 2+2+2 keeps 4
		for range 50 {
			got, err := Complete(p, bs, cur, r)
			if err != nil {
				t.Fatal(err)
			}
			checkPlacement(t, p, bs, cur, got)
			if c := groupCounts(bs, got); !slices.Equal(c, []int{2, 2, 2}) {
				t.Fatalf("counts %v, want [2 2 2]", c)
			}
		}
	})
	t.Run("existing entry on a down backend is kept", func(t *testing.T) {
		bs := layout(3, 3, 3)
		bs[0].Down = true
		cur := []int{0, -1, -1, -1, -1, -1}
		got, err := Complete(p, bs, cur, r)
		if err != nil {
			t.Fatal(err)
		}
		checkPlacement(t, p, bs, cur, got)
		if !Valid(p, bs, got) {
			t.Fatalf("invalid %v", got)
		}
	})
	t.Run("degraded returns the best it can", func(t *testing.T) {
		bs := layout(3, 3, 3)
		for i := 6; i < 9; i++ {
			bs[i].Down = true
		}
		cur := []int{0, 3, -1, -1, -1, -1} // only g0 and g1 are left: 3+3 keeps 3
		got, err := Complete(p, bs, cur, r)
		if !IsDegraded(err) || !strings.Contains(err.Error(), "at most 3 shards") {
			t.Fatalf("err = %v, want degraded with at most 3", err)
		}
		checkPlacement(t, p, bs, cur, got)
		if s := Survivors(p, bs, got); s != 3 {
			t.Fatalf("degraded placement keeps %d, want the best, 3", s)
		}
	})
	t.Run("no holes", func(t *testing.T) {
		bs := layout(3, 3, 3)
		got, err := Complete(p, bs, []int{0, 1, 3, 4, 6, 7}, r)
		if err != nil || !slices.Equal(got, []int{0, 1, 3, 4, 6, 7}) {
			t.Fatalf("valid, full: got %v, %v", got, err)
		}
		got, err = Complete(p, bs, []int{0, 1, 2, 3, 4, 6}, r)
		if !IsDegraded(err) || !slices.Equal(got, []int{0, 1, 2, 3, 4, 6}) {
			t.Fatalf("invalid, full: got %v, %v", got, err)
		}
	})
	t.Run("too few eligible backends is a plain error", func(t *testing.T) {
		bs := layout(3, 3, 3)
		bs[2].Full, bs[5].Down = true, true
		_, err := Complete(p, bs, []int{0, 1, 3, -1, -1, -1}, r) // 3 holes, 4 free
		if err != nil {
			t.Fatalf("3 holes, 4 free: %v", err)
		}
		_, err = Complete(p, bs, []int{0, 1, -1, -1, -1, -1}, r)
		if err != nil {
			t.Fatalf("4 holes, 5 free: %v", err)
		}
		bs[6].Down, bs[7].Down = true, true
		_, err = Complete(p, bs, []int{0, 1, -1, -1, -1, -1}, r)
		if !errors.Is(err, ErrUnplaceable) || IsDegraded(err) ||
			!strings.Contains(err.Error(), "need 4 eligible backends to fill 4 hole(s), have 3 (2 already used, 3 down, 1 full)") {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("bad input", func(t *testing.T) {
		bs := layout(3, 3, 3)
		for _, cur := range [][]int{{0, 1, 2}, {0, 0, -1, -1, -1, -1}, {0, 9, -1, -1, -1, -1}} {
			if _, err := Complete(p, bs, cur, r); !errors.Is(err, ErrInvalidPolicy) {
				t.Errorf("%v: err = %v", cur, err)
			}
		}
	})
}

// TestCompleteMatchesBruteForce fills random holes in random placements and
// compares with enumeration of every way to fill them.
func TestCompleteMatchesBruteForce(t *testing.T) {
	seed := testSeed(t)
	r := rand.New(rand.NewPCG(seed, 4))
	var ok, degraded, short int
	for iter := range 5000 {
		p, bs := randomConfig(r, 6, 5)
		if p.Validate() != nil || len(bs) < p.N {
			continue
		}
		// Existing shards on random distinct backends, some of them down.
		cur := slices.Repeat([]int{-1}, p.N)
		perm := r.Perm(len(bs))
		for pos := range cur {
			if r.IntN(2) == 0 {
				cur[pos] = perm[pos]
			}
		}
		got, err := Complete(p, bs, cur, r)
		fixed := groupCounts(bs, cur)
		room := eligibleRoom(p, bs, cur)
		holes := 0
		for _, i := range cur {
			if i < 0 {
				holes++
			}
		}
		best := bruteBest(fixed, room, holes, p.RedundantGroups, p.RedundantNodes)
		switch {
		case best < 0:
			short++
			if !errors.Is(err, ErrUnplaceable) || got != nil {
				t.Fatalf("iter %d (seed %d): too few backends, got %v, %v", iter, seed, got, err)
			}
			continue
		case best < p.K:
			degraded++
			if !IsDegraded(err) {
				t.Fatalf("iter %d (seed %d): best %d < K=%d, err = %v", iter, seed, best, p.K, err)
			}
		default:
			ok++
			if err != nil {
				t.Fatalf("iter %d (seed %d): %+v cur %v: best %d >= K, err = %v", iter, seed, p, cur, best, err)
			}
		}
		checkPlacement(t, p, bs, cur, got)
		if s := bruteSurvivors(groupCounts(bs, got), p.RedundantGroups, p.RedundantNodes); s < min(best, p.K) {
			t.Fatalf("iter %d (seed %d): %+v cur %v: got %v keeping %d, best %d", iter, seed, p, cur, got, s, best)
		}
	}
	t.Logf("%d met, %d degraded, %d short of backends", ok, degraded, short)
	if ok < 100 || degraded < 100 || short < 20 {
		t.Fatalf("generator is lopsided")
	}
}
