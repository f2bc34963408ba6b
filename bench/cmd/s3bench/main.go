// Command s3bench measures zstor's S3 gateway end to end: it starts real
// zdb backends on loopback (16+4 over 20 in 4 groups by default), opens
// zstor in this process with zstorbench's settings, serves the gateway
// (internal/s3) on a loopback port and drives it over HTTP with minio-go:
//
//  1. one large object of incompressible data, streamed from a generator
//     (PutObject with the size known, so minio-go's default multipart
//     upload), then read back while checking its CRC-32C;
//  2. -par objects of -par-size bytes put, then read, all in parallel;
//  3. -small objects of 4 KiB put, then read, by -workers workers.
//
// It prints MB/s (aggregate for the parallel phases), objects/s and
// p50/p99 latencies against the gateway's targets, the CPU each phase
// cost the gateway's process (gateway and zstor), the client and the
// backends, and the peak RSS of both processes.
//
// The client runs in a child process (this binary with -client), so that
// its CPU (payload signing, generating and checking the data) and its
// buffers are not counted as the gateway's; each phase is one run of it.
//
//	go run ./bench/cmd/s3bench -size 1GiB -par 16 -par-size 64MiB -small 10000
package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"hash/crc32"
	"io"
	"log/slog"
	mrand "math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"runtime/pprof"
	"strings"
	"syscall"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"

	"github.com/zerostor/zerostor/bench/internal/benchkit"
	"github.com/zerostor/zerostor/internal/config"
	"github.com/zerostor/zerostor/internal/s3"
	"github.com/zerostor/zerostor/zstor"
)

// The gateway's targets.
const (
	targetPutMBs  = 400
	targetGetMBs  = 700
	targetPutOps  = 2000
	targetGetOps  = 4000
	bucket        = "bench"
	region        = "us-east-1"
	envAccessKey  = "S3BENCH_ACCESS_KEY"
	envSecretKey  = "S3BENCH_SECRET_KEY"
	largeKey      = "large"
	parKeyFormat  = "par/%03d"
	smallKeyForm  = "small/%06d"
	phaseLarge    = "large"
	phaseParallel = "parallel"
	phaseSmall    = "small"
)

type flags struct {
	size, parSize      int64
	par                int
	small, smallSize   int
	smallObject        int
	workers            int
	partThreads        int
	backends, groups   int
	k, m               int
	sync               bool
	dir                string
	verbose            bool
	parallelBlocks     int
	zdbProcs           int
	cpuProfile         string
	cpuProfilePhase    string
	phases             map[string]bool
	clientMaxIdleConns int
}

func main() {
	var f flags
	size := flag.String("size", "1GiB", "size of the large object")
	parSize := flag.String("par-size", "64MiB", "size of each parallel object")
	flag.IntVar(&f.par, "par", 16, "objects put (then read) in parallel")
	flag.IntVar(&f.small, "small", 10000, "number of small objects")
	flag.IntVar(&f.smallSize, "small-size", 4096, "size of the small objects")
	flag.IntVar(&f.smallObject, "small-object-size", int(config.DefaultSmallObjectSize), "small_object_size: objects up to this size are stored as 1+m copies (0: off)")
	flag.IntVar(&f.workers, "workers", 16, "concurrent clients for the small objects")
	flag.IntVar(&f.partThreads, "part-threads", 0, "parts in flight for the large PUT (0: minio-go's default for a stream, one part after another)")
	flag.IntVar(&f.backends, "backends", 20, "zdb backends")
	flag.IntVar(&f.groups, "groups", 4, "groups")
	flag.IntVar(&f.k, "k", 16, "data shards")
	flag.IntVar(&f.m, "m", 4, "parity shards")
	flag.BoolVar(&f.sync, "sync", false, "run the backends with --sync (fsync every write)")
	flag.StringVar(&f.dir, "dir", "", "work directory (default: a temp dir, removed after)")
	flag.BoolVar(&f.verbose, "v", false, "log the gateway's and zstor's warnings to stderr")
	flag.IntVar(&f.parallelBlocks, "parallel", 0, "blocks in flight per zstor transfer (0: zstor's default)")
	flag.IntVar(&f.zdbProcs, "zdb-gomaxprocs", 1, "GOMAXPROCS of each backend process (0: Go's default); 20 daemons on 2 cores context-switch less with 1")
	flag.StringVar(&f.cpuProfile, "cpuprofile", "", "write a CPU profile of the gateway's process (gateway and zstor, not the client) here")
	flag.StringVar(&f.cpuProfilePhase, "cpuprofile-phase", "all", "what -cpuprofile covers: all, large, parallel or small (each: its PUTs and GETs)")
	phases := flag.String("phases", "large,parallel,small", "phases to run, comma-separated")
	client := flag.Bool("client", false, "internal: run the client phase described on stdin")
	flag.Parse()
	if *client {
		if err := clientMain(); err != nil {
			fmt.Fprintln(os.Stderr, "s3bench client:", err)
			os.Exit(1)
		}
		return
	}
	for _, s := range []struct {
		s   string
		dst *int64
	}{{*size, &f.size}, {*parSize, &f.parSize}} {
		v, err := config.ParseByteSize(s.s)
		if err != nil {
			fatal(err)
		}
		*s.dst = int64(v)
	}
	f.phases = map[string]bool{}
	for _, p := range strings.Split(*phases, ",") {
		switch p = strings.TrimSpace(p); p {
		case phaseLarge, phaseParallel, phaseSmall:
			f.phases[p] = true
		case "":
		default:
			fatal(fmt.Errorf("-phases: unknown phase %q (large, parallel, small)", p))
		}
	}
	switch f.cpuProfilePhase {
	case "all", phaseLarge, phaseParallel, phaseSmall:
	default:
		fatal(fmt.Errorf("-cpuprofile-phase %q: want all, large, parallel or small", f.cpuProfilePhase))
	}
	if f.par < 1 || f.workers < 1 || f.small < 0 || f.smallSize < 0 || f.size < 0 || f.parSize < 0 {
		fatal(errors.New("sizes and counts must not be negative, -par and -workers at least 1"))
	}
	f.clientMaxIdleConns = max(f.par, f.workers, f.partThreads, 16)
	// As cmd/zstor does: a soft memory limit makes the GC collect the
	// large transient block buffers before the heap doubles.
	benchkit.SetMemoryLimit()
	if err := run(f); err != nil {
		fatal(err)
	}
}

func fatal(err error) {
	fmt.Fprintln(os.Stderr, "s3bench:", err)
	os.Exit(1)
}

// job is one client phase, sent to the child on stdin.
type job struct {
	Phase       string // mkbucket, large-put, large-get, par-put, par-get, small-put, small-get
	Endpoint    string // host:port
	Size        int64  // of each object
	Count       int    // objects
	Workers     int
	Seed        uint64
	PartThreads int
	MaxIdle     int
	CRCs        []uint32 // expected by the GETs of large and parallel objects
}

// result is what the child reports on stdout.
type result struct {
	Bytes    int64
	Ops      int
	Elapsed  time.Duration
	P50, P99 time.Duration
	CRCs     []uint32 // of the objects put
	PeakRSS  int64    // the client's
}

// figure is one measured line, kept for the summary.
type figure struct {
	label  string
	value  float64
	target float64
}

type bench struct {
	f        flags
	exe      string
	env      []string
	endpoint string
	cpu      *benchkit.CPU
	seed     uint64
	figures  []figure
	clientHW int64 // the largest peak RSS of a client run
	profile  *os.File
}

func run(f flags) error {
	ctx := context.Background()
	if f.dir == "" {
		d, err := os.MkdirTemp("", "s3bench-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(d)
		f.dir = d
	}
	exe, err := os.Executable()
	if err != nil {
		return err
	}
	limit := "off"
	if l := debug.SetMemoryLimit(-1); l < 1<<50 {
		limit = fmt.Sprintf("%d MiB", l>>20)
	}
	fmt.Printf("# s3bench: %d+%d over %d zdb backends in %d groups, sync=%v, GOMAXPROCS=%d, memory limit %s; client minio-go in a child process\n",
		f.k, f.m, f.backends, f.groups, f.sync, runtime.GOMAXPROCS(0), limit)
	cl, err := benchkit.StartCluster(ctx, filepath.Join(f.dir, "cluster"), benchkit.ClusterOptions{Backends: f.backends, Groups: f.groups, Sync: f.sync, ZdbProcs: f.zdbProcs})
	if err != nil {
		return err
	}
	defer cl.Close()
	var key [32]byte
	rand.Read(key[:])
	cfg := cl.ZstorConfig(f.k, f.m, filepath.Join(f.dir, "meta"), key)
	cfg.SmallObjectSize = config.ByteSize(f.smallObject) // a config file's default
	var logger *slog.Logger
	if f.verbose {
		logger = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	}
	c, err := zstor.Open(ctx, cfg, zstor.Options{Logger: logger, Parallel: f.parallelBlocks})
	if err != nil {
		return err
	}
	defer c.Close()

	access, secret := newKeyPair()
	srv, err := s3.New(c, s3.Options{Credentials: map[string]string{access: secret}, Region: region, Logger: logger})
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	sctx, stop := context.WithCancel(ctx)
	served := make(chan error, 1)
	go func() { served <- srv.Serve(sctx, ln) }()
	defer func() {
		stop()
		if err := <-served; err != nil {
			fmt.Fprintln(os.Stderr, "s3bench: gateway:", err)
		}
	}()

	b := &bench{
		f: f, exe: exe, endpoint: ln.Addr().String(),
		env:  append(os.Environ(), envAccessKey+"="+access, envSecretKey+"="+secret),
		cpu:  benchkit.NewCPU(cl),
		seed: mrand.Uint64(),
	}
	defer b.stopProfile()
	if _, err := b.client(job{Phase: "mkbucket"}); err != nil {
		return err
	}
	for _, p := range []struct {
		name string
		fn   func() error
	}{{phaseLarge, b.large}, {phaseParallel, b.parallel}, {phaseSmall, b.smallObjects}} {
		if !b.f.phases[p.name] {
			continue
		}
		if b.f.cpuProfile != "" && b.profile == nil && (b.f.cpuProfilePhase == "all" || b.f.cpuProfilePhase == p.name) {
			if err := b.startProfile(); err != nil {
				return err
			}
		}
		if err := p.fn(); err != nil {
			return err
		}
		if b.f.cpuProfilePhase == p.name {
			b.stopProfile()
		}
	}
	b.stopProfile()
	fmt.Printf("peak RSS: gateway process (gateway+zstor) %d MiB, client process %d MiB\n", benchkit.PeakRSS()>>20, b.clientHW>>20)
	met, n := 0, 0
	var missed []string
	for _, fg := range b.figures {
		if fg.target == 0 {
			continue
		}
		n++
		if fg.value >= fg.target {
			met++
		} else {
			missed = append(missed, fg.label)
		}
	}
	fmt.Printf("targets met: %d of %d", met, n)
	if len(missed) > 0 {
		fmt.Printf(" (missed: %s)", strings.Join(missed, "; "))
	}
	fmt.Println()
	return nil
}

func newKeyPair() (access, secret string) {
	var a [10]byte
	var s [30]byte
	rand.Read(a[:])
	rand.Read(s[:])
	return "AKZS" + strings.ToUpper(hex.EncodeToString(a[:])), hex.EncodeToString(s[:])
}

func (b *bench) startProfile() error {
	pf, err := os.Create(b.f.cpuProfile)
	if err != nil {
		return err
	}
	if err := pprof.StartCPUProfile(pf); err != nil {
		pf.Close()
		return err
	}
	b.profile = pf
	return nil
}

func (b *bench) stopProfile() {
	if b.profile == nil {
		return
	}
	pprof.StopCPUProfile()
	if err := b.profile.Close(); err != nil {
		fmt.Fprintln(os.Stderr, "s3bench: cpu profile:", err)
	}
	fmt.Printf("cpu profile of the gateway's process (%s): %s\n", b.f.cpuProfilePhase, b.f.cpuProfile)
	b.profile = nil
	b.f.cpuProfile = "" // one profile per run
}

func (b *bench) large() error {
	r, err := b.measure(fmt.Sprintf("large PUT (1 x %s)", sizeLabel(b.f.size)), targetPutMBs, false,
		job{Phase: "large-put", Size: b.f.size, Count: 1, Seed: b.seed, PartThreads: b.f.partThreads})
	if err != nil {
		return err
	}
	_, err = b.measure(fmt.Sprintf("large GET (1 x %s)", sizeLabel(b.f.size)), targetGetMBs, false,
		job{Phase: "large-get", Size: b.f.size, Count: 1, CRCs: r.CRCs})
	return err
}

func (b *bench) parallel() error {
	r, err := b.measure(fmt.Sprintf("parallel PUT (%d x %s)", b.f.par, sizeLabel(b.f.parSize)), targetPutMBs, false,
		job{Phase: "par-put", Size: b.f.parSize, Count: b.f.par, Workers: b.f.par, Seed: b.seed + 1})
	if err != nil {
		return err
	}
	_, err = b.measure(fmt.Sprintf("parallel GET (%d x %s)", b.f.par, sizeLabel(b.f.parSize)), targetGetMBs, false,
		job{Phase: "par-get", Size: b.f.parSize, Count: b.f.par, Workers: b.f.par, CRCs: r.CRCs})
	return err
}

func (b *bench) smallObjects() error {
	if b.f.small == 0 {
		return nil
	}
	what := fmt.Sprintf("(%d x %s, %d workers)", b.f.small, sizeLabel(int64(b.f.smallSize)), b.f.workers)
	j := job{Size: int64(b.f.smallSize), Count: b.f.small, Workers: b.f.workers, Seed: b.seed + 1<<32}
	j.Phase = "small-put"
	if _, err := b.measure("small PUT "+what, targetPutOps, true, j); err != nil {
		return err
	}
	j.Phase = "small-get"
	_, err := b.measure("small GET "+what, targetGetOps, true, j)
	return err
}

// measure runs one client phase and prints its line: MB/s, or ops/s and
// latencies, the target, and the CPU of the gateway's process, the
// client and the backends during the phase.
func (b *bench) measure(label string, target float64, ops bool, j job) (result, error) {
	syscall.Sync() // what earlier phases left dirty is not written back during this one
	b.cpu.Mark()
	r, clientCPU, err := b.runClient(j)
	if err != nil {
		return r, fmt.Errorf("%s: %w", label, err)
	}
	self, zdbs := b.cpu.Since()
	secs := r.Elapsed.Seconds()
	var v float64
	var line string
	if ops {
		v = float64(r.Ops) / secs
		line = fmt.Sprintf("%-44s %8.0f ops/s  p50 %v  p99 %v", label, v, r.P50.Round(10*time.Microsecond), r.P99.Round(10*time.Microsecond))
	} else {
		v = float64(r.Bytes) / secs / 1e6
		line = fmt.Sprintf("%-44s %8.0f MB/s  (%d MiB in %v)", label, v, r.Bytes>>20, r.Elapsed.Round(time.Millisecond))
	}
	unit := map[bool]string{false: "MB/s", true: "ops/s"}[ops]
	verdict := "ok"
	if v < target {
		verdict = "MISSED"
	}
	fmt.Printf("%s  target >= %.0f %s: %s  [cpu: gateway+zstor %.1fs (%.2f cores), client %.1fs, zdbs %.1fs]\n",
		line, target, unit, verdict, self.Seconds(), self.Seconds()/secs, clientCPU.Seconds(), zdbs.Seconds())
	b.figures = append(b.figures, figure{label: label, value: v, target: target})
	return r, nil
}

// client runs a phase outside measurement.
func (b *bench) client(j job) (result, error) {
	r, _, err := b.runClient(j)
	return r, err
}

// runClient runs this binary with -client for one phase and returns its
// result and CPU time.
func (b *bench) runClient(j job) (result, time.Duration, error) {
	j.Endpoint = b.endpoint
	j.MaxIdle = b.f.clientMaxIdleConns
	in, err := json.Marshal(j)
	if err != nil {
		return result{}, 0, err
	}
	cmd := exec.Command(b.exe, "-client")
	cmd.Env = b.env
	cmd.Stdin = bytes.NewReader(in)
	cmd.Stderr = os.Stderr
	var out bytes.Buffer
	cmd.Stdout = &out
	err = cmd.Run()
	var cpu time.Duration
	if ps := cmd.ProcessState; ps != nil {
		cpu = ps.UserTime() + ps.SystemTime()
	}
	if err != nil {
		return result{}, cpu, fmt.Errorf("client %s: %w", j.Phase, err)
	}
	var r result
	if err := json.Unmarshal(out.Bytes(), &r); err != nil {
		return result{}, cpu, fmt.Errorf("client %s: output %q: %w", j.Phase, out.String(), err)
	}
	// Reported by the child: its rusage's maxrss would be this process's,
	// which it shared memory with until exec.
	b.clientHW = max(b.clientHW, r.PeakRSS)
	return r, cpu, nil
}

func sizeLabel(n int64) string {
	switch {
	case n >= 1<<30 && n%(1<<30) == 0:
		return fmt.Sprintf("%d GiB", n>>30)
	case n >= 1<<20 && n%(1<<20) == 0:
		return fmt.Sprintf("%d MiB", n>>20)
	case n >= 1<<10 && n%(1<<10) == 0:
		return fmt.Sprintf("%d KiB", n>>10)
	}
	return fmt.Sprintf("%d B", n)
}

// ---- the client (child process) ----

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

func clientMain() error {
	var j job
	if err := json.NewDecoder(os.Stdin).Decode(&j); err != nil {
		return err
	}
	tr, err := minio.DefaultTransport(false)
	if err != nil {
		return err
	}
	tr.MaxIdleConnsPerHost = j.MaxIdle
	tr.MaxIdleConns = max(tr.MaxIdleConns, j.MaxIdle)
	mc, err := minio.New(j.Endpoint, &minio.Options{
		Creds:     credentials.NewStaticV4(os.Getenv(envAccessKey), os.Getenv(envSecretKey), ""),
		Secure:    false,
		Region:    region,
		Transport: tr,
	})
	if err != nil {
		return err
	}
	ctx := context.Background()
	var r result
	switch j.Phase {
	case "mkbucket":
		err = mc.MakeBucket(ctx, bucket, minio.MakeBucketOptions{Region: region})
	case "large-put":
		r, err = putStreams(ctx, mc, j, func(int) string { return largeKey })
	case "large-get":
		r, err = getStreams(ctx, mc, j, func(int) string { return largeKey })
	case "par-put":
		r, err = putStreams(ctx, mc, j, parKey)
	case "par-get":
		r, err = getStreams(ctx, mc, j, parKey)
	case "small-put", "small-get":
		r, err = small(ctx, mc, j)
	default:
		err = fmt.Errorf("unknown phase %q", j.Phase)
	}
	if err != nil {
		return err
	}
	r.PeakRSS = benchkit.PeakRSS()
	return json.NewEncoder(os.Stdout).Encode(r)
}

func parKey(i int) string { return fmt.Sprintf(parKeyFormat, i) }

// crcReader passes a reader through, computing the CRC-32C of what was
// read.
type crcReader struct {
	r   io.Reader
	crc uint32
	n   int64
}

func (c *crcReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.crc = crc32.Update(c.crc, castagnoli, p[:n])
	c.n += int64(n)
	return n, err
}

// putStreams puts j.Count objects of j.Size generated bytes (object i
// from seed j.Seed+i), all at once; the object is read from a stream (no
// ReaderAt), as from a pipe.
func putStreams(ctx context.Context, mc *minio.Client, j job, key func(int) string) (result, error) {
	crcs := make([]uint32, j.Count)
	opts := minio.PutObjectOptions{ContentType: "application/octet-stream"}
	if j.PartThreads > 1 {
		// minio-go's default part size for a known size up to 160 GiB.
		opts.ConcurrentStreamParts, opts.NumThreads, opts.PartSize = true, uint(j.PartThreads), 16<<20
	}
	_, el, err := benchkit.Parallel(j.Count, j.Count, func(i int) error {
		cr := &crcReader{r: benchkit.NewStream(j.Seed+uint64(i), j.Size)}
		info, err := mc.PutObject(ctx, bucket, key(i), cr, j.Size, opts)
		if err != nil {
			return fmt.Errorf("put %s: %w", key(i), err)
		}
		if info.Size != j.Size || cr.n != j.Size {
			return fmt.Errorf("put %s: %d bytes stored, %d read, of %d", key(i), info.Size, cr.n, j.Size)
		}
		crcs[i] = cr.crc
		return nil
	})
	return result{Bytes: int64(j.Count) * j.Size, Ops: j.Count, Elapsed: el, CRCs: crcs}, err
}

// getStreams reads j.Count objects at once, discarding their bytes but
// checking their size and CRC-32C against j.CRCs.
func getStreams(ctx context.Context, mc *minio.Client, j job, key func(int) string) (result, error) {
	if len(j.CRCs) != j.Count {
		return result{}, fmt.Errorf("%d CRCs for %d objects", len(j.CRCs), j.Count)
	}
	_, el, err := benchkit.Parallel(j.Count, j.Count, func(i int) error {
		o, err := mc.GetObject(ctx, bucket, key(i), minio.GetObjectOptions{})
		if err != nil {
			return fmt.Errorf("get %s: %w", key(i), err)
		}
		defer o.Close()
		cr := &crcReader{r: o}
		buf := make([]byte, 256<<10)
		if _, err := io.CopyBuffer(io.Discard, cr, buf); err != nil {
			return fmt.Errorf("get %s: after %d bytes: %w", key(i), cr.n, err)
		}
		if cr.n != j.Size {
			return fmt.Errorf("get %s: %d bytes of %d", key(i), cr.n, j.Size)
		}
		if cr.crc != j.CRCs[i] {
			return fmt.Errorf("get %s: CRC-32C %08x, written %08x", key(i), cr.crc, j.CRCs[i])
		}
		return nil
	})
	return result{Bytes: int64(j.Count) * j.Size, Ops: j.Count, Elapsed: el}, err
}

// small puts or gets j.Count objects of j.Size bytes with j.Workers
// workers; object i holds the stream seeded by j.Seed+i, checked on GET.
func small(ctx context.Context, mc *minio.Client, j job) (result, error) {
	bufs := make(chan [2][]byte, j.Workers)
	for range j.Workers {
		bufs <- [2][]byte{make([]byte, j.Size), make([]byte, j.Size+1)}
	}
	put := j.Phase == "small-put"
	lat, el, err := benchkit.Parallel(j.Workers, j.Count, func(i int) error {
		b := <-bufs
		defer func() { bufs <- b }()
		want, got := b[0], b[1]
		key := fmt.Sprintf(smallKeyForm, i)
		benchkit.Fill(j.Seed+uint64(i), want)
		if put {
			_, err := mc.PutObject(ctx, bucket, key, bytes.NewReader(want), j.Size, minio.PutObjectOptions{ContentType: "application/octet-stream"})
			if err != nil {
				return fmt.Errorf("put %s: %w", key, err)
			}
			return nil
		}
		o, err := mc.GetObject(ctx, bucket, key, minio.GetObjectOptions{})
		if err != nil {
			return fmt.Errorf("get %s: %w", key, err)
		}
		defer o.Close()
		n, err := io.ReadFull(o, got)
		if err != io.ErrUnexpectedEOF && err != io.EOF && err != nil {
			return fmt.Errorf("get %s: %w", key, err)
		}
		if !bytes.Equal(got[:n], want) {
			return fmt.Errorf("get %s: %d bytes, not the %d written", key, n, len(want))
		}
		return nil
	})
	if err != nil {
		return result{}, err
	}
	return result{Bytes: int64(j.Count) * j.Size, Ops: j.Count, Elapsed: el,
		P50: benchkit.Pct(lat, 50), P99: benchkit.Pct(lat, 99)}, nil
}
