package testcluster

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/zerostor/zerostor/internal/zdbclient"
)

// testSeed returns a seed for the test, logged for replay; TESTCLUSTER_SEED
// fixes it.
func testSeed(t *testing.T) uint64 {
	t.Helper()
	base := uint64(time.Now().UnixNano())
	if s := os.Getenv("TESTCLUSTER_SEED"); s != "" {
		v, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			t.Fatalf("bad TESTCLUSTER_SEED %q: %v", s, err)
		}
		base = v
	}
	t.Logf("seed %d (rerun with TESTCLUSTER_SEED=%d)", base, base)
	h := fnv.New64a()
	h.Write([]byte(t.Name()))
	return base ^ h.Sum64()
}

// client returns a client of backend i with short timeouts, closed at the
// end of the test.
func client(t *testing.T, c *Cluster, i int, timeout time.Duration) *redis.Client {
	t.Helper()
	o := c.Backend(i).RedisOptions()
	o.ReadTimeout, o.WriteTimeout, o.DialTimeout = timeout, timeout, timeout
	cl := redis.NewClient(o)
	t.Cleanup(func() { cl.Close() })
	return cl
}

func ctxTimeout(t *testing.T, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

func mustSet(t *testing.T, cl *redis.Client, key string, val []byte) {
	t.Helper()
	if err := cl.Set(ctxTimeout(t, 5*time.Second), key, val, 0).Err(); err != nil {
		t.Fatalf("SET %s on %s: %v", key, cl.Options().Addr, err)
	}
}

func mustGet(t *testing.T, cl *redis.Client, key string, want []byte) {
	t.Helper()
	got, err := cl.Get(ctxTimeout(t, 5*time.Second), key).Bytes()
	if err != nil {
		t.Fatalf("GET %s on %s: %v", key, cl.Options().Addr, err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("GET %s on %s = %q, want %q", key, cl.Options().Addr, trunc(got), trunc(want))
	}
}

func trunc(b []byte) []byte {
	if len(b) > 32 {
		return b[:32]
	}
	return b
}

// isTimeout reports whether err is a client-side timeout.
func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout() || errors.Is(err, context.DeadlineExceeded)
}

// processGone reports whether pid no longer runs our zdb (gone, a zombie,
// or reused by another program).
func processGone(pid int, bin string) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return true
	}
	s := string(b)
	if i := strings.LastIndexByte(s, ')'); i >= 0 && i+2 < len(s) && (s[i+2] == 'Z' || s[i+2] == 'X') {
		return true
	}
	cmdline, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
	return err != nil || !bytes.HasPrefix(cmdline, []byte(bin))
}

func waitGone(t *testing.T, pids []int) {
	t.Helper()
	bin, err := Binary()
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for _, pid := range pids {
		for !processGone(pid, bin) {
			if time.Now().After(deadline) {
				t.Fatalf("zdb pid %d still runs", pid)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
}

func TestStartSetGet(t *testing.T) {
	t.Parallel()
	c := Start(t, 4, Options{Groups: 2, Metrics: true})
	if c.Len() != 4 {
		t.Fatalf("Len = %d", c.Len())
	}
	seen := map[string]bool{}
	for i, b := range c.Backends() {
		if b.Index != i || b.Namespace != "default" || b.Addr != b.ZdbAddr || seen[b.Addr] {
			t.Fatalf("backend %d: %+v", i, b)
		}
		seen[b.Addr] = true
		if want := []string{"g0", "g0", "g1", "g1"}[i]; b.Group != want {
			t.Errorf("backend %d in group %s, want %s", i, b.Group, want)
		}
		if c.Pid(i) == 0 || !c.Alive(i) {
			t.Errorf("backend %d not alive", i)
		}
		cl := c.Client(i)
		val := []byte(fmt.Sprintf("value of backend %d", i))
		mustSet(t, cl, "k", val)
		mustGet(t, cl, "k", val)
		if len(c.DataFiles(i)) == 0 {
			t.Errorf("backend %d: no data files under %s", i, filepath.Join(b.DataDir, b.Namespace))
		}
	}
	res, err := http.Get("http://" + c.Backend(3).MetricsAddr + "/metrics")
	if err != nil {
		t.Fatalf("metrics: %v", err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != http.StatusOK || !bytes.Contains(body, []byte("zdb_")) {
		t.Errorf("metrics: %s\n%.300s", res.Status, body)
	}
	if g := c.Groups(); len(g) != 2 || len(g[0]) != 2 || g[1][0].Index != 2 {
		t.Errorf("Groups = %+v", g)
	}
	cfg := c.ZstorConfig(2, 1, t.TempDir(), [32]byte{1})
	if err := cfg.Validate(); err != nil {
		t.Errorf("ZstorConfig: %v", err)
	}
	if g := cfg.Groups; len(g) != 2 || g[1].Name != "g1" || len(g[1].Backends) != 2 || g[1].Backends[0].Address != c.Backend(2).Addr ||
		g[1].Backends[0].Namespace != "default" || cfg.MinimalShards != 2 || cfg.ExpectedShards != 3 {
		t.Errorf("ZstorConfig = %+v", cfg)
	}
	// Each backend has its own data: backend 0's value is not on 1.
	if v, err := c.Client(1).Get(ctxTimeout(t, 5*time.Second), "k").Result(); err != nil || v != "value of backend 1" {
		t.Errorf("backend 1 GET k = %q, %v", v, err)
	}
}

func TestKillRestart(t *testing.T) {
	t.Parallel()
	c := Start(t, 3, Options{Namespace: "ns1", Password: "pw", Proxy: true})
	cl := client(t, c, 1, 5*time.Second)
	mustSet(t, cl, "before-kill", []byte("survives"))
	pid := c.Pid(1)

	c.Kill(1)
	c.Kill(1) // idempotent
	if c.Alive(1) || c.Pid(1) != 0 {
		t.Fatal("backend 1 alive after Kill")
	}
	waitGone(t, []int{pid})
	if err := cl.Get(ctxTimeout(t, 5*time.Second), "before-kill").Err(); err == nil || errors.Is(err, redis.Nil) {
		t.Fatalf("GET on a killed backend: %v, want a transport error", err)
	}
	// The others are not affected.
	mustSet(t, client(t, c, 0, 5*time.Second), "x", []byte("y"))

	c.Restart(1)
	if !c.Alive(1) || c.Pid(1) == pid {
		t.Fatalf("backend 1 after Restart: alive %v, pid %d (was %d)", c.Alive(1), c.Pid(1), pid)
	}
	mustGet(t, client(t, c, 1, 5*time.Second), "before-kill", []byte("survives"))
	zc := zdbclient.New(c.Backend(1).ClientConfig())
	defer zc.Close()
	if v, err := zc.Get(ctxTimeout(t, 5*time.Second), []byte("before-kill")); err != nil || string(v) != "survives" {
		t.Fatalf("zdbclient GET after restart: %q, %v", v, err)
	}

	// Graceful stop and restart keep the data and the address too.
	addr := c.Backend(2).ZdbAddr
	cl2 := client(t, c, 2, 5*time.Second)
	mustSet(t, cl2, "before-stop", []byte("kept"))
	c.Stop(2)
	if c.Alive(2) {
		t.Fatal("backend 2 alive after Stop")
	}
	c.Restart(2)
	if c.Backend(2).ZdbAddr != addr {
		t.Fatalf("address changed on restart: %s -> %s", addr, c.Backend(2).ZdbAddr)
	}
	mustGet(t, client(t, c, 2, 5*time.Second), "before-stop", []byte("kept"))
	if err := c.RestartContext(context.Background(), 2); err == nil {
		t.Fatal("RestartContext of a running backend: no error")
	}
}

// warm makes sure cl has a pooled connection, retrying a few times: a
// client with short timeouts can miss one on a busy machine.
func warm(t *testing.T, cl *redis.Client) {
	t.Helper()
	var err error
	for range 10 {
		if err = cl.Ping(context.Background()).Err(); err == nil {
			return
		}
	}
	t.Fatalf("PING %s: %v", cl.Options().Addr, err)
}

func TestPauseResume(t *testing.T) {
	t.Parallel()
	c := Start(t, 3, Options{})
	const timeout = 300 * time.Millisecond
	mustSet(t, client(t, c, 0, 5*time.Second), "k", []byte("v"))
	short := client(t, c, 0, timeout)
	warm(t, short)

	c.Pause(0)
	if !c.Alive(0) {
		t.Fatal("paused backend not alive")
	}
	start := time.Now()
	err := short.Get(context.Background(), "k").Err()
	if !isTimeout(err) {
		t.Fatalf("GET on a paused backend: %v, want a timeout", err)
	}
	if el := time.Since(start); el < timeout-20*time.Millisecond {
		t.Fatalf("GET on a paused backend failed after %v, before the %v timeout", el, timeout)
	}
	// The other backends answer.
	if err := client(t, c, 1, 5*time.Second).Ping(ctxTimeout(t, 5*time.Second)).Err(); err != nil {
		t.Fatalf("PING backend 1 while 0 is paused: %v", err)
	}

	c.Resume(0)
	c.Resume(0) // a no-op now
	mustGet(t, client(t, c, 0, 5*time.Second), "k", []byte("v"))
}

func TestSlow(t *testing.T) {
	t.Parallel()
	c := Start(t, 3, Options{Proxy: true})
	for i, b := range c.Backends() {
		if b.Addr == b.ZdbAddr {
			t.Fatalf("backend %d: proxy address equals zdb's", i)
		}
	}
	cl := client(t, c, 1, 5*time.Second)
	other := client(t, c, 2, 5*time.Second)
	mustSet(t, cl, "k", []byte("v"))
	mustSet(t, other, "k", []byte("v"))
	rtt := func(cl *redis.Client) time.Duration {
		t.Helper()
		start := time.Now()
		mustGet(t, cl, "k", []byte("v"))
		return time.Since(start)
	}
	// Normal round trips are judged by the best of five, to allow for
	// unlucky moments on a busy machine.
	best := func(cl *redis.Client) time.Duration {
		t.Helper()
		b := time.Hour
		for range 5 {
			b = min(b, rtt(cl))
		}
		return b
	}
	const d = 250 * time.Millisecond
	c.Slow(1, d)
	for range 3 {
		if got := rtt(cl); got < d {
			t.Fatalf("round trip through a slowed proxy took %v, want >= %v", got, d)
		}
	}
	if got := best(other); got >= d/2 {
		t.Errorf("round trip to another backend takes %v while backend 1 is slow", got)
	}
	c.Slow(1, 0)
	if got := best(cl); got >= d/2 {
		t.Fatalf("round trip after Slow(0) still takes %v", got)
	}
}

func TestBlackhole(t *testing.T) {
	t.Parallel()
	c := Start(t, 3, Options{Proxy: true})
	const timeout = 300 * time.Millisecond
	long := client(t, c, 0, 5*time.Second)
	mustSet(t, long, "k", []byte("v"))
	short := client(t, c, 0, timeout)
	warm(t, short)

	c.Blackhole(0, true)
	for _, cl := range []*redis.Client{short, client(t, c, 0, timeout)} { // pooled and new connections
		start := time.Now()
		err := cl.Get(context.Background(), "k").Err()
		if !isTimeout(err) {
			t.Fatalf("GET through a black hole: %v, want a timeout", err)
		}
		if el := time.Since(start); el < timeout-20*time.Millisecond {
			t.Fatalf("GET through a black hole failed after %v, before the %v timeout", el, timeout)
		}
	}
	// The daemon itself is fine.
	if err := ping(ctxTimeout(t, 5*time.Second), c.Backend(0).ZdbAddr); err != nil {
		t.Fatalf("zdb behind the black hole: %v", err)
	}
	c.Blackhole(0, false)
	// long's connection lost nothing and carries on.
	mustGet(t, long, "k", []byte("v"))
	if n := c.Disconnect(0); n < 1 {
		t.Errorf("Disconnect closed %d connections, want >= 1", n)
	}
	mustGet(t, client(t, c, 0, 5*time.Second), "k", []byte("v"))
}

func TestFill(t *testing.T) {
	t.Parallel()
	for _, ns := range []string{"fillns", "default"} {
		t.Run(ns, func(t *testing.T) {
			c := Start(t, 2, Options{Namespace: ns})
			cl := client(t, c, 0, 5*time.Second)
			mustSet(t, cl, "a", bytes.Repeat([]byte("a"), 1000))
			c.Fill(0)
			cl = client(t, c, 0, 5*time.Second) // the default namespace restarted zdb
			err := cl.Set(ctxTimeout(t, 5*time.Second), "b", "more", 0).Err()
			if err == nil || !strings.Contains(err.Error(), "No space") {
				t.Fatalf("SET on a full namespace: %v, want No space left", err)
			}
			mustGet(t, cl, "a", bytes.Repeat([]byte("a"), 1000))
			mustSet(t, client(t, c, 1, 5*time.Second), "b", []byte("more")) // backend 1 is not full

			c.Unfill(0)
			cl = client(t, c, 0, 5*time.Second)
			mustSet(t, cl, "b", []byte("more"))
			mustGet(t, cl, "b", []byte("more"))
		})
	}
}

func TestCorrupt(t *testing.T) {
	t.Parallel()
	rnd := rand.New(rand.NewPCG(testSeed(t), 0))
	c := Start(t, 3, Options{})
	cl := client(t, c, 0, 5*time.Second)
	val := make([]byte, 64<<10)
	for i := range val {
		val[i] = byte(rnd.Uint32())
	}
	mustSet(t, cl, "victim", val)
	files := c.DataFiles(0)
	if len(files) == 0 {
		t.Fatal("no data files")
	}
	before, err := os.ReadFile(files[0])
	if err != nil {
		t.Fatal(err)
	}
	if n := c.Corrupt(0, rnd, 16); n != 16 {
		t.Fatalf("Corrupt flipped %d bytes, want 16", n)
	}
	after, _ := os.ReadFile(files[0])
	diff := 0
	for i := range before {
		if before[i] != after[i] {
			diff++
		}
	}
	if diff != 16 {
		t.Fatalf("%d bytes differ in %s, want 16", diff, files[0])
	}
	got, err := cl.Get(ctxTimeout(t, 5*time.Second), "victim").Bytes()
	if err == nil && bytes.Equal(got, val) {
		t.Fatal("GET after corruption returned the original value")
	}
	t.Logf("GET after corruption: %d bytes, err %v", len(got), err)
	// A backend without data has nothing to flip.
	if n := c.Corrupt(1, rnd, 4); n != 0 {
		t.Errorf("Corrupt of an empty backend flipped %d bytes", n)
	}
}

func TestSeqPassword(t *testing.T) {
	t.Parallel()
	c := Start(t, 3, Options{Namespace: "seqns", Password: "s3cret", Mode: "seq", Groups: 3})
	for i := range c.Len() {
		cl := client(t, c, i, 5*time.Second)
		ctx := ctxTimeout(t, 5*time.Second)
		id, err := cl.Do(ctx, "SET", "", fmt.Sprintf("hello %d", i)).Text()
		if err != nil {
			t.Fatalf("backend %d: SET in seq mode: %v", i, err)
		}
		if len(id) != 8 {
			t.Fatalf("backend %d: seq SET returned a %d-byte key %q, want 8", i, len(id), id)
		}
		mustGet(t, cl, id, []byte(fmt.Sprintf("hello %d", i)))
		info, err := cl.Do(ctx, "NSINFO", "seqns").Text()
		if err != nil || !strings.Contains(info, "mode: sequential") || !strings.Contains(info, "password: yes") {
			t.Fatalf("backend %d: NSINFO: %v\n%s", i, err, info)
		}
	}
	b := c.Backend(0)
	b.Password = "wrong"
	o := b.RedisOptions()
	o.ReadTimeout = time.Second
	bad := redis.NewClient(o)
	defer bad.Close()
	if err := bad.Ping(ctxTimeout(t, 5*time.Second)).Err(); err == nil || !strings.Contains(err.Error(), "Access denied") {
		t.Fatalf("SELECT with a wrong password: %v, want Access denied", err)
	}
}

// TestCleanup checks that the daemons are gone after a test's cleanup
// (paused and killed ones included) and after StartDir's Close.
func TestCleanup(t *testing.T) {
	t.Parallel()
	var pids []int
	t.Run("inner", func(t *testing.T) {
		c := Start(t, 3, Options{Proxy: true})
		for i := range c.Len() {
			pids = append(pids, c.Pid(i))
		}
		c.Pause(1)
		c.Kill(2)
	})
	waitGone(t, pids)

	dir := t.TempDir()
	c, err := StartDir(ctxTimeout(t, 30*time.Second), dir, 2, Options{Namespace: "tool"})
	if err != nil {
		t.Fatal(err)
	}
	pids = []int{c.Pid(0), c.Pid(1)}
	if _, err := os.Stat(filepath.Join(dir, "b1", "zdb.log")); err != nil {
		t.Errorf("StartDir layout: %v", err)
	}
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	if err := c.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	if err := c.RestartContext(context.Background(), 0); err == nil || !strings.Contains(err.Error(), "closed") {
		t.Fatalf("Restart after Close: %v, want an error", err)
	}
	waitGone(t, pids)
}

// TestDaemonsDieWithTestProcess runs a test process that starts daemons
// and then panics, or exits without running any cleanup, and checks that
// its daemons go with it.
func TestDaemonsDieWithTestProcess(t *testing.T) {
	t.Parallel()
	bin, err := Binary()
	if err != nil {
		t.Fatal(err)
	}
	for _, mode := range []string{"panic", "exit"} {
		cmd := exec.Command(os.Args[0], "-test.run=^TestHelperProcess$", "-test.v")
		cmd.Env = append(os.Environ(), "TESTCLUSTER_HELPER="+mode, "TESTCLUSTER_HELPER_DIR="+t.TempDir(), BinaryEnv+"="+bin)
		out, err := cmd.CombinedOutput()
		if err == nil {
			t.Fatalf("%s: helper process succeeded:\n%s", mode, out)
		}
		var pids []int
		for _, l := range strings.Split(string(out), "\n") {
			if rest, ok := strings.CutPrefix(l, "HELPER PIDS "); ok {
				for _, f := range strings.Fields(rest) {
					pid, err := strconv.Atoi(f)
					if err != nil {
						t.Fatal(err)
					}
					pids = append(pids, pid)
				}
			}
		}
		if len(pids) != 2 {
			t.Fatalf("%s: helper printed no pids:\n%s", mode, out)
		}
		waitGone(t, pids)
	}
}

// TestHelperProcess is run by TestDaemonsDieWithTestProcess only.
func TestHelperProcess(t *testing.T) {
	mode := os.Getenv("TESTCLUSTER_HELPER")
	if mode == "" {
		t.Skip("helper process for TestDaemonsDieWithTestProcess")
	}
	switch mode {
	case "panic":
		// Start's cleanup runs on a panic.
		c := Start(t, 2, Options{})
		fmt.Printf("HELPER PIDS %d %d\n", c.Pid(0), c.Pid(1))
		panic("helper panics")
	default:
		// Nothing runs on os.Exit: only the parent-death signal helps.
		// (StartDir in the parent's directory, as a t.TempDir would leak.)
		c, err := StartDir(context.Background(), os.Getenv("TESTCLUSTER_HELPER_DIR"), 2, Options{})
		if err != nil {
			t.Fatal(err)
		}
		fmt.Printf("HELPER PIDS %d %d\n", c.Pid(0), c.Pid(1))
		os.Exit(3)
	}
}

func TestOptionsValidate(t *testing.T) {
	for _, o := range []Options{
		{Groups: 4},
		{Mode: "random"},
		{Password: "x"}, // default namespace
		{Namespace: "a/b"},
	} {
		o.EnsureDefaults()
		if err := o.Validate(3); err == nil {
			t.Errorf("Validate(%+v) = nil", o)
		}
	}
	var o Options
	o.EnsureDefaults()
	if err := o.Validate(3); err != nil {
		t.Errorf("defaults: %v", err)
	}
	if o.Admin == "" || o.Namespace != "default" || o.Mode != "user" || o.Groups != 1 {
		t.Errorf("defaults: %+v", o)
	}
}

// TestStartDirError checks that a daemon that cannot start is reported
// with its backend and the end of its log, and that nothing is left.
func TestStartDirError(t *testing.T) {
	t.Parallel()
	if _, err := Binary(); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	_, err := StartDir(ctxTimeout(t, 30*time.Second), t.TempDir(), 2, Options{Args: []string{"--no-such-flag"}})
	if err == nil {
		t.Fatal("StartDir with a bad zdb flag succeeded")
	}
	for _, want := range []string{"backend 0", "backend 1", "exited while starting", "no-such-flag"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q:\n%v", want, err)
		}
	}
	if el := time.Since(start); el > 5*time.Second {
		t.Errorf("failing start took %v", el)
	}
}
