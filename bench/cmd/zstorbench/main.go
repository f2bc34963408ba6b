// Command zstorbench measures zstor end to end: it starts real zdb
// backends on loopback (16+4 over 20 by default), stores and retrieves one
// large incompressible object and many small ones with concurrent
// clients, then repeats the reads with backends killed and with one
// backend slowed down. It prints MB/s, objects/s, p50/p99 latencies, the
// process's peak RSS, and the machine's raw limits (memcpy, and a dd
// write with fdatasync) measured in the same run.
//
//	go run ./bench/cmd/zstorbench -size 2GiB -small 10000 -clients 16
package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"flag"
	"fmt"
	"io"
	"log/slog"
	mrand "math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"runtime/debug"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/zerostor/zerostor/internal/config"
	"github.com/zerostor/zerostor/internal/testcluster"
	"github.com/zerostor/zerostor/internal/zdbclient"
	"github.com/zerostor/zerostor/zstor"
)

func main() {
	size := flag.String("size", "2GiB", "size of the large object")
	small := flag.Int("small", 10000, "number of 4 KiB objects")
	smallSize := flag.Int("small-size", 4096, "size of the small objects")
	clients := flag.Int("clients", 16, "concurrent clients for the small objects")
	backends := flag.Int("backends", 20, "zdb backends")
	groups := flag.Int("groups", 4, "groups")
	k := flag.Int("k", 16, "data shards")
	m := flag.Int("m", 4, "parity shards")
	sync := flag.Bool("sync", false, "run the backends with --sync (fsync every write)")
	dead := flag.Int("dead", 4, "backends killed for the degraded reads")
	slow := flag.Duration("slow", 200*time.Millisecond, "delay of the slowed backend")
	dir := flag.String("dir", "", "work directory (default: a temp dir, removed after)")
	flag.BoolVar(&verbose, "v", false, "log zstor's warnings to stderr")
	flag.IntVar(&parallelBlocks, "parallel", 0, "blocks in flight per transfer (0: zstor's default)")
	flag.IntVar(&zdbProcs, "zdb-gomaxprocs", 1, "GOMAXPROCS of each backend process (0: Go's default); 20 daemons on 2 cores context-switch less with 1")
	flag.StringVar(&cpuProfile, "cpuprofile", "", "write a CPU profile of zstor here")
	memcpyOnly := flag.Bool("memcpy-only", false, "print the memcpy rate and exit (run as a child, so its buffers do not count in the peak RSS)")
	flag.Parse()
	if *memcpyOnly {
		fmt.Printf("%.0f\n", memcpyRate())
		return
	}
	// As cmd/zstor does: a soft memory limit makes the GC collect the
	// large transient block buffers before the heap doubles.
	if os.Getenv("GOMEMLIMIT") == "" {
		debug.SetMemoryLimit(192 << 20)
	}
	bs, err := config.ParseByteSize(*size)
	if err != nil {
		fatal(err)
	}
	if err := run(int64(bs), *small, *smallSize, *clients, *backends, *groups, *k, *m, *sync, *dead, *slow, *dir); err != nil {
		fatal(err)
	}
}

var (
	parallelBlocks int
	zdbProcs       int
	verbose        bool
	cpuProfile     string
)

func fatal(err error) {
	fmt.Fprintln(os.Stderr, "zstorbench:", err)
	os.Exit(1)
}

func run(size int64, small, smallSize, clients, n, groups, k, m int, syncMode bool, dead int, slow time.Duration, dir string) error {
	ctx := context.Background()
	if dir == "" {
		d, err := os.MkdirTemp("", "zstorbench-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(d)
		dir = d
	}
	fmt.Printf("# zstorbench: %d+%d over %d zdb backends in %d groups, sync=%v, GOMAXPROCS=%d\n", k, m, n, groups, syncMode, runtime.GOMAXPROCS(0))
	if out, err := exec.Command(os.Args[0], "-memcpy-only").Output(); err == nil {
		fmt.Printf("raw memcpy: %s MB/s\n", strings.TrimSpace(string(out)))
	} else {
		fmt.Printf("raw memcpy: %v\n", err)
	}
	if r, err := ddRate(dir); err == nil {
		fmt.Printf("raw dd write (1 GiB, conv=fdatasync): %.0f MB/s\n", r)
	} else {
		fmt.Printf("raw dd write: %v\n", err)
	}
	opts := testcluster.Options{Groups: groups, DataSize: 256 << 20}
	if zdbProcs > 0 {
		// Read by the backends' Go runtime at their start only: this
		// process keeps its own setting.
		os.Setenv("GOMAXPROCS", strconv.Itoa(zdbProcs))
		defer os.Unsetenv("GOMAXPROCS")
	}
	if syncMode {
		opts.Sync = true
	}
	cl, err := testcluster.StartDir(ctx, filepath.Join(dir, "cluster"), n, opts)
	if err != nil {
		return err
	}
	defer cl.Close()
	// Only backend 0 goes through a proxy (that can slow it down): a
	// proxy in front of every backend would cost this process CPU.
	proxy, err := testcluster.NewProxy(cl.Backend(0).Addr)
	if err != nil {
		return err
	}
	defer proxy.Close()
	var key [32]byte
	rand.Read(key[:])
	cfg := cl.ZstorConfig(k, m, filepath.Join(dir, "meta"), key)
	cfg.Groups[0].Backends[0].Address = proxy.Addr()
	var logger *slog.Logger
	if verbose {
		logger = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	}
	if cpuProfile != "" {
		pf, err := os.Create(cpuProfile)
		if err != nil {
			return err
		}
		pprof.StartCPUProfile(pf)
		defer pprof.StopCPUProfile()
	}
	c, err := zstor.Open(ctx, cfg, zstor.Options{Logger: logger, Parallel: parallelBlocks})
	if err != nil {
		return err
	}
	defer c.Close()

	cpuCluster = cl
	src := filepath.Join(dir, "big.bin")
	if err := writeRandomFile(src, size); err != nil {
		return err
	}
	cpuMark()
	f, err := os.Open(src)
	if err != nil {
		return err
	}
	start := time.Now()
	info, err := c.Put(ctx, "big", f, zstor.PutOptions{})
	f.Close()
	if err != nil {
		return err
	}
	report("store large", size, time.Since(start))
	os.Remove(src) // keep the page cache for the backends
	readBig := func(label string) error {
		start := time.Now()
		r, err := c.Get(ctx, "big", zstor.GetOptions{})
		if err != nil {
			return err
		}
		nread, err := io.Copy(io.Discard, r)
		r.Close()
		if err != nil {
			return fmt.Errorf("%s: %w", label, err)
		}
		if nread != info.Size {
			return fmt.Errorf("%s: read %d of %d bytes", label, nread, info.Size)
		}
		report(label, nread, time.Since(start))
		return nil
	}
	if err := readBig("retrieve large"); err != nil {
		return err
	}
	keys, payload := smallKeys(small, smallSize)
	cpuMark()
	lat, el, err := parallel(clients, keys, func(key string) error {
		_, err := c.Put(ctx, key, bytes.NewReader(payload), zstor.PutOptions{})
		return err
	})
	if err != nil {
		return fmt.Errorf("small stores: %w", err)
	}
	reportOps("store small", len(keys), el, lat)
	readSmall := func(label string) ([]time.Duration, error) {
		lat, el, err := parallel(clients, keys, func(key string) error {
			r, err := c.Get(ctx, key, zstor.GetOptions{})
			if err != nil {
				return err
			}
			defer r.Close()
			nread, err := io.Copy(io.Discard, r)
			if err == nil && nread != int64(smallSize) {
				err = fmt.Errorf("%s: %d bytes", key, nread)
			}
			return err
		})
		if err != nil {
			return nil, fmt.Errorf("%s: %w", label, err)
		}
		reportOps(label, len(keys), el, lat)
		return lat, nil
	}
	healthy, err := readSmall("retrieve small")
	if err != nil {
		return err
	}

	// One backend slowed: reads go around it.
	proxy.SetDelay(slow)
	if err := readBig(fmt.Sprintf("retrieve large, 1 backend +%v", slow)); err != nil {
		return err
	}
	slowLat, err := readSmall(fmt.Sprintf("retrieve small, 1 backend +%v", slow))
	if err != nil {
		return err
	}
	proxy.SetDelay(0)
	fmt.Printf("p99 with a slow backend / healthy p99: %.2f\n", float64(pct(slowLat, 99))/float64(pct(healthy, 99)))

	// Backends killed: reads decode from parity.
	for i := range dead {
		cl.Kill(n - 1 - i)
	}
	if err := readBig(fmt.Sprintf("retrieve large, %d backends dead", dead)); err != nil {
		return err
	}
	if _, err := readSmall(fmt.Sprintf("retrieve small, %d backends dead", dead)); err != nil {
		return err
	}
	fmt.Printf("zstor peak RSS: %d MiB\n", peakRSS()>>20)
	return nil
}

func report(label string, n int64, d time.Duration) {
	fmt.Printf("%-40s %8.0f MB/s  (%d MiB in %v)%s\n", label, float64(n)/d.Seconds()/1e6, n>>20, d.Round(time.Millisecond), cpuSince())
}

func reportOps(label string, n int, d time.Duration, lat []time.Duration) {
	fmt.Printf("%-40s %8.0f ops/s  p50 %v  p99 %v%s\n", label, float64(n)/d.Seconds(), pct(lat, 50).Round(10*time.Microsecond), pct(lat, 99).Round(10*time.Microsecond), cpuSince())
}

// CPU accounting: zstor (this process) and the backends, per phase.
var (
	cpuCluster         *testcluster.Cluster
	lastSelf, lastZdbs time.Duration
)

func cpuMark() {
	lastSelf, lastZdbs = selfCPU(), zdbCPU()
	lastReqs, lastWrites = zdbclient.PipelineStats()
}

var lastReqs, lastWrites int64

func cpuSince() string {
	s, z := selfCPU(), zdbCPU()
	r, w := zdbclient.PipelineStats()
	out := fmt.Sprintf("  [cpu: zstor %.1fs, zdbs %.1fs; %.1f requests/write]", (s - lastSelf).Seconds(), (z - lastZdbs).Seconds(), float64(r-lastReqs)/float64(max(w-lastWrites, 1)))
	lastSelf, lastZdbs, lastReqs, lastWrites = s, z, r, w
	return out
}

func selfCPU() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// zdbCPU sums utime+stime of the live backends from /proc (clock ticks
// of 10 ms).
func zdbCPU() time.Duration {
	if cpuCluster == nil {
		return 0
	}
	var total time.Duration
	for i := range cpuCluster.Len() {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", cpuCluster.Pid(i)))
		if err != nil {
			continue
		}
		s := string(b)
		f := strings.Fields(s[strings.LastIndexByte(s, ')')+2:])
		if len(f) > 12 {
			u, _ := strconv.ParseInt(f[11], 10, 64)
			k, _ := strconv.ParseInt(f[12], 10, 64)
			total += time.Duration(u+k) * 10 * time.Millisecond
		}
	}
	return total
}

func pct(lat []time.Duration, p int) time.Duration {
	if len(lat) == 0 {
		return 0
	}
	s := slices.Clone(lat)
	slices.Sort(s)
	return s[(len(s)*p-1)/100]
}

// parallel runs fn over keys with the given number of workers and
// returns each call's latency and the elapsed time.
func parallel(workers int, keys []string, fn func(string) error) ([]time.Duration, time.Duration, error) {
	lat := make([]time.Duration, len(keys))
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
				if i >= len(keys) || firstErr.Load() != nil {
					return
				}
				t := time.Now()
				if err := fn(keys[i]); err != nil {
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

func smallKeys(n, size int) ([]string, []byte) {
	keys := make([]string, n)
	for i := range keys {
		keys[i] = fmt.Sprintf("small/%06d", i)
	}
	payload := make([]byte, size)
	rand.Read(payload)
	return keys, payload
}

// writeRandomFile writes size incompressible bytes.
func writeRandomFile(path string, size int64) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	var seed [32]byte
	rand.Read(seed[:])
	r := mrand.NewChaCha8(seed)
	buf := make([]byte, 4<<20)
	for size > 0 {
		r.Read(buf)
		n := int(min(int64(len(buf)), size))
		if _, err := f.Write(buf[:n]); err != nil {
			f.Close()
			return err
		}
		size -= int64(n)
	}
	return f.Close()
}

func memcpyRate() float64 {
	src := make([]byte, 256<<20)
	dst := make([]byte, len(src))
	for i := range src {
		src[i] = byte(i)
	}
	start := time.Now()
	for range 4 {
		copy(dst, src)
	}
	return float64(4*len(src)) / time.Since(start).Seconds() / 1e6
}

var ddRe = regexp.MustCompile(`([0-9.]+) ([kMG]?B)/s`)

func ddRate(dir string) (float64, error) {
	path := filepath.Join(dir, "dd.bin")
	defer os.Remove(path)
	out, err := exec.Command("dd", "if=/dev/zero", "of="+path, "bs=1M", "count=1024", "conv=fdatasync").CombinedOutput()
	if err != nil {
		return 0, fmt.Errorf("dd: %v: %s", err, out)
	}
	mt := ddRe.FindStringSubmatch(string(out))
	if mt == nil {
		return 0, fmt.Errorf("dd output not understood: %s", out)
	}
	v, _ := strconv.ParseFloat(mt[1], 64)
	switch mt[2] {
	case "kB":
		v /= 1000
	case "GB":
		v *= 1000
	}
	return v, nil
}

// peakRSS is the process's high-water resident set (VmHWM).
func peakRSS() int64 {
	b, _ := os.ReadFile("/proc/self/status")
	for _, line := range strings.Split(string(b), "\n") {
		if f := strings.Fields(line); len(f) >= 2 && f[0] == "VmHWM:" {
			v, _ := strconv.ParseInt(f[1], 10, 64)
			return v << 10
		}
	}
	return 0
}
