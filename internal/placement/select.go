package placement

import (
	"fmt"
	"math/rand/v2"
)

// Select returns N distinct indices into backends satisfying the policy, or
// an error wrapping ErrInvalidPolicy or ErrUnplaceable that says why no such
// placement exists. It never picks Down, Full, excluded or (with pins)
// unpinned backends, prefers fast and lightly loaded ones, and randomises so
// that repeated calls spread load. The result is in order of preference, so
// callers that read the first K shards favour the fastest backends. A nil
// rnd uses the global source; a *rand.Rand must not be shared between
// goroutines. backends is only read.
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
		return nil, errPlan(p)
	}
	return in.fill(x), nil
}

// errPlan reports the solver's planner failing to reach a bound its own
// search found: a bug, reported rather than panicking in a daemon.
func errPlan(p Policy) error {
	return fmt.Errorf("%w: internal error: no plan reaches the computed bound for %+v", ErrUnplaceable, p)
}
