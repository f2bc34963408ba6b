package server_test

import (
	"bufio"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/zerostor/zerostor/internal/zdb/server"
)

// waitAsync runs a WAIT on c in the background.
func waitAsync(t *testing.T, c doer, args ...any) <-chan any {
	ch := make(chan any, 1)
	go func() {
		r, err := tryDo(c, append([]any{"WAIT"}, args...)...)
		if err != nil {
			r = err
		}
		ch <- r
	}()
	return ch
}

// triggerUntil runs the trigger every 50 ms until the waiter answers:
// the waiter may not be parked yet when the first trigger runs.
func triggerUntil(t *testing.T, ch <-chan any, trigger func()) any {
	t.Helper()
	deadline := time.After(pollTimeout)
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case r := <-ch:
			return r
		case <-tick.C:
			trigger()
		case <-deadline:
			t.Fatal("WAIT was not released")
		}
	}
}

func TestWait(t *testing.T) {
	ts := startServer(t, server.Config{}, false)
	waiter := ts.conn(t)
	writer := ts.conn(t)

	run(t, waiter, []step{
		{[]any{"WAIT"}, replyErr("Invalid arguments")},
		{[]any{"WAIT", "SET", "1000", "x"}, replyErr("Invalid arguments")},
		{[]any{"WAIT", "BIPBIP"}, replyErr("Unknown command to watch")},
		{[]any{"WAIT", "SET", "99"}, replyErr("Invalid timeout")},
		{[]any{"WAIT", "SET", "1800001"}, replyErr("Invalid timeout")},
		{[]any{"WAIT", "SET", "abc"}, replyErr("Invalid timeout")},
		{[]any{"WAIT", "SET", "12345678901234567"}, replyErr("Invalid timeout")},
	})

	// Released by another client's SET in the same namespace.
	ch := waitAsync(t, waiter, "SET", "20000")
	r := triggerUntil(t, ch, func() { do(t, writer, "SET", "k", time.Now().String()) })
	if r != "SET" {
		t.Errorf("WAIT SET: got %s, want +SET", showReply(r))
	}
	// Case-insensitive, and the trigger fires even when the command fails.
	ch = waitAsync(t, waiter, "del", "20000")
	r = triggerUntil(t, ch, func() { do(t, writer, "DEL", "nothing-here") })
	if r != "DEL" {
		t.Errorf("WAIT del: got %s, want +DEL", showReply(r))
	}
	// A SET refused before reaching the store still counts.
	ch = waitAsync(t, waiter, "SET", "20000")
	r = triggerUntil(t, ch, func() { do(t, writer, "SET", strings.Repeat("k", 256), "v") })
	if r != "SET" {
		t.Errorf("WAIT SET after a failed SET: got %s, want +SET", showReply(r))
	}
	// A DEL does not release a WAIT SET.
	expect(t, writer, "d", "SET", "d", "v")
	ch = waitAsync(t, waiter, "SET", "300")
	r = triggerUntil(t, ch, func() { do(t, writer, "DEL", "d") })
	if r != replyErr("Timeout") {
		t.Errorf("WAIT SET released by DEL: %s", showReply(r))
	}
	// * matches anything.
	ch = waitAsync(t, waiter, "*", "20000")
	r = triggerUntil(t, ch, func() { do(t, writer, "PING") })
	if r != "PING" {
		t.Errorf("WAIT *: got %s, want +PING", showReply(r))
	}
	// Another command does not release a WAIT SET: it times out.
	start := time.Now()
	ch = waitAsync(t, waiter, "SET", "300")
	stop := time.After(200 * time.Millisecond)
	r = triggerUntil(t, ch, func() {
		select {
		case <-stop:
		default:
			do(t, writer, "GET", "k")
		}
	})
	if r != replyErr("Timeout") {
		t.Errorf("WAIT SET released by GET: %s", showReply(r))
	}
	if el := time.Since(start); el < 250*time.Millisecond {
		t.Errorf("WAIT 300 ms timed out after %v", el)
	}
	// The connection works after a WAIT.
	expect(t, waiter, "PONG", "PING")
	expect(t, waiter, "k2", "SET", "k2", "v")
}

func TestWaitOtherNamespace(t *testing.T) {
	t.Parallel() // mostly waiting on timeouts
	ts := startServer(t, server.Config{}, false)
	waiter := ts.conn(t)
	writer := ts.conn(t)
	sameNS := ts.conn(t)
	ok(t, waiter, "NSNEW", "w")
	ok(t, waiter, "SELECT", "w")
	ok(t, sameNS, "SELECT", "w")

	// SETs in default for the whole wait do not release a waiter in w.
	ch := waitAsync(t, waiter, "SET", "1000")
	r := triggerUntil(t, ch, func() { do(t, writer, "SET", "k", time.Now().String()) })
	if r != replyErr("Timeout") {
		t.Errorf("WAIT in w released by a SET in default: %s", showReply(r))
	}
	// A SET in w does.
	ch = waitAsync(t, waiter, "SET", "20000")
	r = triggerUntil(t, ch, func() { do(t, sameNS, "SET", "k", time.Now().String()) })
	if r != "SET" {
		t.Errorf("WAIT in w: %s", showReply(r))
	}
}

func TestWaitDefaultTimeoutAndShutdown(t *testing.T) {
	t.Parallel() // mostly waiting on timeouts
	ts := startServer(t, server.Config{}, false)
	rc := ts.raw(t)
	start := time.Now()
	rc.write(encode("WAIT", "*"))
	// The default timeout is 5 s.
	if r := rc.read(); r.kind != '-' || r.str != "Timeout" {
		t.Errorf("WAIT * with the default timeout: %v", r)
	}
	if el := time.Since(start); el < 4*time.Second {
		t.Errorf("default WAIT timeout after %v, want about 5 s", el)
	}
	// A client blocked in WAIT does not hold up shutdown.
	rc.write(encode("WAIT", "SET", "60000"))
	time.Sleep(100 * time.Millisecond)
	done := make(chan error, 1)
	go func() { done <- ts.stop() }()
	select {
	case <-done:
	case <-time.After(ioTimeout):
		t.Fatal("shutdown blocked by a WAIT")
	}
}

// A client that disconnects while blocked in WAIT must not keep its slot
// until the (up to 30 min) timeout.
func TestWaitClientDisconnects(t *testing.T) {
	ts := startServer(t, server.Config{MaxClients: 2}, false)
	rc := ts.raw(t)
	rc.write(encode("WAIT", "SET", "1800000"))
	time.Sleep(200 * time.Millisecond)
	rc.nc.Close()
	eventually(t, "two free client slots", func() bool {
		network, addr := ts.network()
		var conns []net.Conn
		defer func() {
			for _, nc := range conns {
				nc.Close()
			}
		}()
		for range 2 {
			nc, err := net.DialTimeout(network, addr, ioTimeout)
			if err != nil {
				return false
			}
			conns = append(conns, nc)
			nc.SetDeadline(time.Now().Add(ioTimeout))
			if _, err := io.WriteString(nc, encode("PING")); err != nil {
				return false
			}
			if line, _ := bufio.NewReader(nc).ReadString('\n'); line != "+PONG\r\n" {
				return false
			}
		}
		return true
	})
}

// Commands sent while a WAIT blocks run after it, in order.
func TestWaitThenPipelined(t *testing.T) {
	ts := startServer(t, server.Config{}, false)
	rc := ts.raw(t)
	rc.write(encode("WAIT", "SET", "300"))
	time.Sleep(100 * time.Millisecond)
	rc.write(encode("SET", "k", "v") + encode("GET", "k"))
	for _, want := range []rawReply{{kind: '-', str: "Timeout"}, {kind: '$', str: "k"}, {kind: '$', str: "v"}} {
		if r := rc.read(); r.kind != want.kind || r.str != want.str {
			t.Errorf("got %v, want %v", r, want)
		}
	}
	// Same, with the next command in the same write as the WAIT.
	rc.write(encode("WAIT", "*", "200") + encode("PING"))
	for _, want := range []rawReply{{kind: '-', str: "Timeout"}, {kind: '+', str: "PONG"}} {
		if r := rc.read(); r.kind != want.kind || r.str != want.str {
			t.Errorf("got %v, want %v", r, want)
		}
	}
}
