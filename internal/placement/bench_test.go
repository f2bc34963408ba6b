package placement

import (
	"fmt"
	"math/rand/v2"
	"testing"
	"time"
)

// benchBackends returns n backends in g groups with varied latency and load,
// 2% down and 1% full.
func benchBackends(n, g int) []Backend {
	r := rand.New(rand.NewPCG(1, 1))
	bs := make([]Backend, n)
	for i := range bs {
		bs[i] = Backend{
			ID:      fmt.Sprintf("10.0.%d.%d:9900/ns", i/256, i%256),
			Group:   fmt.Sprintf("farm-%d", i%g),
			Labels:  map[string]string{"country": fmt.Sprintf("c%d", i%g%20)},
			Down:    r.IntN(50) == 0,
			Full:    r.IntN(100) == 0,
			Latency: time.Duration(1+r.IntN(20)) * time.Millisecond,
			Load:    int64(r.IntN(1000)),
		}
	}
	return bs
}

// BenchmarkSelect1000x100 places one block on 1,000 backends in 100 groups.
// N20K16RG1RN1 is the brief's shape; no layout meets it (at most 12 of 20
// survive), so it measures the rejection. The others succeed.
func BenchmarkSelect1000x100(b *testing.B) {
	bs := benchBackends(1000, 100)
	for _, p := range []Policy{
		{K: 16, N: 20, RedundantGroups: 1, RedundantNodes: 1},
		{K: 16, N: 20, RedundantGroups: 1},
		{K: 12, N: 20, RedundantGroups: 1, RedundantNodes: 1},
		{K: 20, N: 100, RedundantGroups: 1, RedundantNodes: 1},
		{K: 20, N: 100, RedundantGroups: 2, RedundantNodes: 2},
		{K: 60, N: 100, RedundantGroups: 1, RedundantNodes: 1},
	} {
		name := fmt.Sprintf("N%dK%dRG%dRN%d", p.N, p.K, p.RedundantGroups, p.RedundantNodes)
		b.Run(name, func(b *testing.B) {
			r := rand.New(rand.NewPCG(2, 2))
			_, want := Select(p, bs, r)
			b.ReportAllocs()
			cpu0 := cpuNanos()
			for b.Loop() {
				if _, err := Select(p, bs, r); (err == nil) != (want == nil) {
					b.Fatal(err)
				}
			}
			reportCPU(b, cpu0)
		})
	}
}

// BenchmarkComplete1000x100 repairs a block whose shards on 5 backends were
// lost, with RN=2 so that partly emptied groups need the knapsack.
func BenchmarkComplete1000x100(b *testing.B) {
	bs := benchBackends(1000, 100)
	p := Policy{K: 20, N: 100, RedundantGroups: 2, RedundantNodes: 2}
	r := rand.New(rand.NewPCG(3, 3))
	cur, err := Select(p, bs, r)
	if err != nil {
		b.Fatal(err)
	}
	for pos := 0; pos < len(cur); pos += 20 {
		cur[pos] = -1
	}
	b.ReportAllocs()
	cpu0 := cpuNanos()
	for b.Loop() {
		if _, err := Complete(p, bs, cur, r); err != nil {
			b.Fatal(err)
		}
	}
	reportCPU(b, cpu0)
}

// reportCPU adds cpu-ns/op: process CPU time (including GC) per operation.
// On a loaded machine wall-clock ns/op includes time spent waiting for a
// core; cpu-ns/op does not. Run with GOMAXPROCS=1 for the cleanest figure.
func reportCPU(b *testing.B, cpu0 int64) {
	if cpu1 := cpuNanos(); cpu1 > 0 && b.N > 0 {
		b.ReportMetric(float64(cpu1-cpu0)/float64(b.N), "cpu-ns/op")
	}
}
