package meta_test

import (
	"fmt"
	"path/filepath"
	"runtime"
	"sync/atomic"
	"testing"
	"time"

	"github.com/zerostor/zerostor/internal/meta"
	"github.com/zerostor/zerostor/internal/meta/metatest"
)

// BenchmarkPutParallel puts small records (a 4 KiB object with 4+2 shards,
// about 700 bytes) from one goroutine and from 16. Every Put is durable
// (fsync), so this measures group commit: writes/commit says how many
// Puts share a transaction.
func BenchmarkPutParallel(b *testing.B) {
	for _, writers := range []int{1, 16} {
		b.Run(fmt.Sprintf("writers=%d", writers), func(b *testing.B) {
			s := openBolt(b, filepath.Join(b.TempDir(), "meta.db"), meta.BoltOptions{})
			tmpl := metatest.NewObject("x", metatest.Shape{Size: 4 << 10})
			var seq atomic.Int64
			put := func(o *meta.Object) bool {
				o.Key = fmt.Sprintf("bench/%09d", seq.Add(1))
				if _, err := s.Put(b.Context(), o); err != nil {
					b.Error(err)
					return false
				}
				return true
			}
			if writers == 1 {
				o := *tmpl
				for b.Loop() {
					if !put(&o) {
						return
					}
				}
			} else {
				// RunParallel starts parallelism × GOMAXPROCS goroutines.
				procs := runtime.GOMAXPROCS(0)
				b.SetParallelism((writers + procs - 1) / procs)
				b.RunParallel(func(pb *testing.PB) {
					o := *tmpl
					for pb.Next() && put(&o) {
					}
				})
			}
			commits, writes, d := s.CommitStats()
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "puts/s")
			b.ReportMetric(float64(writes)/float64(commits), "writes/commit")
			b.ReportMetric(d.Seconds()*1e3/float64(commits), "ms/commit")
		})
	}
}

// BenchmarkList lists a prefix of 1,000 objects and all of 1,000,000
// small records (1,000 "directories" of 1,000). The store is filled
// straight through bbolt first, which takes tens of seconds; skipped
// under -short.
func BenchmarkList(b *testing.B) {
	if testing.Short() {
		b.Skip("fills 1,000,000 records")
	}
	const dirs, per = 1000, 1000
	s := openBolt(b, filepath.Join(b.TempDir(), "meta.db"), meta.BoltOptions{NoSync: true})
	start := time.Now()
	if err := s.BulkLoad(dirs*per, func(i int) *meta.Object { return smallObject(i, per) }); err != nil {
		b.Fatal(err)
	}
	b.Logf("filled %d records in %v", dirs*per, time.Since(start).Round(time.Millisecond))
	for _, c := range []struct {
		name   string
		prefix string
		want   int
	}{
		{"prefix-1k", "d500/", per},
		{"all-1M", "", dirs * per},
	} {
		b.Run(c.name, func(b *testing.B) {
			for b.Loop() {
				n := 0
				if err := s.List(b.Context(), c.prefix, "", func(meta.Info) error { n++; return nil }); err != nil {
					b.Fatal(err)
				}
				if n != c.want {
					b.Fatalf("listed %d objects, want %d", n, c.want)
				}
			}
			b.ReportMetric(float64(b.N*c.want)/b.Elapsed().Seconds(), "objects/s")
		})
	}
}
