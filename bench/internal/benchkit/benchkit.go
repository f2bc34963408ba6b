// Package benchkit holds what the end-to-end benchmarks under bench/cmd
// share: starting the zdb backends, CPU accounting per phase (this
// process and the backends), peak RSS, latency percentiles, a worker pool
// and a fast stream of incompressible bytes.
package benchkit

import (
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"math/bits"
	"os"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/zerostor/zerostor/internal/testcluster"
)

// MemoryLimit is cmd/zstor's soft memory limit.
const MemoryLimit = 192 << 20

// SetMemoryLimit applies cmd/zstor's soft memory limit unless GOMEMLIMIT
// is set: it makes the GC collect the large transient block buffers
// before the heap doubles.
func SetMemoryLimit() {
	if os.Getenv("GOMEMLIMIT") == "" {
		debug.SetMemoryLimit(MemoryLimit)
	}
}

// ClusterOptions describe the backends of a benchmark.
type ClusterOptions struct {
	Backends, Groups int
	// Sync runs the backends with --sync (fsync every write).
	Sync bool
	// ZdbProcs is each backend's GOMAXPROCS (0: Go's default); 20
	// daemons on 2 cores context-switch less with 1.
	ZdbProcs int
}

// StartCluster starts real zdb processes in dir with the benchmarks'
// settings (256 MiB data files).
func StartCluster(ctx context.Context, dir string, o ClusterOptions) (*testcluster.Cluster, error) {
	opts := testcluster.Options{Groups: o.Groups, DataSize: 256 << 20, Sync: o.Sync}
	if o.ZdbProcs > 0 {
		// Read by the backends' Go runtime at their start only: this
		// process keeps its own setting.
		os.Setenv("GOMAXPROCS", strconv.Itoa(o.ZdbProcs))
		defer os.Unsetenv("GOMAXPROCS")
	}
	return testcluster.StartDir(ctx, dir, o.Backends, opts)
}

// CPU accounts the CPU time of this process and of a cluster's backends
// between marks. A backend's CPU counts while it runs: one killed during
// a phase adds what it used up to its last sample.
type CPU struct {
	cluster *testcluster.Cluster
	self    time.Duration
	zdbs    map[int]time.Duration // pid -> CPU at the last mark
}

// NewCPU returns an accountant marked now; cl may be nil.
func NewCPU(cl *testcluster.Cluster) *CPU {
	c := &CPU{cluster: cl}
	c.Mark()
	return c
}

// Mark starts a phase.
func (c *CPU) Mark() { c.self, c.zdbs = SelfCPU(), c.zdbCPU() }

// Since returns the CPU used since the last mark by this process and by
// the backends, and marks.
func (c *CPU) Since() (self, zdbs time.Duration) {
	s, z := SelfCPU(), c.zdbCPU()
	for pid, t := range z {
		zdbs += t - c.zdbs[pid]
	}
	self = s - c.self
	c.self, c.zdbs = s, z
	return self, zdbs
}

func (c *CPU) zdbCPU() map[int]time.Duration {
	out := map[int]time.Duration{}
	if c.cluster == nil {
		return out
	}
	for i := range c.cluster.Len() {
		pid := c.cluster.Pid(i)
		if pid == 0 {
			continue
		}
		if t, err := PidCPU(pid); err == nil {
			out[pid] = t
		}
	}
	return out
}

// SelfCPU is this process's user+system CPU time.
func SelfCPU() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// PidCPU reads a process's utime+stime from /proc (clock ticks of 10 ms).
func PidCPU(pid int) (time.Duration, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	s := string(b)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+2:])
	if len(f) <= 12 {
		return 0, fmt.Errorf("/proc/%d/stat not understood", pid)
	}
	u, _ := strconv.ParseInt(f[11], 10, 64)
	k, _ := strconv.ParseInt(f[12], 10, 64)
	return time.Duration(u+k) * 10 * time.Millisecond, nil
}

// PeakRSS is the process's high-water resident set (VmHWM).
func PeakRSS() int64 {
	b, _ := os.ReadFile("/proc/self/status")
	for _, line := range strings.Split(string(b), "\n") {
		if f := strings.Fields(line); len(f) >= 2 && f[0] == "VmHWM:" {
			v, _ := strconv.ParseInt(f[1], 10, 64)
			return v << 10
		}
	}
	return 0
}

// Pct is the p-th percentile of lat (nearest rank).
func Pct(lat []time.Duration, p int) time.Duration {
	if len(lat) == 0 {
		return 0
	}
	s := slices.Clone(lat)
	slices.Sort(s)
	return s[max((len(s)*p-1)/100, 0)]
}

// Parallel calls fn(0..n-1) with the given number of workers and returns
// each call's latency and the elapsed time. It stops at the first error.
func Parallel(workers, n int, fn func(i int) error) ([]time.Duration, time.Duration, error) {
	lat := make([]time.Duration, n)
	var next atomic.Int64
	var firstErr atomic.Value
	var wg sync.WaitGroup
	start := time.Now()
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1) - 1)
				if i >= n || firstErr.Load() != nil {
					return
				}
				t := time.Now()
				if err := fn(i); err != nil {
					firstErr.CompareAndSwap(nil, err)
					return
				}
				lat[i] = time.Since(t)
			}
		}()
	}
	wg.Wait()
	if err, _ := firstErr.Load().(error); err != nil {
		return nil, 0, err
	}
	return lat, time.Since(start), nil
}

// Stream is an io.Reader of Len incompressible bytes from a seeded
// generator (wyrand: several GB/s, so that producing the data costs
// little next to storing it). The same seed gives the same bytes.
type Stream struct {
	state uint64
	left  int64
	tail  [8]byte // generated bytes not yet returned
	ntail int
}

// NewStream returns size bytes of the stream seeded by seed.
func NewStream(seed uint64, size int64) *Stream { return &Stream{state: seed, left: size} }

// Read fills p with the next bytes.
func (s *Stream) Read(p []byte) (int, error) {
	if s.left <= 0 {
		return 0, io.EOF
	}
	if int64(len(p)) > s.left {
		p = p[:s.left]
	}
	n := copy(p, s.tail[8-s.ntail:])
	s.ntail -= n
	q := p[n:]
	st := s.state
	for len(q) >= 8 {
		st = wyStep(st, q)
		q = q[8:]
	}
	if len(q) > 0 {
		st = wyStep(st, s.tail[:])
		copy(q, s.tail[:])
		s.ntail = 8 - len(q)
	}
	s.state = st
	s.left -= int64(len(p))
	return len(p), nil
}

// Fill fills p with the stream seeded by seed.
func Fill(seed uint64, p []byte) {
	NewStream(seed, int64(len(p))).Read(p)
}

func wyStep(st uint64, out []byte) uint64 {
	st += 0xa0761d6478bd642f
	hi, lo := bits.Mul64(st, st^0xe7037ed1a0b428db)
	binary.LittleEndian.PutUint64(out, hi^lo)
	return st
}
