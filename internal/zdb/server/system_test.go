package server_test

import (
	"context"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/zerostor/zerostor/internal/zdb/server"
)

func TestSystemCommands(t *testing.T) {
	ts := startServer(t, server.Config{}, false)
	c := ts.conn(t)

	for _, tc := range []struct {
		args []any
		want any
	}{
		{[]any{"PING"}, "PONG"},
		{[]any{"ping", "extra", "args"}, "PONG"},
		{[]any{"DBSIZE"}, 0},
		{[]any{"BIPBIPBIP"}, replyErr("Command not supported")},
		{[]any{"COMMAND"}, replyErr("Command not supported")},
		{[]any{"COMMAND", "DOCS"}, replyErr("Command not supported")},
		{[]any{"HELLO", "3"}, replyErr("Command not supported")},
		{[]any{"*"}, replyErr("This is not a valid command")},
		{[]any{""}, replyErr("This is not a valid command")},
		{[]any{"STOP"}, replyErr("Unauthorized")},
		{[]any{"AUTH", "x"}, replyErr("Authentication disabled")},
		{[]any{"PING"}, "PONG"}, // the connection survived the errors
	} {
		expect(t, c, tc.want, tc.args...)
	}

	expect(t, c, "k1", "SET", "k1", "v1")
	expect(t, c, "k2", "SET", "k2", "v2")
	expect(t, c, 2, "DBSIZE")
	ok(t, c, "DEL", "k1")
	expect(t, c, 1, "DBSIZE")
}

func TestTimeAndPingWireFormat(t *testing.T) {
	ts := startServer(t, server.Config{}, false)
	rc := ts.raw(t)

	if r := rc.cmd("PING"); r.kind != '+' || r.str != "PONG" {
		t.Fatalf("PING: got %v, want +PONG", r)
	}
	before := time.Now().Unix()
	r := rc.cmd("TIME")
	after := time.Now().Unix()
	if r.kind != '*' || len(r.arr) != 2 || r.arr[0].kind != '$' || r.arr[1].kind != '$' {
		t.Fatalf("TIME: got %v, want an array of 2 bulk strings", r)
	}
	sec, err := strconv.ParseInt(r.arr[0].str, 10, 64)
	if err != nil || sec < before || sec > after {
		t.Errorf("TIME seconds %q not within [%d, %d]", r.arr[0].str, before, after)
	}
	usec, err := strconv.ParseInt(r.arr[1].str, 10, 64)
	if err != nil || usec < 0 || usec > 999999 || (usec > 0 && strings.HasPrefix(r.arr[1].str, "0")) {
		t.Errorf("TIME microseconds %q: want 0..999999, not zero-padded", r.arr[1].str)
	}
	// Unknown commands are errors without Redis's "ERR " prefix.
	if r := rc.cmd("NOPE"); r.kind != '-' || r.str != "Command not supported" {
		t.Errorf("unknown command: got %v", r)
	}
	// A key echoed by SET is a bulk; a status is a status.
	if r := rc.cmd("SET", "k", "v"); r.kind != '$' || r.str != "k" {
		t.Errorf("SET: got %v, want bulk \"k\"", r)
	}
	if r := rc.cmd("SET", "k", "v"); r.kind != 0 {
		t.Errorf("SET unchanged: got %v, want a null bulk", r)
	}
	if r := rc.cmd("DEL", "k"); r.kind != '+' || r.str != "OK" {
		t.Errorf("DEL: got %v, want +OK", r)
	}
	if r := rc.cmd("AUTH", "SECURE", "CHALLENGE"); r.kind != '+' || len(r.str) != 16 {
		t.Errorf("AUTH SECURE CHALLENGE: got %v, want a 16-char status", r)
	}
}

func TestInfo(t *testing.T) {
	ts := startServer(t, server.Config{}, false)
	c := ts.conn(t)
	expect(t, c, "k", "SET", "k", "value")
	info := mustString(t, c, "INFO")
	if !strings.HasSuffix(info, "\n") || strings.Contains(info, "\r") {
		t.Errorf("INFO must use \\n line ends and end with one: %q", info)
	}
	for _, sec := range []string{"# server\n", "\n\n# clients\n", "\n\n# internals\n", "\n\n# stats\n"} {
		if !strings.Contains(info, sec) {
			t.Errorf("INFO lacks section %q", sec)
		}
	}
	fields, order := parseInfo(t, info)
	want := []string{
		"server_name", "server_revision", "engine_revision", "instance_id", "boot_time", "uptime",
		"clients_lifetime", "sequential_key_size",
		"commands_executed", "commands_failed", "commands_unauthorized",
		"index_disk_read_failed", "index_disk_write_failed", "data_disk_read_failed", "data_disk_write_failed",
		"index_disk_read_bytes", "index_disk_read_mb", "index_disk_write_bytes", "index_disk_write_mb",
		"data_disk_read_bytes", "data_disk_read_mb", "data_disk_write_bytes", "data_disk_write_mb",
		"network_rx_bytes", "network_rx_mb", "network_tx_bytes", "network_tx_mb",
	}
	// The spec's fields come in the spec's order (extra fields may be
	// interleaved).
	pos := map[string]int{}
	for i, k := range order {
		pos[k] = i
	}
	last := -1
	for _, k := range want {
		i, found := pos[k]
		if !found {
			t.Errorf("INFO lacks %q", k)
			continue
		}
		if i < last {
			t.Errorf("INFO field %q out of order", k)
		}
		last = i
	}
	checks := map[string]string{
		"server_name":         "0-db (zdb)",
		"sequential_key_size": "8",
	}
	for k, v := range checks {
		if fields[k] != v {
			t.Errorf("INFO %s = %q, want %q", k, fields[k], v)
		}
	}
	for _, k := range []string{"instance_id", "boot_time", "uptime", "clients_lifetime", "commands_executed", "network_rx_bytes", "data_disk_write_bytes"} {
		if _, err := strconv.ParseUint(fields[k], 10, 64); err != nil {
			t.Errorf("INFO %s = %q, want a number", k, fields[k])
		}
	}
	if n, _ := strconv.Atoi(fields["data_disk_write_bytes"]); n < len("value") {
		t.Errorf("data_disk_write_bytes = %d after a write", n)
	}
	if n, _ := strconv.Atoi(fields["commands_executed"]); n < 2 {
		t.Errorf("commands_executed = %d", n)
	}
	for _, k := range []string{"index_disk_read_mb", "data_disk_write_mb", "network_rx_mb"} {
		if v := fields[k]; !strings.Contains(v, ".") || len(v)-strings.Index(v, ".") != 3 {
			t.Errorf("INFO %s = %q, want %%.2f", k, v)
		}
	}
}

func TestStopWithAdmin(t *testing.T) {
	ts := startServer(t, server.Config{Admin: "root"}, false)
	c := ts.conn(t)
	expect(t, c, replyErr("Unauthorized"), "STOP")
	ok(t, c, "AUTH", "root")
	expect(t, c, "Stopping", "STOP")
	select {
	case err := <-ts.done:
		ts.closed = true
		if err != nil {
			t.Fatalf("Serve after STOP: %v", err)
		}
	case <-time.After(ioTimeout):
		t.Fatal("STOP did not stop the server")
	}
	if err := c.Ping(context.Background()).Err(); err == nil {
		t.Error("connection still served after STOP")
	}
}

func TestProtectRequiresAdmin(t *testing.T) {
	dir := t.TempDir()
	_, err := server.New(server.Config{DataDir: dir + "/d", IndexDir: dir + "/i", Protect: true, Logger: testLogger()})
	if err == nil || !strings.Contains(err.Error(), "protected mode only works with admin password") {
		t.Fatalf("New with Protect and no Admin: %v", err)
	}
}

func TestTCPAndDualNet(t *testing.T) {
	ts := startServer(t, server.Config{}, true)
	if ts.tcp == "" || ts.sock != "" {
		t.Fatalf("want TCP only, got tcp=%q unix=%q", ts.tcp, ts.sock)
	}
	c := ts.conn(t)
	expect(t, c, "PONG", "PING")
	expect(t, c, "k", "SET", "k", "over tcp")
	expect(t, c, "over tcp", "GET", "k")

	dual := startServer(t, server.Config{DualNet: true}, true)
	if dual.tcp == "" || dual.sock == "" {
		t.Fatalf("DualNet: want both listeners, got tcp=%q unix=%q", dual.tcp, dual.sock)
	}
	u := dual.conn(t)
	expect(t, u, "k", "SET", "k", "shared")
	rc := dialRaw(t, "tcp", dual.tcp)
	if r := rc.cmd("GET", "k"); r.kind != '$' || r.str != "shared" {
		t.Errorf("GET over TCP of a key set over the socket: %v", r)
	}
}
