package placement

import (
	"errors"
	"fmt"
	"strings"
	"time"
)

// Sentinel errors. Every error returned by this package wraps one of them.
var (
	// ErrInvalidPolicy marks a policy or argument that is malformed, or a
	// policy that no set of backends could ever satisfy.
	ErrInvalidPolicy = errors.New("placement: invalid policy")
	// ErrUnplaceable marks a valid policy that cannot be met with the
	// backends at hand (too few eligible backends, or too few groups).
	ErrUnplaceable = errors.New("placement: cannot place shards")
	// ErrDegraded is returned (wrapped) by Complete together with the best
	// placement it found when that placement does not meet the policy.
	ErrDegraded = errors.New("placement: degraded placement")
)

// IsDegraded reports whether err says the returned placement is usable but
// does not meet the policy.
func IsDegraded(err error) bool { return errors.Is(err, ErrDegraded) }

// Backend is a candidate backend as the caller sees it now.
type Backend struct {
	ID      string            // "address/namespace", unique
	Group   string            // backends with the same Group fail together; "" is a group too
	Labels  map[string]string // location labels, e.g. country=BE, region=eu
	Down    bool              // unreachable or unhealthy: never chosen
	Full    bool              // no space left: never chosen
	Latency time.Duration     // recent write latency (EWMA); 0 = unknown (treated as average)
	Load    int64             // shards or bytes assigned or in flight; used to spread evenly
}

// Selector matches backends by label: Key=Value. Key "group" matches
// Backend.Group and key "id" matches Backend.ID; any other key matches the
// label of that name.
type Selector struct{ Key, Value string }

// ParseSelector parses "key=value", e.g. "country=BE" or "group=farm-12".
func ParseSelector(s string) (Selector, error) {
	k, v, ok := strings.Cut(strings.TrimSpace(s), "=")
	if !ok {
		return Selector{}, fmt.Errorf("%w: selector %q: want key=value", ErrInvalidPolicy, s)
	}
	sel := Selector{Key: strings.TrimSpace(k), Value: strings.TrimSpace(v)}
	if err := sel.check(); err != nil {
		return Selector{}, fmt.Errorf("%w: selector %q: %s", ErrInvalidPolicy, s, err)
	}
	return sel, nil
}

func (s Selector) check() error {
	if s.Key == "" {
		return errors.New("empty key")
	}
	for _, r := range s.Key {
		ok := r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' ||
			r == '.' || r == '_' || r == '-' || r == '/'
		if !ok {
			if r == '!' {
				return errors.New("negation is not supported (use an exclude selector)")
			}
			return fmt.Errorf("key %q: only letters, digits and . _ - / are allowed", s.Key)
		}
	}
	if s.Value == "" {
		return errors.New("empty value")
	}
	return nil
}

// String returns the selector as "key=value".
func (s Selector) String() string { return s.Key + "=" + s.Value }

// Match reports whether b carries the selector's label.
func (s Selector) Match(b *Backend) bool {
	switch s.Key {
	case "group":
		return b.Group == s.Value
	case "id":
		return b.ID == s.Value
	}
	v, ok := b.Labels[s.Key]
	return ok && v == s.Value
}

// Policy says how many shards a block has and which losses it must survive,
// with 0-stor_v2's meaning: losing any RedundantGroups whole groups plus
// RedundantNodes backends in each remaining group must leave at least K of
// the N shards.
type Policy struct {
	K, N                            int // data shards (minimal_shards), total shards (expected_shards)
	RedundantGroups, RedundantNodes int
	Pin                             []Selector // non-empty: only backends matching one of these are eligible
	Exclude                         []Selector // backends matching any of these are never eligible
}

// Validate checks the numbers and selectors, and that some placement on
// enough groups of enough backends could satisfy the policy at all: for
// example K=10, N=15, RedundantGroups=1, RedundantNodes=1 cannot, since at
// most 8 shards survive whatever the layout.
func (p Policy) Validate() error {
	switch {
	case p.K < 1:
		return fmt.Errorf("%w: need at least one data shard, K=%d", ErrInvalidPolicy, p.K)
	case p.N < p.K:
		return fmt.Errorf("%w: N=%d is less than K=%d", ErrInvalidPolicy, p.N, p.K)
	case p.RedundantGroups < 0 || p.RedundantNodes < 0:
		return fmt.Errorf("%w: negative redundancy (groups %d, nodes %d)",
			ErrInvalidPolicy, p.RedundantGroups, p.RedundantNodes)
	}
	for _, list := range [][]Selector{p.Pin, p.Exclude} {
		for _, s := range list {
			if err := s.check(); err != nil {
				return fmt.Errorf("%w: selector %q: %s", ErrInvalidPolicy, s.String(), err)
			}
		}
	}
	if best := p.bestUnconstrained(); best < p.K {
		return fmt.Errorf("%w: K=%d N=%d can never survive losing %d group(s) plus %d node(s) in every other group: "+
			"at most %d shards survive on any layout", ErrInvalidPolicy, p.K, p.N,
			p.RedundantGroups, p.RedundantNodes, best)
	}
	return nil
}

// bestUnconstrained is the most shards that survive the policy's losses on
// the best layout over unlimited groups of unlimited size. With d = shards
// above RN per group and T the height of the RG groups the adversary drops,
// A groups of RN+T shards keep (A-RG)*T; see doc.go. For each T the best A
// is where N-RN*A meets A*T.
func (p Policy) bestUnconstrained() int {
	if p.RedundantGroups == 0 && p.RedundantNodes == 0 {
		return p.N
	}
	best := 0
	for t := 1; t <= p.N; t++ {
		a0 := p.N / (p.RedundantNodes + t)
		for _, a := range []int{a0, a0 + 1} {
			if a < 1 || a*p.RedundantNodes > p.N {
				continue
			}
			best = max(best, min(p.N-p.RedundantNodes*a, a*t)-p.RedundantGroups*t)
		}
	}
	return best
}

// Eligible reports whether b may receive a new shard: it is up, not full,
// matches a pin (when there are pins) and matches no exclude.
func (p Policy) Eligible(b *Backend) bool {
	return !b.Down && !b.Full && p.pinned(b) && !p.excluded(b)
}

func (p Policy) pinned(b *Backend) bool {
	if len(p.Pin) == 0 {
		return true
	}
	for _, s := range p.Pin {
		if s.Match(b) {
			return true
		}
	}
	return false
}

func (p Policy) excluded(b *Backend) bool {
	for _, s := range p.Exclude {
		if s.Match(b) {
			return true
		}
	}
	return false
}
