package server_test

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/zerostor/zerostor/internal/zdb/server"
)

// writeHook installs a hook script that appends its arguments, separated
// by '|', as one line of log. extra runs first (it may exit).
func writeHook(t *testing.T, extra string) (hook, log string) {
	t.Helper()
	dir := t.TempDir()
	hook = filepath.Join(dir, "hook.sh")
	log = filepath.Join(dir, "hook.log")
	script := "#!/bin/sh\n" + extra + "\nline=''\nfor a in \"$@\"; do line=\"$line$a|\"; done\necho \"$line\" >> '" + log + "'\n"
	if err := os.WriteFile(hook, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	return hook, log
}

// hookCalls returns the logged calls, each as its argv[1:].
func hookCalls(t *testing.T, log string) [][]string {
	t.Helper()
	b, err := os.ReadFile(log)
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	var out [][]string
	for line := range strings.SplitSeq(strings.TrimSpace(string(b)), "\n") {
		if line != "" {
			out = append(out, strings.Split(strings.TrimSuffix(line, "|"), "|"))
		}
	}
	return out
}

// waitHook waits for a call of event and returns its arguments after the
// instance id.
func waitHook(t *testing.T, log, id, event string) []string {
	t.Helper()
	var found []string
	eventually(t, "hook "+event, func() bool {
		for _, call := range hookCalls(t, log) {
			if call[0] == event {
				if len(call) < 2 || call[1] != id {
					t.Fatalf("hook %s: instance id %q, want %q", event, call, id)
				}
				found = call[2:]
				return true
			}
		}
		return false
	})
	return found
}

func TestHooks(t *testing.T) {
	hook, log := writeHook(t, "")
	ts := startServer(t, server.Config{Hook: hook}, false)
	id := "unix://" + ts.sock
	c := ts.conn(t)

	if args := waitHook(t, log, id, "namespaces-init"); !slices.Equal(args, []string{ts.cfg.IndexDir, ts.cfg.DataDir}) {
		t.Errorf("namespaces-init args %q", args)
	}
	if args := waitHook(t, log, id, "ready"); len(args) != 0 {
		t.Errorf("ready args %q", args)
	}
	ok(t, c, "NSNEW", "hk")
	if args := waitHook(t, log, id, "namespace-created"); !slices.Equal(args, []string{"hk"}) {
		t.Errorf("namespace-created args %q", args)
	}
	ok(t, c, "NSSET", "hk", "public", "0")
	if args := waitHook(t, log, id, "namespace-updated"); !slices.Equal(args, []string{"hk"}) {
		t.Errorf("namespace-updated args %q", args)
	}
	ok(t, c, "SELECT", "hk")
	expect(t, c, "k", "SET", "k", "v")
	before := nsInfo(t, c, "hk")["data_current_id"]
	ok(t, c, "NSJUMP")
	after := nsInfo(t, c, "hk")["data_current_id"]
	data := waitHook(t, log, id, "jump-data")
	if len(data) != 2 || !strings.HasPrefix(data[0], filepath.Join(ts.cfg.DataDir, "hk")+"/") ||
		!strings.HasPrefix(data[1], filepath.Join(ts.cfg.DataDir, "hk")+"/") || data[0] == data[1] ||
		!strings.Contains(filepath.Base(data[0]), before) || !strings.Contains(filepath.Base(data[1]), after) {
		t.Errorf("jump-data args %q (files %s -> %s)", data, before, after)
	}
	idx := waitHook(t, log, id, "jump-index")
	if len(idx) < 2 || !strings.HasPrefix(idx[0], filepath.Join(ts.cfg.IndexDir, "hk")+"/") || idx[0] == idx[1] {
		t.Errorf("jump-index args %q", idx)
	}
	// The third argument lists the dirty files: the one just sealed and the
	// new one.
	if len(idx) != 3 || !slices.Contains(strings.Fields(idx[2]), strings.TrimLeft(before, "0")) ||
		!slices.Contains(strings.Fields(idx[2]), strings.TrimLeft(after, "0")) {
		t.Errorf("jump-index dirty list %q, want files %s and %s", idx, before, after)
	}
	ok(t, c, "RELOAD", "hk")
	if args := waitHook(t, log, id, "namespace-reloaded"); !slices.Equal(args, []string{"hk"}) {
		t.Errorf("namespace-reloaded args %q", args)
	}
	ok(t, c, "SELECT", "default")
	ok(t, c, "NSDEL", "hk")
	if args := waitHook(t, log, id, "namespace-deleted"); !slices.Equal(args, []string{"hk"}) {
		t.Errorf("namespace-deleted args %q", args)
	}

	// HOOKS lists the recent runs: [event, [args], pid, start, end, status].
	var created []any
	eventually(t, "namespace-created to finish in HOOKS", func() bool {
		for _, e := range mustArray(t, c, "HOOKS") {
			h, _ := e.([]any)
			if len(h) != 6 {
				t.Fatalf("HOOKS entry %s, want 6 elements", showReply(e))
			}
			if h[0] == "namespace-created" && h[4] != int64(0) {
				created = h
				return true
			}
		}
		return false
	})
	if !replyEqual(created[1], []any{"hk"}) {
		t.Errorf("HOOKS namespace-created args %s", showReply(created[1]))
	}
	pid, _ := created[2].(int64)
	start, _ := created[3].(int64)
	end, _ := created[4].(int64)
	if pid <= 0 || start <= 0 || end < start || created[5] != int64(0) {
		t.Errorf("HOOKS namespace-created: %s", showReply(created))
	}
	for _, e := range mustArray(t, c, "HOOKS") {
		if h := e.([]any); h[0] == "ready" && !replyEqual(h[1], []any{}) {
			t.Errorf("HOOKS ready args %s, want an empty array", showReply(h[1]))
		}
	}

	// Shutdown: namespace-closing for each namespace, then close.
	if err := ts.stop(); err != nil {
		t.Fatalf("Serve: %v", err)
	}
	if args := waitHook(t, log, id, "close"); len(args) != 0 {
		t.Errorf("close args %q", args)
	}
	closing := waitHook(t, log, id, "namespace-closing")
	if len(closing) != 4 || closing[0] != "default" {
		t.Errorf("namespace-closing args %q", closing)
	}
}

func TestHookInstanceIDOverTCP(t *testing.T) {
	hook, log := writeHook(t, "")
	ts := startServer(t, server.Config{Hook: hook}, true)
	waitHook(t, log, "tcp://"+ts.tcp, "ready")
}

func TestFailingReadyHookAbortsStart(t *testing.T) {
	hook, _ := writeHook(t, `[ "$1" = ready ] && exit 3`)
	dir := shortTempDir(t)
	srv, err := server.New(server.Config{
		DataDir: dir + "/d", IndexDir: dir + "/i", Socket: dir + "/s", Hook: hook, Logger: testLogger(),
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Listen(); err != nil {
		t.Fatal(err)
	}
	if err := srv.Serve(context.Background()); err == nil || !strings.Contains(err.Error(), "ready hook") {
		t.Fatalf("Serve with a failing ready hook: %v", err)
	}
	if _, err := os.Stat(dir + "/s"); !os.IsNotExist(err) {
		t.Errorf("socket left behind: %v", err)
	}
}

func TestFailingInitHookAbortsNew(t *testing.T) {
	hook, _ := writeHook(t, `[ "$1" = namespaces-init ] && exit 1`)
	dir := t.TempDir()
	_, err := server.New(server.Config{DataDir: dir + "/d", IndexDir: dir + "/i", Hook: hook, Logger: testLogger()})
	if err == nil || !strings.Contains(err.Error(), "namespaces-init") {
		t.Fatalf("New with a failing namespaces-init hook: %v", err)
	}
}
