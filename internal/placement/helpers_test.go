package placement

import (
	"flag"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"
)

var seedFlag = flag.Uint64("seed", 0, "seed for the randomized tests (0: from the clock)")

// testSeed returns the seed for a randomized test and logs it for replay.
func testSeed(t *testing.T) uint64 {
	seed := *seedFlag
	if seed == 0 {
		seed = uint64(time.Now().UnixNano())
	}
	t.Logf("seed %d (replay with -seed=%d)", seed, seed)
	return seed
}

// Brute-force references, written independently of the solver.

// bruteSurvivors literally tries every choice of rg groups to drop (among
// all groups, used or not) and then takes rn shards from each other group.
func bruteSurvivors(counts []int, rg, rn int) int {
	if rg >= len(counts) {
		return 0
	}
	worst := -1
	var rec func(start int, dropped []bool, left int)
	rec = func(start int, dropped []bool, left int) {
		if left == 0 {
			s := 0
			for g, c := range counts {
				if !dropped[g] {
					s += c - min(c, rn)
				}
			}
			if worst < 0 || s < worst {
				worst = s
			}
			return
		}
		for g := start; g < len(counts); g++ {
			dropped[g] = true
			rec(g+1, dropped, left-1)
			dropped[g] = false
		}
	}
	rec(0, make([]bool, len(counts)), rg)
	return worst
}

// bruteBest returns the most survivors over every way of adding x_g <= room_g
// shards to fixed with sum(x) == holes, or -1 if the rooms are too small.
func bruteBest(fixed, room []int, holes, rg, rn int) int {
	best := -1
	c := append([]int(nil), fixed...)
	var rec func(g, left int)
	rec = func(g, left int) {
		if g == len(c) {
			if left == 0 {
				best = max(best, bruteSurvivors(c, rg, rn))
			}
			return
		}
		for x := 0; x <= min(room[g], left); x++ {
			c[g] = fixed[g] + x
			rec(g+1, left-x)
		}
		c[g] = fixed[g]
	}
	rec(0, holes)
	return best
}

// layout builds backends: sizes[g] backends in group "g<g>", ids "g<g>/<i>".
func layout(sizes ...int) []Backend {
	var bs []Backend
	for g, n := range sizes {
		for i := range n {
			bs = append(bs, Backend{
				ID:     fmt.Sprintf("g%d/%d", g, i),
				Group:  fmt.Sprintf("g%d", g),
				Labels: map[string]string{"country": fmt.Sprintf("c%d", g%3)},
			})
		}
	}
	return bs
}

// groupCounts returns shard counts per group name, in the order groups
// first appear in backends (all groups, zero included).
func groupCounts(backends []Backend, placement []int) []int {
	idx := map[string]int{}
	var counts []int
	for _, b := range backends {
		if _, ok := idx[b.Group]; !ok {
			idx[b.Group] = len(counts)
			counts = append(counts, 0)
		}
	}
	for _, i := range placement {
		if i >= 0 {
			counts[idx[backends[i].Group]]++
		}
	}
	return counts
}

// eligibleRoom returns, per group (same order as groupCounts), the eligible
// backends not in used.
func eligibleRoom(p Policy, backends []Backend, used []int) []int {
	inUse := map[int]bool{}
	for _, i := range used {
		if i >= 0 {
			inUse[i] = true
		}
	}
	idx := map[string]int{}
	var room []int
	for i := range backends {
		b := &backends[i]
		if _, ok := idx[b.Group]; !ok {
			idx[b.Group] = len(room)
			room = append(room, 0)
		}
		if !inUse[i] && !b.Down && !b.Full && p.pinned(b) && !p.excluded(b) {
			room[idx[b.Group]]++
		}
	}
	return room
}

// checkPlacement fails t unless out has N distinct in-range entries, keeps
// every non-hole entry of current, and puts new shards only on eligible
// backends.
func checkPlacement(t testing.TB, p Policy, backends []Backend, current, out []int) {
	t.Helper()
	if len(out) != p.N {
		t.Fatalf("placement has %d entries, want %d", len(out), p.N)
	}
	seen := map[int]bool{}
	for pos, i := range out {
		if i < 0 || i >= len(backends) || seen[i] {
			t.Fatalf("bad or duplicate entry %d at %d in %v", i, pos, out)
		}
		seen[i] = true
		if current != nil && current[pos] >= 0 {
			if current[pos] != i {
				t.Fatalf("existing entry %d changed from %d to %d", pos, current[pos], i)
			}
			continue
		}
		if b := &backends[i]; b.Down || b.Full || !p.pinned(b) || p.excluded(b) {
			t.Fatalf("picked ineligible backend %d %+v", i, *b)
		}
	}
}

// randomConfig draws a small random configuration: up to maxGroups groups
// of up to maxSize backends, some down or full, with random speed and load.
func randomConfig(r *rand.Rand, maxGroups, maxSize int) (Policy, []Backend) {
	var bs []Backend
	for g := range 1 + r.IntN(maxGroups) {
		for i := range r.IntN(maxSize + 1) {
			bs = append(bs, Backend{
				ID:      fmt.Sprintf("g%d/%d", g, i),
				Group:   fmt.Sprintf("g%d", g),
				Down:    r.IntN(8) == 0,
				Full:    r.IntN(10) == 0,
				Latency: time.Duration(r.IntN(4)) * time.Millisecond,
				Load:    int64(r.IntN(5)),
			})
		}
	}
	n := 1 + r.IntN(max(len(bs), 1)+2)
	k := 1 + r.IntN(n)
	if r.IntN(2) == 0 {
		k = 1 + r.IntN((n+1)/2)
	}
	p := Policy{K: k, N: n, RedundantGroups: r.IntN(3), RedundantNodes: r.IntN(3)}
	return p, bs
}
