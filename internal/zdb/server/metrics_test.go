package server_test

import (
	"io"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/zerostor/zerostor/internal/zdb/server"
)

func httpGet(t *testing.T, url string) (int, string) {
	t.Helper()
	cl := &http.Client{Timeout: ioTimeout}
	resp, err := cl.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	return resp.StatusCode, string(b)
}

func TestMetrics(t *testing.T) {
	addr := freeAddr(t)
	ts := startServer(t, server.Config{MetricsAddr: addr}, false)
	c := ts.conn(t)
	expect(t, c, "a", "SET", "a", "12345")
	expect(t, c, "b", "SET", "b", "678")
	expect(t, c, "12345", "GET", "a")
	expect(t, c, replyErr("Command not supported"), "NOPE")
	expect(t, c, replyErr("Key not found"), "DEL", "zz")
	ok(t, c, "NSNEW", "m2")

	code, body := httpGet(t, "http://"+addr+"/health")
	if code != 200 || strings.TrimSpace(body) != "ok" {
		t.Errorf("/health: %d %q", code, body)
	}
	code, body = httpGet(t, "http://"+addr+"/metrics")
	if code != 200 {
		t.Fatalf("/metrics: status %d", code)
	}
	for _, want := range []string{
		`zdb_commands_total{command="SET"} 2`,
		`zdb_commands_total{command="GET"} 1`,
		`zdb_command_errors_total{command="DEL"} 1`,
		`zdb_namespace_entries{namespace="default"} 2`,
		`zdb_namespace_entries{namespace="m2"} 0`,
		`zdb_namespace_data_size_bytes{namespace="default"} 8`,
		`zdb_command_duration_seconds_count{command="SET"} 2`,
		`zdb_command_duration_seconds_bucket{command="SET",le="+Inf"} 2`,
		`# TYPE zdb_command_duration_seconds histogram`,
		`zdb_connections 1`,
	} {
		if !strings.Contains(body, want+"\n") {
			t.Errorf("/metrics lacks %q", want)
		}
	}
	// Unknown commands: NOPE, and go-redis's HELLO.
	if !regexp.MustCompile(`\nzdb_command_errors_total\{command="UNKNOWN"\} [1-9]`).MatchString(body) {
		t.Error("/metrics does not count unknown commands")
	}
	if !regexp.MustCompile(`zdb_command_duration_seconds_sum\{command="SET"\} [0-9.e+-]+\n`).MatchString(body) {
		t.Error("/metrics lacks the SET duration sum")
	}
	for _, name := range []string{"zdb_network_rx_bytes_total", "zdb_protocol_errors_total", "zdb_rejected_connections_total", "go_goroutines"} {
		if !strings.Contains(body, "\n"+name+" ") {
			t.Errorf("/metrics lacks %s", name)
		}
	}

	// Protocol errors and rejected connections are counted.
	rc := ts.raw(t)
	rc.write("+bad\r\n")
	rc.read()
	rc.expectClosed()
	eventually(t, "zdb_protocol_errors_total 1", func() bool {
		_, body := httpGet(t, "http://"+addr+"/metrics")
		return strings.Contains(body, "\nzdb_protocol_errors_total 1\n")
	})

	// The metrics server stops with the daemon.
	ts.stop()
	cl := &http.Client{Timeout: 5 * time.Second}
	if resp, err := cl.Get("http://" + addr + "/health"); err == nil {
		resp.Body.Close()
		t.Error("metrics still served after shutdown")
	}
}
