package daemon

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	mrand "math/rand/v2"
	"net"
	"net/http"
	"os"
	"reflect"
	"runtime"
	"runtime/debug"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/zeebo/blake3"
	"github.com/zerostor/zerostor/internal/config"
	"github.com/zerostor/zerostor/internal/testcluster"
	"github.com/zerostor/zerostor/zstor"
)

// clusterConfig describes cl as a k+m configuration with a fresh key,
// 1 MiB blocks, its own metadata directory and a socket path.
func clusterConfig(t testing.TB, cl *testcluster.Cluster, k, m int) *config.Config {
	t.Helper()
	var key [32]byte
	rand.Read(key[:])
	cfg := cl.ZstorConfig(k, m, t.TempDir(), key)
	cfg.BlockSize = config.MiB
	cfg.Socket = testcluster.ShortDir(t) + "/z.sock"
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	return cfg
}

func openDirect(t testing.TB, cfg *config.Config) Store {
	t.Helper()
	c, err := zstor.Open(ctx, cfg, zstor.Options{Logger: testLogger(t), StragglerGrace: 200 * time.Millisecond, ShardTimeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	st := Direct(c)
	t.Cleanup(func() { st.Close() })
	return st
}

// genReader yields n pseudo-random bytes without holding them, hashing
// what it yields.
type genReader struct {
	src  *mrand.ChaCha8
	left int64
	h    *blake3.Hasher
}

func newGenReader(seed byte, n int64) *genReader {
	return &genReader{src: mrand.NewChaCha8([32]byte{seed}), left: n, h: blake3.New()}
}

func (g *genReader) Read(p []byte) (int, error) {
	if g.left == 0 {
		return 0, io.EOF
	}
	p = p[:min(int64(len(p)), g.left)]
	g.src.Read(p)
	g.h.Write(p)
	g.left -= int64(len(p))
	return len(p), nil
}

func (g *genReader) sum() string { return hex.EncodeToString(g.h.Sum(nil)) }

func readAll(t testing.TB, st Store, key string, opts zstor.GetOptions) []byte {
	t.Helper()
	r, err := st.Get(ctx, key, opts)
	if err != nil {
		t.Fatalf("get %q: %v", key, err)
	}
	defer r.Close()
	b, err := io.ReadAll(r)
	if err != nil {
		t.Fatalf("read %q: %v", key, err)
	}
	return b
}

// TestCluster runs the API over a real cluster, through the daemon and
// directly, and checks both give the same answers.
func TestCluster(t *testing.T) {
	cl := testcluster.Start(t, 6, testcluster.Options{Groups: 3})
	cfg := clusterConfig(t, cl, 4, 2)
	direct := openDirect(t, cfg)
	remote, sock := serve(t, direct)
	paths := []struct {
		name string
		st   Store
	}{{"direct", direct}, {"daemon", remote}}

	t.Run("same results", func(t *testing.T) {
		data := make([]byte, 2*config.MiB+12345)
		rand.Read(data)
		for _, p := range paths {
			key := "/same/" + p.name
			info, err := p.st.Put(ctx, key, bytes.NewReader(data), zstor.PutOptions{UserMeta: map[string]string{"Path": p.name}})
			if err != nil {
				t.Fatalf("%s: put: %v", p.name, err)
			}
			sum := blake3.Sum256(data)
			if info.Checksum != hex.EncodeToString(sum[:]) || info.Size != int64(len(data)) || info.K != 4 || info.M != 2 || info.Blocks != 3 {
				t.Errorf("%s: put info %+v", p.name, info)
			}
			if got := readAll(t, p.st, key, zstor.GetOptions{}); !bytes.Equal(got, data) {
				t.Errorf("%s: get returned other bytes", p.name)
			}
			if got := readAll(t, p.st, key, zstor.GetOptions{Offset: 1<<20 - 10, Length: 30}); !bytes.Equal(got, data[1<<20-10:1<<20+20]) {
				t.Errorf("%s: range get returned other bytes", p.name)
			}
		}
		for _, p := range paths {
			for _, q := range paths {
				key := "/same/" + q.name
				a, err1 := p.st.Stat(ctx, key)
				b, err2 := direct.Stat(ctx, key)
				a.Modified, b.Modified = a.Modified.UTC(), b.Modified.UTC()
				if err1 != nil || err2 != nil || !reflect.DeepEqual(a, b) {
					t.Errorf("stat %s via %s = %+v, %v; direct %+v, %v", key, p.name, a, err1, b, err2)
				}
				rep, err := p.st.Check(ctx, key)
				if err != nil || rep.MinGood != 6 || rep.OK != 18 || !Healthy(rep) {
					t.Errorf("check %s via %s = %+v, %v", key, p.name, rep, err)
				}
			}
			var keys []string
			for i, err := range p.st.List(ctx, "/same/", "") {
				if err != nil {
					t.Fatal(err)
				}
				keys = append(keys, i.Key)
			}
			if want := []string{"/same/daemon", "/same/direct"}; !reflect.DeepEqual(keys, want) {
				t.Errorf("list via %s = %q", p.name, keys)
			}
			st, err := p.st.Status(ctx)
			if err != nil || len(st) != 6 {
				t.Errorf("status via %s: %d backends, %v", p.name, len(st), err)
			}
		}
		for _, p := range paths {
			key := "/same/" + p.name
			old, _ := direct.Stat(ctx, key)
			info, err := p.st.Rebuild(ctx, key)
			if err != nil || info.Version == old.Version || info.Checksum != old.Checksum || info.UserMeta["Path"] != p.name {
				t.Errorf("rebuild via %s = %+v, %v (was %+v)", p.name, info, err, old)
			}
			if err := p.st.Delete(ctx, key); err != nil {
				t.Errorf("delete via %s: %v", p.name, err)
			}
			for _, q := range paths {
				if _, err := q.st.Stat(ctx, key); !errors.Is(err, zstor.ErrNotFound) {
					t.Errorf("stat via %s after delete: %v", q.name, err)
				}
			}
		}
		for _, p := range paths {
			if _, err := p.st.Recover(ctx); err != nil {
				t.Errorf("recover via %s: %v", p.name, err)
			}
			if _, err := p.st.Sweep(ctx, time.Hour); err != nil {
				t.Errorf("sweep via %s: %v", p.name, err)
			}
		}
	})

	t.Run("stream 50MiB", func(t *testing.T) {
		const n = 50 << 20
		peak := watchHeap(t)
		src := newGenReader(1, n)
		start := time.Now()
		info, err := remote.Put(ctx, "big", src, zstor.PutOptions{})
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("put 50 MiB through the socket in %v", time.Since(start))
		if info.Size != n || info.Checksum != src.sum() {
			t.Fatalf("put info %+v, want %d bytes with checksum %s", info, n, src.sum())
		}
		start = time.Now()
		r, err := remote.Get(ctx, "big", zstor.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		h := blake3.New()
		got, err := io.Copy(h, r)
		r.Close()
		t.Logf("get 50 MiB through the socket in %v", time.Since(start))
		if err != nil || got != n || hex.EncodeToString(h.Sum(nil)) != info.Checksum {
			t.Fatalf("get: %d bytes, %v; checksum match %v", got, err, hex.EncodeToString(h.Sum(nil)) == info.Checksum)
		}
		if err := remote.Delete(ctx, "big"); err != nil {
			t.Error(err)
		}
		// Neither side held the object: the heap grew by much less than
		// its size (the store keeps a few blocks in flight).
		if grew := peak(); grew > 45<<20 {
			t.Errorf("the heap grew by %d MiB while 50 MiB streamed through", grew>>20)
		} else {
			t.Logf("heap grew by at most %d MiB", grew>>20)
		}
	})

	t.Run("errors", func(t *testing.T) {
		for _, p := range paths {
			_, err := p.st.Get(ctx, "/missing", zstor.GetOptions{})
			if !errors.Is(err, zstor.ErrNotFound) {
				t.Errorf("get of a missing key via %s: %v", p.name, err)
			}
			if _, err := p.st.Check(ctx, "/missing"); !errors.Is(err, zstor.ErrNotFound) {
				t.Errorf("check of a missing key via %s: %v", p.name, err)
			}
			if _, err := p.st.Rebuild(ctx, "/missing"); !errors.Is(err, zstor.ErrNotFound) {
				t.Errorf("rebuild of a missing key via %s: %v", p.name, err)
			}
			if err := p.st.Delete(ctx, "/missing"); !errors.Is(err, zstor.ErrNotFound) {
				t.Errorf("delete of a missing key via %s: %v", p.name, err)
			}
			if _, err := p.st.Put(ctx, "", strings.NewReader("x"), zstor.PutOptions{}); !errors.Is(err, zstor.ErrInvalid) {
				t.Errorf("put of an empty key via %s: %v", p.name, err)
			}
			if _, err := p.st.Put(ctx, "/small", strings.NewReader("0123456789"), zstor.PutOptions{}); err != nil {
				t.Fatal(err)
			}
			if _, err := p.st.Get(ctx, "/small", zstor.GetOptions{Offset: 11}); !errors.Is(err, zstor.ErrInvalid) {
				t.Errorf("get past the end via %s: %v", p.name, err)
			}
		}
	})

	t.Run("odd keys", func(t *testing.T) {
		keys := []string{"/abs/path", "../x", "a b%2F?#&=", "ü/ñ", "\xff\x00bin", "a//b/./c", "/"}
		for i, k := range keys {
			if _, err := remote.Put(ctx, k, strings.NewReader(fmt.Sprint(i)), zstor.PutOptions{}); err != nil {
				t.Fatalf("put %q: %v", k, err)
			}
		}
		for i, k := range keys {
			if got := readAll(t, remote, k, zstor.GetOptions{}); string(got) != fmt.Sprint(i) {
				t.Errorf("get %q = %q", k, got)
			}
			info, err := remote.Stat(ctx, k)
			if err != nil || info.Key != k {
				t.Errorf("stat %q = %+v, %v", k, info, err)
			}
		}
		found := map[string]bool{}
		for i, err := range remote.List(ctx, "", "") {
			if err != nil {
				t.Fatal(err)
			}
			found[i.Key] = true
		}
		for _, k := range keys {
			if !found[k] {
				t.Errorf("list lost %q", k)
			}
			remote.Delete(ctx, k)
		}
	})

	t.Run("concurrent clients", func(t *testing.T) {
		var wg sync.WaitGroup
		errs := make(chan error, 8)
		for i := range 8 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				c, err := Dial(ctx, sock)
				if err != nil {
					errs <- err
					return
				}
				defer c.Close()
				key := fmt.Sprintf("/conc/%d", i)
				data := make([]byte, 300_000+i)
				rand.Read(data)
				for range 3 {
					if _, err := c.Put(ctx, key, bytes.NewReader(data), zstor.PutOptions{}); err != nil {
						errs <- err
						return
					}
					r, err := c.Get(ctx, key, zstor.GetOptions{})
					if err != nil {
						errs <- err
						return
					}
					b, err := io.ReadAll(r)
					r.Close()
					if err != nil || !bytes.Equal(b, data) {
						errs <- fmt.Errorf("client %d: read back %d bytes, %v", i, len(b), err)
						return
					}
				}
				errs <- c.Delete(ctx, key)
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			if err != nil {
				t.Error(err)
			}
		}
	})

	t.Run("monitor", func(t *testing.T) {
		testMonitor(t, cl)
	})
}

// watchHeap samples the heap until the returned function is called, which
// returns the largest growth over the start seen, in bytes. The collector
// runs more often meanwhile, so that garbage does not count.
func watchHeap(t testing.TB) func() int64 {
	old := debug.SetGCPercent(10)
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	base := int64(ms.HeapAlloc)
	var peak atomic.Int64
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		tk := time.NewTicker(10 * time.Millisecond)
		defer tk.Stop()
		for {
			select {
			case <-stop:
				return
			case <-tk.C:
			}
			var ms runtime.MemStats
			runtime.ReadMemStats(&ms)
			if g := int64(ms.HeapAlloc) - base; g > peak.Load() {
				peak.Store(g)
			}
		}
	}()
	return func() int64 {
		close(stop)
		<-done
		debug.SetGCPercent(old)
		return peak.Load()
	}
}

func freePort(t testing.TB) int {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// testMonitor runs the whole daemon: socket, metrics, health check,
// reloads, stop.
func testMonitor(t *testing.T, cl *testcluster.Cluster) {
	cfg := clusterConfig(t, cl, 4, 2)
	cfg.PrometheusPort = freePort(t)
	file, logs, stop := startMonitor(t, cfg, MonitorOptions{Version: "t", SweepInterval: time.Hour, HealthTTL: -1})
	c, err := Dial(ctx, cfg.Socket)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.Put(ctx, "m", strings.NewReader("metrics"), zstor.PutOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Stat(ctx, "nope"); !errors.Is(err, zstor.ErrNotFound) {
		t.Fatal(err)
	}
	// A second daemon on the same socket is refused, and the first keeps
	// serving.
	if err := Monitor(ctx, cfg, MonitorOptions{}); !errors.Is(err, ErrRunning) {
		t.Errorf("second monitor: %v, want ErrRunning", err)
	}
	h, err := c.Health(ctx, false)
	if err != nil || !h.Healing || len(h.Backends) != 6 || h.Objects < 1 || h.Bytes < 7 {
		t.Errorf("health through the daemon: %+v, %v; want healing on, 6 backends, the object", h, err)
	}
	if code, s := getHealth(t, cfg.PrometheusPort); code != http.StatusOK || !s.OK() || s.BackendsUp != 6 || s.MinShards != 4 {
		t.Errorf("health check: %d %+v", code, s)
	}
	resp, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d/metrics", cfg.PrometheusPort))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, want := range []string{
		`zstor_operations_total{operation="store",outcome="ok"} 1`,
		`zstor_operations_total{operation="stat",outcome="not_found"} 1`,
		`zstor_operations_total{operation="health",outcome="ok"} 1`,
		`zstor_operation_bytes_total{operation="store",outcome="ok"} 7`,
		`zstore_store_commands_finished{success="true"} 1`,
		`zstor_backend_reachable{`,
		`zstor_backend_latency_seconds{`,
		`zstor_backend_latency_p95_seconds{`,
		`zstor_backend_state{address="`,
		`,state="healthy"} 1`,
		`,state="terminal"} 0`,
		`zstor_backend_draining{`,
		`zstor_backend_error_rate{`,
		`zstor_backend_audits_total{`,
		`zstor_backend_audit_failures_total{`,
		`zstor_backend_shards{`,
		`connection_status{address="`,
		`backend_type="data"`,
		`entries{address="`,
		`data_size_bytes{address="`,
		`data_limit_bytes{address="`,
		`fabric_objects `,
		`fabric_objects_degraded 0`,
		`zstor_objects `,
		`zstor_object_bytes `,
		`zstor_objects_by_available_shards{shards="6"} `,
		`zstor_objects_degraded 0`,
		`zstor_objects_unreadable 0`,
		`zstor_healing 1`,
		`zstor_repair_queue_length 0`,
		`zstor_repair_queued_total`,
		`zstor_repair_repaired_total`,
		`zstor_repair_failures_total`,
		`zstor_repair_rebuilt_shards_total`,
		`zstor_repair_bytes_total`,
		`zstor_scrub_running`,
		`zstor_scrub_pass_objects`,
		`zstor_scrub_pass_start_timestamp_seconds`,
		`zstor_scrub_last_pass_timestamp_seconds`,
		`zstor_audits_total`,
		`zstor_audit_failures_total`,
	} {
		if !strings.Contains(string(body), want) {
			t.Errorf("metrics lack %s", want)
		}
	}
	if t.Failed() {
		t.Logf("metrics:\n%s", body)
	}
	t.Run("reload", func(t *testing.T) { testReload(t, c, cfg, file, logs) })
	stop()
	if _, err := os.Lstat(cfg.Socket); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("socket left after stop: %v", err)
	}
	// The store is closed: a direct open works now and sees the object.
	st := openDirect(t, cfg)
	if got := readAll(t, st, "m", zstor.GetOptions{}); string(got) != "metrics" {
		t.Errorf("after the daemon stopped: %q", got)
	}
}
