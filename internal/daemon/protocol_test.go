package daemon

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/http"
	"os"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/zerostor/zerostor/internal/testcluster"
	"github.com/zerostor/zerostor/zstor"
)

var ctx = context.Background()

func TestEscapeKey(t *testing.T) {
	for _, k := range []string{"", "a", "/a/b", "..", "../x", "a b%2F?#&", "ü", "\xff\x00bin", "a//b/./c", strings.Repeat("é", 300)} {
		e := escapeKey(k)
		if strings.ContainsAny(e, "/.?# ") {
			t.Errorf("escapeKey(%q) = %q: not one opaque path segment", k, e)
		}
		if got, err := unescapeKey(e); err != nil || got != k {
			t.Errorf("unescape(escapeKey(%q)) = %q, %v", k, got, err)
		}
	}
}

func TestMetaHeaders(t *testing.T) {
	m := map[string]string{"Content-Type": "text/plain; charset=utf-8", "x_y.z": "ü\n%\x00", "UPPER lower": "", "a-b": " lead"}
	hh := http.Header{}
	setMeta(hh, m)
	got, err := getMeta(hh)
	if err != nil || !reflect.DeepEqual(got, m) {
		t.Fatalf("user metadata through headers = %q, %v; want %q", got, err, m)
	}
}

// TestProtocol runs every call through a daemon over a socket against an
// in-memory store.
func TestProtocol(t *testing.T) {
	st := newMemStore()
	c, _ := serve(t, st)

	um := map[string]string{"Content-Type": "application/x-thing", "origin": "ü"}
	data := bytes.Repeat([]byte("0123456789"), 100_000)
	var progress int64
	info, err := c.Put(ctx, "/dir/file one", bytes.NewReader(data), zstor.PutOptions{UserMeta: um, Progress: func(n int64) { progress = n }})
	if err != nil {
		t.Fatal(err)
	}
	if info.Size != int64(len(data)) || info.Key != "/dir/file one" || !reflect.DeepEqual(info.UserMeta, um) {
		t.Errorf("put info = %+v", info)
	}
	if progress != int64(len(data)) {
		t.Errorf("progress ended at %d, want %d", progress, len(data))
	}
	want, _ := st.Stat(ctx, "/dir/file one")
	got, err := c.Stat(ctx, "/dir/file one")
	if err != nil || !reflect.DeepEqual(got, want) {
		t.Errorf("stat = %+v, %v; want %+v", got, err, want)
	}

	r, err := c.Get(ctx, "/dir/file one", zstor.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	b, err := io.ReadAll(r)
	r.Close()
	if err != nil || !bytes.Equal(b, data) {
		t.Fatalf("get: %d bytes, %v", len(b), err)
	}
	if !reflect.DeepEqual(r.Info(), want) {
		t.Errorf("get info = %+v, want %+v", r.Info(), want)
	}
	r, err = c.Get(ctx, "/dir/file one", zstor.GetOptions{Offset: 5, Length: 12})
	if err != nil {
		t.Fatal(err)
	}
	b, err = io.ReadAll(r)
	r.Close()
	if err != nil || string(b) != "567890123456" {
		t.Errorf("range get = %q, %v", b, err)
	}

	for _, k := range []string{"/dir/a", "/dir/b", "/other", "/dir/c"} {
		if _, err := c.Put(ctx, k, strings.NewReader(k), zstor.PutOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	var keys []string
	for i, err := range c.List(ctx, "/dir/", "/dir/a") {
		if err != nil {
			t.Fatal(err)
		}
		keys = append(keys, i.Key)
	}
	if want := []string{"/dir/b", "/dir/c", "/dir/file one"}; !reflect.DeepEqual(keys, want) {
		t.Errorf("list = %q, want %q", keys, want)
	}
	for range c.List(ctx, "", "") {
		break // stopping early must not hang or leak
	}

	rep, err := c.Check(ctx, "/dir/a")
	wantRep, _ := st.Check(ctx, "/dir/a")
	if err != nil || !reflect.DeepEqual(rep, wantRep) {
		t.Errorf("check = %+v, %v; want %+v", rep, err, wantRep)
	}
	if ri, err := c.Rebuild(ctx, "/dir/a"); err != nil || ri.Version != "v2" {
		t.Errorf("rebuild = %+v, %v", ri, err)
	}
	bs, err := c.Status(ctx)
	wantBs, _ := st.Status(ctx)
	if err != nil || !reflect.DeepEqual(bs, wantBs) {
		t.Errorf("status = %+v, %v; want %+v", bs, err, wantBs)
	}
	if n, err := c.Recover(ctx); n != 7 || err != nil {
		t.Errorf("recover = %d, %v", n, err)
	}
	if sr, err := c.Sweep(ctx, 3*time.Minute); err != nil || sr.Deleted != 3 || sr.Scanned != 10 {
		t.Errorf("sweep = %+v, %v", sr, err)
	}
	sr, err := c.Sweep(ctx, 42*time.Minute)
	if !errors.Is(err, zstor.ErrUnavailable) || sr.Errors != 1 {
		t.Errorf("failing sweep = %+v, %v; want the report and ErrUnavailable", sr, err)
	}
	if err := c.Delete(ctx, "/dir/a"); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Stat(ctx, "/dir/a"); !errors.Is(err, zstor.ErrNotFound) {
		t.Errorf("stat after delete: %v, want ErrNotFound", err)
	}
	if p, err := c.Ping(ctx); err != nil || p.Version != "test" || p.Pid != os.Getpid() {
		t.Errorf("ping = %+v, %v", p, err)
	}
}

// TestErrorKinds: every sentinel error crosses the socket, on every call,
// and errors.Is still matches it.
func TestErrorKinds(t *testing.T) {
	c, _ := serve(t, newMemStore())
	for _, k := range kinds {
		key := "err/" + k.kind
		calls := map[string]error{}
		_, calls["put"] = c.Put(ctx, key, strings.NewReader(strings.Repeat("x", 1<<20)), zstor.PutOptions{})
		_, calls["get"] = c.Get(ctx, key, zstor.GetOptions{})
		_, calls["stat"] = c.Stat(ctx, key)
		calls["delete"] = c.Delete(ctx, key)
		_, calls["check"] = c.Check(ctx, key)
		_, calls["rebuild"] = c.Rebuild(ctx, key)
		for _, err := range c.List(ctx, key, "") {
			calls["list"] = err
		}
		for call, err := range calls {
			if !errors.Is(err, k.err) {
				t.Errorf("%s of %s: %v, want errors.Is %v", call, key, err, k.err)
			}
			var re *RemoteError
			if !errors.As(err, &re) || re.Kind != k.kind || !strings.Contains(re.Msg, key) {
				t.Errorf("%s of %s: %#v, want a RemoteError of kind %s naming the key", call, key, err, k.kind)
			}
		}
	}
	_, err := c.Stat(ctx, "err/other")
	if Kind(err) != KindInternal || errors.Is(err, zstor.ErrNotFound) {
		t.Errorf("a plain error became %v (kind %s)", err, Kind(err))
	}
	if _, err := c.Put(ctx, "", strings.NewReader("x"), zstor.PutOptions{}); !errors.Is(err, zstor.ErrInvalid) {
		t.Errorf("empty key: %v, want ErrInvalid", err)
	}
}

// TestMidStreamErrors: a read that fails after the reply started is an
// error at the client, never a short object that looks complete.
func TestMidStreamErrors(t *testing.T) {
	st := newMemStore()
	c, _ := serve(t, st)
	data := bytes.Repeat([]byte("abcdefgh"), 200_000)
	for _, k := range []string{"fail/x", "fail/y"} {
		if _, err := st.Put(ctx, k, bytes.NewReader(data), zstor.PutOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	r, err := c.Get(ctx, "fail/x", zstor.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	b, err := io.ReadAll(r)
	if !errors.Is(err, zstor.ErrCorrupt) || len(b) >= len(data) {
		t.Errorf("get that fails mid-way: %d bytes, %v; want ErrCorrupt", len(b), err)
	}
	var n int
	for _, err = range c.List(ctx, "fail/", "") {
		if err != nil {
			break
		}
		n++
	}
	if n != 1 || !errors.Is(err, zstor.ErrUnavailable) {
		t.Errorf("list that fails mid-way: %d items then %v; want 1 then ErrUnavailable", n, err)
	}

	// A source that fails while the body is sent: Put reports the
	// source's error and nothing is stored.
	srcErr := errors.New("disk on fire")
	_, err = c.Put(ctx, "half", io.MultiReader(bytes.NewReader(data), &failAfter{strings.NewReader(""), srcErr}), zstor.PutOptions{})
	if !errors.Is(err, srcErr) {
		t.Errorf("put from a failing reader: %v, want %v", err, srcErr)
	}
	if _, err := st.Stat(ctx, "half"); !errors.Is(err, zstor.ErrNotFound) {
		t.Errorf("half a put was stored: %v", err)
	}
}

// TestShutdownFinishesInFlight: stopping the server lets a running request
// complete; new connections are refused.
func TestShutdownFinishesInFlight(t *testing.T) {
	st := newMemStore()
	st.putGate, st.putIn = make(chan struct{}), make(chan struct{})
	sock := testcluster.ShortDir(t) + "/d.sock"
	ln, err := Listen(sock)
	if err != nil {
		t.Fatal(err)
	}
	sctx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- NewServer(st, ServerOptions{Logger: testLogger(t)}).Serve(sctx, ln) }()
	c := New(sock)
	defer c.Close()
	putDone := make(chan error, 1)
	go func() {
		_, err := c.Put(ctx, "slow", strings.NewReader("payload"), zstor.PutOptions{})
		putDone <- err
	}()
	<-st.putIn
	stop()
	time.Sleep(100 * time.Millisecond)
	select {
	case err := <-done:
		t.Fatalf("Serve returned (%v) with a request in flight", err)
	default:
	}
	st.putGate <- struct{}{}
	if err := <-putDone; err != nil {
		t.Errorf("in-flight put failed: %v", err)
	}
	if err := <-done; err != nil {
		t.Errorf("serve: %v", err)
	}
	if _, err := os.Lstat(sock); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("socket left behind: %v", err)
	}
	if _, err := Dial(ctx, sock); !errors.Is(err, ErrNoDaemon) {
		t.Errorf("dial after stop: %v, want ErrNoDaemon", err)
	}
}

func TestListen(t *testing.T) {
	dir := testcluster.ShortDir(t)
	sock := dir + "/s.sock"

	// Stale: a socket file nobody accepts on.
	stale, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	stale.(*net.UnixListener).SetUnlinkOnClose(false)
	stale.Close()
	ln, err := Listen(sock)
	if err != nil {
		t.Fatalf("listen over a stale socket: %v", err)
	}
	fi, err := os.Lstat(sock)
	if err != nil || fi.Mode().Perm() != 0o600 || fi.Mode().Type() != fs.ModeSocket {
		t.Errorf("socket mode = %v, %v; want a socket with mode 0600", fi.Mode(), err)
	}
	// Live: refused, and the live socket is left alone.
	if _, err := Listen(sock); !errors.Is(err, ErrRunning) {
		t.Errorf("listen on a live socket: %v, want ErrRunning", err)
	}
	if _, err := os.Lstat(sock); err != nil {
		t.Errorf("the live socket was removed: %v", err)
	}
	ln.Close()
	if _, err := os.Lstat(sock); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("close left the socket: %v", err)
	}
	// Not a socket: never removed.
	plain := dir + "/plain"
	os.WriteFile(plain, []byte("keep me"), 0o600)
	if _, err := Listen(plain); err == nil || !strings.Contains(err.Error(), "not a socket") {
		t.Errorf("listen on a regular file: %v", err)
	}
	if b, _ := os.ReadFile(plain); string(b) != "keep me" {
		t.Error("a regular file in the way was damaged")
	}
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), ".z") {
			t.Errorf("temporary socket %s left behind", e.Name())
		}
	}
}

// TestHealProtocol runs every self-healing call through a daemon over a
// socket against an in-memory store: each returns what the store did,
// errors included.
func TestHealProtocol(t *testing.T) {
	st := newMemStore()
	c, _ := serve(t, st)

	for _, refresh := range []bool{false, true} {
		h, err := c.Health(ctx, refresh)
		if want := memHealth(); err != nil || !reflect.DeepEqual(h, want) {
			t.Errorf("health(refresh %v) = %+v, %v\nwant %+v", refresh, h, err, want)
		}
	}

	for _, limit := range []int{0, 1} {
		wantQ, wantN, _ := st.RepairQueue(ctx, limit)
		q, n, err := c.RepairQueue(ctx, limit)
		if err != nil || n != wantN || !reflect.DeepEqual(q, wantQ) {
			t.Errorf("queue(limit %d) = %+v, %d, %v; want %+v, %d", limit, q, n, err, wantQ, wantN)
		}
	}

	type repaired struct {
		key string
		rep zstor.RepairReport
		err error
	}
	var want, got []repaired
	wantAll, wantErr := st.RepairAll(ctx, func(k string, r zstor.RepairReport, err error) { want = append(want, repaired{k, r, err}) })
	all, err := c.RepairAll(ctx, func(k string, r zstor.RepairReport, err error) { got = append(got, repaired{k, r, err}) })
	if !reflect.DeepEqual(all, wantAll) || !errors.Is(err, zstor.ErrUnavailable) || err.Error() != wantErr.Error() {
		t.Errorf("repair all = %+v, %v; want %+v, %v", all, err, wantAll, wantErr)
	}
	if len(got) != len(want) {
		t.Fatalf("repair all progress: %d reports, want %d", len(got), len(want))
	}
	for i := range want {
		if got[i].key != want[i].key || got[i].rep != want[i].rep || (got[i].err == nil) != (want[i].err == nil) || Kind(got[i].err) != Kind(want[i].err) {
			t.Errorf("repair all progress %d = %+v, want %+v", i, got[i], want[i])
		}
	}
	if all, err := c.RepairAll(ctx, nil); err == nil || all.Objects != 2 {
		t.Errorf("repair all without progress = %+v, %v", all, err)
	}

	var progress []zstor.ScrubReport
	opts := zstor.ScrubOptions{Rate: 1234, After: "/from", Progress: func(r zstor.ScrubReport) { progress = append(progress, r) }}
	wantScrub, _ := st.Scrub(ctx, zstor.ScrubOptions{Rate: opts.Rate, After: opts.After})
	sr, err := c.Scrub(ctx, opts)
	if err != nil || !reflect.DeepEqual(sr, wantScrub) {
		t.Errorf("scrub = %+v, %v; want %+v", sr, err, wantScrub)
	}
	if len(progress) != 2 || progress[1] != wantScrub {
		t.Errorf("scrub progress = %+v; want 2 reports ending with the last", progress)
	}

	wantAudit, _ := st.Audit(ctx)
	if a, err := c.Audit(ctx); err != nil || a != wantAudit {
		t.Errorf("audit = %+v, %v; want %+v", a, err, wantAudit)
	}
	id := "10.0.0.1:9900/ns one"
	if n, err := c.Drain(ctx, id); err != nil || n != len(id) {
		t.Errorf("drain = %d, %v", n, err)
	}
	if err := c.Undrain(ctx, id); err != nil {
		t.Errorf("undrain: %v", err)
	}
	wantReload, _ := st.Reload(ctx)
	if r, err := c.Reload(ctx); err != nil || !reflect.DeepEqual(r, wantReload) {
		t.Errorf("reload = %+v, %v; want %+v", r, err, wantReload)
	}
	wantLog, _ := st.VerifyLog(ctx)
	lr, err := c.VerifyLog(ctx)
	if lr != wantLog || !errors.Is(err, zstor.ErrCorrupt) || !strings.Contains(err.Error(), "bad signature") {
		t.Errorf("verify log = %+v, %v; want %+v and the log error", lr, err, wantLog)
	}
}

// TestHealErrorKinds: the self-healing calls carry zstor's sentinels too.
func TestHealErrorKinds(t *testing.T) {
	c, _ := serve(t, newMemStore())
	for _, k := range kinds {
		id := "err/" + k.kind
		calls := map[string]error{}
		_, calls["drain"] = c.Drain(ctx, id)
		calls["undrain"] = c.Undrain(ctx, id)
		for call, err := range calls {
			if !errors.Is(err, k.err) {
				t.Errorf("%s of %s: %v, want errors.Is %v", call, id, err, k.err)
			}
		}
	}
	if _, err := c.Drain(ctx, ""); err == nil {
		t.Error("drain of an empty id: no error")
	}
	resp, err := c.send(ctx, http.MethodPost, "/v1/backends/x/explode", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusBadRequest {
		t.Errorf("unknown backend action: %s", resp.Status)
	}
}

// TestDirectReload: a store opened directly refuses Reload with a reason;
// the daemon's store calls its reloader.
func TestDirectReload(t *testing.T) {
	_, err := Direct(nil).Reload(ctx)
	if !errors.Is(err, zstor.ErrInvalid) || !strings.Contains(err.Error(), "running daemon") {
		t.Errorf("direct reload: %v", err)
	}
	want := zstor.ReloadReport{Added: []string{"x"}}
	got, err := DirectReloading(nil, func(context.Context) (zstor.ReloadReport, error) { return want, nil }).Reload(ctx)
	if err != nil || !reflect.DeepEqual(got, want) {
		t.Errorf("reloading store: %+v, %v", got, err)
	}
}

func TestSummarize(t *testing.T) {
	up := zstor.BackendStatus{State: zstor.StateHealthy}
	degraded := zstor.BackendStatus{State: zstor.StateDegraded}
	down := zstor.BackendStatus{State: zstor.StateDown}
	terminal := zstor.BackendStatus{State: zstor.StateTerminal}
	for _, c := range []struct {
		name     string
		h        zstor.Health
		err      error
		k        int
		ok       bool
		up       int
		problems []string
	}{
		{"all up", zstor.Health{Backends: []zstor.BackendStatus{up, up, up}, Objects: 3}, nil, 2, true, 3, nil},
		{"degraded objects and backends still serve", zstor.Health{Backends: []zstor.BackendStatus{up, degraded, down}, Degraded: 2}, nil, 2, true, 2, nil},
		{"too few backends up", zstor.Health{Backends: []zstor.BackendStatus{up, down, terminal}}, nil, 2, false, 1, []string{"1 of 3 backends up"}},
		{"unreadable objects", zstor.Health{Backends: []zstor.BackendStatus{up, up}, Unreadable: 4}, nil, 2, false, 2, []string{"4 objects unreadable"}},
		{"both", zstor.Health{Backends: []zstor.BackendStatus{down, down}, Unreadable: 1}, nil, 1, false, 0, []string{"0 of 2 backends up", "1 objects unreadable"}},
		{"closed", zstor.Health{}, fmt.Errorf("health: %w", zstor.ErrClosed), 2, false, 0, []string{"the store is closed"}},
		{"walk failed", zstor.Health{}, errors.New("bbolt: disk I/O"), 2, false, 0, []string{"cannot read the store's health: bbolt: disk I/O"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			s := Summarize(c.h, c.err, c.k)
			if s.OK() != c.ok || s.BackendsUp != c.up || s.MinShards != c.k || len(s.Problems) != len(c.problems) {
				t.Fatalf("summary = %+v; want ok %v, %d up, problems %q", s, c.ok, c.up, c.problems)
			}
			for i, p := range c.problems {
				if !strings.HasPrefix(s.Problems[i], p) || !strings.Contains(s.Reason, s.Problems[i]) {
					t.Errorf("problem %d = %q (reason %q), want %q...", i, s.Problems[i], s.Reason, p)
				}
			}
			if wantStatus := map[bool]string{true: HealthOK, false: HealthFailing}[c.ok]; s.Status != wantStatus {
				t.Errorf("status %q, want %q", s.Status, wantStatus)
			}
		})
	}
}

// TestHealthEndpoint: GET /health on the socket answers 200 with the
// summary, 503 with the reason once objects are unreadable, and the cache
// keeps a picture for its TTL.
func TestHealthEndpoint(t *testing.T) {
	st := newMemStore()
	reads := 0
	unreadable := int64(0)
	st.health = func() (zstor.Health, error) {
		reads++
		h := memHealth()
		h.Unreadable = unreadable
		return h, nil
	}
	sock := testcluster.ShortDir(t) + "/h.sock"
	ln, err := Listen(sock)
	if err != nil {
		t.Fatal(err)
	}
	hc := NewHealthCache(st, time.Hour, func() int { return 1 })
	sctx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- NewServer(st, ServerOptions{Health: hc}).Serve(sctx, ln) }()
	defer func() { stop(); <-done }()
	c := New(sock)
	defer c.Close()

	s, err := c.HealthCheck(ctx)
	if err != nil || !s.OK() || s.Backends != 2 || s.BackendsUp != 1 || s.Objects != 9 || s.Degraded != 2 || s.RepairQueue != 2 || !s.Healing {
		t.Fatalf("health check = %+v, %v", s, err)
	}
	st.mu.Lock()
	unreadable = 3
	st.mu.Unlock()
	s, _ = c.HealthCheck(ctx)
	st.mu.Lock()
	n := reads
	st.mu.Unlock()
	if !s.OK() || n != 1 {
		t.Errorf("within the TTL: %+v after %d reads; want the cached picture", s, n)
	}
	hc.mu.Lock()
	hc.ttl = 0
	hc.mu.Unlock()
	resp, err := c.send(ctx, http.MethodGet, "/health", nil)
	if err != nil {
		t.Fatal(err)
	}
	var body HealthSummaryJSON
	json.NewDecoder(resp.Body).Decode(&body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusServiceUnavailable || body.Status != HealthFailing || !strings.Contains(body.Reason, "3 objects unreadable") {
		t.Errorf("with unreadable objects: %s %+v", resp.Status, body)
	}
	// Without a health check configured, /health says so.
	c2, _ := serve(t, st)
	if _, err := c2.HealthCheck(ctx); err == nil {
		t.Error("health check without one configured: no error")
	}
}
