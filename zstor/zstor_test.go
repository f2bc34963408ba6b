package zstor

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	mrand "math/rand/v2"
	"os"
	"runtime"
	"runtime/metrics"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/zerostor/zerostor/internal/testcluster"
	"github.com/zerostor/zerostor/internal/zdbclient"
)

const testBlock = 64 << 10

func TestRoundTrip(t *testing.T) {
	cl := testcluster.Start(t, 6, testcluster.Options{Groups: 3})
	c := openClient(t, testConfig(t, cl, 4, 2, testBlock), Options{})
	rnd := mrand.New(mrand.NewPCG(1, 2))
	sizes := []int{0, 1, testBlock - 1, testBlock, testBlock + 1, 5*testBlock + 12345}
	for _, size := range sizes {
		for _, kind := range []string{"random", "text"} {
			t.Run(fmt.Sprintf("%s-%d", kind, size), func(t *testing.T) {
				data := randBytes(rnd, size)
				if kind == "text" {
					data = compressible(rnd, size)
				}
				key := fmt.Sprintf("obj/%s/%d", kind, size)
				info := put(t, c, key, data)
				if info.Size != int64(size) || info.K != 4 || info.M != 2 {
					t.Fatalf("info %+v", info)
				}
				mustEqual(t, "whole object", get(t, c, key, GetOptions{}), data)
				st, err := c.Stat(context.Background(), key)
				if err != nil || st.Checksum != info.Checksum || st.Size != int64(size) {
					t.Fatalf("stat %+v, %v", st, err)
				}
				rep, err := c.Check(context.Background(), key)
				if err != nil || rep.OK != rep.Blocks*6 || rep.MinGood != 6 && rep.Blocks > 0 {
					t.Fatalf("check %+v, %v", rep, err)
				}
			})
		}
	}
}

func TestRanges(t *testing.T) {
	cl := testcluster.Start(t, 6, testcluster.Options{Groups: 2})
	c := openClient(t, testConfig(t, cl, 4, 2, testBlock), Options{})
	rnd := mrand.New(mrand.NewPCG(3, 4))
	data := randBytes(rnd, 7*testBlock+999)
	put(t, c, "r", data)
	cases := [][2]int64{{0, 1}, {testBlock - 1, 2}, {testBlock, testBlock}, {int64(len(data)) - 1, 1}, {int64(len(data)) - 10, 100}, {3 * testBlock, 0}}
	for range 30 {
		off := rnd.Int64N(int64(len(data)))
		cases = append(cases, [2]int64{off, 1 + rnd.Int64N(int64(len(data))-off)})
	}
	for _, cs := range cases {
		off, n := cs[0], cs[1]
		end := int64(len(data))
		if n > 0 {
			end = min(off+n, end)
		}
		mustEqual(t, fmt.Sprintf("range %d+%d", off, n), get(t, c, "r", GetOptions{Offset: off, Length: n}), data[off:end])
	}
	if _, err := c.Get(context.Background(), "r", GetOptions{Offset: int64(len(data)) + 1}); !errors.Is(err, ErrInvalid) {
		t.Fatalf("offset past the end: %v, want ErrInvalid", err)
	}
}

// TestDegradedWrite: with exactly k+m backends, any m-1 down during a
// write still stores the object; the missing shards are recorded.
func TestDegradedWrite(t *testing.T) {
	cl := testcluster.Start(t, 7, testcluster.Options{Groups: 7})
	c := openClient(t, testConfig(t, cl, 4, 3, testBlock), Options{})
	rnd := mrand.New(mrand.NewPCG(5, 6))
	data := randBytes(rnd, 3*testBlock+7)
	cl.Kill(1)
	cl.Kill(5)
	info := put(t, c, "degraded", data)
	if info.Blocks != 4 {
		t.Fatalf("blocks %d", info.Blocks)
	}
	rep, err := c.Check(context.Background(), "degraded")
	if err != nil {
		t.Fatal(err)
	}
	if rep.Missing != 2*4 || rep.OK != 5*4 || rep.MinGood != 5 {
		t.Fatalf("check after degraded write: %+v", rep)
	}
	mustEqual(t, "degraded read", get(t, c, "degraded", GetOptions{}), data)
	// The data survives losing one more backend than was down at write
	// time: k of the 5 written shards remain.
	cl.Kill(0)
	mustEqual(t, "read with 3 down", get(t, c, "degraded", GetOptions{}), data)
}

// TestReadWithMDown: any m backends down during a read.
func TestReadWithMDown(t *testing.T) {
	cl := testcluster.Start(t, 6, testcluster.Options{Groups: 3})
	c := openClient(t, testConfig(t, cl, 4, 2, testBlock), Options{})
	rnd := mrand.New(mrand.NewPCG(7, 8))
	data := randBytes(rnd, 4*testBlock+3)
	put(t, c, "x", data)
	for _, pair := range [][2]int{{0, 1}, {2, 5}, {3, 4}} {
		cl.Kill(pair[0])
		cl.Kill(pair[1])
		mustEqual(t, fmt.Sprintf("read with %v down", pair), get(t, c, "x", GetOptions{}), data)
		cl.Restart(pair[0])
		cl.Restart(pair[1])
	}
	cl.Kill(0)
	cl.Kill(1)
	cl.Kill(2)
	if _, err := readAll(c, "x"); !errors.Is(err, ErrUnavailable) {
		t.Fatalf("read with m+1 down: %v, want ErrUnavailable", err)
	}
}

func readAll(c *Client, key string) ([]byte, error) {
	r, err := c.Get(context.Background(), key, GetOptions{})
	if err != nil {
		return nil, err
	}
	defer r.Close()
	var b bytes.Buffer
	_, err = b.ReadFrom(r)
	return b.Bytes(), err
}

// TestFailedWriteIsAtomic: m down during a write leaves fewer than k+1
// shards per block: the put fails, names the failed backends, keeps the
// previous version, and leaves nothing behind after the sweep.
func TestFailedWriteIsAtomic(t *testing.T) {
	cl := testcluster.Start(t, 6, testcluster.Options{Groups: 6})
	c := openClient(t, testConfig(t, cl, 4, 2, testBlock), Options{})
	rnd := mrand.New(mrand.NewPCG(9, 10))
	old := randBytes(rnd, 2*testBlock+5)
	put(t, c, "k", old)
	before := shardCount(t, cl)
	cl.Kill(2)
	cl.Kill(4)
	_, err := c.Put(context.Background(), "k", bytes.NewReader(randBytes(rnd, 6*testBlock)), PutOptions{})
	if !errors.Is(err, ErrUnavailable) {
		t.Fatalf("put with m down: %v, want ErrUnavailable", err)
	}
	for _, i := range []int{2, 4} {
		if !strings.Contains(err.Error(), cl.Backends()[i].Addr) {
			t.Errorf("error does not name backend %s: %v", cl.Backends()[i].Addr, err)
		}
	}
	mustEqual(t, "previous version", get(t, c, "k", GetOptions{}), old)
	cl.Restart(2)
	cl.Restart(4)
	if _, err := c.Sweep(context.Background(), -time.Hour); err != nil {
		t.Fatalf("sweep: %v", err)
	}
	if after := shardCount(t, cl); after != before {
		t.Fatalf("shards on backends: %d before the failed put, %d after it and the sweep", before, after)
	}
	mustEqual(t, "previous version after sweep", get(t, c, "k", GetOptions{}), old)
}

// shardCount counts zstor shard keys over all backends.
func shardCount(t *testing.T, cl *testcluster.Cluster) int {
	t.Helper()
	n := 0
	for _, b := range cl.Backends() {
		zc := zdbclient.New(zdbclient.Config{Address: b.Addr, Namespace: b.Namespace, Password: b.Password})
		var cursor []byte
		for {
			batch, next, err := zc.Scan(context.Background(), cursor)
			if err != nil {
				t.Fatalf("scan backend %d: %v", b.Index, err)
			}
			for _, e := range batch {
				if len(e.Key) == shardKeyLen && strings.HasPrefix(string(e.Key), shardTag) {
					n++
				}
			}
			if next == nil {
				break
			}
			cursor = next
		}
		zc.Close()
	}
	return n
}

// TestBackendDiesMidWrite kills a backend while a large object is being
// written: the write completes, the data reads back.
func TestBackendDiesMidWrite(t *testing.T) {
	cl := testcluster.Start(t, 6, testcluster.Options{Groups: 3})
	c := openClient(t, testConfig(t, cl, 4, 2, testBlock), Options{})
	rnd := mrand.New(mrand.NewPCG(11, 12))
	data := randBytes(rnd, 400*testBlock)
	r := &killingReader{r: bytes.NewReader(data), at: int64(len(data) / 3), kill: func() { cl.Kill(3) }}
	if _, err := c.Put(context.Background(), "big", r, PutOptions{}); err != nil {
		t.Fatalf("put while a backend dies: %v", err)
	}
	mustEqual(t, "read back", get(t, c, "big", GetOptions{}), data)
	rep, err := c.Check(context.Background(), "big")
	if err != nil || rep.MinGood < 4 || rep.Unreachable == 0 || rep.Missing == 0 {
		t.Fatalf("check: ok %d missing %d unreachable %d min good %d, %v (want shards missing and unreachable)", rep.OK, rep.Missing, rep.Unreachable, rep.MinGood, err)
	}
}

type killingReader struct {
	r    *bytes.Reader
	at   int64
	n    int64
	kill func()
}

func (k *killingReader) Read(p []byte) (int, error) {
	n, err := k.r.Read(p)
	if k.n < k.at && k.n+int64(n) >= k.at {
		k.kill()
	}
	k.n += int64(n)
	return n, err
}

// TestBitrot flips bytes in the data files of two backends: reads still
// return the right bytes, and Check reports the damage.
func TestBitrot(t *testing.T) {
	cl := testcluster.Start(t, 6, testcluster.Options{Groups: 3})
	c := openClient(t, testConfig(t, cl, 4, 2, testBlock), Options{})
	rnd := mrand.New(mrand.NewPCG(13, 14))
	data := randBytes(rnd, 20*testBlock)
	put(t, c, "rot", data)
	flipped := cl.Corrupt(1, rnd, 50) + cl.Corrupt(4, rnd, 50)
	if flipped == 0 {
		t.Fatal("nothing corrupted")
	}
	mustEqual(t, "read after bitrot", get(t, c, "rot", GetOptions{}), data)
	rep, err := c.Check(context.Background(), "rot")
	if err != nil {
		t.Fatal(err)
	}
	if rep.Corrupt == 0 {
		t.Fatalf("check found no corruption after %d flips: %+v", flipped, rep)
	}
}

func TestWrongMasterKey(t *testing.T) {
	cl := testcluster.Start(t, 3, testcluster.Options{})
	cfg := testConfig(t, cl, 2, 1, testBlock)
	c := openClient(t, cfg, Options{})
	put(t, c, "secret", []byte("attack at dawn"))
	c.Close()
	cfg.Encryption.Key = strings.Repeat("ab", 32)
	c2 := openClient(t, cfg, Options{})
	if _, err := c2.Get(context.Background(), "secret", GetOptions{}); !errors.Is(err, ErrBadKey) {
		t.Fatalf("get with the wrong key: %v, want ErrBadKey", err)
	}
	if _, err := c2.Check(context.Background(), "secret"); !errors.Is(err, ErrBadKey) {
		t.Fatalf("check with the wrong key: %v, want ErrBadKey", err)
	}
}

// TestRecoverMetadata deletes the local metadata store and rebuilds it
// from the copies on the backends.
func TestRecoverMetadata(t *testing.T) {
	cl := testcluster.Start(t, 6, testcluster.Options{Groups: 2})
	cfg := testConfig(t, cl, 4, 2, testBlock)
	c := openClient(t, cfg, Options{DisableCommitLog: true}) // counts objects
	rnd := mrand.New(mrand.NewPCG(15, 16))
	want := map[string][]byte{}
	for i := range 20 {
		k := fmt.Sprintf("dir/file-%02d", i)
		want[k] = randBytes(rnd, rnd.IntN(3*testBlock))
		put(t, c, k, want[k])
	}
	// An overwrite and a delete must come back as such.
	want["dir/file-03"] = []byte("second version")
	put(t, c, "dir/file-03", want["dir/file-03"])
	if err := c.Delete(context.Background(), "dir/file-07"); err != nil {
		t.Fatal(err)
	}
	delete(want, "dir/file-07")
	c.Close()
	if err := os.RemoveAll(cfg.MetaDir); err != nil {
		t.Fatal(err)
	}
	cl.Kill(0) // one backend down does not stop recovery
	c2 := openClient(t, cfg, Options{DisableCommitLog: true})
	if _, err := c2.Stat(context.Background(), "dir/file-00"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("stat before recover: %v", err)
	}
	n, err := c2.Recover(context.Background())
	if err != nil {
		t.Fatalf("recover: %v", err)
	}
	if n != len(want) {
		t.Errorf("recovered %d objects, want %d", n, len(want))
	}
	for k, v := range want {
		mustEqual(t, k, get(t, c2, k, GetOptions{}), v)
	}
	if _, err := c2.Stat(context.Background(), "dir/file-07"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("deleted object came back: %v", err)
	}
	var listed []string
	for info, err := range c2.List(context.Background(), "dir/", "") {
		if err != nil {
			t.Fatal(err)
		}
		listed = append(listed, info.Key)
	}
	if len(listed) != len(want) {
		t.Fatalf("listed %d, want %d", len(listed), len(want))
	}
}

// TestSequentialBackends runs against seq-mode namespaces with passwords,
// the way 0-stor_v2 uses 0-db.
func TestSequentialBackends(t *testing.T) {
	cl := testcluster.Start(t, 5, testcluster.Options{Groups: 5, Mode: "seq", Namespace: "zstor", Password: "hunter2"})
	c := openClient(t, testConfig(t, cl, 3, 2, testBlock), Options{})
	rnd := mrand.New(mrand.NewPCG(17, 18))
	data := randBytes(rnd, 3*testBlock+1)
	put(t, c, "seq", data)
	mustEqual(t, "seq read", get(t, c, "seq", GetOptions{}), data)
	cl.Kill(0)
	cl.Kill(3)
	mustEqual(t, "seq read with 2 down", get(t, c, "seq", GetOptions{}), data)
	cl.Restart(0)
	cl.Restart(3)
	put(t, c, "seq", []byte("v2"))
	if err := c.Delete(context.Background(), "seq"); err != nil {
		t.Fatal(err)
	}
}

// TestSlowBackendRead: one backend answering 2 s late barely moves reads.
func TestSlowBackendRead(t *testing.T) {
	cl := testcluster.Start(t, 6, testcluster.Options{Groups: 3, Proxy: true})
	c := openClient(t, testConfig(t, cl, 4, 2, testBlock), Options{})
	rnd := mrand.New(mrand.NewPCG(19, 20))
	data := randBytes(rnd, 8*testBlock)
	put(t, c, "s", data)
	for range 3 { // warm up latency figures
		get(t, c, "s", GetOptions{})
	}
	cl.Slow(0, 2*time.Second)
	start := time.Now()
	mustEqual(t, "read with a slow backend", get(t, c, "s", GetOptions{}), data)
	if d := time.Since(start); d > time.Second {
		t.Fatalf("read took %v with one backend 2s slow", d)
	}
}

func TestBadInput(t *testing.T) {
	cl := testcluster.Start(t, 3, testcluster.Options{})
	c := openClient(t, testConfig(t, cl, 2, 1, testBlock), Options{})
	ctx := context.Background()
	if _, err := c.Put(ctx, "", bytes.NewReader(nil), PutOptions{}); !errors.Is(err, ErrInvalid) {
		t.Errorf("empty key: %v", err)
	}
	if _, err := c.Put(ctx, strings.Repeat("k", 5000), bytes.NewReader(nil), PutOptions{}); !errors.Is(err, ErrInvalid) {
		t.Errorf("long key: %v", err)
	}
	if _, err := c.Get(ctx, "missing", GetOptions{}); !errors.Is(err, ErrNotFound) {
		t.Errorf("missing: %v", err)
	}
	if err := c.Delete(ctx, "missing"); !errors.Is(err, ErrNotFound) {
		t.Errorf("delete missing: %v", err)
	}
	if _, err := c.Put(ctx, "k", errReader{}, PutOptions{}); err == nil || !strings.Contains(err.Error(), "boom") {
		t.Errorf("failing reader: %v", err)
	}
	if _, err := c.Stat(ctx, "k"); !errors.Is(err, ErrNotFound) {
		t.Errorf("object of a failed put is visible: %v", err)
	}
}

type errReader struct{}

func (errReader) Read([]byte) (int, error) { return 0, errors.New("boom") }

// TestMemoryBounded stores and reads back an object many times larger
// than the pipeline's window and checks the heap never holds more than a
// bounded number of blocks.
func TestMemoryBounded(t *testing.T) {
	if testing.Short() {
		t.Skip("stores 192 MiB")
	}
	cl := testcluster.Start(t, 6, testcluster.Options{Groups: 3})
	cfg := testConfig(t, cl, 4, 2, 1<<20)
	c := openClient(t, cfg, Options{Parallel: 4})
	const size = 192 << 20
	// The live-heap figure is as of the last collection: start from one
	// that no longer sees what earlier tests held.
	runtime.GC()
	var peak atomic.Uint64
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		// The live heap as of each GC: what the pipeline holds, not the
		// garbage a starved collector has yet to free.
		sample := []metrics.Sample{{Name: "/gc/heap/live:bytes"}}
		for {
			metrics.Read(sample)
			if v := sample[0].Value.Uint64(); v > peak.Load() {
				peak.Store(v)
			}
			select {
			case <-stop:
				return
			case <-time.After(20 * time.Millisecond):
			}
		}
	}()
	src := &patternReader{n: size}
	if _, err := c.Put(context.Background(), "huge", src, PutOptions{}); err != nil {
		t.Fatal(err)
	}
	r, err := c.Get(context.Background(), "huge", GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	n, err := io.Copy(io.Discard, r)
	r.Close()
	close(stop)
	<-done
	if err != nil || n != size {
		t.Fatalf("read %d bytes, %v", n, err)
	}
	// 4 blocks in flight of 1 MiB plain + 1.5 MiB of shards, plus reads
	// and GC slack: far below the object's size.
	if p := peak.Load(); p > 64<<20 && !raceEnabled {
		t.Fatalf("live heap peaked at %d MiB while moving a %d MiB object", p>>20, size>>20)
	}
	t.Logf("live heap peak %d MiB for a %d MiB object", peak.Load()>>20, size>>20)
}

// patternReader yields n bytes of a cheap non-repeating pattern.
type patternReader struct {
	n, off int64
}

func (p *patternReader) Read(b []byte) (int, error) {
	if p.off >= p.n {
		return 0, io.EOF
	}
	b = b[:min(int64(len(b)), p.n-p.off)]
	for i := range b {
		x := uint64(p.off + int64(i))
		b[i] = byte(x ^ x>>8 ^ x>>17 ^ x*0x9e37)
	}
	p.off += int64(len(b))
	return len(b), nil
}

// TestZeroDBCommandSet runs against backends that answer only 0-db's
// commands: Check falls back from HASH to reading the shards, and still
// finds damage.
func TestZeroDBCommandSet(t *testing.T) {
	cl := testcluster.Start(t, 5, testcluster.Options{Groups: 5, Args: []string{"--strict-0db"}, Namespace: "zs", Password: "pw"})
	zc := zdbclient.New(cl.Backend(0).ClientConfig())
	defer zc.Close()
	var re *zdbclient.ReplyError
	if _, err := zc.Hash(context.Background(), []byte("k")); !errors.As(err, &re) || re.Msg != "Command not supported" {
		t.Fatalf("HASH on a strict backend: %v, want 0-db's unknown-command reply", err)
	}
	c := openClient(t, testConfig(t, cl, 3, 2, testBlock), Options{})
	rnd := mrand.New(mrand.NewPCG(21, 22))
	data := randBytes(rnd, 6*testBlock)
	put(t, c, "odb", data)
	rep, err := c.Check(context.Background(), "odb")
	if err != nil || rep.OK != rep.Blocks*5 {
		t.Fatalf("check against 0-db commands: ok %d of %d, %v", rep.OK, rep.Blocks*5, err)
	}
	if cl.Corrupt(2, rnd, 40) == 0 {
		t.Fatal("nothing corrupted")
	}
	mustEqual(t, "read after bitrot", get(t, c, "odb", GetOptions{}), data)
	rep, err = c.Check(context.Background(), "odb")
	if err != nil || rep.Corrupt+rep.Missing == 0 {
		t.Fatalf("check found no damage: ok %d corrupt %d missing %d, %v", rep.OK, rep.Corrupt, rep.Missing, err)
	}
}

// TestSweepTrustsCopies: a sweep run with a lost local metadata store
// must not take every shard for an orphan, and refuses to run while a
// metadata backend cannot be read.
func TestSweepTrustsCopies(t *testing.T) {
	cl := testcluster.Start(t, 6, testcluster.Options{Groups: 3})
	cfg := testConfig(t, cl, 4, 2, testBlock)
	c := openClient(t, cfg, Options{DisableCommitLog: true}) // counts shards
	rnd := mrand.New(mrand.NewPCG(23, 24))
	data := randBytes(rnd, 3*testBlock)
	put(t, c, "keep", data)
	before := shardCount(t, cl)
	c.Close()
	if err := os.RemoveAll(cfg.MetaDir); err != nil {
		t.Fatal(err)
	}
	c2 := openClient(t, cfg, Options{})
	rep, err := c2.Sweep(context.Background(), -time.Hour)
	if err != nil || rep.Deleted != 0 {
		t.Fatalf("sweep with an empty local store: %+v, %v", rep, err)
	}
	if after := shardCount(t, cl); after != before {
		t.Fatalf("%d shards before, %d after the sweep", before, after)
	}
	if _, err := c2.Recover(context.Background()); err != nil {
		t.Fatal(err)
	}
	mustEqual(t, "after recover", get(t, c2, "keep", GetOptions{}), data)
	cl.Kill(1)
	if _, err := c2.Sweep(context.Background(), -time.Hour); !errors.Is(err, ErrUnavailable) {
		t.Fatalf("sweep with a metadata backend down: %v, want ErrUnavailable", err)
	}
}

func TestRangeBounds(t *testing.T) {
	cl := testcluster.Start(t, 3, testcluster.Options{})
	c := openClient(t, testConfig(t, cl, 2, 1, testBlock), Options{})
	data := randBytes(mrand.New(mrand.NewPCG(25, 26)), 2*testBlock+5)
	put(t, c, "r", data)
	for _, cs := range [][2]int64{{10, math.MaxInt64}, {0, math.MaxInt64}, {int64(len(data)) - 1, math.MaxInt64 - 3}} {
		mustEqual(t, fmt.Sprintf("range %d+%d", cs[0], cs[1]), get(t, c, "r", GetOptions{Offset: cs[0], Length: cs[1]}), data[cs[0]:])
	}
}

// TestRebuild re-encodes an object: same bytes, new version, the old
// version's shards gone.
func TestRebuild(t *testing.T) {
	cl := testcluster.Start(t, 6, testcluster.Options{Groups: 3})
	c := openClient(t, testConfig(t, cl, 4, 2, testBlock), Options{DisableCommitLog: true}) // counts shards
	data := randBytes(mrand.New(mrand.NewPCG(27, 28)), 3*testBlock+1)
	old := put(t, c, "rb", data)
	info, err := c.Rebuild(context.Background(), "rb")
	if err != nil {
		t.Fatal(err)
	}
	if info.Version == old.Version || info.Checksum != old.Checksum {
		t.Fatalf("rebuild: version %s -> %s, checksum %s -> %s", old.Version, info.Version, old.Checksum, info.Checksum)
	}
	mustEqual(t, "after rebuild", get(t, c, "rb", GetOptions{}), data)
	c.Close() // waits for the old version's deletion
	if n := shardCount(t, cl); n != 4*6 {
		t.Fatalf("%d shards on the backends after rebuild, want %d", n, 4*6)
	}
}

// TestPinExclude: [placement] selectors keep shards off excluded groups
// and on pinned ones (data sovereignty).
func TestPinExclude(t *testing.T) {
	cl := testcluster.Start(t, 9, testcluster.Options{Groups: 3})
	groupOf := map[string]string{}
	for _, b := range cl.Backends() {
		groupOf[b.Addr+"/"+b.Namespace] = b.Group
	}
	for _, tc := range []struct {
		name         string
		pin, exclude []string
		allowed      func(group string) bool
	}{
		{"exclude", nil, []string{"group=g0"}, func(g string) bool { return g != "g0" }},
		{"pin", []string{"group=g2", "group=g1"}, nil, func(g string) bool { return g != "g0" }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := testConfig(t, cl, 3, 2, testBlock)
			cfg.Placement.Pin, cfg.Placement.Exclude = tc.pin, tc.exclude
			c := openClient(t, cfg, Options{})
			data := randBytes(mrand.New(mrand.NewPCG(29, 30)), 4*testBlock)
			put(t, c, "sovereign", data)
			o, err := c.store.Get(context.Background(), "sovereign")
			if err != nil {
				t.Fatal(err)
			}
			for _, id := range o.Backends {
				if !tc.allowed(groupOf[id]) {
					t.Fatalf("shard on %s in group %s", id, groupOf[id])
				}
			}
			mustEqual(t, "read", get(t, c, "sovereign", GetOptions{}), data)
		})
	}
}
