package server_test

import (
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/zerostor/zerostor/internal/zdb/record"
	"github.com/zerostor/zerostor/internal/zdb/server"
	"github.com/zerostor/zerostor/internal/zdb/store"
)

// TestRestart stops the daemon and starts a new one on the same
// directories: data and persisted settings are back, lock is not.
func TestRestart(t *testing.T) {
	dir := t.TempDir()
	cfg := server.Config{DataDir: filepath.Join(dir, "data"), IndexDir: filepath.Join(dir, "index")}
	ts := startServer(t, cfg, false)
	c := ts.conn(t)
	expect(t, c, "d", "SET", "d", "in default")
	ok(t, c, "NSNEW", "zeta")
	ok(t, c, "NSNEW", "alpha")
	ok(t, c, "NSSET", "alpha", "password", "pw")
	ok(t, c, "NSSET", "alpha", "public", "0")
	ok(t, c, "NSSET", "alpha", "worm", "1")
	ok(t, c, "NSSET", "alpha", "maxsize", "1000")
	ok(t, c, "NSNEW", "seq")
	ok(t, c, "NSSET", "seq", "mode", "seq")
	ok(t, c, "NSSET", "seq", "lock", "1")
	ok(t, c, "SELECT", "alpha", "pw")
	expect(t, c, "a", "SET", "a", "in alpha")
	ok(t, c, "NSJUMP")
	expect(t, c, "b", "SET", "b", "in alpha too")
	ok(t, c, "SELECT", "zeta")
	expect(t, c, "gone", "SET", "gone", "x")
	ok(t, c, "DEL", "gone")
	if err := ts.stop(); err != nil {
		t.Fatal(err)
	}

	ts2 := startServer(t, cfg, false)
	c2 := ts2.conn(t)
	expect(t, c2, []string{"default", "alpha", "seq", "zeta"}, "NSLIST")
	expect(t, c2, "in default", "GET", "d")
	f := nsInfo(t, c2, "alpha")
	for k, v := range map[string]string{"password": "yes", "public": "no", "worm": "yes", "data_limits_bytes": "1000", "entries": "2", "data_size_bytes": "20"} {
		if f[k] != v {
			t.Errorf("alpha after restart: %s = %q, want %q", k, f[k], v)
		}
	}
	if f := nsInfo(t, c2, "seq"); f["mode"] != "sequential" || f["locked"] != "no" {
		t.Errorf("seq after restart: mode %q locked %q", f["mode"], f["locked"])
	}
	expect(t, c2, replyErr("Namespace protected and private"), "SELECT", "alpha")
	ok(t, c2, "SELECT", "alpha", "pw")
	expect(t, c2, []any{"in alpha", "in alpha too"}, "MGET", "a", "b")
	expect(t, c2, replyErr("Namespace is protected by worm mode"), "SET", "a", "x")
	ok(t, c2, "SELECT", "zeta")
	expect(t, c2, null, "GET", "gone")
	expect(t, c2, 0, "DBSIZE")
	ok(t, c2, "SELECT", "seq")
	expect(t, c2, string(make([]byte, 8)), "SET", "", "first")
}

// TestCorruption damages a value on disk: CHECK reports it, GET, HASH and
// PROOF refuse it, SCRUB counts it, other keys are fine.
func TestCorruption(t *testing.T) {
	ts := startServer(t, server.Config{}, false)
	c := ts.conn(t)
	ok(t, c, "NSNEW", "bad")
	ok(t, c, "SELECT", "bad")
	expect(t, c, "good", "SET", "good", "fine value")
	expect(t, c, "victim", "SET", "victim", "value to damage")
	f := nsInfo(t, c, "bad")
	id, _ := strconv.ParseUint(f["data_current_id"], 10, 32)
	path := store.DataPath(f["data_path"], uint32(id))
	off := int64(record.Size(len("good"), len("fine value"))) // the victim's record
	if r := mustArray(t, c, "DATA", "RAW", f["data_current_id"], strconv.FormatInt(off, 10)); r[0] != "victim" {
		t.Fatalf("record at %d: %s", off, showReply(r))
	}
	fh, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	// Flip the last byte of the value.
	pos := off + int64(record.Size(len("victim"), len("value to damage"))) - 1
	b := make([]byte, 1)
	if _, err := fh.ReadAt(b, pos); err != nil || b[0] != 'e' {
		t.Fatalf("byte at %d: %q %v (record layout changed?)", pos, b, err)
	}
	fh.WriteAt([]byte{'E'}, pos)
	fh.Close()

	expect(t, c, 0, "CHECK", "victim")
	expect(t, c, 1, "CHECK", "good")
	if r := do(t, c, "GET", "victim"); r == "value to damagE" {
		t.Error("GET served a corrupt value")
	} else if _, isErr := r.(replyErr); !isErr {
		t.Errorf("GET of a corrupt value: %s, want an error", showReply(r))
	}
	if _, isErr := do(t, c, "HASH", "victim").(replyErr); !isErr {
		t.Error("HASH of a corrupt value: not an error")
	}
	expect(t, c, replyErr("Data corrupted"), "PROOF", "victim", "0")
	expect(t, c, "fine value", "GET", "good")
	if r := mustArray(t, c, "MGET", "good", "victim"); r[0] != "fine value" {
		t.Errorf("MGET with a corrupt value: %s", showReply(r))
	}
	if r := mustArray(t, c, "SCRUB"); len(r) != 3 || r[2] != int64(1) {
		t.Errorf("SCRUB with one damaged record: %s", showReply(r))
	}
	info, _ := parseInfo(t, mustString(t, c, "INFO"))
	if info["data_disk_read_failed"] == "0" {
		t.Error("INFO data_disk_read_failed not counted")
	}
	// Rewriting the key heals it.
	expect(t, c, "victim", "SET", "victim", "new value")
	expect(t, c, 1, "CHECK", "victim")
	expect(t, c, "new value", "GET", "victim")
}
