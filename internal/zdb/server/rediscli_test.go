package server_test

import (
	"context"
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/zerostor/zerostor/internal/zdb/server"
)

func redisCLI(t *testing.T) string {
	t.Helper()
	path, err := exec.LookPath("redis-cli")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("redis-cli is required in CI: %v", err)
		}
		t.Skip("redis-cli not installed")
	}
	return path
}

// TestRedisCLI drives the daemon with the stock redis-cli, over the unix
// socket and over TCP.
func TestRedisCLI(t *testing.T) {
	cli := redisCLI(t)
	ts := startServer(t, server.Config{DualNet: true}, true)
	_, port, _ := strings.Cut(ts.tcp, ":")

	runCLI := func(conn []string, args ...string) string {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), ioTimeout)
		defer cancel()
		cmd := exec.CommandContext(ctx, cli, append(conn, args...)...)
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("redis-cli %q: %v\n%s", args, err, out)
		}
		return strings.TrimRight(string(out), "\n")
	}
	sock := []string{"-s", ts.sock}
	tcp := []string{"-h", "127.0.0.1", "-p", port}

	for _, conn := range [][]string{tcp, sock} {
		for _, tc := range []struct {
			args []string
			want string
		}{
			{[]string{"PING"}, "PONG"},
			{[]string{"SET", "cli-key", "cli value " + conn[0]}, "cli-key"},
			{[]string{"GET", "cli-key"}, "cli value " + conn[0]},
			{[]string{"SET", "cli-key", "cli value " + conn[0]}, ""}, // nil: unchanged
			{[]string{"EXISTS", "cli-key"}, "1"},
			{[]string{"LENGTH", "cli-key"}, "12"},
			{[]string{"GET", "missing"}, ""},
			{[]string{"NOPE"}, "Command not supported"},
		} {
			if got := runCLI(conn, tc.args...); got != tc.want {
				t.Errorf("redis-cli %s %q: got %q, want %q", conn[0], tc.args, got, tc.want)
			}
		}
	}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"NSNEW", "clins"}, "OK"},
		{[]string{"NSNEW", "clins"}, "This namespace is not available"},
		{[]string{"NSLIST"}, "default\nclins"},
		{[]string{"DBSIZE"}, "1"},
		{[]string{"DEL", "cli-key"}, "OK"},
		{[]string{"DEL", "cli-key"}, "Key not found"},
		{[]string{"NSDEL", "clins"}, "OK"},
	} {
		if got := runCLI(sock, tc.args...); got != tc.want {
			t.Errorf("redis-cli %q: got %q, want %q", tc.args, got, tc.want)
		}
	}
	info := runCLI(sock, "NSINFO", "default")
	if !strings.Contains(info, "mode: userkey") || !strings.Contains(info, "name: default") {
		t.Errorf("redis-cli NSINFO default:\n%s", info)
	}
	if got := runCLI(sock, "TIME"); len(strings.Split(got, "\n")) != 2 {
		t.Errorf("redis-cli TIME: %q", got)
	}
	// The interactive mode probes COMMAND DOCS and must cope with the error.
	ctx, cancel := context.WithTimeout(context.Background(), ioTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, cli, "-s", ts.sock)
	cmd.Stdin = strings.NewReader("SET piped yes\nGET piped\n")
	out, err := cmd.CombinedOutput()
	if err != nil || strings.TrimSpace(string(out)) != "piped\nyes" {
		t.Errorf("redis-cli with commands on stdin: %v %q", err, out)
	}
}
