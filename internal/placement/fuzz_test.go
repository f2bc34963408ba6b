package placement

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"
)

// fuzzConfig decodes a configuration: N, K, RG, RN from the first four
// bytes, then one backend per byte (group in the low 3 bits, down, full,
// latency in the high bits), at most 64 backends.
func fuzzConfig(data []byte) (Policy, []Backend) {
	var hdr [4]byte
	copy(hdr[:], data)
	n := 1 + int(hdr[0])%24
	p := Policy{N: n, K: 1 + int(hdr[1])%n, RedundantGroups: int(hdr[2]) % 4, RedundantNodes: int(hdr[3]) % 4}
	var bs []Backend
	for i, b := range data[min(len(data), 4):min(len(data), 68)] {
		bs = append(bs, Backend{
			ID:      fmt.Sprintf("b%d", i),
			Group:   fmt.Sprintf("g%d", b&7),
			Down:    b&8 != 0 && b&16 != 0,
			Full:    b&8 != 0 && b&32 != 0,
			Latency: time.Duration(b>>6) * time.Millisecond,
			Load:    int64(b >> 5),
		})
	}
	return p, bs
}

func FuzzSelect(f *testing.F) {
	f.Fuzz(func(t *testing.T, seed uint64, data []byte) {
		p, bs := fuzzConfig(data)
		r := rand.New(rand.NewPCG(seed, 0))
		got, err := Select(p, bs, r)
		if err != nil {
			if !errors.Is(err, ErrInvalidPolicy) && !errors.Is(err, ErrUnplaceable) {
				t.Fatalf("unexpected error kind: %v", err)
			}
		} else {
			checkPlacement(t, p, bs, nil, got)
			if !Valid(p, bs, got) {
				t.Fatalf("invalid placement %v", got)
			}
		}
		room := eligibleRoom(p, bs, nil)
		if p.Validate() == nil && len(room) <= 5 && p.N <= 12 {
			best := bruteBest(make([]int, len(room)), room, p.N, p.RedundantGroups, p.RedundantNodes)
			if (best >= p.K) != (err == nil) {
				t.Fatalf("brute force best %d, K=%d, Select err %v", best, p.K, err)
			}
		}

		// Knock out the backends chosen for some positions and repair.
		if err != nil {
			return
		}
		cur := append([]int(nil), got...)
		for pos := range cur {
			if seed>>(pos%64)&1 == 1 {
				bs[cur[pos]].Down = true
				cur[pos] = -1
			}
		}
		out, err := Complete(p, bs, cur, r)
		switch {
		case err == nil:
			if !Valid(p, bs, out) {
				t.Fatalf("Complete returned invalid %v", out)
			}
		case IsDegraded(err):
			if Survivors(p, bs, out) >= p.K {
				t.Fatalf("degraded but %v survives", out)
			}
		case errors.Is(err, ErrUnplaceable):
			return
		default:
			t.Fatalf("unexpected Complete error: %v", err)
		}
		checkPlacement(t, p, bs, cur, out)
	})
}
