package placement

import (
	"fmt"
	"math/rand/v2"
	"testing"
	"time"
)

// TestSpread runs 10,000 Selects of N=20 on 40 equal backends, in several
// group layouts, with and without the caller feeding the load back, and
// requires every backend's count to be within 15% of the mean.
func TestSpread(t *testing.T) {
	for _, tc := range []struct {
		sizes []int
		p     Policy
	}{
		{[]int{40}, Policy{K: 16, N: 20}},
		{[]int{10, 10, 10, 10}, Policy{K: 10, N: 20, RedundantGroups: 1, RedundantNodes: 1}},
		{[]int{5, 5, 5, 5, 5, 5, 5, 5}, Policy{K: 10, N: 20, RedundantGroups: 1, RedundantNodes: 1}},
		{[]int{2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2}, Policy{K: 16, N: 20, RedundantGroups: 1}},
	} {
		for _, feedback := range []bool{false, true} {
			t.Run(fmt.Sprintf("%dgroups/feedback=%v", len(tc.sizes), feedback), func(t *testing.T) {
				bs := layout(tc.sizes...)
				r := rand.New(rand.NewPCG(42, uint64(len(tc.sizes))))
				count := make([]int, len(bs))
				const calls = 10000
				for range calls {
					got, err := Select(tc.p, bs, r)
					if err != nil {
						t.Fatal(err)
					}
					for _, i := range got {
						count[i]++
						if feedback {
							bs[i].Load++
						}
					}
				}
				mean := float64(calls*tc.p.N) / float64(len(bs))
				lo, hi := count[0], count[0]
				for i, c := range count {
					if float64(c) < 0.85*mean || float64(c) > 1.15*mean {
						t.Errorf("backend %s chosen %d times, mean %.0f", bs[i].ID, c, mean)
					}
					lo, hi = min(lo, c), max(hi, c)
				}
				t.Logf("mean %.0f, min %d, max %d", mean, lo, hi)
			})
		}
	}
}

// TestPreference checks that a backend 10x slower than the others is chosen
// less often than each of them, that a heavily loaded one is chosen less,
// and that Down and Full backends are never chosen.
func TestPreference(t *testing.T) {
	bs := layout(10, 10, 10, 10)
	for i := range bs {
		bs[i].Latency = time.Millisecond
	}
	const slow, busy, down, full = 3, 13, 23, 33
	bs[slow].Latency = 10 * time.Millisecond
	bs[busy].Load = 20
	for i := range bs {
		if i != busy {
			bs[i].Load = 2
		}
	}
	bs[down].Down = true
	bs[full].Full = true
	p := Policy{K: 10, N: 20, RedundantGroups: 1, RedundantNodes: 1}
	r := rand.New(rand.NewPCG(5, 5))
	count := make([]int, len(bs))
	for range 5000 {
		got, err := Select(p, bs, r)
		if err != nil {
			t.Fatal(err)
		}
		for _, i := range got {
			count[i]++
		}
	}
	if count[down] != 0 || count[full] != 0 {
		t.Fatalf("down chosen %d times, full %d times", count[down], count[full])
	}
	for i, c := range count {
		if i == slow || i == busy || i == down || i == full {
			continue
		}
		if c <= count[slow] || c <= count[busy] {
			t.Errorf("backend %s chosen %d times, slow one %d, busy one %d", bs[i].ID, c, count[slow], count[busy])
		}
	}
	t.Logf("normal %d, 10x slower %d, 5x loaded %d", count[0], count[slow], count[busy])

	// Order of preference: the fast backends lead the result.
	bs = layout(40)
	for i := range bs {
		bs[i].Latency = time.Duration(1+i%2*9) * time.Millisecond // even: 1ms, odd: 10ms
	}
	first := 0
	for range 1000 {
		got, err := Select(Policy{K: 16, N: 20}, bs, r)
		if err != nil {
			t.Fatal(err)
		}
		if got[0]%2 == 0 {
			first++
		}
	}
	if first < 900 {
		t.Fatalf("a fast backend led only %d of 1000 results", first)
	}
}
