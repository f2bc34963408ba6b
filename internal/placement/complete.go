package placement

import (
	"fmt"
	"math/rand/v2"
)

// Complete fills the holes (negative entries) of current, a placement of N
// entries whose other entries are indices of backends already holding a
// shard, with new distinct eligible backends. Existing entries are kept
// unchanged and counted as they are, even when their backend is Down: the
// caller turns an entry into a hole when it wants that shard moved.
//
// If the result meets the policy the error is nil. If no filling can meet
// it, Complete returns the filling with the most worst-case survivors and an
// error wrapping ErrDegraded. If there are fewer eligible unused backends
// than holes, or the arguments are malformed, it returns nil and an error
// wrapping ErrUnplaceable or ErrInvalidPolicy.
func Complete(p Policy, backends []Backend, current []int, rnd *rand.Rand) ([]int, error) {
	if err := p.Validate(); err != nil {
		return nil, err
	}
	in, err := newInstance(p, backends, current, rnd)
	if err != nil {
		return nil, err
	}
	s := in.solver()
	best := s.max()
	x, ok := s.plan(min(best, p.K))
	if !ok {
		return nil, errPlan(p)
	}
	out := in.fill(x)
	if best < p.K {
		return out, fmt.Errorf("%w: K=%d N=%d: keeping the %d existing shard(s), losing %d group(s) plus %d node(s) "+
			"in every other group leaves at most %d shards", ErrDegraded, p.K, p.N, p.N-in.holes,
			p.RedundantGroups, p.RedundantNodes, best)
	}
	return out, nil
}
