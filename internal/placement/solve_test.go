package placement

import (
	"math/rand/v2"
	"testing"
)

func TestSurvivorsRule(t *testing.T) {
	for _, tc := range []struct {
		name   string
		rg, rn int
		counts []int
		want   int
	}{
		{"readme shape 5+5+5", 1, 1, []int{5, 5, 5}, 8},
		{"readme shape 4x4-1", 1, 1, []int{4, 4, 4, 3}, 8},
		{"no loss", 0, 0, []int{3, 4}, 7},
		{"one group lost", 1, 0, []int{4, 4, 4, 4, 4}, 16},
		{"largest group is the one lost", 1, 0, []int{1, 9, 2}, 3},
		{"rn covers small groups", 0, 3, []int{2, 2, 5}, 2},
		{"rn equals group size", 1, 2, []int{2, 2, 2, 2}, 0},
		{"all groups lost", 2, 0, []int{5, 5}, 0},
		{"more lost than exist", 3, 0, []int{5, 5}, 0},
		{"mixed", 1, 2, []int{6, 1, 1, 4}, 2},
		{"two lost", 2, 1, []int{3, 3, 3, 3, 3}, 6},
		{"unused groups", 1, 1, []int{0, 3, 0, 3, 0, 3}, 4},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := bruteSurvivors(tc.counts, tc.rg, tc.rn); got != tc.want {
				t.Fatalf("brute force: got %d, want %d", got, tc.want)
			}
			sizes := make([]int, len(tc.counts))
			for g, c := range tc.counts {
				sizes[g] = c + 1
			}
			bs := layout(sizes...)
			var pl []int
			i := 0
			for g, c := range tc.counts {
				for j := range c {
					pl = append(pl, i+j)
				}
				i += sizes[g]
			}
			p := Policy{K: tc.want, N: len(pl), RedundantGroups: tc.rg, RedundantNodes: tc.rn}
			if got := Survivors(p, bs, pl); got != tc.want {
				t.Fatalf("Survivors = %d, want %d", got, tc.want)
			}
			if tc.want > 0 && !Valid(p, bs, pl) {
				t.Fatalf("Valid = false with K = survivors")
			}
			p.K = tc.want + 1
			if p.K <= p.N && Valid(p, bs, pl) {
				t.Fatalf("Valid = true with K = survivors+1")
			}
		})
	}
}

func TestSurvivorsHolesAndDuplicates(t *testing.T) {
	bs := layout(3, 3)
	p := Policy{K: 2, N: 4, RedundantGroups: 0, RedundantNodes: 1}
	// Holes hold nothing: group 0 has 2, group 1 has 1 -> (2-1)+(1-1) = 1.
	if got := Survivors(p, bs, []int{0, 1, -1, 3}); got != 1 {
		t.Fatalf("with a hole: got %d, want 1", got)
	}
	// A backend listed twice loses both shards when it fails.
	if got := Survivors(p, bs, []int{0, 0, 1, 3}); got != 1 {
		t.Fatalf("with a duplicate: got %d, want 1", got)
	}
	if Valid(p, bs, []int{0, 0, 1, 3}) || Valid(p, bs, []int{0, 1, 2}) || Valid(p, bs, []int{0, 1, 2, 9}) {
		t.Fatal("Valid accepted a duplicate, short or out-of-range placement")
	}
}

// TestSolverMatchesBruteForce checks the polynomial solver against
// enumeration of every per-group count vector, including groups that
// already hold shards (as in Complete), and checks that plans reach their
// target on their own and after any further filling.
func TestSolverMatchesBruteForce(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for iter := range 5000 {
		groups := 1 + r.IntN(6)
		fixed, room := make([]int, groups), make([]int, groups)
		total := 0
		for g := range groups {
			if r.IntN(3) == 0 {
				fixed[g] = r.IntN(4)
			}
			room[g] = r.IntN(6)
			total += room[g]
		}
		holes := r.IntN(total + 1)
		rg, rn := r.IntN(3), r.IntN(4)
		key := make([]float64, groups)
		for g := range key {
			key[g] = r.Float64()
		}
		want := bruteBest(fixed, room, holes, rg, rn)
		s := newSolver(rg, rn, holes, fixed, room, key)
		if got := s.max(); got != want {
			t.Fatalf("iter %d: fixed %v room %v holes %d rg %d rn %d: solver max %d, brute force %d",
				iter, fixed, room, holes, rg, rn, got, want)
		}
		for target := 0; target <= want+1; target++ {
			x, ok := s.plan(target)
			if ok != (target <= want) {
				t.Fatalf("iter %d: plan(%d) ok=%v with best %d", iter, target, ok, want)
			}
			if !ok {
				continue
			}
			c := make([]int, groups)
			sum := 0
			for g := range c {
				if x[g] < 0 || x[g] > room[g] {
					t.Fatalf("iter %d: plan gives group %d %d shards, room %d", iter, g, x[g], room[g])
				}
				c[g] = fixed[g] + x[g]
				sum += x[g]
			}
			if sum > holes {
				t.Fatalf("iter %d: plan uses %d shards for %d holes", iter, sum, holes)
			}
			// The skeleton alone reaches the target (with nothing to lose,
			// the plan is empty and only the full filling does).
			if got := bruteSurvivors(c, rg, rn); got < target && (rg > 0 || rn > 0) {
				t.Fatalf("iter %d: fixed %v room %v rg %d rn %d: plan %v keeps %d < target %d",
					iter, fixed, room, rg, rn, x, got, target)
			}
			// Fill the rest at random: survivors must not drop below target.
			for left := holes - sum; left > 0; {
				g := r.IntN(groups)
				if c[g]-fixed[g] < room[g] {
					c[g]++
					left--
				}
			}
			if got := bruteSurvivors(c, rg, rn); got < target {
				t.Fatalf("iter %d: plan %v filled to %v keeps %d < target %d", iter, x, c, got, target)
			}
		}
	}
}

// TestBestUnconstrained checks Validate's static bound against every layout
// of N shards in up to N groups of unlimited size.
func TestBestUnconstrained(t *testing.T) {
	for n := 1; n <= 8; n++ {
		for rg := range 4 {
			for rn := range 4 {
				fixed, room := make([]int, n), make([]int, n)
				for g := range room {
					room[g] = n
				}
				want := bruteBest(fixed, room, n, rg, rn)
				p := Policy{K: 1, N: n, RedundantGroups: rg, RedundantNodes: rn}
				if got := p.bestUnconstrained(); got != want {
					t.Fatalf("N=%d RG=%d RN=%d: bound %d, brute force %d", n, rg, rn, got, want)
				}
			}
		}
	}
}
