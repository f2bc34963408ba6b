package testcluster

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// startTimeout bounds Start: building zdb is bounded separately, and each
// daemon's PING wait by readyTimeout.
const startTimeout = 60 * time.Second

// Options configure a cluster. The zero value is a cluster of plain
// daemons serving the "default" namespace in user mode.
type Options struct {
	// Groups spreads the backends contiguously over this many groups,
	// named "g0".."g<Groups-1>": with 6 backends and 2 groups, 0-2 are in
	// g0 and 3-5 in g1. Default 1; at most the number of backends.
	Groups int
	// Namespace is the namespace clients use; default "default". Any
	// other is created with NSNEW on each daemon.
	Namespace string
	// Password protects the namespace (NSSET password). The default
	// namespace cannot have one.
	Password string
	// Mode is "user" (default) or "seq". A created namespace is switched
	// with NSSET mode; "default" in seq mode is served with --mode seq.
	Mode string
	// Admin is the daemons' admin password; default a random one.
	Admin string
	// Sync starts zdb with --sync.
	Sync bool
	// Proxy puts a fault-injecting TCP proxy in front of every backend:
	// Backend.Addr is then the proxy's. Slow and Blackhole need it.
	Proxy bool
	// Metrics serves each daemon's /metrics on a free port
	// (Backend.MetricsAddr).
	Metrics bool
	// DataSize is zdb's --datasize (data file rotation size); default
	// 4 MiB, much less than zdb's own default, so that clusters stay small.
	DataSize int64
	// Args are extra zdb flags, after the harness's own (so they win).
	Args []string
	// Logf receives the harness's log lines (starts, kills, ...); default
	// t.Logf for Start and nothing for StartDir.
	Logf func(format string, args ...any)
}

// EnsureDefaults fills in the defaults of unset fields.
func (o *Options) EnsureDefaults() {
	if o.Groups == 0 {
		o.Groups = 1
	}
	if o.Namespace == "" {
		o.Namespace = "default"
	}
	if o.Mode == "" {
		o.Mode = "user"
	}
	if o.Admin == "" {
		var b [12]byte
		rand.Read(b[:])
		o.Admin = "admin-" + hex.EncodeToString(b[:])
	}
	if o.DataSize == 0 {
		o.DataSize = 4 << 20
	}
	if o.Logf == nil {
		o.Logf = func(string, ...any) {}
	}
}

// Validate checks options (after EnsureDefaults) for a cluster of n.
func (o *Options) Validate(n int) error {
	switch {
	case n < 1:
		return fmt.Errorf("testcluster: %d backends; need at least 1", n)
	case o.Groups < 1 || o.Groups > n:
		return fmt.Errorf("testcluster: %d groups for %d backends", o.Groups, n)
	case o.Mode != "user" && o.Mode != "seq":
		return fmt.Errorf("testcluster: mode %q; want user or seq", o.Mode)
	case len(o.Namespace) > 128 || o.Namespace == "." || o.Namespace == ".." || strings.ContainsAny(o.Namespace, "/\\\x00"):
		return fmt.Errorf("testcluster: bad namespace name %q", o.Namespace)
	case o.Namespace == "default" && o.Password != "":
		return errors.New("testcluster: the default namespace cannot have a password; set Options.Namespace")
	case len(o.Password) > 63:
		return errors.New("testcluster: namespace password longer than 63 bytes")
	case o.DataSize < 0:
		return fmt.Errorf("testcluster: negative DataSize %d", o.DataSize)
	}
	return nil
}

// Backend describes one daemon of a cluster.
type Backend struct {
	Index int
	Group string // "g0", "g1", ...
	// Addr is what clients dial: the proxy's host:port with
	// Options.Proxy, else zdb's own. It does not change on Restart.
	Addr        string
	ZdbAddr     string // zdb's own listening address
	MetricsAddr string // zdb's /metrics address with Options.Metrics
	Namespace   string
	Password    string // the namespace's password, if any
	Admin       string // the daemon's admin password
	DataDir     string // zdb --data; the namespace's files are in DataDir/<Namespace>/
	IndexDir    string // zdb --index
	LogPath     string // the daemon's stdout and stderr, all runs appended
}

// Cluster is a set of running zdb daemons. Its methods are safe for
// concurrent use; those on one backend are serialized.
//
// The methods without an error result report failures with t.Fatalf on a
// cluster from Start (so call them from the test's goroutine), and panic
// on one from StartDir; the ...Context variants return errors instead.
type Cluster struct {
	t     testing.TB // noTB for StartDir
	opts  Options
	nodes []*node

	closed    atomic.Bool // no more starts
	mu        sync.Mutex
	clients   []*redis.Client
	closeOnce sync.Once
	closeErr  error
}

// Start builds cmd/zdb (once per test binary) and starts n daemons on
// 127.0.0.1, each on free ports and under its own t.TempDir(), and waits
// until each answers PING and has its namespace set up. Everything is
// stopped by a t.Cleanup (SIGKILL; also if the test fails or panics), and
// the daemons die with the test process even if it is killed. The cleanup
// fails the test when a daemon's log shows a crash, and logs the end of
// every daemon's log when the test failed.
func Start(t testing.TB, n int, opts Options) *Cluster {
	t.Helper()
	if opts.Logf == nil {
		opts.Logf = t.Logf
	}
	dirs := make([]string, max(n, 0))
	for i := range dirs {
		dirs[i] = t.TempDir()
	}
	c, err := newCluster(n, opts, dirs)
	if err != nil {
		t.Fatal(err)
	}
	c.t = t
	// Registered after the TempDirs, so it runs before they are removed.
	t.Cleanup(func() { c.cleanup(t) })
	// Build first: the start timeout is for the daemons.
	if _, err := Binary(); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), startTimeout)
	defer cancel()
	if err := c.start(ctx); err != nil {
		t.Fatal(err)
	}
	return c
}

// StartDir is Start for programs that are not tests (benchmarks, tools):
// backend i lives in dir/b<i>/ (created if needed; existing data is
// reused), and the caller must Close the cluster. On error nothing is
// left running.
func StartDir(ctx context.Context, dir string, n int, opts Options) (*Cluster, error) {
	dirs := make([]string, max(n, 0))
	for i := range dirs {
		dirs[i] = filepath.Join(dir, "b"+strconv.Itoa(i))
		if err := os.MkdirAll(dirs[i], 0o700); err != nil {
			return nil, fmt.Errorf("testcluster: %w", err)
		}
	}
	c, err := newCluster(n, opts, dirs)
	if err != nil {
		return nil, err
	}
	if err := c.start(ctx); err != nil {
		return nil, errors.Join(err, c.Close())
	}
	return c, nil
}

func newCluster(n int, opts Options, dirs []string) (*Cluster, error) {
	opts.EnsureDefaults()
	if err := opts.Validate(n); err != nil {
		return nil, err
	}
	opts.Args = append([]string(nil), opts.Args...)
	c := &Cluster{t: noTB{}, opts: opts}
	per := 1 + btoi(opts.Metrics)
	ports, err := freePorts(n * per)
	if err != nil {
		return nil, fmt.Errorf("testcluster: %w", err)
	}
	for i, dir := range dirs {
		nd := &node{c: c, port: ports[i*per]}
		nd.b = Backend{
			Index:     i,
			Group:     "g" + strconv.Itoa(i*opts.Groups/n),
			ZdbAddr:   net.JoinHostPort("127.0.0.1", strconv.Itoa(nd.port)),
			Namespace: opts.Namespace,
			Password:  opts.Password,
			Admin:     opts.Admin,
			DataDir:   filepath.Join(dir, "data"),
			IndexDir:  filepath.Join(dir, "index"),
			LogPath:   filepath.Join(dir, "zdb.log"),
		}
		if opts.Metrics {
			nd.mport = ports[i*per+1]
			nd.b.MetricsAddr = net.JoinHostPort("127.0.0.1", strconv.Itoa(nd.mport))
		}
		nd.b.Addr = nd.b.ZdbAddr
		c.nodes = append(c.nodes, nd)
	}
	return c, nil
}

// start starts every daemon concurrently, each followed by its namespace
// setup and its proxy.
func (c *Cluster) start(ctx context.Context) error {
	if _, err := Binary(); err != nil {
		return err
	}
	errs := make([]error, len(c.nodes))
	var wg sync.WaitGroup
	for i, nd := range c.nodes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			nd.mu.Lock()
			defer nd.mu.Unlock()
			err := nd.startLocked(ctx)
			if err == nil {
				err = nd.setupNamespace(ctx)
			}
			if err == nil && c.opts.Proxy {
				nd.proxy, err = NewProxy(nd.b.ZdbAddr)
				if err == nil {
					nd.b.Addr = nd.proxy.Addr()
				}
			}
			if err != nil {
				errs[i] = fmt.Errorf("testcluster: backend %d: start: %w", i, err)
			}
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}

// Close stops the proxies, kills every daemon and waits for them, and
// closes the clients made by Client. It reports daemons that died on
// their own with an error status. It is idempotent; a cluster from Start
// is closed by the test's cleanup.
func (c *Cluster) Close() error {
	c.closeOnce.Do(func() {
		c.closed.Store(true)
		c.mu.Lock()
		clients := c.clients
		c.clients = nil
		c.mu.Unlock()
		for _, cl := range clients {
			cl.Close()
		}
		var errs []error
		for _, nd := range c.nodes {
			nd.mu.Lock()
			if nd.proxy != nil {
				nd.proxy.Close()
			}
			if p := nd.proc; p != nil && p.exited() && !p.signalled && p.err != nil {
				errs = append(errs, fmt.Errorf("testcluster: backend %d: zdb (pid %d) died on its own: %v\n--- last lines of %s:\n%s",
					nd.b.Index, p.pid, p.err, nd.b.LogPath, logTail(nd.b.LogPath, nd.logOff, 20)))
			}
			if err := nd.killLocked(); err != nil {
				errs = append(errs, fmt.Errorf("testcluster: backend %d: %w", nd.b.Index, err))
			}
			nd.mu.Unlock()
		}
		c.closeErr = errors.Join(errs...)
	})
	return c.closeErr
}

// cleanup is Start's t.Cleanup.
func (c *Cluster) cleanup(t testing.TB) {
	if err := c.Close(); err != nil {
		t.Error(err)
	}
	for _, nd := range c.nodes {
		if bad := logProblems(nd.b.LogPath); bad != "" {
			t.Errorf("testcluster: backend %d: zdb log %s shows a crash:\n%s", nd.b.Index, nd.b.LogPath, bad)
		}
	}
	if t.Failed() {
		for _, nd := range c.nodes {
			t.Logf("testcluster: backend %d: last lines of %s:\n%s", nd.b.Index, nd.b.LogPath, logTail(nd.b.LogPath, 0, 15))
		}
	}
}

func (c *Cluster) logf(format string, args ...any) {
	c.t.Helper()
	c.opts.Logf(format, args...)
}

// fatalf reports a failure of a TB-flavoured method.
func (c *Cluster) fatalf(format string, args ...any) {
	c.t.Helper()
	c.t.Fatalf(format, args...)
}

// noTB stands in for the testing.TB of a cluster from StartDir: Fatalf
// panics. Only Helper and Fatalf are ever called on it.
type noTB struct{ testing.TB }

func (noTB) Helper() {}

func (noTB) Fatalf(format string, args ...any) { panic(fmt.Sprintf(format, args...)) }

// node returns backend i, failing on a bad index.
func (c *Cluster) node(i int) *node {
	c.t.Helper()
	if i < 0 || i >= len(c.nodes) {
		c.fatalf("testcluster: backend %d does not exist (cluster of %d)", i, len(c.nodes))
	}
	return c.nodes[i]
}

// nodeErr is node for the error-returning methods.
func (c *Cluster) nodeErr(i int) (*node, error) {
	if i < 0 || i >= len(c.nodes) {
		return nil, fmt.Errorf("testcluster: backend %d does not exist (cluster of %d)", i, len(c.nodes))
	}
	return c.nodes[i], nil
}

// Options returns the cluster's options, defaults filled in.
func (c *Cluster) Options() Options { return c.opts }

// Len is the number of backends.
func (c *Cluster) Len() int { return len(c.nodes) }

// Backends describes every backend, in index order.
func (c *Cluster) Backends() []Backend {
	out := make([]Backend, len(c.nodes))
	for i, nd := range c.nodes {
		out[i] = nd.b
	}
	return out
}

// Backend describes backend i.
func (c *Cluster) Backend(i int) Backend {
	c.t.Helper()
	return c.node(i).b
}

// Groups returns the backends by group: Groups()[g] are those of "g<g>".
func (c *Cluster) Groups() [][]Backend {
	out := make([][]Backend, c.opts.Groups)
	for i, nd := range c.nodes {
		g := i * c.opts.Groups / len(c.nodes)
		out[g] = append(out[g], nd.b)
	}
	return out
}

// Alive reports whether backend i's daemon process runs (paused or not).
func (c *Cluster) Alive(i int) bool {
	c.t.Helper()
	nd := c.node(i)
	nd.mu.Lock()
	defer nd.mu.Unlock()
	return nd.runningLocked()
}

// Pid is the process id of backend i's daemon, 0 when it is not running.
func (c *Cluster) Pid(i int) int {
	c.t.Helper()
	nd := c.node(i)
	nd.mu.Lock()
	defer nd.mu.Unlock()
	if !nd.runningLocked() {
		return 0
	}
	return nd.proc.pid
}

// LogTail returns the last n lines of backend i's daemon log.
func (c *Cluster) LogTail(i, n int) string {
	c.t.Helper()
	return logTail(c.node(i).b.LogPath, 0, n)
}

// DataFiles lists the data files of backend i's namespace, oldest first.
func (c *Cluster) DataFiles(i int) []string {
	c.t.Helper()
	return c.node(i).dataFiles()
}
