package server_test

// Test harness: an in-process daemon over real sockets, go-redis clients
// and a raw RESP client for exact wire checks.

import (
	"bufio"
	"context"
	"crypto/sha1"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/zerostor/zerostor/internal/zdb/server"
)

// Generous timeouts: the tests must pass on a loaded 2-core machine.
const (
	ioTimeout   = 30 * time.Second
	pollTimeout = 15 * time.Second
)

type testServer struct {
	t    testing.TB
	srv  *server.Server
	cfg  server.Config
	sock string // unix socket path, "" when TCP only
	tcp  string // TCP address, "" when unix only

	cancel context.CancelFunc
	done   chan error
	err    error
	closed bool
}

// shortTempDir returns a temporary directory with a short path: a unix
// socket path must fit in 108 bytes, which t.TempDir of a subtest may not.
func shortTempDir(t testing.TB) string {
	dir, err := os.MkdirTemp("", "zdbt")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	return dir
}

func testLogger() *slog.Logger {
	if os.Getenv("ZDB_TEST_LOG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

// startServer runs a daemon for the test. Unset directories go to a
// temporary directory; with neither Socket nor tcp set, it listens on a
// unix socket there. useTCP makes it listen on a free loopback TCP port
// (as well as the socket when DualNet is set).
func startServer(t testing.TB, cfg server.Config, useTCP bool) *testServer {
	t.Helper()
	dir := shortTempDir(t)
	if cfg.DataDir == "" {
		cfg.DataDir = filepath.Join(dir, "data")
	}
	if cfg.IndexDir == "" {
		cfg.IndexDir = filepath.Join(dir, "index")
	}
	if !useTCP || cfg.DualNet {
		if cfg.Socket == "" {
			cfg.Socket = filepath.Join(dir, "zdb.sock")
		}
	}
	if useTCP {
		cfg.Listen = "127.0.0.1"
		cfg.Port = 0
	}
	if cfg.Logger == nil {
		cfg.Logger = testLogger()
	}
	if cfg.CompactRatio == 0 {
		cfg.CompactRatio = -1 // no background compaction racing the tests
	}
	srv, err := server.New(cfg)
	if err != nil {
		t.Fatalf("server.New: %v", err)
	}
	if err := srv.Listen(); err != nil {
		t.Fatalf("Listen: %v", err)
	}
	ts := &testServer{t: t, srv: srv, cfg: cfg, done: make(chan error, 1)}
	for _, a := range srv.Addrs() {
		switch a.Network() {
		case "unix":
			ts.sock = a.String()
		case "tcp":
			ts.tcp = a.String()
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	ts.cancel = cancel
	go func() { ts.done <- srv.Serve(ctx) }()
	t.Cleanup(func() { ts.stop() })
	return ts
}

// stop shuts the server down and waits for Serve to return.
func (ts *testServer) stop() error {
	if ts.closed {
		return ts.err
	}
	ts.closed = true
	ts.cancel()
	select {
	case ts.err = <-ts.done:
	case <-time.After(ioTimeout):
		ts.t.Errorf("server did not stop within %v", ioTimeout)
	}
	return ts.err
}

// freeAddr returns a loopback address with a port that was free a moment ago.
func freeAddr(t testing.TB) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

func (ts *testServer) network() (string, string) {
	if ts.sock != "" {
		return "unix", ts.sock
	}
	return "tcp", ts.tcp
}

func (ts *testServer) options() *redis.Options {
	network, addr := ts.network()
	return &redis.Options{
		Network:         network,
		Addr:            addr,
		Protocol:        2,
		DisableIdentity: true,
		MaxRetries:      -1,
		DialTimeout:     ioTimeout,
		ReadTimeout:     ioTimeout,
		WriteTimeout:    ioTimeout,
		PoolSize:        4,
	}
}

// client returns a pooled go-redis client. Only use it for commands that
// do not depend on connection state (SELECT, AUTH): see conn.
func (ts *testServer) client(t testing.TB) *redis.Client {
	t.Helper()
	rdb := redis.NewClient(ts.options())
	t.Cleanup(func() { rdb.Close() })
	return rdb
}

// conn returns one dedicated connection, for stateful command sequences.
func (ts *testServer) conn(t testing.TB) connDoer {
	t.Helper()
	o := ts.options()
	o.PoolSize = 1
	rdb := redis.NewClient(o)
	c := rdb.Conn()
	t.Cleanup(func() {
		c.Close()
		rdb.Close()
	})
	if err := c.Ping(context.Background()).Err(); err != nil {
		t.Fatalf("PING on a new connection: %v", err)
	}
	return connDoer{c}
}

// doer runs a command: redis.Client, or a redis.Conn wrapped in connDoer.
type doer interface {
	Do(ctx context.Context, args ...any) *redis.Cmd
}

// connDoer gives redis.Conn (which lacks Do) a Do method.
type connDoer struct{ *redis.Conn }

func (c connDoer) Do(ctx context.Context, args ...any) *redis.Cmd {
	cmd := redis.NewCmd(ctx, args...)
	_ = c.Process(ctx, cmd)
	return cmd
}

// nilReply stands for a null bulk ($-1) in expectations.
type nilReply struct{}

var null = nilReply{}

// do runs a command and returns its reply: string, int64, []any, nil for a
// null bulk, or an error reply as replyErr.
func do(t testing.TB, c doer, args ...any) any {
	t.Helper()
	v, err := tryDo(c, args...)
	if err != nil {
		t.Fatalf("%s: %v", fmtArgs(args), err)
	}
	return v
}

// tryDo is do for other goroutines: a failure (not an error reply) is
// returned.
func tryDo(c doer, args ...any) (any, error) {
	v, err := c.Do(context.Background(), args...).Result()
	switch {
	case errors.Is(err, redis.Nil):
		return null, nil
	case err != nil:
		var re redis.Error
		if errors.As(err, &re) {
			return replyErr(err.Error()), nil
		}
		return nil, err
	}
	return v, nil
}

// replyErr is an error reply's text, for expectations.
type replyErr string

func fmtArgs(args []any) string {
	var parts []string
	for _, a := range args {
		s := fmt.Sprint(a)
		if b, ok := a.([]byte); ok {
			s = string(b)
		}
		if len(s) > 40 {
			s = s[:40] + "..."
		}
		parts = append(parts, strconv.Quote(s))
	}
	return strings.Join(parts, " ")
}

// expect runs a command and checks its reply. want may be a string, an
// int64 or int, null, a replyErr, or a []any of those.
func expect(t testing.TB, c doer, want any, args ...any) {
	t.Helper()
	got := do(t, c, args...)
	if !replyEqual(got, want) {
		t.Errorf("%s: got %s, want %s", fmtArgs(args), showReply(got), showReply(want))
	}
}

func replyEqual(got, want any) bool {
	switch w := want.(type) {
	case int:
		want = int64(w)
	case []byte:
		want = string(w)
	case []any:
		g, ok := got.([]any)
		if !ok || len(g) != len(w) {
			return false
		}
		for i := range w {
			gi := g[i]
			if gi == nil {
				gi = null // go-redis gives nil for a null inside an array
			}
			if !replyEqual(gi, w[i]) {
				return false
			}
		}
		return true
	case []string:
		g, ok := got.([]any)
		if !ok || len(g) != len(w) {
			return false
		}
		for i := range w {
			if g[i] != w[i] {
				return false
			}
		}
		return true
	}
	return reflect.DeepEqual(got, want)
}

func showReply(v any) string {
	switch x := v.(type) {
	case nilReply, nil:
		return "(nil)"
	case replyErr:
		return "error " + strconv.Quote(string(x))
	case string:
		if len(x) > 80 {
			return strconv.Quote(x[:80]) + "..."
		}
		return strconv.Quote(x)
	case []any:
		var parts []string
		for _, e := range x {
			parts = append(parts, showReply(e))
		}
		return "[" + strings.Join(parts, ", ") + "]"
	}
	return fmt.Sprintf("%#v", v)
}

// ok expects +OK.
func ok(t testing.TB, c doer, args ...any) {
	t.Helper()
	expect(t, c, "OK", args...)
}

// mustString runs a command that must reply a string.
func mustString(t testing.TB, c doer, args ...any) string {
	t.Helper()
	got := do(t, c, args...)
	s, isStr := got.(string)
	if !isStr {
		t.Fatalf("%s: got %s, want a string", fmtArgs(args), showReply(got))
	}
	return s
}

// mustInt runs a command that must reply an integer.
func mustInt(t testing.TB, c doer, args ...any) int64 {
	t.Helper()
	got := do(t, c, args...)
	n, isInt := got.(int64)
	if !isInt {
		t.Fatalf("%s: got %s, want an integer", fmtArgs(args), showReply(got))
	}
	return n
}

// mustArray runs a command that must reply an array.
func mustArray(t testing.TB, c doer, args ...any) []any {
	t.Helper()
	got := do(t, c, args...)
	a, isArr := got.([]any)
	if !isArr {
		t.Fatalf("%s: got %s, want an array", fmtArgs(args), showReply(got))
	}
	return a
}

// parseInfo parses INFO/NSINFO text into fields (and keeps their order).
func parseInfo(t testing.TB, text string) (map[string]string, []string) {
	t.Helper()
	fields := map[string]string{}
	var order []string
	for line := range strings.SplitSeq(strings.TrimSuffix(text, "\n"), "\n") {
		if line == "" || strings.HasPrefix(line, "# ") {
			continue
		}
		k, v, found := strings.Cut(line, ": ")
		if !found {
			t.Fatalf("malformed info line %q", line)
		}
		fields[k] = v
		order = append(order, k)
	}
	return fields, order
}

func nsInfo(t testing.TB, c doer, ns string) map[string]string {
	t.Helper()
	f, _ := parseInfo(t, mustString(t, c, "NSINFO", ns))
	return f
}

// secureHash is the answer to a SECURE challenge.
func secureHash(nonce, password string) string {
	sum := sha1.Sum([]byte(nonce + ":" + password))
	return hex.EncodeToString(sum[:])
}

// eventually polls cond until it holds or the poll timeout passes.
func eventually(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(pollTimeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Raw RESP client: exact reply types, malformed input, closed connections.

type rawConn struct {
	t  testing.TB
	nc net.Conn
	r  *bufio.Reader
}

func (ts *testServer) raw(t testing.TB) *rawConn {
	t.Helper()
	network, addr := ts.network()
	return dialRaw(t, network, addr)
}

func dialRaw(t testing.TB, network, addr string) *rawConn {
	t.Helper()
	nc, err := net.DialTimeout(network, addr, ioTimeout)
	if err != nil {
		t.Fatalf("dial %s %s: %v", network, addr, err)
	}
	t.Cleanup(func() { nc.Close() })
	return &rawConn{t: t, nc: nc, r: bufio.NewReader(nc)}
}

func (rc *rawConn) write(s string) {
	rc.t.Helper()
	rc.nc.SetWriteDeadline(time.Now().Add(ioTimeout))
	if _, err := io.WriteString(rc.nc, s); err != nil {
		rc.t.Fatalf("write: %v", err)
	}
}

// encode builds a RESP array of bulk strings.
func encode(args ...string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "*%d\r\n", len(args))
	for _, a := range args {
		fmt.Fprintf(&b, "$%d\r\n%s\r\n", len(a), a)
	}
	return b.String()
}

func (rc *rawConn) cmd(args ...string) rawReply {
	rc.t.Helper()
	rc.write(encode(args...))
	return rc.read()
}

// rawReply is a reply with its RESP type: '+', '-', ':', '$', '*', or 0
// for a null bulk.
type rawReply struct {
	kind byte
	str  string
	n    int64
	arr  []rawReply
}

func (r rawReply) String() string {
	switch r.kind {
	case 0:
		return "(nil)"
	case ':':
		return ":" + strconv.FormatInt(r.n, 10)
	case '*':
		var parts []string
		for _, e := range r.arr {
			parts = append(parts, e.String())
		}
		return "*[" + strings.Join(parts, " ") + "]"
	}
	return string(r.kind) + strconv.Quote(r.str)
}

func (rc *rawConn) read() rawReply {
	rc.t.Helper()
	rc.nc.SetReadDeadline(time.Now().Add(ioTimeout))
	r, err := readReply(rc.r)
	if err != nil {
		rc.t.Fatalf("read reply: %v", err)
	}
	return r
}

func readReply(r *bufio.Reader) (rawReply, error) {
	line, err := r.ReadString('\n')
	if err != nil {
		return rawReply{}, err
	}
	if len(line) < 3 || !strings.HasSuffix(line, "\r\n") {
		return rawReply{}, fmt.Errorf("malformed reply line %q", line)
	}
	kind, body := line[0], line[1:len(line)-2]
	switch kind {
	case '+', '-':
		return rawReply{kind: kind, str: body}, nil
	case ':':
		n, err := strconv.ParseInt(body, 10, 64)
		return rawReply{kind: kind, n: n}, err
	case '$':
		n, err := strconv.Atoi(body)
		if err != nil {
			return rawReply{}, err
		}
		if n < 0 {
			return rawReply{kind: 0}, nil
		}
		buf := make([]byte, n+2)
		if _, err := io.ReadFull(r, buf); err != nil {
			return rawReply{}, err
		}
		return rawReply{kind: kind, str: string(buf[:n])}, nil
	case '*':
		n, err := strconv.Atoi(body)
		if err != nil {
			return rawReply{}, err
		}
		out := rawReply{kind: kind}
		for range n {
			e, err := readReply(r)
			if err != nil {
				return rawReply{}, err
			}
			out.arr = append(out.arr, e)
		}
		return out, nil
	}
	return rawReply{}, fmt.Errorf("unknown reply type %q", line)
}

// expectClosed checks that the server closes the connection (after any
// pending replies) within the poll timeout.
func (rc *rawConn) expectClosed() {
	rc.t.Helper()
	rc.nc.SetReadDeadline(time.Now().Add(pollTimeout))
	b, err := io.ReadAll(rc.r)
	if err != nil {
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			rc.t.Fatalf("connection still open after %v", pollTimeout)
		}
		// A reset also means closed.
	}
	if len(b) > 0 {
		rc.t.Errorf("unexpected data before close: %q", b)
	}
}
