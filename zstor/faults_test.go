package zstor

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	mrand "math/rand/v2"
	"runtime"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/zerostor/zerostor/internal/meta"
	"github.com/zerostor/zerostor/internal/testcluster"
	"github.com/zerostor/zerostor/internal/zdbclient"
)

// Fault tests: the object store against backends that fill up, stall,
// swallow traffic, lie, drop connections, and against callers that
// cancel, race and sweep.

// record returns key's committed metadata record.
func record(t testing.TB, c *Client, key string) *meta.Object {
	t.Helper()
	o, err := c.store.Get(context.Background(), key)
	if err != nil {
		t.Fatalf("record of %q: %v", key, err)
	}
	return o
}

// backendIndex maps zstor backend ids to cluster backend indexes.
func backendIndex(cl *testcluster.Cluster) map[string]int {
	m := map[string]int{}
	for _, b := range cl.Backends() {
		m[b.Addr+"/"+b.Namespace] = b.Index
	}
	return m
}

// shardsOn counts the shards of o recorded on cluster backend i.
func shardsOn(cl *testcluster.Cluster, o *meta.Object, i int) int {
	idx := backendIndex(cl)
	n := 0
	for _, blk := range o.Blocks {
		for _, s := range blk.Shards {
			if s.Backend >= 0 && int(s.Backend) < len(o.Backends) && idx[o.Backends[s.Backend]] == i {
				n++
			}
		}
	}
	return n
}

func check(t testing.TB, c *Client, key string) CheckReport {
	t.Helper()
	rep, err := c.Check(context.Background(), key)
	if err != nil {
		t.Fatalf("check %q: %v", key, err)
	}
	return rep
}

// timedGet reads key whole and fails the test when it takes longer than
// limit.
func timedGet(t testing.TB, c *Client, key string, want []byte, limit time.Duration, what string) {
	t.Helper()
	start := time.Now()
	mustEqual(t, what, get(t, c, key, GetOptions{}), want)
	if d := time.Since(start); d > limit {
		t.Fatalf("%s took %v, want at most %v", what, d, limit)
	}
}

// TestFaultFullBackendSpare: with spare backends, a backend that fills up
// costs at most the shards that were already on their way to it; later
// objects are placed elsewhere, and once it has room again it is used.
func TestFaultFullBackendSpare(t *testing.T) {
	cl := testcluster.Start(t, 8, testcluster.Options{Groups: 8})
	c := openClient(t, testConfig(t, cl, 4, 2, testBlock), Options{})
	rnd := mrand.New(mrand.NewPCG(101, 1))
	const full = 3
	put(t, c, "warm", randBytes(rnd, testBlock))
	cl.Fill(full)

	failedAt := -1
	for i := range 12 {
		key := fmt.Sprintf("full/%02d", i)
		data := randBytes(rnd, 2*testBlock+17)
		put(t, c, key, data) // never fails: 7 backends left for 6 shards
		rep := check(t, c, key)
		o := record(t, c, key)
		if n := shardsOn(cl, o, full); n != 0 {
			t.Fatalf("%s: %d shards recorded on the full backend", key, n)
		}
		if rep.Missing > 0 {
			if failedAt >= 0 {
				t.Fatalf("%s: %d shards missing after the full backend was known (first failure at object %d): %+v", key, rep.Missing, failedAt, rep.Problems)
			}
			failedAt = i
		} else if rep.OK != rep.Blocks*6 {
			t.Fatalf("%s: check %+v", key, rep)
		}
		mustEqual(t, key, get(t, c, key, GetOptions{}), data)
	}
	if !c.top().backends[full].isFull() {
		t.Fatalf("backend %d was filled but the client does not know", full)
	}
	t.Logf("first object with a shard lost to the full backend: %d", failedAt)

	cl.Unfill(full)
	deadline := time.Now().Add(8 * time.Second)
	for i := 0; ; i++ {
		key := fmt.Sprintf("unfilled/%02d", i)
		data := randBytes(rnd, testBlock)
		put(t, c, key, data)
		rep := check(t, c, key)
		if rep.OK != rep.Blocks*6 {
			t.Fatalf("%s after unfill: %+v", key, rep)
		}
		if shardsOn(cl, record(t, c, key), full) > 0 {
			t.Logf("unfilled backend used again after %d objects", i+1)
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("backend %d has room again but no shard was placed on it in %d objects", full, i+1)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestFaultFullBackendExact: with exactly k+m backends and one full, every
// block loses that one shard but writes succeed and read back; after
// Unfill the backend holds shards again.
func TestFaultFullBackendExact(t *testing.T) {
	cl := testcluster.Start(t, 6, testcluster.Options{Groups: 6})
	c := openClient(t, testConfig(t, cl, 4, 2, testBlock), Options{})
	rnd := mrand.New(mrand.NewPCG(102, 1))
	const full = 2
	put(t, c, "warm", randBytes(rnd, testBlock))
	cl.Fill(full)
	objs := map[string][]byte{}
	for i := range 4 {
		key := fmt.Sprintf("exact/%d", i)
		data := randBytes(rnd, 3*testBlock+5)
		info, err := c.Put(context.Background(), key, bytes.NewReader(data), PutOptions{})
		if err != nil {
			t.Fatalf("put %s with one of k+m backends full: %v", key, err)
		}
		objs[key] = data
		rep := check(t, c, key)
		if rep.Missing != info.Blocks || rep.OK != 5*info.Blocks || rep.MinGood != 5 {
			t.Fatalf("%s: want one shard missing per block: %+v", key, rep)
		}
		if n := shardsOn(cl, record(t, c, key), full); n != 0 {
			t.Fatalf("%s: %d shards recorded on the full backend", key, n)
		}
	}
	for k, v := range objs {
		mustEqual(t, k, get(t, c, k, GetOptions{}), v)
	}
	cl.Unfill(full)
	deadline := time.Now().Add(8 * time.Second)
	for i := 0; ; i++ {
		key := fmt.Sprintf("unfilled/%d", i)
		data := randBytes(rnd, 2*testBlock)
		put(t, c, key, data)
		mustEqual(t, key, get(t, c, key, GetOptions{}), data)
		if rep := check(t, c, key); rep.Missing == 0 && rep.OK == 6*rep.Blocks {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("backend %d has room again but objects still miss its shards after %d puts", full, i+1)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// copyKeyOn returns a key whose metadata copies go to backend i among
// others, so that a stalled i is in every step of a Put.
func copyKeyOn(t testing.TB, c *Client, prefix string, i int) string {
	t.Helper()
	for n := 0; n < 1000; n++ {
		key := fmt.Sprintf("%s-%d", prefix, n)
		for _, b := range c.copyTargets(c.copyKey(key))[:min(metaReplicas, len(c.top().metaCopies))] {
			if b == c.top().backends[i] {
				return key
			}
		}
	}
	t.Fatalf("no key has its metadata copies on backend %d", i)
	return ""
}

// TestFaultPausedWrite: a backend that stops answering (SIGSTOP) in the
// middle of things delays a write by at most the straggler grace, and
// reads hedge around it.
func TestFaultPausedWrite(t *testing.T) {
	cl := testcluster.Start(t, 6, testcluster.Options{Groups: 3})
	c := openClient(t, testConfig(t, cl, 4, 2, testBlock), Options{StragglerGrace: 500 * time.Millisecond})
	rnd := mrand.New(mrand.NewPCG(103, 1))
	const paused = 1
	before := randBytes(rnd, 6*testBlock+3)
	put(t, c, "before", before)
	for range 3 {
		get(t, c, "before", GetOptions{}) // latency figures
	}
	if shardsOn(cl, record(t, c, "before"), paused) == 0 {
		t.Fatalf("no shard of the first object on backend %d", paused)
	}
	cl.Pause(paused)
	defer cl.Resume(paused)

	key := copyKeyOn(t, c, "during", paused)
	data := randBytes(rnd, 4*testBlock+1)
	start := time.Now()
	info := put(t, c, key, data)
	d := time.Since(start)
	if d > 2500*time.Millisecond {
		t.Fatalf("put with a paused backend took %v; straggler grace is 500ms", d)
	}
	t.Logf("put with a paused backend took %v", d)
	rep := check(t, c, key)
	if rep.Missing != info.Blocks || rep.MinGood != 5 || rep.OK != 5*info.Blocks {
		t.Fatalf("check after a write with a paused backend: want one shard missing per block: %+v", rep)
	}
	for i := range 3 {
		timedGet(t, c, "before", before, 1500*time.Millisecond, fmt.Sprintf("read %d of an object with a shard on the paused backend", i))
	}
	timedGet(t, c, key, data, 1500*time.Millisecond, "read of the object written while paused")

	cl.Resume(paused)
	timedGet(t, c, "before", before, 3*time.Second, "read after resume")
	put(t, c, "after", data)
	mustEqual(t, "after resume", get(t, c, "after", GetOptions{}), data)
}

// TestFaultBlackholeRead: a backend that accepts connections and never
// answers does not hold reads up.
func TestFaultBlackholeRead(t *testing.T) {
	cl := testcluster.Start(t, 6, testcluster.Options{Groups: 3, Proxy: true})
	c := openClient(t, testConfig(t, cl, 4, 2, testBlock), Options{})
	rnd := mrand.New(mrand.NewPCG(104, 1))
	data := randBytes(rnd, 8*testBlock+99)
	put(t, c, "bh", data)
	for range 3 {
		get(t, c, "bh", GetOptions{})
	}
	o := record(t, c, "bh")
	// Swallow the backend that holds the most data shards.
	hole, most := 0, -1
	idx := backendIndex(cl)
	for i := range cl.Len() {
		n := 0
		for _, blk := range o.Blocks {
			for _, s := range blk.Shards[:o.Params.K] {
				if s.Backend >= 0 && idx[o.Backends[s.Backend]] == i {
					n++
				}
			}
		}
		if n > most {
			hole, most = i, n
		}
	}
	cl.Blackhole(hole, true)
	defer cl.Blackhole(hole, false)
	for i := range 4 {
		timedGet(t, c, "bh", data, 1500*time.Millisecond, fmt.Sprintf("read %d with backend %d (%d data shards) blackholed", i, hole, most))
	}
	// A range within one block, too.
	start := time.Now()
	mustEqual(t, "range read", get(t, c, "bh", GetOptions{Offset: 3*testBlock + 10, Length: 100}), data[3*testBlock+10:3*testBlock+110])
	if d := time.Since(start); d > 1500*time.Millisecond {
		t.Fatalf("range read took %v with a backend blackholed", d)
	}
	cl.Blackhole(hole, false)
	timedGet(t, c, "bh", data, 6*time.Second, "read after the blackhole lifted")
}

// garble overwrites the given shards (block, shard) of o on their
// backends with random bytes of the same length, through a plain zdb
// client.
func garble(t testing.TB, cl *testcluster.Cluster, o *meta.Object, rnd *mrand.Rand, shards [][2]int) {
	t.Helper()
	idx := backendIndex(cl)
	ctx := context.Background()
	for _, bs := range shards {
		s := o.Blocks[bs[0]].Shards[bs[1]]
		if s.Backend < 0 {
			t.Fatalf("shard %v not stored", bs)
		}
		bi := idx[o.Backends[s.Backend]]
		zc := zdbclient.New(cl.Backend(bi).ClientConfig())
		key := shardKey(o.Version, bs[0], bs[1])
		old, err := zc.Get(ctx, key)
		if err != nil {
			t.Fatalf("read shard %v on backend %d: %v", bs, bi, err)
		}
		junk := randBytes(rnd, len(old))
		if _, err := zc.Set(ctx, key, junk); err != nil {
			t.Fatalf("overwrite shard %v on backend %d: %v", bs, bi, err)
		}
		if got, err := zc.Get(ctx, key); err != nil || !bytes.Equal(got, junk) {
			t.Fatalf("shard %v on backend %d not overwritten: %v", bs, bi, err)
		}
		zc.Close()
	}
}

// TestFaultGarbage: a backend that returns wrong bytes (valid as far as it
// knows) never makes a read return wrong bytes; Check names the shards.
func TestFaultGarbage(t *testing.T) {
	cl := testcluster.Start(t, 6, testcluster.Options{Groups: 3})
	c := openClient(t, testConfig(t, cl, 4, 2, testBlock), Options{})
	rnd := mrand.New(mrand.NewPCG(105, 1))
	data := randBytes(rnd, 6*testBlock+1234)
	put(t, c, "g", data)
	o := record(t, c, "g")

	// Every shard of "g" on one backend, found the way an operator would:
	// by scanning the backend for this version's keys.
	const liar = 4
	zc := zdbclient.New(cl.Backend(liar).ClientConfig())
	defer zc.Close()
	var victims [][2]int
	var cursor []byte
	for {
		batch, next, err := zc.Scan(context.Background(), cursor)
		if err != nil {
			t.Fatalf("scan: %v", err)
		}
		for _, e := range batch {
			if len(e.Key) == shardKeyLen && string(e.Key[:2]) == shardTag && bytes.Equal(e.Key[2:18], o.Version[:]) {
				victims = append(victims, [2]int{int(binary.BigEndian.Uint32(e.Key[18:22])), int(e.Key[22])})
			}
		}
		if next == nil {
			break
		}
		cursor = next
	}
	if len(victims) != shardsOn(cl, o, liar) || len(victims) == 0 {
		t.Fatalf("scan found %d shards on backend %d, metadata says %d", len(victims), liar, shardsOn(cl, o, liar))
	}
	garble(t, cl, o, rnd, victims)

	for i := range 2 {
		mustEqual(t, fmt.Sprintf("read %d with one backend returning garbage", i), get(t, c, "g", GetOptions{}), data)
	}
	mustEqual(t, "range read", get(t, c, "g", GetOptions{Offset: testBlock - 5, Length: 2 * testBlock}), data[testBlock-5:3*testBlock-5])
	rep := check(t, c, "g")
	if rep.Corrupt != len(victims) || rep.OK != rep.Blocks*6-len(victims) || rep.Missing != 0 || rep.Unreachable != 0 {
		t.Fatalf("check: %d corrupt, %d ok, %d missing, %d unreachable; want %d corrupt: %+v", rep.Corrupt, rep.OK, rep.Missing, rep.Unreachable, len(victims), rep.Problems)
	}
	want := map[[2]int]bool{}
	for _, v := range victims {
		want[v] = true
	}
	for _, p := range rep.Problems {
		if p.State != ShardCorrupt || !want[[2]int{p.Block, p.Shard}] {
			t.Fatalf("check reports %+v, which was not garbled", p)
		}
		delete(want, [2]int{p.Block, p.Shard})
	}
	if len(want) != 0 {
		t.Fatalf("garbled shards not reported: %v", want)
	}

	// m+1 shards of one block garbled: that block cannot be read, and
	// the read says so instead of returning wrong bytes.
	data2 := randBytes(rnd, 4*testBlock)
	put(t, c, "g2", data2)
	o2 := record(t, c, "g2")
	garble(t, cl, o2, rnd, [][2]int{{2, 0}, {2, 3}, {2, 5}})
	for range 2 {
		got, err := readAll(c, "g2")
		if err == nil {
			t.Fatalf("read with m+1 shards of block 2 garbled succeeded (%d bytes, equal: %v)", len(got), bytes.Equal(got, data2))
		}
		if !bytes.Equal(got, data2[:len(got)]) {
			t.Fatalf("read returned wrong bytes before failing: %v", err)
		}
		if len(got) > 2*testBlock {
			t.Fatalf("read returned %d bytes, past the damaged block", len(got))
		}
		if !errors.Is(err, ErrUnavailable) && !errors.Is(err, ErrCorrupt) {
			t.Fatalf("read error %v, want ErrUnavailable or ErrCorrupt", err)
		}
	}
	// The other blocks still read.
	mustEqual(t, "undamaged range", get(t, c, "g2", GetOptions{Offset: 0, Length: 2 * testBlock}), data2[:2*testBlock])
	mustEqual(t, "undamaged tail", get(t, c, "g2", GetOptions{Offset: 3 * testBlock}), data2[3*testBlock:])
	if rep := check(t, c, "g2"); rep.Corrupt != 3 || rep.MinGood != 3 {
		t.Fatalf("check g2: %+v", rep)
	}
}

// callbackReader calls fn once when the first at bytes have been read.
type callbackReader struct {
	r  io.Reader
	at []int64
	fn func(i int)
	n  int64
	i  int
}

func (c *callbackReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	for c.i < len(c.at) && c.n >= c.at[c.i] {
		c.fn(c.i)
		c.i++
	}
	return n, err
}

// TestFaultDisconnect: every backend's connections drop in the middle of a
// large Put and of a large Get; both succeed.
func TestFaultDisconnect(t *testing.T) {
	cl := testcluster.Start(t, 6, testcluster.Options{Groups: 3, Proxy: true})
	c := openClient(t, testConfig(t, cl, 4, 2, testBlock), Options{})
	rnd := mrand.New(mrand.NewPCG(106, 1))
	data := randBytes(rnd, 160*testBlock+77)
	dropped := 0
	dropAll := func(int) {
		for i := range cl.Len() {
			dropped += cl.Disconnect(i)
		}
	}
	n := int64(len(data))
	var at []int64 // every backend's connections drop 8 times
	for i := range int64(8) {
		at = append(at, n*(2*i+1)/16)
	}
	r := &callbackReader{r: bytes.NewReader(data), at: at, fn: dropAll}
	if _, err := c.Put(context.Background(), "big", r, PutOptions{}); err != nil {
		t.Fatalf("put with connections dropped: %v", err)
	}
	if dropped == 0 {
		t.Fatal("no connection was dropped during the put")
	}
	t.Logf("%d connections dropped during the put", dropped)

	rd, err := c.Get(context.Background(), "big", GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer rd.Close()
	dropped = 0
	got, err := io.ReadAll(&callbackReader{r: rd, at: at, fn: dropAll})
	if err != nil {
		t.Fatalf("read with connections dropped: %v", err)
	}
	if dropped == 0 {
		t.Fatal("no connection was dropped during the read")
	}
	t.Logf("%d connections dropped during the read", dropped)
	mustEqual(t, "read with connections dropped", got, data)
	mustEqual(t, "read again", get(t, c, "big", GetOptions{}), data)
}

// TestFaultConcurrent: Puts, Gets and Deletes of a few keys from many
// goroutines. Every read returns some write of its key, whole; at the end
// each key holds what the last acknowledged operation on it left
// (linearizable as a register).
func TestFaultConcurrent(t *testing.T) {
	cl := testcluster.Start(t, 6, testcluster.Options{Groups: 3})
	const block = 64 << 10
	c := openClient(t, testConfig(t, cl, 4, 2, block), Options{})
	const (
		workers = 8
		nkeys   = 5
		maxSize = 2*block + 500
	)
	run := 5 * time.Second
	if testing.Short() {
		run = 2 * time.Second
	}
	// A value is named by its sequence number: 8 bytes of it, 1 byte of
	// key, then bytes derived from both, so any read can be checked.
	gen := func(seq uint64, key, size int) []byte {
		r := mrand.New(mrand.NewPCG(seq, uint64(key)))
		b := randBytes(r, size)
		binary.LittleEndian.PutUint64(b, seq)
		b[8] = byte(key)
		return b
	}
	type op struct {
		put, del   bool
		seq        uint64
		size       int
		start, end time.Time
	}
	var mu sync.Mutex
	var seqs uint64
	history := make([][]op, nkeys)
	sizes := map[uint64]int{}
	errc := make(chan error, workers)
	var wg sync.WaitGroup
	stopAt := time.Now().Add(run)
	var nput, nget, ndel, nmiss int
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rnd := mrand.New(mrand.NewPCG(uint64(w), 107))
			fail := func(err error) { errc <- err }
			for time.Now().Before(stopAt) {
				k := rnd.IntN(nkeys)
				key := fmt.Sprintf("conc/%d", k)
				ctx := context.Background()
				switch x := rnd.IntN(100); {
				case x < 45:
					mu.Lock()
					seqs++
					seq := seqs
					size := 9 + rnd.IntN(maxSize)
					sizes[seq] = size
					nput++
					mu.Unlock()
					data := gen(seq, k, size)
					start := time.Now()
					_, err := c.Put(ctx, key, bytes.NewReader(data), PutOptions{})
					end := time.Now()
					if err != nil {
						fail(fmt.Errorf("put %s seq %d: %w", key, seq, err))
						return
					}
					mu.Lock()
					history[k] = append(history[k], op{put: true, seq: seq, size: size, start: start, end: end})
					mu.Unlock()
				case x < 85:
					got, err := readAll(c, key)
					mu.Lock()
					nget++
					if errors.Is(err, ErrNotFound) {
						nmiss++
					}
					mu.Unlock()
					if errors.Is(err, ErrNotFound) {
						continue
					}
					if err != nil {
						fail(fmt.Errorf("get %s: %w", key, err))
						return
					}
					if len(got) < 9 || int(got[8]) != k {
						fail(fmt.Errorf("get %s: %d bytes that are no write of this key", key, len(got)))
						return
					}
					seq := binary.LittleEndian.Uint64(got)
					mu.Lock()
					size, ok := sizes[seq]
					mu.Unlock()
					if !ok || !bytes.Equal(got, gen(seq, k, size)) {
						fail(fmt.Errorf("get %s: %d bytes claiming to be write %d, which they are not", key, len(got), seq))
						return
					}
				default:
					start := time.Now()
					err := c.Delete(ctx, key)
					end := time.Now()
					if errors.Is(err, ErrNotFound) {
						continue
					}
					if err != nil {
						fail(fmt.Errorf("delete %s: %w", key, err))
						return
					}
					mu.Lock()
					ndel++
					history[k] = append(history[k], op{del: true, start: start, end: end})
					mu.Unlock()
				}
			}
		}()
	}
	wg.Wait()
	close(errc)
	for err := range errc {
		t.Error(err)
	}
	if t.Failed() {
		t.FailNow()
	}
	t.Logf("%d puts, %d gets (%d not found), %d deletes", nput, nget, nmiss, ndel)
	if nput < 20 || ndel < 3 {
		t.Fatalf("too few operations to mean anything: %d puts, %d deletes", nput, ndel)
	}
	listed := map[string]int64{}
	for info, err := range c.List(context.Background(), "conc/", "") {
		if err != nil {
			t.Fatal(err)
		}
		listed[info.Key] = info.Size
	}
	for k := range nkeys {
		key := fmt.Sprintf("conc/%d", k)
		ops := history[k]
		// The final state may come from any acknowledged write that no
		// other acknowledged write began after: those are not ordered
		// after it.
		var latestStart time.Time
		for _, o := range ops {
			if o.start.After(latestStart) {
				latestStart = o.start
			}
		}
		okSeq := map[uint64]bool{}
		okAbsent := len(ops) == 0
		for _, o := range ops {
			if !latestStart.After(o.end) {
				if o.put {
					okSeq[o.seq] = true
				} else {
					okAbsent = true
				}
			}
		}
		got, err := readAll(c, key)
		switch {
		case errors.Is(err, ErrNotFound):
			if !okAbsent {
				t.Errorf("%s: not found, but the last acknowledged operations were puts %v", key, keys(okSeq))
			}
		case err != nil:
			t.Errorf("%s: final read: %v", key, err)
		default:
			seq := binary.LittleEndian.Uint64(got)
			if !okSeq[seq] || !bytes.Equal(got, gen(seq, k, sizes[seq])) {
				t.Errorf("%s: holds %d bytes (claiming write %d); the last acknowledged operations were puts %v (deletes: %v)", key, len(got), seq, keys(okSeq), okAbsent)
			}
		}
		// Stat and List agree with Get.
		st, serr := c.Stat(context.Background(), key)
		if (serr == nil) != (err == nil) || err == nil && st.Size != int64(len(got)) {
			t.Errorf("%s: stat %+v, %v disagrees with get (%d bytes, %v)", key, st, serr, len(got), err)
		}
		if size, ok := listed[key]; ok != (err == nil) || ok && size != int64(len(got)) {
			t.Errorf("%s: listed %v (%d bytes) disagrees with get (%d bytes, %v)", key, ok, size, len(got), err)
		}
	}
}

func keys(m map[uint64]bool) []uint64 {
	out := make([]uint64, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
	return out
}

// TestFaultCancelPut: a Put whose context is cancelled mid-stream fails,
// and the previous version stays.
func TestFaultCancelPut(t *testing.T) {
	cl := testcluster.Start(t, 6, testcluster.Options{Groups: 3})
	c := openClient(t, testConfig(t, cl, 4, 2, testBlock), Options{})
	rnd := mrand.New(mrand.NewPCG(108, 1))
	old := randBytes(rnd, 3*testBlock+1)
	oldInfo := put(t, c, "c", old)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	data := randBytes(rnd, 80*testBlock)
	r := &callbackReader{r: bytes.NewReader(data), at: []int64{20 * testBlock}, fn: func(int) { cancel() }}
	start := time.Now()
	_, err := c.Put(ctx, "c", r, PutOptions{})
	if err == nil {
		t.Fatal("cancelled put succeeded")
	}
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled put: %v, want context.Canceled", err)
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Fatalf("cancelled put took %v", d)
	}
	if r.n >= int64(len(data)) {
		t.Errorf("cancelled put read all %d bytes of its input", r.n)
	}
	st, err := c.Stat(context.Background(), "c")
	if err != nil || st.Version != oldInfo.Version || st.Checksum != oldInfo.Checksum {
		t.Fatalf("after a cancelled put: stat %+v, %v; want the previous version %s", st, err, oldInfo.Version)
	}
	mustEqual(t, "previous version", get(t, c, "c", GetOptions{}), old)
	if rep := check(t, c, "c"); rep.OK != 6*rep.Blocks {
		t.Fatalf("previous version damaged: %+v", rep)
	}
	// Nothing of the cancelled version is left once its stragglers are
	// swept, and the previous version survives the sweep.
	if _, err := c.Sweep(context.Background(), -time.Hour); err != nil {
		t.Fatal(err)
	}
	if n, want := shardCount(t, cl), 6*oldInfo.Blocks; n != want {
		t.Fatalf("%d shards on the backends after the sweep, want the previous version's %d", n, want)
	}
	mustEqual(t, "previous version after sweep", get(t, c, "c", GetOptions{}), old)
}

// TestFaultCancelGet: a Get whose context is cancelled mid-read reports an
// error promptly, never a clean end of a truncated object, and leaves no
// goroutine behind.
func TestFaultCancelGet(t *testing.T) {
	cl := testcluster.Start(t, 6, testcluster.Options{Groups: 3})
	c := openClient(t, testConfig(t, cl, 4, 2, testBlock), Options{})
	rnd := mrand.New(mrand.NewPCG(109, 1))
	data := randBytes(rnd, 100*testBlock)
	put(t, c, "big", data)
	mustEqual(t, "warm", get(t, c, "big", GetOptions{}), data)
	time.Sleep(100 * time.Millisecond)
	base := runtime.NumGoroutine()

	for round := range 10 {
		ctx, cancel := context.WithCancel(context.Background())
		r, err := c.Get(ctx, "big", GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		buf := make([]byte, testBlock+round*1000)
		if _, err := io.ReadFull(r, buf); err != nil {
			t.Fatalf("first read: %v", err)
		}
		mustEqual(t, "first bytes", buf, data[:len(buf)])
		cancel()
		start := time.Now()
		n := int64(len(buf))
		for {
			k, err := r.Read(buf)
			if err == nil && !bytes.Equal(buf[:k], data[n:n+int64(k)]) {
				t.Fatalf("wrong bytes at %d after cancel", n)
			}
			n += int64(k)
			if err != nil {
				if err == io.EOF {
					t.Fatalf("round %d: read after cancel ended with a clean EOF after %d of %d bytes", round, n, len(data))
				}
				if !errors.Is(err, context.Canceled) {
					t.Errorf("read after cancel: %v, want context.Canceled", err)
				}
				break
			}
			if time.Since(start) > time.Second {
				t.Fatalf("still reading %v after cancel (%d bytes)", time.Since(start), n)
			}
		}
		if d := time.Since(start); d > 500*time.Millisecond {
			t.Fatalf("error took %v after cancel", d)
		}
		r.Close()
		if _, err := r.Read(buf); err == nil {
			t.Fatal("read after close succeeded")
		}
	}
	// Close without cancel, mid-read.
	r, err := c.Get(context.Background(), "big", GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.ReadFull(r, make([]byte, 10)); err != nil {
		t.Fatal(err)
	}
	r.Close()

	deadline := time.Now().Add(3 * time.Second)
	for {
		n := runtime.NumGoroutine()
		if n <= base+2 {
			break
		}
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<20)
			buf = buf[:runtime.Stack(buf, true)]
			t.Fatalf("%d goroutines, %d before the cancelled reads:\n%s", n, base, buf)
		}
		time.Sleep(20 * time.Millisecond)
	}
	mustEqual(t, "read after the cancelled ones", get(t, c, "big", GetOptions{}), data)
}

// slowReader hands out data a chunk at a time with a pause before each.
type slowReader struct {
	r     io.Reader
	chunk int
	pause time.Duration
}

func (s *slowReader) Read(p []byte) (int, error) {
	time.Sleep(s.pause)
	return s.r.Read(p[:min(len(p), s.chunk)])
}

// TestFaultSweepDuringPut: the orphan sweep with no grace, run again and
// again while slow Puts are in flight and as they commit, deletes none of
// their shards nor any committed object's.
func TestFaultSweepDuringPut(t *testing.T) {
	cl := testcluster.Start(t, 6, testcluster.Options{Groups: 3})
	c := openClient(t, testConfig(t, cl, 4, 2, testBlock), Options{})
	rnd := mrand.New(mrand.NewPCG(110, 1))
	keep := randBytes(rnd, 5*testBlock)
	put(t, c, "keep", keep)
	// An orphan, so that the sweeps have something to delete: shards
	// of a version no record references.
	zc := zdbclient.New(cl.Backend(0).ClientConfig())
	defer zc.Close()
	orphan := shardKey(meta.VersionID{1, 2, 3}, 0, 0)
	if _, err := zc.Set(context.Background(), orphan, []byte("orphan")); err != nil {
		t.Fatal(err)
	}

	for round := range 3 {
		key := fmt.Sprintf("slow-%d", round)
		data := randBytes(rnd, 12*testBlock+round)
		stop := make(chan struct{})
		sweeps := make(chan int, 1)
		var sweepErr error
		go func() {
			n := 0
			defer func() { sweeps <- n }()
			for {
				if _, err := c.Sweep(context.Background(), 0); err != nil {
					sweepErr = err
					return
				}
				n++
				select {
				case <-stop:
					return
				default:
				}
			}
		}()
		_, err := c.Put(context.Background(), key, &slowReader{r: bytes.NewReader(data), chunk: 16 << 10, pause: 10 * time.Millisecond}, PutOptions{})
		// Keep sweeping through the commit and a little after.
		time.Sleep(100 * time.Millisecond)
		close(stop)
		n := <-sweeps
		if sweepErr != nil {
			t.Fatalf("sweep: %v", sweepErr)
		}
		if err != nil {
			t.Fatalf("put during sweeps: %v", err)
		}
		if n < 3 {
			t.Fatalf("only %d sweeps ran during the put", n)
		}
		rep := check(t, c, key)
		if rep.OK != 6*rep.Blocks {
			t.Fatalf("round %d: %d sweeps damaged the object written meanwhile: %d ok, %d missing of %d: %+v", round, n, rep.OK, rep.Missing, 6*rep.Blocks, rep.Problems)
		}
		mustEqual(t, key, get(t, c, key, GetOptions{}), data)
	}
	if rep := check(t, c, "keep"); rep.OK != 6*rep.Blocks {
		t.Fatalf("sweeps damaged a committed object: %+v", rep)
	}
	mustEqual(t, "keep", get(t, c, "keep", GetOptions{}), keep)
	if _, err := zc.Get(context.Background(), orphan); !errors.Is(err, zdbclient.ErrNotFound) {
		t.Fatalf("the orphan survived the sweeps: %v", err)
	}
}
