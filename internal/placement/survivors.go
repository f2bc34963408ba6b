package placement

import "slices"

// Valid reports whether placement has N distinct in-range entries whose
// per-group shard counts satisfy the policy's redundancy rule. It does not
// look at Down, Full, pins or excludes: use Policy.Eligible for that.
func Valid(p Policy, backends []Backend, placement []int) bool {
	if len(placement) != p.N {
		return false
	}
	seen := make(map[int]bool, len(placement))
	for _, i := range placement {
		if i < 0 || i >= len(backends) || seen[i] {
			return false
		}
		seen[i] = true
	}
	return Survivors(p, backends, placement) >= p.K
}

// Survivors returns the worst-case number of shards left after losing any
// RedundantGroups groups plus RedundantNodes backends in each remaining
// group. Holes (negative entries) and out-of-range entries hold nothing. A
// backend listed twice holds two shards and loses both when it fails.
func Survivors(p Policy, backends []Backend, placement []int) int {
	perBackend := make(map[int]int, len(placement))
	for _, i := range placement {
		if i >= 0 && i < len(backends) {
			perBackend[i]++
		}
	}
	perGroup := make(map[string][]int)
	for i, n := range perBackend {
		g := backends[i].Group
		perGroup[g] = append(perGroup[g], n)
	}
	// A group that is not dropped keeps its shards minus those on its
	// RedundantNodes fullest backends. Dropping a group costs that many more,
	// so the adversary drops the RedundantGroups groups that keep the most.
	kept := make([]int, 0, len(perGroup))
	for _, counts := range perGroup {
		slices.Sort(counts)
		s := 0
		for j, n := range counts {
			if j < len(counts)-max(p.RedundantNodes, 0) {
				s += n
			}
		}
		kept = append(kept, s)
	}
	return sumButLargest(kept, p.RedundantGroups)
}

// sumButLargest returns the sum of v without its r largest elements.
func sumButLargest(v []int, r int) int {
	slices.Sort(v)
	s := 0
	for j := 0; j < len(v)-max(r, 0); j++ {
		s += v[j]
	}
	return s
}
