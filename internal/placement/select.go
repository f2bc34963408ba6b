package placement

import (
	"cmp"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
)

// Select returns N distinct indices into backends satisfying the policy, or
// an error wrapping ErrInvalidPolicy or ErrUnplaceable that says why no such
// placement exists. It never picks Down, Full, excluded or (with pins)
// unpinned backends, prefers fast and lightly loaded ones, and randomises so
// that repeated calls spread load. The result is in order of preference, so
// callers that read the first K shards favour the fastest backends. A nil
// rnd uses the global source.
func Select(p Policy, backends []Backend, rnd *rand.Rand) ([]int, error) {
	if err := p.Validate(); err != nil {
		return nil, err
	}
	current := make([]int, p.N)
	for i := range current {
		current[i] = -1
	}
	in, err := newInstance(p, backends, current, rnd)
	if err != nil {
		return nil, err
	}
	s := in.solver()
	if best := s.max(); best < p.K {
		return nil, fmt.Errorf("%w: K=%d N=%d: losing %d group(s) plus %d node(s) in every other group "+
			"leaves at most %d shards on the %d eligible backends in %d group(s)%s",
			ErrUnplaceable, p.K, p.N, p.RedundantGroups, p.RedundantNodes, best,
			len(in.cands), in.eligibleGroups(), in.tally.String())
	}
	x, ok := s.plan(p.K)
	if !ok {
		panic("placement: solver found a bound it cannot plan") // max and plan disagree: a bug
	}
	return in.fill(x), nil
}

// instance is one placement problem: the backends, the placement being
// completed (all holes for Select), and the free eligible candidates.
type instance struct {
	p        Policy
	backends []Backend
	current  []int
	holes    int
	gidx     map[string]int
	fixed    []int     // per group: shards already placed
	free     []int     // per group: candidates
	gweight  []float64 // per group: sum of candidate weights
	cands    []cand
	tally    tally
	rnd      *rand.Rand
}

type cand struct {
	i, g int
	key  float64 // smaller is preferred; random, scaled by 1/weight
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
	in := &instance{p: p, backends: backends, current: current, gidx: make(map[string]int), rnd: rnd}
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
	var nLat int
	for i := range backends {
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
			in.cands = append(in.cands, cand{i: i, g: g})
			if b.Latency > 0 {
				sumLat += float64(b.Latency)
				nLat++
			}
			sumLoad += float64(max(b.Load, 0))
		}
	}
	if len(in.cands) < in.holes {
		what := "eligible backends"
		if in.holes < p.N {
			what = fmt.Sprintf("eligible backends to fill %d hole(s)", in.holes)
		}
		return nil, fmt.Errorf("%w: need %d %s, have %d%s", ErrUnplaceable, in.holes, what, len(in.cands), in.tally)
	}
	meanLat, meanLoad := 0.0, sumLoad/float64(max(len(in.cands), 1))
	if nLat > 0 {
		meanLat = sumLat / float64(nLat)
	}
	for c := range in.cands {
		w := weight(&backends[in.cands[c].i], meanLat, meanLoad)
		in.gweight[in.cands[c].g] += w
		in.cands[c].key = in.exp() / w
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
	g, ok := in.gidx[name]
	if !ok {
		g = len(in.fixed)
		in.gidx[name] = g
		in.fixed = append(in.fixed, 0)
		in.free = append(in.free, 0)
		in.gweight = append(in.gweight, 0)
	}
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

// fill puts x[g] new shards on group g's preferred candidates, then the
// remaining holes on the preferred candidates overall, and returns the
// completed placement. Holes are filled in order of preference.
func (in *instance) fill(x []int) []int {
	slices.SortFunc(in.cands, func(a, b cand) int { return cmp.Or(cmp.Compare(a.key, b.key), cmp.Compare(a.i, b.i)) })
	rest := in.holes
	take := make([]bool, len(in.cands))
	for c, cd := range in.cands {
		if x[cd.g] > 0 {
			x[cd.g]--
			take[c] = true
			rest--
		}
	}
	for c := range in.cands {
		if rest == 0 {
			break
		}
		if !take[c] {
			take[c] = true
			rest--
		}
	}
	out := slices.Clone(in.current)
	pos := 0
	for c, cd := range in.cands {
		if !take[c] {
			continue
		}
		for out[pos] >= 0 {
			pos++
		}
		out[pos] = cd.i
	}
	return out
}
