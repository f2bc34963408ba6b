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
	"runtime/pprof"
	"strconv"
	"strings"
	"time"

	"github.com/zerostor/zerostor/bench/internal/benchkit"
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
	flag.IntVar(&smallObject, "small-object-size", int(config.DefaultSmallObjectSize), "small_object_size: objects up to this size are stored as 1+m copies (0: off)")
	flag.Parse()
	if *memcpyOnly {
		fmt.Printf("%.0f\n", memcpyRate())
		return
	}
	// As cmd/zstor does: a soft memory limit makes the GC collect the
	// large transient block buffers before the heap doubles.
	benchkit.SetMemoryLimit()
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
	smallObject    int
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
	cl, err := benchkit.StartCluster(ctx, filepath.Join(dir, "cluster"), benchkit.ClusterOptions{Backends: n, Groups: groups, Sync: syncMode, ZdbProcs: zdbProcs})
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
	cfg.SmallObjectSize = config.ByteSize(smallObject) // a config file's default
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

	cpu = benchkit.NewCPU(cl)
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
	lat, el, err := benchkit.Parallel(clients, len(keys), func(i int) error {
		_, err := c.Put(ctx, keys[i], bytes.NewReader(payload), zstor.PutOptions{})
		return err
	})
	if err != nil {
		return fmt.Errorf("small stores: %w", err)
	}
	reportOps("store small", len(keys), el, lat)
	readSmall := func(label string) ([]time.Duration, error) {
		lat, el, err := benchkit.Parallel(clients, len(keys), func(i int) error {
			key := keys[i]
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
	fmt.Printf("p99 with a slow backend / healthy p99: %.2f\n", float64(benchkit.Pct(slowLat, 99))/float64(benchkit.Pct(healthy, 99)))

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
	fmt.Printf("zstor peak RSS: %d MiB\n", benchkit.PeakRSS()>>20)
	return nil
}

func report(label string, n int64, d time.Duration) {
	fmt.Printf("%-40s %8.0f MB/s  (%d MiB in %v)%s\n", label, float64(n)/d.Seconds()/1e6, n>>20, d.Round(time.Millisecond), cpuSince())
}

func reportOps(label string, n int, d time.Duration, lat []time.Duration) {
	fmt.Printf("%-40s %8.0f ops/s  p50 %v  p99 %v%s\n", label, float64(n)/d.Seconds(), benchkit.Pct(lat, 50).Round(10*time.Microsecond), benchkit.Pct(lat, 99).Round(10*time.Microsecond), cpuSince())
}

// CPU accounting: zstor (this process) and the backends, per phase,
// and the zdb client's pipelining.
var (
	cpu                  *benchkit.CPU
	lastReqs, lastWrites int64
)

func cpuMark() {
	cpu.Mark()
	lastReqs, lastWrites = zdbclient.PipelineStats()
}

func cpuSince() string {
	s, z := cpu.Since()
	r, w := zdbclient.PipelineStats()
	out := fmt.Sprintf("  [cpu: zstor %.1fs, zdbs %.1fs; %.1f requests/write]", s.Seconds(), z.Seconds(), float64(r-lastReqs)/float64(max(w-lastWrites, 1)))
	lastReqs, lastWrites = r, w
	return out
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
	if _, err := io.Copy(f, benchkit.NewStream(mrand.Uint64(), size)); err != nil {
		f.Close()
		return err
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
