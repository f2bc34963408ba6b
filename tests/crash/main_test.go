// Package crash holds black-box crash and damage tests of the zdb daemon:
// they build the real binary once, run it as a child process, kill it with
// SIGKILL at random moments or damage its files while it is stopped, and
// check that every acknowledged write is still served correctly.
//
// Randomness is seeded; every test logs its seed, and ZDB_CRASH_SEED=<n>
// replays the same choices (key picks, value sizes, kill delays, damaged
// bytes). Thread scheduling still varies between runs.
package crash

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// zdbBin is the daemon built by TestMain.
var zdbBin string

func TestMain(m *testing.M) { os.Exit(runMain(m)) }

func runMain(m *testing.M) int {
	out, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil {
		fmt.Fprintf(os.Stderr, "crash: go env GOMOD: %v\n", err)
		return 1
	}
	gomod := strings.TrimSpace(string(out))
	if gomod == "" || gomod == os.DevNull {
		fmt.Fprintln(os.Stderr, "crash: not inside a Go module")
		return 1
	}
	tmp, err := os.MkdirTemp("", "zdb-crash-bin-")
	if err != nil {
		fmt.Fprintf(os.Stderr, "crash: %v\n", err)
		return 1
	}
	defer os.RemoveAll(tmp)
	zdbBin = filepath.Join(tmp, "zdb")
	build := exec.Command("go", "build", "-o", zdbBin, "./cmd/zdb")
	build.Dir = filepath.Dir(gomod)
	if out, err := build.CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "crash: building zdb: %v\n%s", err, out)
		return 1
	}
	return m.Run()
}

// testSeed returns the seed of a test: ZDB_CRASH_SEED when set, else the
// clock, mixed with the test name so that tests do not share choices.
func testSeed(t *testing.T) uint64 {
	t.Helper()
	base := uint64(time.Now().UnixNano())
	if s := os.Getenv("ZDB_CRASH_SEED"); s != "" {
		v, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			t.Fatalf("bad ZDB_CRASH_SEED %q: %v", s, err)
		}
		base = v
	}
	t.Logf("seed %d (rerun with ZDB_CRASH_SEED=%d go test ./tests/crash/ -run '^%s$' -v)", base, base, t.Name())
	h := fnv.New64a()
	h.Write([]byte(t.Name()))
	return base ^ h.Sum64()
}

// workDir returns a fresh directory for a test's data set. It is removed
// when the test passes and kept (and named in the log) when it fails, so
// that the files can be examined.
func workDir(t *testing.T) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "zdb-crash-"+strings.ReplaceAll(t.Name(), "/", "_")+"-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("data set kept in %s", dir)
			return
		}
		os.RemoveAll(dir)
	})
	return dir
}

// cycles returns how many kill cycles a test runs: n, fewer with -short,
// or ZDB_CRASH_CYCLES for longer soak runs.
func cycles(t *testing.T, n, short int) int {
	t.Helper()
	if s := os.Getenv("ZDB_CRASH_CYCLES"); s != "" {
		v, err := strconv.Atoi(s)
		if err != nil || v < 1 {
			t.Fatalf("bad ZDB_CRASH_CYCLES %q", s)
		}
		return v
	}
	if testing.Short() {
		return short
	}
	return n
}

// daemon is one zdb data set (data and index directories under base) and
// the process currently serving it, if any.
type daemon struct {
	t     *testing.T
	base  string
	extra []string

	// Optional data and index roots elsewhere than under base.
	dataRootOverride, indexRootOverride string

	noWait  bool // start returns without waiting for PING
	cmd     *exec.Cmd
	addr    string
	exited  chan struct{}
	waitErr error
	starts  int
}

func newDaemon(t *testing.T, base string, extra ...string) *daemon {
	t.Helper()
	d := &daemon{t: t, base: base, extra: extra}
	t.Cleanup(func() {
		if d.running() {
			d.cmd.Process.Kill()
			<-d.exited
		}
		if bad := d.logProblems(); bad != "" {
			t.Errorf("zdb log shows a crash:\n%s", bad)
		}
		if t.Failed() {
			t.Logf("last lines of %s:\n%s", d.logPath(), d.logTail(40))
		}
	})
	return d
}

func (d *daemon) dataRoot() string {
	if d.dataRootOverride != "" {
		return d.dataRootOverride
	}
	return filepath.Join(d.base, "data")
}

func (d *daemon) indexRoot() string {
	if d.indexRootOverride != "" {
		return d.indexRootOverride
	}
	return filepath.Join(d.base, "index")
}

// dataDir and indexDir are the default namespace's directories.
func (d *daemon) dataDir() string  { return filepath.Join(d.dataRoot(), "default") }
func (d *daemon) indexDir() string { return filepath.Join(d.indexRoot(), "default") }
func (d *daemon) logPath() string  { return filepath.Join(d.base, "zdb.log") }

func (d *daemon) running() bool {
	if d.cmd == nil {
		return false
	}
	select {
	case <-d.exited:
		return false
	default:
		return true
	}
}

// start runs zdb on the data set and waits until it answers PING.
func (d *daemon) start() {
	d.t.Helper()
	if d.running() {
		d.t.Fatal("zdb already running")
	}
	for attempt := 0; ; attempt++ {
		err := d.tryStart()
		if err == nil {
			d.starts++
			return
		}
		// Another process may grab the free port between our probe and
		// zdb's listen; try another one.
		if attempt < 4 && strings.Contains(d.logTail(5), "address already in use") {
			continue
		}
		d.t.Fatalf("starting zdb: %v\nlog:\n%s", err, d.logTail(30))
	}
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

func (d *daemon) tryStart() error {
	port, err := freePort()
	if err != nil {
		return err
	}
	logf, err := os.OpenFile(d.logPath(), os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o600)
	if err != nil {
		return err
	}
	defer logf.Close()
	fmt.Fprintf(logf, "=== test harness: start #%d at %s\n", d.starts+1, time.Now().Format(time.RFC3339Nano))
	args := []string{
		"--data", d.dataRoot(), "--index", d.indexRoot(),
		"--listen", "127.0.0.1", "--port", strconv.Itoa(port),
		"--datasize", "1048576",
	}
	args = append(args, d.extra...)
	cmd := exec.Command(zdbBin, args...)
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		return err
	}
	d.cmd, d.addr = cmd, net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	d.exited = make(chan struct{})
	go func() {
		d.waitErr = cmd.Wait()
		close(d.exited)
	}()
	if d.noWait {
		return nil
	}
	deadline := time.Now().Add(60 * time.Second)
	for {
		select {
		case <-d.exited:
			return fmt.Errorf("zdb exited during start: %v", d.waitErr)
		default:
		}
		// A fresh client each time: go-redis's pool waits a second
		// before dialing again after a failed dial.
		cl := redis.NewClient(&redis.Options{
			Addr: d.addr, Protocol: 2, DisableIdentity: true, MaxRetries: -1,
			DialTimeout: 500 * time.Millisecond, ReadTimeout: 2 * time.Second, PoolSize: 1,
		})
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		err := cl.Ping(ctx).Err()
		cancel()
		cl.Close()
		if err == nil {
			return nil
		}
		if time.Now().After(deadline) {
			cmd.Process.Kill()
			<-d.exited
			return fmt.Errorf("no PING answer within 60s: %v", err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// killDuringStartup starts zdb and kills it after delay, whether or not
// it is serving yet (recovery interrupted by a crash).
func (d *daemon) killDuringStartup(delay time.Duration) {
	d.t.Helper()
	d.noWait = true
	defer func() { d.noWait = false }()
	if err := d.tryStart(); err != nil {
		d.t.Fatalf("starting zdb: %v", err)
	}
	time.Sleep(delay)
	d.cmd.Process.Kill()
	<-d.exited
}

// logLines returns the lines of the daemon's log containing s.
func (d *daemon) logLines(s string) []string {
	b, _ := os.ReadFile(d.logPath())
	var out []string
	for _, l := range strings.Split(string(b), "\n") {
		if strings.Contains(l, s) {
			out = append(out, l)
		}
	}
	return out
}

// kill stops zdb with SIGKILL.
func (d *daemon) kill() {
	d.t.Helper()
	if !d.running() {
		d.t.Fatalf("kill: zdb is not running (exit: %v)", d.waitErr)
	}
	d.cmd.Process.Kill()
	<-d.exited
}

// stop stops zdb with SIGTERM and expects a clean exit.
func (d *daemon) stop() {
	d.t.Helper()
	if !d.running() {
		d.t.Fatalf("stop: zdb is not running (exit: %v)", d.waitErr)
	}
	d.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-d.exited:
	case <-time.After(60 * time.Second):
		d.cmd.Process.Kill()
		<-d.exited
		d.t.Fatal("zdb did not stop within 60s of SIGTERM")
	}
	if d.waitErr != nil {
		d.t.Errorf("zdb exited uncleanly after SIGTERM: %v", d.waitErr)
	}
}

// client returns a go-redis client of the running daemon, closed at the
// end of the test.
func (d *daemon) client(pool int) *redis.Client {
	cl := redis.NewClient(&redis.Options{
		Addr: d.addr, Protocol: 2, DisableIdentity: true, MaxRetries: -1,
		PoolSize: pool, DialTimeout: 2 * time.Second,
		ReadTimeout: 60 * time.Second, WriteTimeout: 60 * time.Second,
	})
	d.t.Cleanup(func() { cl.Close() })
	return cl
}

func (d *daemon) logTail(n int) string {
	b, err := os.ReadFile(d.logPath())
	if err != nil {
		return "(no log: " + err.Error() + ")"
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// logProblems returns the log lines that betray a panic or a runtime fatal
// error of the daemon.
func (d *daemon) logProblems() string {
	f, err := os.Open(d.logPath())
	if err != nil {
		return ""
	}
	defer f.Close()
	var bad []string
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		l := sc.Text()
		if strings.HasPrefix(l, "panic:") || strings.HasPrefix(l, "fatal error:") || strings.Contains(l, "msg=crash") {
			bad = append(bad, l)
		}
	}
	return strings.Join(bad, "\n")
}

// files lists the paths in dir matching pattern, sorted.
func files(t *testing.T, dir, pattern string) []string {
	t.Helper()
	m, err := filepath.Glob(filepath.Join(dir, pattern))
	if err != nil {
		t.Fatal(err)
	}
	return m // Glob sorts; ids are zero-padded
}

// dataFiles lists the default namespace's data files in log order.
func (d *daemon) dataFiles() []string { return files(d.t, d.dataDir(), "d-*.zdb") }

// hintFiles lists the default namespace's index hints.
func (d *daemon) hintFiles() []string { return files(d.t, d.indexDir(), "i-*.zdh") }

// dataBytes is the total size of the data files.
func (d *daemon) dataBytes() int64 {
	var n int64
	for _, p := range d.dataFiles() {
		if st, err := os.Stat(p); err == nil {
			n += st.Size()
		}
	}
	return n
}

// nsinfo returns NSINFO default as a map.
func nsinfo(t *testing.T, cl *redis.Client) map[string]string {
	t.Helper()
	s, err := cl.Do(context.Background(), "NSINFO", "default").Text()
	if err != nil {
		t.Fatalf("NSINFO: %v", err)
	}
	m := map[string]string{}
	for _, l := range strings.Split(s, "\n") {
		if k, v, ok := strings.Cut(l, ": "); ok {
			m[k] = v
		}
	}
	return m
}

func nsinfoInt(t *testing.T, cl *redis.Client, field string) int64 {
	t.Helper()
	v, ok := nsinfo(t, cl)[field]
	if !ok {
		t.Fatalf("NSINFO has no %q", field)
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil {
		t.Fatalf("NSINFO %s = %q: %v", field, v, err)
	}
	return n
}

// isReply reports whether err is a reply from the server (an error reply
// or nil) rather than a transport failure.
func isReply(err error) bool {
	if err == nil || errors.Is(err, redis.Nil) {
		return true
	}
	var re redis.Error
	return errors.As(err, &re)
}

// waitFor polls cond until it holds or the timeout passes.
func waitFor(timeout time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(timeout)
	for {
		if cond() {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(20 * time.Millisecond)
	}
}
