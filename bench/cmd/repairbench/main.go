// Command repairbench measures zstor's self-healing end to end: it starts
// real zdb backends on loopback (16+4 over 22 by default: 20 for the
// shards plus one spare for each backend the run kills), fills the store,
// then kills a backend and times the background repair back to full
// redundancy, then kills a second one and times stores running while that
// repair works. It prints one line per figure with the process's CPU per
// phase, the backends' CPU and zstor's peak RSS, against the targets:
// repair >= 300 MB/s of rebuilt shards, stores during a repair >= 70% of
// their idle rate.
//
//	go run ./bench/cmd/repairbench -size 4GiB -object 64MiB -probe 512MiB
package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	mrand "math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"runtime/pprof"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/zerostor/zerostor/bench/internal/benchkit"
	"github.com/zerostor/zerostor/internal/config"
	"github.com/zerostor/zerostor/internal/testcluster"
	"github.com/zerostor/zerostor/zstor"
)

// Targets.
const (
	targetRepairMBs  = 300  // MB/s of rebuilt shards
	targetBusyStore  = 0.70 // store during repair / idle store
	aeadOverhead     = 16   // AES-256-GCM tag: sealed = plain + 16 (incompressible data is not compressed)
	fullPollInterval = 100 * time.Millisecond
	queuePoll        = 10 * time.Millisecond
)

type flags struct {
	size, object, probe, rate int64
	writers, workers          int
	backends, groups, k, m    int
	dataSize                  int64
	zdbProcs                  int
	seed                      uint64
	timeout                   time.Duration
	dir                       string
	verbose                   bool
	cpuProfile                string
}

func main() {
	var f flags
	size := flag.String("size", "4GiB", "bytes stored by the fill")
	object := flag.String("object", "64MiB", "object size")
	probe := flag.String("probe", "512MiB", "bytes stored by each timed store (idle, and during a repair)")
	rate := flag.String("rate", "64MiB", "[repair] rate: repair's limit while stores run (shard bytes/s, 0 unlimited)")
	dataSize := flag.String("datasize", "256MiB", "zdb --datasize (data file rotation size)")
	flag.IntVar(&f.writers, "writers", 2, "concurrent writers")
	flag.IntVar(&f.workers, "workers", 2, "[repair] workers")
	flag.IntVar(&f.backends, "backends", 22, "zdb backends: k+m plus one spare per killed backend (2 are killed)")
	flag.IntVar(&f.groups, "groups", 4, "groups")
	flag.IntVar(&f.k, "k", 16, "data shards")
	flag.IntVar(&f.m, "m", 4, "parity shards")
	flag.IntVar(&f.zdbProcs, "zdb-gomaxprocs", 1, "GOMAXPROCS of each backend process (0: Go's default); many daemons on 2 cores context-switch less with 1")
	flag.Uint64Var(&f.seed, "seed", 0, "seed of the objects' content (0: random; printed)")
	flag.DurationVar(&f.timeout, "timeout", 10*time.Minute, "longest wait for full redundancy")
	flag.StringVar(&f.dir, "dir", "", "work directory (default: a temp dir, removed after)")
	flag.BoolVar(&f.verbose, "v", false, "log zstor's warnings to stderr")
	flag.StringVar(&f.cpuProfile, "cpuprofile", "", "write a CPU profile of zstor during repair 1 (kill to full redundancy) here")
	flag.Parse()
	for _, p := range []struct {
		s   string
		dst *int64
	}{{*size, &f.size}, {*object, &f.object}, {*probe, &f.probe}, {*rate, &f.rate}, {*dataSize, &f.dataSize}} {
		v, err := config.ParseByteSize(p.s)
		if err != nil {
			fatal(err)
		}
		*p.dst = int64(v)
	}
	if f.object <= 0 || f.size < f.object || f.probe < f.object {
		fatal(fmt.Errorf("-size and -probe must hold at least one -object"))
	}
	if f.backends < f.k+f.m+2 {
		fmt.Fprintf(os.Stderr, "repairbench: warning: %d backends for %d shards: the second kill leaves no backend to rebuild on\n", f.backends, f.k+f.m)
	}
	if f.seed == 0 {
		f.seed = mrand.Uint64() | 1
	}
	benchkit.SetMemoryLimit()
	if err := run(f); err != nil {
		fatal(err)
	}
}

func fatal(err error) {
	fmt.Fprintln(os.Stderr, "repairbench:", err)
	os.Exit(1)
}

// obj is one object: its content is regenerated from its seed, so nothing
// is kept in memory.
type obj struct {
	key  string
	seed uint64
	size int64
}

func objects(prefix string, phase, seed uint64, total, size int64) []obj {
	var out []obj
	for i := 0; total > 0; i++ {
		// Distinct seeds per run, phase and object.
		o := obj{key: fmt.Sprintf("%s/%05d", prefix, i), size: min(size, total), seed: seed ^ phase<<48 ^ uint64(i)<<20}
		out = append(out, o)
		total -= o.size
	}
	return out
}

func (o obj) reader() io.Reader { return benchkit.NewStream(o.seed, o.size) }

func total(objs []obj) int64 {
	var n int64
	for _, o := range objs {
		n += o.size
	}
	return n
}

// result is one line of the final table.
type result struct{ name, value, detail, cpu string }

type bench struct {
	f       flags
	ctx     context.Context
	cl      *testcluster.Cluster
	c       *zstor.Client
	cfg     *config.Config
	index   map[string]int // zstor backend id -> cluster index
	dead    map[int]bool
	results []result
	cpu     *benchkit.CPU // this process and the backends, per phase
}

func (b *bench) add(name, value, detail, cpu string) {
	b.results = append(b.results, result{name, value, detail, cpu})
	fmt.Printf("# %-34s %-14s %s%s\n", name, value, detail, cpuSuffix(cpu))
}

func cpuSuffix(cpu string) string {
	if cpu == "" {
		return ""
	}
	return "  [cpu " + cpu + "]"
}

func run(f flags) error {
	ctx := context.Background()
	if f.dir == "" {
		d, err := os.MkdirTemp("", "repairbench-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(d)
		f.dir = d
	}
	fmt.Printf("# repairbench: %d+%d over %d zdb backends in %d groups, fill %d MiB as %d MiB objects, probe %d MiB, %d writers, %d repair workers, rate %d MiB/s, idle rate unlimited, GOMAXPROCS=%d, memory limit %s, seed %d\n",
		f.k, f.m, f.backends, f.groups, f.size>>20, f.object>>20, f.probe>>20, f.writers, f.workers, f.rate>>20, runtime.GOMAXPROCS(0), memLimit(), f.seed)
	if f.zdbProcs > 0 {
		// Read by the backends' Go runtime at their start only.
		os.Setenv("GOMAXPROCS", strconv.Itoa(f.zdbProcs))
	}
	cl, err := testcluster.StartDir(ctx, filepath.Join(f.dir, "cluster"), f.backends, testcluster.Options{Groups: f.groups, DataSize: f.dataSize})
	os.Unsetenv("GOMAXPROCS")
	if err != nil {
		return err
	}
	defer cl.Close()
	var key [32]byte
	rand.Read(key[:])
	cfg := cl.ZstorConfig(f.k, f.m, filepath.Join(f.dir, "meta"), key)
	cfg.Repair = config.DefaultRepair()
	cfg.Repair.TerminalAfter = time.Second
	cfg.Repair.ProbeInterval = 100 * time.Millisecond
	cfg.Repair.ScrubRate = 0
	cfg.Repair.AuditInterval = 0
	cfg.Repair.Workers = f.workers
	cfg.Repair.Rate = config.ByteSize(f.rate)
	cfg.Repair.IdleRate = 0
	var logger *slog.Logger
	if f.verbose {
		logger = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	}
	c, err := zstor.Open(ctx, cfg, zstor.Options{Logger: logger, DisableCommitLog: true})
	if err != nil {
		return err
	}
	defer c.Close()
	b := &bench{f: f, ctx: ctx, cl: cl, c: c, cfg: cfg, index: map[string]int{}, dead: map[int]bool{}, cpu: benchkit.NewCPU(cl)}
	for i := range cl.Len() {
		be := cl.Backend(i)
		b.index[be.Addr+"/"+be.Namespace] = i
	}

	// 1. Fill.
	fill := objects("fill", 1, f.seed, f.size, f.object)
	b.cpu.Mark()
	d, err := b.store(fill)
	if err != nil {
		return fmt.Errorf("fill: %w", err)
	}
	b.add("fill", mbs(total(fill), d), fmt.Sprintf("%d MiB, %d objects in %v", total(fill)>>20, len(fill), d.Round(time.Millisecond)), b.cpuSince())

	// 2. Idle store reference.
	idle := objects("idle", 2, f.seed, f.probe, f.object)
	b.cpu.Mark()
	idleD, err := b.store(idle)
	if err != nil {
		return fmt.Errorf("idle store: %w", err)
	}
	idleRate := float64(total(idle)) / idleD.Seconds()
	b.add("store, idle", mbs(total(idle), idleD), fmt.Sprintf("%d MiB in %v", total(idle)>>20, idleD.Round(time.Millisecond)), b.cpuSince())

	if err := c.StartHealing(zstor.HealOptions{DisableScrub: true, DisableAudit: true}); err != nil {
		return err
	}

	// 3. Repair alone.
	if err := b.repairAlone(); err != nil {
		return err
	}

	// 4. Store during repair.
	busy := objects("busy", 3, f.seed, f.probe, f.object)
	if err := b.storeDuringRepair(busy, idleRate); err != nil {
		return err
	}

	// 5. Verify.
	all := append(append(append([]obj(nil), fill...), idle...), busy...)
	b.cpu.Mark()
	var picked []string
	for _, i := range mrand.Perm(len(all))[:min(2, len(all))] {
		o := all[i]
		if err := b.verify(o); err != nil {
			return err
		}
		picked = append(picked, o.key)
	}
	b.add("verify", "ok", fmt.Sprintf("%s byte-identical, Check MinGood %d", strings.Join(picked, ", "), f.k+f.m), b.cpuSince())
	h, err := c.Health(ctx, false)
	if err != nil {
		return err
	}
	b.add("repair attempts failed", strconv.FormatInt(h.Repair.Failed, 10), fmt.Sprintf("objects repaired %d, queued %d", h.Repair.Repaired, h.Repair.Queued), "")
	b.add("peak RSS (zstor)", fmt.Sprintf("%d MiB", benchkit.PeakRSS()>>20), "", "")
	b.table()
	return nil
}

// store puts objs with f.writers concurrent writers.
func (b *bench) store(objs []obj) (time.Duration, error) {
	var next atomic.Int64
	var firstErr atomic.Value
	var wg sync.WaitGroup
	start := time.Now()
	for range b.f.writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for firstErr.Load() == nil {
				i := int(next.Add(1) - 1)
				if i >= len(objs) {
					return
				}
				o := objs[i]
				info, err := b.c.Put(b.ctx, o.key, o.reader(), zstor.PutOptions{})
				if err == nil && info.Size != o.size {
					err = fmt.Errorf("%s: stored %d of %d bytes", o.key, info.Size, o.size)
				}
				if err != nil {
					firstErr.CompareAndSwap(nil, err)
					return
				}
			}
		}()
	}
	wg.Wait()
	if err, _ := firstErr.Load().(error); err != nil {
		return 0, err
	}
	return time.Since(start), nil
}

// victim picks the live backend holding the most shards.
func (b *bench) victim() (int, zstor.BackendStatus, error) {
	h, err := b.c.Health(b.ctx, true)
	if err != nil {
		return 0, zstor.BackendStatus{}, err
	}
	best, bi := -1, -1
	for i, st := range h.Backends {
		ci, ok := b.index[st.ID]
		if !ok {
			return 0, st, fmt.Errorf("backend %s is not in the cluster", st.ID)
		}
		if !b.dead[ci] && st.Shards > 0 && (bi < 0 || st.Shards > h.Backends[bi].Shards) {
			best, bi = ci, i
		}
	}
	if best < 0 {
		return 0, zstor.BackendStatus{}, errors.New("no live backend holds shards")
	}
	return best, h.Backends[bi], nil
}

// snapshot is what the repair figures are computed from.
type snapshot struct {
	liveData      int64 // NSINFO data_size_bytes summed over backends alive now
	rebuiltShards int64
	repairBytes   int64
}

// snap refreshes the backends and sums the data of those not in dead.
func (b *bench) snap(dead map[int]bool) (snapshot, error) {
	h, err := b.c.Health(b.ctx, true)
	if err != nil {
		return snapshot{}, err
	}
	s := snapshot{rebuiltShards: h.Repair.RebuiltShards, repairBytes: h.Repair.Bytes}
	for _, st := range h.Backends {
		if !dead[b.index[st.ID]] {
			s.liveData += st.DataSize
		}
	}
	return s, nil
}

// shardLen is the shard length of a full block, as the codec rounds it
// (incompressible data is stored uncompressed). With -size and -object
// multiples of the block size, every block is full and the rebuilt bytes
// computed from it are exact.
func (b *bench) shardLen() int64 {
	k := int64(b.f.k)
	return (int64(b.cfg.BlockSize) + aeadOverhead + k - 1) / k
}

// kill kills cluster backend i and returns the time of the kill.
func (b *bench) kill(i int) time.Time {
	b.dead[i] = true
	b.cl.Kill(i)
	return time.Now()
}

// awaitQueued waits until the repair queue is non-empty (or the repairer
// counted a queued entry, should the queue have drained already).
func (b *bench) awaitQueued(since time.Time, queued0 int64) (time.Duration, error) {
	for n := 0; ; n++ {
		if _, q, err := b.c.RepairQueue(b.ctx, 1); err != nil {
			return 0, err
		} else if q > 0 {
			return time.Since(since), nil
		}
		if n%10 == 9 {
			h, err := b.c.Health(b.ctx, false)
			if err != nil {
				return 0, err
			}
			if h.Repair.Queued > queued0 {
				return time.Since(since), nil
			}
		}
		if time.Since(since) > b.f.timeout {
			return 0, errors.New("timeout: nothing was queued for repair")
		}
		time.Sleep(queuePoll)
	}
}

// awaitFull polls Health every 100 ms until no object is degraded and the
// queue is empty.
func (b *bench) awaitFull(since time.Time) (time.Duration, error) {
	for {
		h, err := b.c.Health(b.ctx, false)
		if err != nil {
			return 0, err
		}
		if h.Degraded == 0 && h.Repair.Queue == 0 {
			return time.Since(since), nil
		}
		if time.Since(since) > b.f.timeout {
			return 0, fmt.Errorf("timeout: %d objects degraded, %d queued, %d repair attempts failed", h.Degraded, h.Repair.Queue, h.Repair.Failed)
		}
		time.Sleep(fullPollInterval)
	}
}

func (b *bench) queuedNow() (int64, error) {
	h, err := b.c.Health(b.ctx, false)
	return h.Repair.Queued, err
}

func (b *bench) repairAlone() error {
	x, st, err := b.victim()
	if err != nil {
		return err
	}
	fmt.Printf("# killing backend %d (%s, %d shards)\n", x, st.ID, st.Shards)
	dead := map[int]bool{x: true}
	before, err := b.snap(dead)
	if err != nil {
		return err
	}
	queued0, err := b.queuedNow()
	if err != nil {
		return err
	}
	if b.f.cpuProfile != "" {
		pf, err := os.Create(b.f.cpuProfile)
		if err != nil {
			return err
		}
		defer pf.Close()
		if err := pprof.StartCPUProfile(pf); err != nil {
			return err
		}
	}
	b.cpu.Mark()
	t0 := b.kill(x)
	detect, err := b.awaitQueued(t0, queued0)
	if err != nil {
		return fmt.Errorf("repair alone: %w", err)
	}
	full, err := b.awaitFull(t0)
	if err != nil {
		return fmt.Errorf("repair alone: %w", err)
	}
	pprof.StopCPUProfile()
	cpu := b.cpuSince()
	after, err := b.snap(dead)
	if err != nil {
		return err
	}
	shards := after.rebuiltShards - before.rebuiltShards
	rebuilt := shards * b.shardLen()
	growth := after.liveData - before.liveData
	window := full - detect
	b.add("repair 1: detection", secs(detect), fmt.Sprintf("kill -> queue non-empty (terminal_after %v, probe %v)", b.cfg.Repair.TerminalAfter, b.cfg.Repair.ProbeInterval), "")
	b.add("repair 1: back to full redundancy", secs(full), fmt.Sprintf("kill -> degraded 0 and queue 0 (repair itself %s)", secs(window)), cpu)
	b.add("repair 1: rebuilt shard bytes", fmt.Sprintf("%.1f MiB", float64(rebuilt)/(1<<20)),
		fmt.Sprintf("%d shards x %d B (the dead backend held %d); survivors' data_size grew %.1f MiB (metadata copies included)", shards, b.shardLen(), st.Shards, float64(growth)/(1<<20)), "")
	b.add("repair 1: rate of rebuilt shards", mbs(rebuilt, window), fmt.Sprintf("over the repair (queued -> full); %s over kill -> full; target >= %d MB/s: %s",
		mbs(rebuilt, full), targetRepairMBs, verdict(float64(rebuilt)/window.Seconds()/1e6 >= targetRepairMBs)), "")
	b.add("repair 1: shard I/O (Repair.Bytes)", mbs(after.repairBytes-before.repairBytes, window),
		fmt.Sprintf("%.1f MiB read+written over the repair", float64(after.repairBytes-before.repairBytes)/(1<<20)), "")
	return nil
}

func (b *bench) storeDuringRepair(busy []obj, idleRate float64) error {
	y, st, err := b.victim()
	if err != nil {
		return err
	}
	fmt.Printf("# killing backend %d (%s, %d shards)\n", y, st.ID, st.Shards)
	dead := map[int]bool{}
	for i := range b.dead {
		dead[i] = true
	}
	dead[y] = true
	before, err := b.snap(dead)
	if err != nil {
		return err
	}
	queued0, err := b.queuedNow()
	if err != nil {
		return err
	}
	b.cpu.Mark()
	t0 := b.kill(y)
	detect, err := b.awaitQueued(t0, queued0)
	if err != nil {
		return fmt.Errorf("store during repair: %w", err)
	}
	// The store runs while awaitFull polls.
	type fullRes struct {
		d   time.Duration
		err error
	}
	done := make(chan fullRes, 1)
	go func() {
		d, err := b.awaitFull(t0)
		done <- fullRes{d, err}
	}()
	storeStart := time.Now()
	busyD, err := b.store(busy)
	if err != nil {
		return fmt.Errorf("store during repair: %w", err)
	}
	cpuStore := b.cpuSince()
	mid, err := b.c.Health(b.ctx, false)
	if err != nil {
		return err
	}
	fr := <-done
	if fr.err != nil {
		return fmt.Errorf("store during repair: %w", fr.err)
	}
	cpuRest := b.cpuSince()
	after, err := b.snap(dead)
	if err != nil {
		return err
	}
	shards := after.rebuiltShards - before.rebuiltShards
	rebuilt := shards * b.shardLen()
	// Survivors' growth less the shards the store added (k+m per block).
	var storedShards int64
	bs := int64(b.cfg.BlockSize)
	for _, o := range busy {
		for off := int64(0); off < o.size; off += bs {
			plain := min(bs, o.size-off)
			storedShards += int64(b.f.k+b.f.m) * ((plain + aeadOverhead + int64(b.f.k) - 1) / int64(b.f.k))
		}
	}
	growth := after.liveData - before.liveData - storedShards
	ratio := float64(total(busy)) / busyD.Seconds() / idleRate
	b.add("repair 2: detection", secs(detect), "kill -> queue non-empty; the store starts then", "")
	b.add("store, during repair", mbs(total(busy), busyD), fmt.Sprintf("%d MiB in %v; %.0f%% of idle, target >= %.0f%%: %s; %d objects still queued at its end",
		total(busy)>>20, busyD.Round(time.Millisecond), 100*ratio, 100*targetBusyStore, verdict(ratio >= targetBusyStore), mid.Repair.Queue), cpuStore)
	tail := fmt.Sprintf("%s after the store ended", secs(fr.d-storeStart.Sub(t0)-busyD))
	if fr.d < storeStart.Sub(t0)+busyD {
		tail = "before the store ended"
	}
	b.add("repair 2: back to full redundancy", secs(fr.d), fmt.Sprintf("kill -> degraded 0 and queue 0 (%s)", tail), cpuRest)
	b.add("repair 2: rebuilt shard bytes", fmt.Sprintf("%.1f MiB", float64(rebuilt)/(1<<20)),
		fmt.Sprintf("%d shards x %d B (the dead backend held %d); survivors' data_size grew %.1f MiB beyond the store's shards (metadata copies included)", shards, b.shardLen(), st.Shards, float64(growth)/(1<<20)), "")
	b.add("repair 2: rate of rebuilt shards", mbs(rebuilt, fr.d-detect), fmt.Sprintf("over the repair (queued -> full), throttled to %d MiB/s of shard I/O while the store ran", b.f.rate>>20), "")
	b.add("repair 2: shard I/O (Repair.Bytes)", mbs(after.repairBytes-before.repairBytes, fr.d-detect),
		fmt.Sprintf("%.1f MiB read+written over the repair", float64(after.repairBytes-before.repairBytes)/(1<<20)), "")
	return nil
}

// verify reads o back and compares it with its regenerated content, and
// checks every shard of it.
func (b *bench) verify(o obj) error {
	r, err := b.c.Get(b.ctx, o.key, zstor.GetOptions{})
	if err != nil {
		return fmt.Errorf("verify %s: %w", o.key, err)
	}
	defer r.Close()
	want := o.reader()
	got := make([]byte, 1<<20)
	exp := make([]byte, 1<<20)
	var off int64
	for {
		n, err := io.ReadFull(r, got)
		if n > 0 {
			if m, _ := io.ReadFull(want, exp[:n]); m != n || !bytes.Equal(got[:n], exp[:n]) {
				return fmt.Errorf("verify %s: content differs in the MiB at offset %d", o.key, off)
			}
			off += int64(n)
		}
		if err == io.EOF || err == io.ErrUnexpectedEOF {
			break
		}
		if err != nil {
			return fmt.Errorf("verify %s: read at %d: %w", o.key, off, err)
		}
	}
	if off != o.size {
		return fmt.Errorf("verify %s: read %d of %d bytes", o.key, off, o.size)
	}
	rep, err := b.c.Check(b.ctx, o.key)
	if err != nil {
		return fmt.Errorf("verify %s: check: %w", o.key, err)
	}
	if rep.MinGood != b.f.k+b.f.m {
		return fmt.Errorf("verify %s: check: MinGood %d, want %d (%d missing, %d corrupt, %d unreachable)", o.key, rep.MinGood, b.f.k+b.f.m, rep.Missing, rep.Corrupt, rep.Unreachable)
	}
	return nil
}

func (b *bench) table() {
	fmt.Println()
	fmt.Printf("%-34s  %-14s  %-34s  %s\n", "figure", "value", "cpu (zstor, zdbs)", "detail")
	for _, r := range b.results {
		cpu := r.cpu
		if cpu == "" {
			cpu = "-"
		}
		fmt.Printf("%-34s  %-14s  %-34s  %s\n", r.name, r.value, cpu, r.detail)
	}
}

func verdict(ok bool) string {
	if ok {
		return "PASS"
	}
	return "FAIL"
}

func mbs(n int64, d time.Duration) string {
	if d <= 0 {
		return "-"
	}
	return fmt.Sprintf("%.0f MB/s", float64(n)/d.Seconds()/1e6)
}

// memLimit is the soft memory limit in effect (cmd/zstor's 192 MiB unless
// GOMEMLIMIT is set).
func memLimit() string {
	if l := debug.SetMemoryLimit(-1); l < 1<<50 {
		return fmt.Sprintf("%d MiB", l>>20)
	}
	return "off"
}

func secs(d time.Duration) string { return fmt.Sprintf("%.2f s", d.Seconds()) }

// cpuSince formats the CPU of this process and of the backends since the
// last mark, and marks.
func (b *bench) cpuSince() string {
	self, zdbs := b.cpu.Since()
	return fmt.Sprintf("zstor %.1fs, zdbs %.1fs", self.Seconds(), zdbs.Seconds())
}
