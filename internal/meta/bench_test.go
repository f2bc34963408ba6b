package meta_test

import (
	"fmt"
	"path/filepath"
	"runtime"
	"sync/atomic"
	"testing"

	"github.com/zerostor/zerostor/internal/meta"
	"github.com/zerostor/zerostor/internal/meta/metatest"
)

// BenchmarkPutParallel puts small records (a 4 KiB object, 4+2 shards)
// from 16 goroutines per CPU... see b.SetParallelism; every Put is durable
// (fsync), so this measures group commit.
func BenchmarkPutParallel(b *testing.B) {
	for _, writers := range []int{1, 16} {
		b.Run(fmt.Sprintf("writers=%d", writers), func(b *testing.B) {
			s := openBolt(b, filepath.Join(b.TempDir(), "meta.db"), meta.BoltOptions{})
			tmpl := metatest.NewObject("x", metatest.Shape{Size: 4 << 10})
			var seq atomic.Int64
			// RunParallel starts parallelism*GOMAXPROCS goroutines.
			b.SetParallelism(max(1, writers/runtimeProcs()))
			b.RunParallel(func(pb *testing.PB) {
				o := *tmpl
				for pb.Next() {
					o.Key = fmt.Sprintf("bench/%09d", seq.Add(1))
					if _, err := s.Put(b.Context(), &o); err != nil {
						b.Error(err)
						return
					}
				}
			})
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "puts/s")
			b.ReportMetric(float64(meta.CommitOps.Load())/float64(meta.Commits.Load()), "ops/commit")
			b.ReportMetric(float64(meta.CommitNanos.Load())/float64(meta.Commits.Load())/1e6, "ms/commit")
			meta.Commits.Store(0); meta.CommitOps.Store(0); meta.CommitNanos.Store(0)
		})
	}
}

func runtimeProcs() int { return runtime.GOMAXPROCS(0) }
