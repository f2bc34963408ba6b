package placement

import (
	"cmp"
	"slices"
)

// solver decides how many new shards each group gets. It sees, per group,
// the shards already placed (fixed) and the free eligible backends (free),
// and the number of holes to fill. See doc.go for the reasoning.
type solver struct {
	rg, rn, holes int
	fixed, free   []int     // per group; free is capped at holes
	key           []float64 // per group preference, smaller first

	// Groups by class. linear: fixed >= rn, every new shard raises d by one
	// (up to T). partial: 0 < fixed < rn, rn-fixed shards must be added
	// before d grows. open: fixed == 0 < rn, costs rn to open. Groups that
	// can never reach d > 0 are left out of partial and open.
	linear, partial, open []int
}

func newSolver(rg, rn, holes int, fixed, free []int, key []float64) *solver {
	s := &solver{rg: rg, rn: rn, holes: holes, fixed: fixed, free: make([]int, len(free)), key: key}
	for g := range fixed {
		s.free[g] = min(free[g], holes)
		switch {
		case fixed[g] >= rn:
			s.linear = append(s.linear, g)
		case s.dmax(g) <= 0:
		case fixed[g] > 0:
			s.partial = append(s.partial, g)
		default:
			s.open = append(s.open, g)
		}
	}
	// Largest first: then min(T, dmax) is non-increasing along s.open for
	// every T, so prefix sums give the best j open groups.
	slices.SortFunc(s.open, func(a, b int) int {
		if s.free[a] != s.free[b] {
			return s.free[b] - s.free[a]
		}
		return cmp.Compare(s.key[a], s.key[b])
	})
	return s
}

// d0 is how many shards of group g survive its RN node losses now; dmax is
// the most it could reach. Survivors = sum of d over groups minus the RG
// largest d.
func (s *solver) d0(g int) int   { return max(s.fixed[g]-s.rn, 0) }
func (s *solver) dmax(g int) int { return s.fixed[g] + s.free[g] - s.rn }

func (s *solver) tmax() int {
	t := 0
	for g := range s.fixed {
		t = max(t, s.dmax(g))
	}
	return t
}

// level is the solver's view at one height T, the cap on what a single
// group counts for.
type level struct {
	t, base, lin int
	pre          []int // pre[j]: units the first j open groups take once opened
	bestV        []int // bestV[a]: most units partial groups take for opening cost <= a
	steps        []int // opening costs a where bestV grows, ascending, from 0
}

func (s *solver) at(t int, lv *level) {
	lv.t, lv.base, lv.lin = t, 0, 0
	for g := range s.fixed {
		lv.base += min(s.d0(g), t)
	}
	for _, g := range s.linear {
		lv.lin += max(0, min(t, s.dmax(g))-min(t, s.d0(g)))
	}
	lv.pre = append(lv.pre[:0], 0)
	for j, g := range s.open {
		lv.pre = append(lv.pre, lv.pre[j]+min(t, s.dmax(g)))
	}
	lv.steps = append(lv.steps[:0], 0)
	if len(s.partial) == 0 {
		lv.bestV = append(lv.bestV[:0], 0)
		return
	}
	lv.bestV = s.knapsack(t, nil)
	for a := 1; a < len(lv.bestV); a++ {
		if lv.bestV[a] > lv.bestV[a-1] {
			lv.steps = append(lv.steps, a)
		}
	}
}

// knapsack returns, for each opening budget a <= holes, the most units the
// partial groups can take at height t. If take is non-nil it records, per
// partial group, the budgets at which taking that group improved the value.
func (s *solver) knapsack(t int, take [][]bool) []int {
	best := make([]int, s.holes+1)
	for i, g := range s.partial {
		a, v := s.rn-s.fixed[g], min(t, s.dmax(g))
		for c := s.holes; c >= a; c-- {
			if best[c-a]+v > best[c] {
				best[c] = best[c-a] + v
				if take != nil {
					take[i][c] = true
				}
			}
		}
	}
	return best
}

// maxAt is the most survivors reachable with every group counted up to t.
func (s *solver) maxAt(lv *level) int {
	best := 0
	for _, a := range lv.steps {
		units := lv.lin + lv.bestV[a]
		for j := range lv.pre {
			room := s.holes - a - j*s.rn
			if room < 0 {
				break
			}
			best = max(best, min(room, units+lv.pre[j]))
		}
	}
	return lv.base + best - s.rg*lv.t
}

// max returns the most worst-case survivors any filling of the holes gives.
func (s *solver) max() int {
	best := 0
	var lv level
	for t, tmax := 1, s.tmax(); t <= tmax; t++ {
		s.at(t, &lv)
		best = max(best, s.maxAt(&lv))
	}
	return best
}

// plan returns per-group counts of new shards (summing to at most holes)
// that reach at least target survivors whatever the remaining holes are
// filled with, using as few shards as it can so that the rest can go to the
// preferred backends. ok is false if target is out of reach.
func (s *solver) plan(target int) (x []int, ok bool) {
	x = make([]int, len(s.fixed))
	if s.rg == 0 && s.rn == 0 { // nothing is lost: any filling keeps every shard
		total, room := 0, 0
		for g := range s.fixed {
			total += s.fixed[g]
			room += s.free[g]
		}
		return x, target <= total+min(s.holes, room)
	}
	type choice struct{ cost, t, a, j, units int }
	best := choice{cost: -1}
	var lv level
	for t, tmax := 0, s.tmax(); t <= tmax; t++ {
		s.at(t, &lv)
		units := max(0, target+s.rg*t-lv.base)
		for _, a := range lv.steps {
			need := units - lv.lin - lv.bestV[a]
			j, _ := slices.BinarySearch(lv.pre, need)
			if j == len(lv.pre) {
				continue
			}
			cost := a + j*s.rn + units
			if cost <= s.holes && (best.cost < 0 || cost < best.cost) {
				best = choice{cost, t, a, j, units}
			}
		}
	}
	if best.cost < 0 {
		return nil, false
	}
	t := best.t
	room := make([]int, len(s.fixed)) // units group g may still take at height t
	lvl := make([]int, len(s.fixed))  // d of group g so far
	for _, g := range s.linear {
		room[g] = max(0, min(t, s.dmax(g))-min(t, s.d0(g)))
		lvl[g] = s.d0(g)
	}
	if best.a > 0 {
		take := make([][]bool, len(s.partial))
		for i := range take {
			take[i] = make([]bool, s.holes+1)
		}
		s.knapsack(t, take)
		c := best.a
		for i := len(s.partial) - 1; i >= 0; i-- {
			if g := s.partial[i]; take[i][c] {
				x[g] = s.rn - s.fixed[g]
				room[g] = min(t, s.dmax(g))
				c -= x[g]
			}
		}
	}
	open := slices.Clone(s.open)
	slices.SortStableFunc(open, func(a, b int) int {
		if va, vb := min(t, s.dmax(a)), min(t, s.dmax(b)); va != vb {
			return vb - va
		}
		return cmp.Compare(s.key[a], s.key[b])
	})
	for _, g := range open[:best.j] {
		x[g] = s.rn
		room[g] = min(t, s.dmax(g))
	}
	// Water-fill: each unit goes to the lowest group that can take it, so
	// the groups end up as even as the plan allows.
	for range best.units {
		g := -1
		for h := range room {
			if room[h] > 0 && (g < 0 || lvl[h] < lvl[g] || lvl[h] == lvl[g] && s.key[h] < s.key[g]) {
				g = h
			}
		}
		x[g]++
		lvl[g]++
		room[g]--
	}
	return x, true
}
