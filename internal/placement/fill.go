package placement

import (
	"cmp"
	"slices"
)

// fill puts x[g] new shards on group g's preferred candidates, then the
// remaining holes on the preferred candidates overall, and returns the
// completed placement. Holes are filled in order of preference. Only the
// skeleton groups and the chosen shards are sorted; the rest is a linear
// selection, so this stays cheap with thousands of candidates.
func (in *instance) fill(x []int) []int {
	chosen := make([]cand, 0, in.holes)
	rest := in.cands[:0] // compacts cands in place; reads stay ahead of writes
	for g := range in.free {
		b := in.cands[in.start[g]:in.start[g+1]]
		if x[g] > 0 {
			sortByKey(b)
			chosen = append(chosen, b[:x[g]]...)
			b = b[x[g]:]
		}
		rest = append(rest, b...)
	}
	m := in.holes - len(chosen)
	smallest(rest, m)
	chosen = append(chosen, rest[:m]...)
	sortByKey(chosen)

	out := slices.Clone(in.current)
	pos := 0
	for _, c := range chosen {
		for out[pos] >= 0 {
			pos++
		}
		out[pos] = int(c.i)
	}
	return out
}

func sortByKey(c []cand) {
	slices.SortFunc(c, func(a, b cand) int {
		if a.key != b.key {
			return cmp.Compare(a.key, b.key)
		}
		return int(a.i - b.i)
	})
}

// smallest rearranges c so that c[:m] holds m candidates with the smallest
// keys (quickselect with a three-way partition; keys are random, so the
// middle element is as good a pivot as any).
func smallest(c []cand, m int) {
	lo, hi := 0, len(c)
	for lo < m && m < hi {
		p := c[lo+(hi-lo)/2].key
		lt, i, gt := lo, lo, hi
		for i < gt {
			switch k := c[i].key; {
			case k < p:
				c[lt], c[i] = c[i], c[lt]
				lt++
				i++
			case k > p:
				gt--
				c[i], c[gt] = c[gt], c[i]
			default:
				i++
			}
		}
		switch { // now c[lo:lt] < p, c[lt:gt] == p, c[gt:hi] > p
		case m < lt:
			hi = lt
		case m > gt:
			lo = gt
		default:
			return
		}
	}
}
