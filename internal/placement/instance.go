package placement

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
)

// instance is one placement problem: the backends, the placement being
// completed (all holes for Select), and the free eligible candidates.
type instance struct {
	p        Policy
	backends []Backend
	current  []int
	holes    int
	gidx     map[string]int
	last     string // group name of the last lookup, and its index
	lastG    int
	fixed    []int     // per group: shards already placed
	free     []int     // per group: candidates
	gweight  []float64 // per group: sum of candidate weights
	cands    []cand    // bucketed by group: group g is cands[start[g]:start[g+1]]
	start    []int
	tally    tally
	rnd      *rand.Rand
}

type cand struct {
	i   int32   // backend index
	key float64 // smaller is preferred; random, scaled by 1/weight
}

// tally counts the backends that are not candidates, by reason.
type tally struct{ inUse, down, full, excluded, unpinned int }

func (t tally) String() string {
	var parts []string
	for _, r := range []struct {
		n    int
		what string
	}{{t.inUse, "already used"}, {t.down, "down"}, {t.full, "full"}, {t.excluded, "excluded"}, {t.unpinned, "outside pins"}} {
		if r.n > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", r.n, r.what))
		}
	}
	if len(parts) == 0 {
		return ""
	}
	return " (" + strings.Join(parts, ", ") + ")"
}

func newInstance(p Policy, backends []Backend, current []int, rnd *rand.Rand) (*instance, error) {
	if len(current) != p.N {
		return nil, fmt.Errorf("%w: placement has %d entries, want N=%d", ErrInvalidPolicy, len(current), p.N)
	}
	in := &instance{p: p, backends: backends, current: current, rnd: rnd, lastG: -1,
		gidx: make(map[string]int, len(backends)/8+1), fixed: make([]int, 0, 16),
		free: make([]int, 0, 16), gweight: make([]float64, 0, 16)}
	used := make([]bool, len(backends))
	for pos, i := range current {
		switch {
		case i < 0:
			in.holes++
		case i >= len(backends):
			return nil, fmt.Errorf("%w: placement entry %d is %d, out of range [0,%d)", ErrInvalidPolicy, pos, i, len(backends))
		case used[i]:
			return nil, fmt.Errorf("%w: backend %d (%s) holds two shards", ErrInvalidPolicy, i, backends[i].ID)
		default:
			used[i] = true
			in.fixed[in.group(backends[i].Group)]++
		}
	}
	var sumLat, sumLoad float64
	var nLat, nCand int
	cg := make([]int32, len(backends)) // group of candidate i, or -1
	for i := range backends {
		cg[i] = -1
		b := &backends[i]
		switch {
		case used[i]:
			in.tally.inUse++
		case b.Down:
			in.tally.down++
		case b.Full:
			in.tally.full++
		case p.excluded(b):
			in.tally.excluded++
		case !p.pinned(b):
			in.tally.unpinned++
		default:
			g := in.group(b.Group)
			in.free[g]++
			cg[i] = int32(g)
			nCand++
			if b.Latency > 0 {
				sumLat += float64(b.Latency)
				nLat++
			}
			sumLoad += float64(max(b.Load, 0))
		}
	}
	if nCand < in.holes {
		what := "eligible backends"
		if in.holes < p.N {
			what = fmt.Sprintf("eligible backends to fill %d hole(s)", in.holes)
		}
		return nil, fmt.Errorf("%w: need %d %s, have %d%s", ErrUnplaceable, in.holes, what, nCand, in.tally)
	}
	meanLat, meanLoad := 0.0, sumLoad/float64(max(nCand, 1))
	if nLat > 0 {
		meanLat = sumLat / float64(nLat)
	}
	in.start = make([]int, len(in.free)+1)
	for g, f := range in.free {
		in.start[g+1] = in.start[g] + f
	}
	next := slices.Clone(in.start[:len(in.free)])
	in.cands = make([]cand, nCand)
	for i, g := range cg {
		if g < 0 {
			continue
		}
		w := weight(&backends[i], meanLat, meanLoad)
		in.gweight[g] += w
		in.cands[next[g]] = cand{i: int32(i), key: in.exp() / w}
		next[g]++
	}
	return in, nil
}

// weight is a candidate's preference: inversely proportional to its latency
// relative to the mean (unknown counts as the mean) and to 1+load/mean load.
func weight(b *Backend, meanLat, meanLoad float64) float64 {
	lat, load := 1.0, 1.0
	if b.Latency > 0 && meanLat > 0 {
		lat = min(max(float64(b.Latency)/meanLat, 1.0/64), 64)
	}
	if meanLoad > 0 {
		load = 1 + float64(max(b.Load, 0))/meanLoad
	}
	return 1 / (lat * load)
}

func (in *instance) exp() float64 {
	if in.rnd == nil {
		return rand.ExpFloat64()
	}
	return in.rnd.ExpFloat64()
}

func (in *instance) group(name string) int {
	if in.lastG >= 0 && name == in.last {
		return in.lastG // backends usually come group by group
	}
	g, ok := in.gidx[name]
	if !ok {
		g = len(in.fixed)
		in.gidx[name] = g
		in.fixed = append(in.fixed, 0)
		in.free = append(in.free, 0)
		in.gweight = append(in.gweight, 0)
	}
	in.last, in.lastG = name, g
	return g
}

func (in *instance) eligibleGroups() int {
	n := 0
	for _, f := range in.free {
		if f > 0 {
			n++
		}
	}
	return n
}

// solver builds the group-level problem. Group keys are drawn like backend
// keys, weighted by the group's total candidate weight, so that when the
// solver may choose among groups it picks fast, idle, large ones more often.
func (in *instance) solver() *solver {
	key := make([]float64, len(in.fixed))
	for g := range key {
		key[g] = in.exp() / in.gweight[g] // +Inf for groups without candidates
	}
	return newSolver(in.p.RedundantGroups, in.p.RedundantNodes, in.holes, in.fixed, in.free, key)
}
