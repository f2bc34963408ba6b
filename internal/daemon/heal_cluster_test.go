package daemon

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	mrand "math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/zerostor/zerostor/internal/config"
	"github.com/zerostor/zerostor/internal/testcluster"
	"github.com/zerostor/zerostor/zstor"
)

// clusterIndex is the index in cl of the backend with the given id.
func clusterIndex(t testing.TB, cl *testcluster.Cluster, id string) int {
	t.Helper()
	for _, b := range cl.Backends() {
		if b.Addr+"/"+b.Namespace == id {
			return b.Index
		}
	}
	t.Fatalf("backend %s is not in the cluster", id)
	return -1
}

// busiest is the backend holding the most shards.
func busiest(h zstor.Health) zstor.BackendStatus {
	var best zstor.BackendStatus
	for _, b := range h.Backends {
		if b.Shards > best.Shards {
			best = b
		}
	}
	return best
}

func mustHealth(t testing.TB, st Store) zstor.Health {
	t.Helper()
	h, err := st.Health(ctx, false)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

// TestClusterHeal runs the self-healing calls through the daemon's socket
// on a real cluster with spare backends (8 for 4+2): a scrub finds a
// damaged backend's shards and queues them, RepairAll restores them, and
// a drained backend is emptied.
func TestClusterHeal(t *testing.T) {
	cl := testcluster.Start(t, 8, testcluster.Options{Groups: 4})
	cfg := clusterConfig(t, cl, 4, 2)
	direct := openDirect(t, cfg)
	remote, _ := serve(t, direct)
	objs := map[string][]byte{}
	for i := range 3 {
		data := make([]byte, 3*int(config.MiB)/2+i)
		rand.Read(data)
		key := fmt.Sprintf("/heal/%d", i)
		if _, err := remote.Put(ctx, key, bytes.NewReader(data), zstor.PutOptions{}); err != nil {
			t.Fatal(err)
		}
		objs[key] = data
	}
	whole := func(t *testing.T) {
		t.Helper()
		h := mustHealth(t, remote)
		// At least: the store may keep objects of its own (commit log).
		if h.Objects < 3 || h.Degraded != 0 || h.Unreadable != 0 || h.Redundancy[6] != h.Objects {
			t.Errorf("health: %d objects, %d degraded, %d unreadable, redundancy %v; want 3 whole", h.Objects, h.Degraded, h.Unreadable, h.Redundancy)
		}
		for k, want := range objs {
			rep, err := remote.Check(ctx, k)
			if err != nil || !Healthy(rep) {
				t.Errorf("check %s: %+v, %v", k, rep, err)
			}
			if got := readAll(t, remote, k, zstor.GetOptions{}); !bytes.Equal(got, want) {
				t.Errorf("%s reads back other bytes", k)
			}
		}
	}
	whole(t)

	t.Run("scrub finds damage, repair fixes it", func(t *testing.T) {
		victim := busiest(mustHealth(t, remote))
		if cl.Corrupt(clusterIndex(t, cl, victim.ID), mrand.New(mrand.NewPCG(7, 8)), 16) == 0 {
			t.Fatal("nothing corrupted")
		}
		var seen int
		rep, err := remote.Scrub(ctx, zstor.ScrubOptions{Progress: func(zstor.ScrubReport) { seen++ }})
		if err != nil {
			t.Fatal(err)
		}
		if rep.Objects < 3 || rep.Missing+rep.Corrupt == 0 || rep.Queued == 0 || rep.Shards < 36 {
			t.Fatalf("scrub of a damaged backend: %+v", rep)
		}
		q, n, err := remote.RepairQueue(ctx, 0)
		if err != nil || n != int(rep.Queued) || len(q) != n || !strings.HasPrefix(q[0].Reason, "scrub:") {
			t.Fatalf("queue after the scrub: %+v, %d, %v; want the %d objects scrub queued", q, n, err, rep.Queued)
		}
		if h := mustHealth(t, remote); h.Repair.Queue != n {
			t.Errorf("health shows a queue of %d, want %d", h.Repair.Queue, n)
		}
		var mu sync.Mutex
		var repaired []string
		all, err := remote.RepairAll(ctx, func(key string, r zstor.RepairReport, err error) {
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				t.Errorf("repair %s: %v", key, err)
			}
			if r.Rebuilt > 0 {
				repaired = append(repaired, key)
			}
		})
		if err != nil || all.Objects < 3 || all.Repaired != len(repaired) || all.Rebuilt == 0 || all.Failed != 0 {
			t.Fatalf("repair all = %+v, %v (progress saw %q)", all, err, repaired)
		}
		if _, n, _ := remote.RepairQueue(ctx, 0); n != 0 {
			t.Errorf("%d objects still queued after RepairAll", n)
		}
		if rep, err := remote.Scrub(ctx, zstor.ScrubOptions{}); err != nil || rep.OK != rep.Shards || rep.Queued != 0 {
			t.Errorf("scrub after the repair: %+v, %v", rep, err)
		}
		whole(t)
	})

	t.Run("drain empties a backend", func(t *testing.T) {
		victim := busiest(mustHealth(t, remote))
		n, err := remote.Drain(ctx, victim.ID)
		if err != nil || n == 0 {
			t.Fatalf("drain %s (%d shards) = %d, %v", victim.ID, victim.Shards, n, err)
		}
		all, err := remote.RepairAll(ctx, nil)
		if err != nil || all.Moved == 0 {
			t.Fatalf("repair all after the drain = %+v, %v", all, err)
		}
		h := mustHealth(t, remote)
		for _, b := range h.Backends {
			if b.ID == victim.ID && (b.Shards != 0 || !b.Draining) {
				t.Errorf("drained backend after RepairAll: %d shards, draining %v", b.Shards, b.Draining)
			}
		}
		whole(t)
		if err := remote.Undrain(ctx, victim.ID); err != nil {
			t.Fatal(err)
		}
		for _, b := range mustHealth(t, remote).Backends {
			if b.ID == victim.ID && b.Draining {
				t.Error("still draining after Undrain")
			}
		}
		if _, err := remote.Drain(ctx, "10.9.9.9:1/none"); !errors.Is(err, zstor.ErrInvalid) {
			t.Errorf("drain of an unknown backend: %v, want ErrInvalid", err)
		}
	})

	t.Run("audit", func(t *testing.T) {
		for range 3 {
			res, err := remote.Audit(ctx)
			if err != nil || res.State != zstor.ShardOK || res.Key == "" || res.Backend == "" {
				t.Errorf("audit = %+v, %v", res, err)
			}
		}
		if h := mustHealth(t, remote); h.Audits < 3 {
			t.Errorf("health counts %d audits after 3", h.Audits)
		}
	})

	t.Run("reload needs a daemon", func(t *testing.T) {
		if _, err := remote.Reload(ctx); !errors.Is(err, zstor.ErrInvalid) || !strings.Contains(err.Error(), "running daemon") {
			t.Errorf("reload of a directly opened store: %v", err)
		}
	})
}

// teeLog writes the test's log and into buf.
type teeLog struct {
	t   testing.TB
	buf *testcluster.SyncBuffer
}

func (w teeLog) Write(p []byte) (int, error) {
	w.buf.Write(p)
	return tlogWriter{w.t}.Write(p)
}

// startMonitor runs Monitor on cfg, written to a file first (the file its
// reloads read), until the test ends or stop is called; its log goes to
// the test's and to the returned buffer.
func startMonitor(t *testing.T, cfg *config.Config, opts MonitorOptions) (file string, logs *testcluster.SyncBuffer, stop func()) {
	t.Helper()
	file = filepath.Join(t.TempDir(), "zstor.toml")
	if err := config.WriteFile(file, cfg); err != nil {
		t.Fatal(err)
	}
	logs = &testcluster.SyncBuffer{}
	opts.Logger = slog.New(slog.NewTextHandler(teeLog{t, logs}, &slog.HandlerOptions{Level: slog.LevelInfo}))
	opts.ConfigFile = file
	ready := make(chan struct{})
	opts.Ready = func() { close(ready) }
	mctx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- Monitor(mctx, cfg, opts) }()
	select {
	case <-ready:
	case err := <-done:
		cancel()
		t.Fatalf("monitor: %v", err)
	}
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			if err := <-done; err != nil {
				t.Errorf("monitor stopped with %v", err)
			}
		})
	}
	t.Cleanup(stop)
	return file, logs, stop
}

// getHealth asks GET /health on the metrics address.
func getHealth(t testing.TB, port int) (int, HealthSummaryJSON) {
	t.Helper()
	resp, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d/health", port))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var s HealthSummaryJSON
	b, _ := io.ReadAll(resp.Body)
	if err := json.Unmarshal(b, &s); err != nil {
		t.Fatalf("health reply %q: %v", b, err)
	}
	return resp.StatusCode, s
}

// waitFor polls cond every 50ms until it holds or timeout passes.
func waitFor(t testing.TB, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %v", what, timeout)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestHealthDown: the health check answers 200 while the store serves and
// 503, with the reason, once too few backends are up to read.
func TestHealthDown(t *testing.T) {
	cl := testcluster.Start(t, 3, testcluster.Options{Groups: 3})
	cfg := clusterConfig(t, cl, 2, 1)
	cfg.PrometheusPort = freePort(t)
	cfg.Repair.ProbeInterval = 100 * time.Millisecond
	startMonitor(t, cfg, MonitorOptions{HealthTTL: -1, SweepInterval: -1, Heal: zstor.HealOptions{DisableScrub: true, DisableAudit: true}})
	c, err := Dial(ctx, cfg.Socket)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.Put(ctx, "/h", strings.NewReader("health"), zstor.PutOptions{}); err != nil {
		t.Fatal(err)
	}
	code, s := getHealth(t, cfg.PrometheusPort)
	if code != http.StatusOK || !s.OK() || s.BackendsUp != 3 || s.MinShards != 2 || s.Objects != 1 || !s.Healing {
		t.Fatalf("health with every backend up: %d %+v", code, s)
	}
	if s, err := c.HealthCheck(ctx); err != nil || !s.OK() {
		t.Errorf("health check on the socket: %+v, %v", s, err)
	}
	cl.Kill(0)
	cl.Kill(1)
	waitFor(t, 15*time.Second, "health check failing with 2 of 3 backends dead", func() bool {
		code, s = getHealth(t, cfg.PrometheusPort)
		return code == http.StatusServiceUnavailable
	})
	if s.Status != HealthFailing || !strings.Contains(s.Reason, "1 of 3 backends up, 2 needed") || !strings.Contains(s.Reason, "1 objects unreadable") {
		t.Errorf("failing health: %+v", s)
	}
	if s, err := c.HealthCheck(ctx); err != nil || s.OK() {
		t.Errorf("health check on the socket with 2 of 3 backends dead: %+v, %v", s, err)
	}
}

// testReload edits the daemon's configuration file: a backend added and
// applied through POST /v1/reload, removed again with SIGHUP, and a broken
// file rejected while the daemon keeps its configuration.
func testReload(t *testing.T, c *Client, cfg *config.Config, file string, logs *testcluster.SyncBuffer) {
	extra := testcluster.Start(t, 1, testcluster.Options{}).Backend(0)
	extraID := extra.Addr + "/" + extra.Namespace
	grown := *cfg
	grown.Groups = append(append([]config.Group(nil), cfg.Groups...), config.Group{Name: "extra",
		Backends: []config.Backend{{Address: extra.Addr, Namespace: extra.Namespace, Password: extra.Password}}})
	if err := config.WriteFile(file, &grown); err != nil {
		t.Fatal(err)
	}
	rep, err := c.Reload(ctx)
	if err != nil || len(rep.Added) != 1 || rep.Added[0] != extraID || len(rep.Removed) != 0 {
		t.Fatalf("reload adding %s = %+v, %v", extraID, rep, err)
	}
	h, err := c.Health(ctx, true)
	if err != nil || len(h.Backends) != 7 || h.Backends[6].ID != extraID || !h.Backends[6].Reachable {
		t.Fatalf("after the reload: %d backends, %v", len(h.Backends), err)
	}

	// SIGHUP: the daemon re-reads the file (now without the extra
	// backend) by itself.
	if err := config.WriteFile(file, cfg); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Kill(os.Getpid(), syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 10*time.Second, "SIGHUP reload removing the extra backend", func() bool {
		h, err := c.Health(ctx, false)
		return err == nil && len(h.Backends) == 6
	})
	if !strings.Contains(logs.String(), "configuration reloaded") {
		t.Error("no reload in the log after SIGHUP")
	}

	// A broken file is refused, loudly, and nothing changes.
	if err := os.WriteFile(file, []byte("minimal_shards = 9\nexpected_shards = 2\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Kill(os.Getpid(), syscall.SIGUSR1); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 10*time.Second, "a broken configuration rejected", func() bool {
		return strings.Contains(logs.String(), "configuration reload rejected")
	})
	if _, err := c.Reload(ctx); !errors.Is(err, zstor.ErrInvalid) || !strings.Contains(err.Error(), file) {
		t.Errorf("reload of a broken file: %v, want ErrInvalid naming the file", err)
	}
	if h, err := c.Health(ctx, false); err != nil || len(h.Backends) != 6 {
		t.Errorf("after a rejected reload: %d backends, %v", len(h.Backends), err)
	}
	if _, err := c.Stat(ctx, "m"); err != nil {
		t.Errorf("the daemon stopped serving after a rejected reload: %v", err)
	}
}
