package placement

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestSelectCases(t *testing.T) {
	down := func(bs []Backend, idx ...int) []Backend {
		for _, i := range idx {
			bs[i].Down = true
		}
		return bs
	}
	for _, tc := range []struct {
		name     string
		p        Policy
		backends []Backend
		wantErr  error              // nil: must succeed
		errHas   string             // substring of the error
		counts   func(c []int) bool // if set, must accept the per-group counts
	}{
		{
			name:     "0-stor README policy can never be met",
			p:        Policy{K: 10, N: 15, RedundantGroups: 1, RedundantNodes: 1},
			backends: layout(2, 2),
			wantErr:  ErrInvalidPolicy, errHas: "at most 8 shards survive",
		},
		{
			name:     "0-stor README policy, many groups: still not",
			p:        Policy{K: 10, N: 15, RedundantGroups: 1, RedundantNodes: 1},
			backends: layout(5, 5, 5, 5, 5, 5),
			wantErr:  ErrInvalidPolicy, errHas: "at most 8 shards survive",
		},
		{
			name:     "README shape without node loss, README backends: too few",
			p:        Policy{K: 10, N: 15, RedundantGroups: 1},
			backends: layout(2, 2),
			wantErr:  ErrUnplaceable, errHas: "need 15 eligible backends, have 4",
		},
		{
			name:     "README shape without node loss: 5+5+5",
			p:        Policy{K: 10, N: 15, RedundantGroups: 1},
			backends: layout(5, 5, 5),
			counts:   exactly(5, 5, 5),
		},
		{
			name:     "K=8 of 15, RG=1 RN=1: exactly 5+5+5",
			p:        Policy{K: 8, N: 15, RedundantGroups: 1, RedundantNodes: 1},
			backends: layout(5, 5, 5),
			counts:   exactly(5, 5, 5),
		},
		{
			name:     "K=8 of 15, RG=1 RN=1 on two groups: at most 6",
			p:        Policy{K: 8, N: 15, RedundantGroups: 1, RedundantNodes: 1},
			backends: layout(10, 10),
			wantErr:  ErrUnplaceable, errHas: "leaves at most 6 shards",
		},
		{
			name:     "one group cannot survive its own loss",
			p:        Policy{K: 2, N: 4, RedundantGroups: 1},
			backends: layout(10),
			wantErr:  ErrUnplaceable, errHas: "in 1 group(s)",
		},
		{
			name:     "groups no larger than RN count for nothing",
			p:        Policy{K: 3, N: 6, RedundantNodes: 2},
			backends: layout(2, 2, 2, 5),
			counts:   func(c []int) bool { return c[3] >= 5 }, // the big group must hold 5; the sixth goes anywhere
		},
		{
			name:     "no redundancy: any N",
			p:        Policy{K: 3, N: 5},
			backends: layout(1, 1, 1, 1, 1),
			counts:   exactly(1, 1, 1, 1, 1),
		},
		{
			name:     "down backends named in the error",
			p:        Policy{K: 3, N: 5},
			backends: down(layout(3, 3), 0, 1, 4),
			wantErr:  ErrUnplaceable, errHas: "need 5 eligible backends, have 3 (3 down)",
		},
		{
			name:     "down backends force the layout",
			p:        Policy{K: 4, N: 6, RedundantGroups: 1},
			backends: down(layout(4, 4, 4), 0, 1, 2),
			// g0 has one live backend, so the best is 1+3+2 or 0+3+3: 3 survive.
			wantErr: ErrUnplaceable, errHas: "leaves at most 3 shards",
		},
		{
			name:     "RG=2: spread over at least four groups",
			p:        Policy{K: 4, N: 8, RedundantGroups: 2},
			backends: layout(8, 8, 8, 8),
			counts:   exactly(2, 2, 2, 2),
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := rand.New(rand.NewPCG(7, uint64(len(tc.name))))
			for range 50 {
				got, err := Select(tc.p, tc.backends, r)
				if tc.wantErr != nil {
					if !errors.Is(err, tc.wantErr) || !strings.Contains(err.Error(), tc.errHas) {
						t.Fatalf("err = %v, want %v containing %q", err, tc.wantErr, tc.errHas)
					}
					return
				}
				if err != nil {
					t.Fatal(err)
				}
				checkPlacement(t, tc.p, tc.backends, nil, got)
				if !Valid(tc.p, tc.backends, got) {
					t.Fatalf("invalid placement %v", got)
				}
				if tc.counts == nil {
					continue
				}
				if c := groupCounts(tc.backends, got); !tc.counts(c) {
					t.Fatalf("unexpected per-group counts %v", c)
				}
			}
		})
	}
}

func exactly(want ...int) func([]int) bool {
	return func(c []int) bool { return slices.Equal(c, want) }
}

// TestSelectMatchesBruteForce compares Select with enumeration over every
// per-group count vector on random small configurations.
func TestSelectMatchesBruteForce(t *testing.T) {
	seed := testSeed(t)
	r := rand.New(rand.NewPCG(seed, 3))
	var ok, infeasible, invalid int
	for iter := range 10000 {
		p, bs := randomConfig(r, 6, 5)
		got, err := Select(p, bs, r)
		if p.Validate() != nil {
			invalid++
			if !errors.Is(err, ErrInvalidPolicy) {
				t.Fatalf("iter %d: Validate fails but Select returned %v, %v", iter, got, err)
			}
			continue
		}
		room := eligibleRoom(p, bs, nil)
		best := bruteBest(make([]int, len(room)), room, p.N, p.RedundantGroups, p.RedundantNodes)
		if best < p.K {
			infeasible++
			if !errors.Is(err, ErrUnplaceable) {
				t.Fatalf("iter %d (seed %d): %+v: brute force best %d < K, Select = %v, %v", iter, seed, p, best, got, err)
			}
			if want := fmt.Sprintf("leaves at most %d shards", best); best >= 0 && !strings.Contains(err.Error(), want) {
				t.Fatalf("iter %d (seed %d): %+v: error %q does not say %q", iter, seed, p, err, want)
			}
			continue
		}
		ok++
		if err != nil {
			t.Fatalf("iter %d (seed %d): %+v on %d backends: brute force finds %d >= K, Select: %v",
				iter, seed, p, len(bs), best, err)
		}
		checkPlacement(t, p, bs, nil, got)
		if s := bruteSurvivors(groupCounts(bs, got), p.RedundantGroups, p.RedundantNodes); s < p.K {
			t.Fatalf("iter %d (seed %d): %+v: placement %v keeps %d < K", iter, seed, p, got, s)
		}
	}
	t.Logf("%d placed, %d infeasible, %d invalid policies", ok, infeasible, invalid)
	if ok < 200 || infeasible < 200 {
		t.Fatalf("generator is lopsided: %d placed, %d infeasible", ok, infeasible)
	}
}

func TestPinExclude(t *testing.T) {
	bs := layout(6, 6, 6, 6, 6, 6) // country c0: g0,g3; c1: g1,g4; c2: g2,g5
	r := rand.New(rand.NewPCG(1, 1))
	ex, _ := ParseSelector("country=c1")
	exID, _ := ParseSelector("id=g0/0")
	pin, _ := ParseSelector("country=c2")
	pinG, _ := ParseSelector("group=g0")

	p := Policy{K: 8, N: 12, RedundantGroups: 1, Exclude: []Selector{ex, exID}}
	for range 200 {
		got, err := Select(p, bs, r)
		if err != nil {
			t.Fatal(err)
		}
		for _, i := range got {
			if bs[i].Labels["country"] == "c1" || bs[i].ID == "g0/0" {
				t.Fatalf("picked excluded %s", bs[i].ID)
			}
		}
	}

	p = Policy{K: 6, N: 12, RedundantGroups: 1, Pin: []Selector{pin, pinG}} // g0, g2, g5: 18 backends
	for range 200 {
		got, err := Select(p, bs, r)
		if err != nil {
			t.Fatal(err)
		}
		for _, i := range got {
			if g := bs[i].Group; g != "g0" && g != "g2" && g != "g5" {
				t.Fatalf("picked unpinned %s", bs[i].ID)
			}
		}
	}

	p = Policy{K: 10, N: 14, Pin: []Selector{pin}, Exclude: []Selector{ex}}
	_, err := Select(p, bs, r)
	if !errors.Is(err, ErrUnplaceable) || !strings.Contains(err.Error(), "need 14 eligible backends, have 12 (12 excluded, 12 outside pins)") {
		t.Fatalf("pins leaving too few: err = %v", err)
	}
	p = Policy{K: 6, N: 12, RedundantGroups: 1, Pin: []Selector{pin}} // two groups of 6: 6 survive
	if _, err := Select(p, bs, r); err != nil {
		t.Fatalf("6+6 over two pinned groups: %v", err)
	}
	p.K = 7
	if _, err := Select(p, bs, r); !errors.Is(err, ErrUnplaceable) || !strings.Contains(err.Error(), "at most 6 shards on the 12 eligible backends in 2 group(s)") {
		t.Fatalf("pins leaving too few groups: err = %v", err)
	}
}

func TestParseSelector(t *testing.T) {
	for in, want := range map[string]Selector{
		"country=BE":                {"country", "BE"},
		" region = eu ":             {"region", "eu"},
		"id=[2a02::1]:9900/ns=x":    {"id", "[2a02::1]:9900/ns=x"},
		"topology.k8s.io/zone=az-1": {"topology.k8s.io/zone", "az-1"},
	} {
		got, err := ParseSelector(in)
		if err != nil || got != want {
			t.Errorf("ParseSelector(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for in, msg := range map[string]string{
		"country":     "want key=value",
		"=BE":         "empty key",
		"country=":    "empty value",
		"country!=BE": "negation",
		"my key=v":    "only letters",
	} {
		_, err := ParseSelector(in)
		if !errors.Is(err, ErrInvalidPolicy) || !strings.Contains(err.Error(), msg) {
			t.Errorf("ParseSelector(%q) err = %v, want %q", in, err, msg)
		}
	}
	b := &Backend{ID: "a/b", Group: "farm1", Labels: map[string]string{"country": "BE", "group": "x"}}
	for s, want := range map[Selector]bool{
		{"country", "BE"}: true, {"country", "NL"}: false, {"city", "BE"}: false,
		{"group", "farm1"}: true, {"group", "x"}: false, {"id", "a/b"}: true,
	} {
		if s.Match(b) != want {
			t.Errorf("%v.Match = %v", s, !want)
		}
	}
	if err := (Policy{K: 1, N: 1, Pin: []Selector{{"", "x"}}}).Validate(); !errors.Is(err, ErrInvalidPolicy) {
		t.Errorf("Validate accepted an empty selector key: %v", err)
	}
}

func TestValidate(t *testing.T) {
	for _, p := range []Policy{
		{K: 0, N: 1}, {K: 3, N: 2}, {K: 1, N: 2, RedundantGroups: -1}, {K: 1, N: 2, RedundantNodes: -1},
		{K: 16, N: 20, RedundantGroups: 1, RedundantNodes: 1}, // at most 12 survive
		{K: 1, N: 1, RedundantGroups: 1},                      // a single shard cannot survive its group
	} {
		if err := p.Validate(); !errors.Is(err, ErrInvalidPolicy) {
			t.Errorf("%+v: Validate = %v", p, err)
		}
	}
	for _, p := range []Policy{
		{K: 1, N: 1}, {K: 16, N: 20, RedundantGroups: 1}, {K: 12, N: 20, RedundantGroups: 1, RedundantNodes: 1},
		{K: 20, N: 100, RedundantGroups: 1, RedundantNodes: 1}, {K: 8, N: 15, RedundantGroups: 1, RedundantNodes: 1},
	} {
		if err := p.Validate(); err != nil {
			t.Errorf("%+v: Validate = %v", p, err)
		}
	}
}

func TestSelectDeterministic(t *testing.T) {
	bs := layout(7, 3, 9, 4, 6)
	bs[2].Latency, bs[5].Load = time.Millisecond, 9
	p := Policy{K: 6, N: 14, RedundantGroups: 1, RedundantNodes: 1}
	a, errA := Select(p, bs, rand.New(rand.NewPCG(11, 12)))
	b, errB := Select(p, bs, rand.New(rand.NewPCG(11, 12)))
	if errA != nil || errB != nil || !slices.Equal(a, b) {
		t.Fatalf("same seed, different results: %v %v / %v %v", a, errA, b, errB)
	}
	if got, err := Select(p, bs, nil); err != nil || !Valid(p, bs, got) {
		t.Fatalf("nil rnd: %v, %v", got, err)
	}
}
