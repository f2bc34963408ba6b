package server_test

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/zerostor/zerostor/internal/zdb/server"
)

func TestMalformedRequests(t *testing.T) {
	ts := startServer(t, server.Config{}, false)
	for _, tc := range []struct {
		name, input, want string // want "" accepts any error text
	}{
		{"not an array", "+1\r\n", "Malformed request, array expected"},
		{"inline command", "PING\r\n", "Malformed request, array expected"},
		{"negative bulk length", "*1\r\n$-5\r\n", ""},
		{"huge bulk length", "*3\r\n$3\r\nSET\r\n$99999999999\r\n", "Payload too big"},
		{"absurd multibulk count", "*999999999999\r\n", "Too many arguments"},
		{"too many arguments", "*1025\r\n", "Too many arguments"},
		{"nested array", "*1\r\n*1\r\n$4\r\nPING\r\n", "Malformed query string"},
		{"integer element", "*1\r\n:1\r\n", "Malformed query string"},
		{"garbage length", "*x\r\n", ""},
		{"bulk without CRLF", "*1\r\n$4\r\nPINGxx", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rc := ts.raw(t)
			rc.write(tc.input)
			r := rc.read()
			if r.kind != '-' || (tc.want != "" && r.str != tc.want) {
				t.Errorf("reply %v, want an error %q", r, tc.want)
			}
			rc.expectClosed()
			// The server still serves new connections.
			if r := ts.raw(t).cmd("PING"); r.str != "PONG" {
				t.Errorf("PING afterwards: %v", r)
			}
		})
	}
}

func TestEmptyMultibulk(t *testing.T) {
	t.Parallel() // mostly waiting on timeouts
	ts := startServer(t, server.Config{}, false)
	rc := ts.raw(t)
	rc.write("*0\r\n")
	rc.nc.SetReadDeadline(time.Now().Add(2 * time.Second))
	line, err := rc.r.ReadString('\n')
	if err != nil {
		t.Fatalf("*0 got no reply: %v", err)
	}
	if line != "-Missing arguments\r\n" {
		t.Errorf("*0: got %q, want -Missing arguments", line)
	}
}

func TestArgumentCap(t *testing.T) {
	ts := startServer(t, server.Config{}, false)
	c := ts.conn(t)
	// 1024 elements (MGET and 1023 keys) are accepted.
	args := []any{"MGET"}
	for i := range 1023 {
		args = append(args, "k"+strconv.Itoa(i))
	}
	if r := mustArray(t, c, args...); len(r) != 1023 {
		t.Errorf("MGET of 1023 keys: %d replies", len(r))
	}
}

func TestByteByByte(t *testing.T) {
	ts := startServer(t, server.Config{}, false)
	rc := ts.raw(t)
	msg := encode("PING") + encode("SET", "k", "v\r\n") + encode("GET", "k")
	for i := range len(msg) {
		rc.write(msg[i : i+1])
		time.Sleep(time.Millisecond)
	}
	for _, want := range []rawReply{{kind: '+', str: "PONG"}, {kind: '$', str: "k"}, {kind: '$', str: "v\r\n"}} {
		if r := rc.read(); r.kind != want.kind || r.str != want.str {
			t.Errorf("got %v, want %v", r, want)
		}
	}
}

func TestClientTimeout(t *testing.T) {
	t.Parallel() // mostly waiting on timeouts
	ts := startServer(t, server.Config{ClientTimeout: 300 * time.Millisecond}, false)
	// A client that starts a command and stalls is dropped.
	rc := ts.raw(t)
	start := time.Now()
	rc.write("*2\r\n$3\r\nGET\r\n")
	rc.expectClosed()
	if el := time.Since(start); el < 250*time.Millisecond {
		t.Errorf("stalled client dropped after %v, before the 300 ms timeout", el)
	}
	// An idle client between commands is not (IdleTimeout is the default).
	idle := ts.raw(t)
	if r := idle.cmd("PING"); r.str != "PONG" {
		t.Fatalf("PING: %v", r)
	}
	time.Sleep(time.Second)
	if r := idle.cmd("PING"); r.str != "PONG" {
		t.Errorf("PING after 1 s idle: %v", r)
	}
}

func TestIdleTimeout(t *testing.T) {
	t.Parallel() // mostly waiting on timeouts
	ts := startServer(t, server.Config{IdleTimeout: time.Second}, false)
	idle := ts.raw(t)
	if r := idle.cmd("PING"); r.str != "PONG" {
		t.Fatalf("PING: %v", r)
	}
	busy := ts.raw(t)
	start := time.Now()
	for time.Since(start) < 2500*time.Millisecond {
		if r := busy.cmd("PING"); r.str != "PONG" {
			t.Fatalf("active client: %v", r)
		}
		time.Sleep(100 * time.Millisecond)
	}
	idle.expectClosed()
	if r := busy.cmd("PING"); r.str != "PONG" {
		t.Errorf("active client after 2.5 s: %v", r)
	}
}

func TestMaxClients(t *testing.T) {
	ts := startServer(t, server.Config{MaxClients: 4}, false)
	var conns []*rawConn
	for range 4 {
		rc := ts.raw(t)
		if r := rc.cmd("PING"); r.str != "PONG" {
			t.Fatalf("PING: %v", r)
		}
		conns = append(conns, rc)
	}
	fifth := ts.raw(t)
	if r := fifth.read(); r.kind != '-' || r.str != "Too many clients connected" {
		t.Errorf("5th connection: %v", r)
	}
	fifth.expectClosed()
	// The first four are unaffected; once one leaves, a new one gets in.
	if r := conns[3].cmd("PING"); r.str != "PONG" {
		t.Errorf("PING on an accepted connection: %v", r)
	}
	conns[0].nc.Close()
	eventually(t, "a free client slot", func() bool {
		network, addr := ts.network()
		nc, err := net.DialTimeout(network, addr, ioTimeout)
		if err != nil {
			return false
		}
		defer nc.Close()
		nc.SetDeadline(time.Now().Add(ioTimeout))
		io.WriteString(nc, encode("PING"))
		line, _ := bufio.NewReader(nc).ReadString('\n')
		return line == "+PONG\r\n"
	})
}

func Test128Connections(t *testing.T) {
	ts := startServer(t, server.Config{}, true)
	var conns []*rawConn
	for range 128 {
		conns = append(conns, dialRaw(t, "tcp", ts.tcp))
	}
	var wg sync.WaitGroup
	var bad atomic.Int32
	for i, rc := range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rc.nc.SetDeadline(time.Now().Add(ioTimeout))
			k := "c" + strconv.Itoa(i)
			io.WriteString(rc.nc, encode("SET", k, k)+encode("GET", k))
			for _, want := range []string{"$" + strconv.Itoa(len(k)), k, "$" + strconv.Itoa(len(k)), k} {
				line, err := rc.r.ReadString('\n')
				if err != nil || line != want+"\r\n" {
					bad.Add(1)
					return
				}
			}
		}()
	}
	wg.Wait()
	if n := bad.Load(); n > 0 {
		t.Errorf("%d of 128 simultaneous connections failed", n)
	}
	info, _ := parseInfo(t, mustString(t, ts.client(t), "INFO"))
	if n, _ := strconv.Atoi(info["clients_lifetime"]); n < 128 {
		t.Errorf("clients_lifetime = %d", n)
	}
}

// TestFlood writes 50 MB of pipelined SETs without reading the replies for
// a while, then reads them all: memory must stay bounded (the server stops
// reading while its replies are not read) and every reply must be right.
func TestFlood(t *testing.T) {
	if testing.Short() {
		t.Skip("50 MB flood")
	}
	ts := startServer(t, server.Config{}, false)
	rc := ts.raw(t)
	const (
		valSize = 4096
		total   = 50 << 20
		n       = total / valSize
	)
	val := strings.Repeat("0123456789abcdef", valSize/16)
	var peak atomic.Uint64
	stopSampling := make(chan struct{})
	sampled := make(chan struct{})
	go func() {
		defer close(sampled)
		var ms runtime.MemStats
		for {
			runtime.ReadMemStats(&ms)
			if ms.HeapInuse > peak.Load() {
				peak.Store(ms.HeapInuse)
			}
			select {
			case <-stopSampling:
				return
			case <-time.After(20 * time.Millisecond):
			}
		}
	}()
	writeErr := make(chan error, 1)
	var written atomic.Int64
	go func() {
		w := bufio.NewWriterSize(rc.nc, 256<<10)
		rc.nc.SetWriteDeadline(time.Now().Add(2 * time.Minute))
		for i := range n {
			k := "flood-" + strconv.Itoa(i)
			fmt.Fprintf(w, "*3\r\n$3\r\nSET\r\n$%d\r\n%s\r\n$%d\r\n%s\r\n", len(k), k, len(val), val)
			written.Add(1)
		}
		writeErr <- w.Flush()
	}()
	// Not reading: the writer gets stuck once the buffers are full, or
	// finishes if everything fits. Either way, wait a while.
	time.Sleep(time.Second)
	rc.nc.SetReadDeadline(time.Now().Add(2 * time.Minute))
	for i := range n {
		k := "flood-" + strconv.Itoa(i)
		r, err := readReply(rc.r)
		if err != nil {
			t.Fatalf("reply %d (of %d, %d written): %v", i, n, written.Load(), err)
		}
		if r.kind != '$' || r.str != k {
			t.Fatalf("reply %d: %v, want %q", i, r, k)
		}
	}
	if err := <-writeErr; err != nil {
		t.Fatalf("writing: %v", err)
	}
	close(stopSampling)
	<-sampled
	if p := peak.Load(); p > 200<<20 {
		t.Errorf("heap in use peaked at %d MiB during a 50 MB flood", p>>20)
	} else {
		t.Logf("peak heap in use: %d MiB", p>>20)
	}
	c := ts.conn(t)
	expect(t, c, n, "DBSIZE")
	for _, i := range []int{0, n / 2, n - 1} {
		expect(t, c, val, "GET", "flood-"+strconv.Itoa(i))
	}
}

// A client that vanishes in the middle of a big pipeline must not hurt the
// server.
func TestClientVanishes(t *testing.T) {
	ts := startServer(t, server.Config{}, false)
	rc := ts.raw(t)
	var b strings.Builder
	for i := range 2000 {
		b.WriteString(encode("SET", "v"+strconv.Itoa(i), strings.Repeat("x", 1000)))
	}
	rc.write(b.String())
	rc.nc.Close()
	c := ts.conn(t)
	expect(t, c, "PONG", "PING")
	// Whatever got written is intact.
	n := mustInt(t, c, "DBSIZE")
	if n > 2000 {
		t.Fatalf("DBSIZE %d", n)
	}
	for _, e := range scanAll(t, c, "SCAN") {
		if e.size != 1000 {
			t.Errorf("key %s: size %d", e.key, e.size)
		}
	}
}

// A client that never reads its replies is dropped after ClientTimeout
// instead of pinning the server's buffers forever.
func TestSlowReaderDropped(t *testing.T) {
	ts := startServer(t, server.Config{ClientTimeout: 300 * time.Millisecond}, false)
	c := ts.conn(t)
	expect(t, c, "big", "SET", "big", strings.Repeat("x", 4<<20))
	rc := ts.raw(t)
	var b strings.Builder
	for range 16 {
		b.WriteString(encode("GET", "big"))
	}
	rc.write(b.String()) // 64 MiB of replies, never read
	connected := func() int {
		info, _ := parseInfo(t, mustString(t, c, "INFO"))
		n, _ := strconv.Atoi(info["clients_connected"])
		return n
	}
	eventually(t, "the slow reader to be dropped", func() bool { return connected() == 1 })
	expect(t, c, "PONG", "PING")
}

// Replies to commands that precede a protocol error are sent before the
// error.
func TestRepliesBeforeProtocolError(t *testing.T) {
	ts := startServer(t, server.Config{}, false)
	rc := ts.raw(t)
	rc.write(encode("SET", "a", "1") + encode("PING") + encode("SET", "b", "2") + "*1\r\n*1\r\n")
	for _, want := range []rawReply{{kind: '$', str: "a"}, {kind: '+', str: "PONG"}, {kind: '$', str: "b"}, {kind: '-', str: "Malformed query string"}} {
		if r := rc.read(); r.kind != want.kind || r.str != want.str {
			t.Errorf("got %v, want %v", r, want)
		}
	}
	rc.expectClosed()
	c := ts.conn(t)
	expect(t, c, []any{"1", "2"}, "MGET", "a", "b")
}
