package server_test

import (
	"strings"
	"testing"

	"github.com/zerostor/zerostor/internal/zdb/server"
)

type step struct {
	args []any
	want any
}

func run(t *testing.T, c doer, steps []step) {
	t.Helper()
	for _, s := range steps {
		expect(t, c, s.want, s.args...)
	}
}

func TestNamespaceLifecycle(t *testing.T) {
	ts := startServer(t, server.Config{}, false)
	c := ts.conn(t)
	long := strings.Repeat("n", 129)
	run(t, c, []step{
		{[]any{"NSLIST"}, []string{"default"}},
		{[]any{"NSNEW", "ns1"}, "OK"},
		{[]any{"NSNEW", "ns1"}, replyErr("This namespace is not available")},
		{[]any{"NSNEW", "default"}, replyErr("This name is not allowed")},
		{[]any{"NSNEW", "../../hello"}, replyErr("This name is not allowed")},
		{[]any{"NSNEW", "a/b"}, replyErr("This name is not allowed")},
		{[]any{"NSNEW", "."}, replyErr("This name is not allowed")},
		{[]any{"NSNEW", ".."}, replyErr("This name is not allowed")},
		{[]any{"NSNEW", long}, replyErr("Namespace too long")},
		{[]any{"NSNEW", strings.Repeat("n", 128)}, "OK"},
		{[]any{"NSNEW"}, replyErr("Unexpected arguments")},
		{[]any{"NSNEW", "a", "b"}, replyErr("Unexpected arguments")},
		{[]any{"NSNEW", ""}, replyErr("Invalid argument")},
		{[]any{"NSNEW", "ns2"}, "OK"},
		{[]any{"NSLIST"}, []string{"default", "ns1", strings.Repeat("n", 128), "ns2"}},
		{[]any{"NSINFO"}, replyErr("Unexpected arguments")},
		{[]any{"NSINFO", "nope"}, replyErr("Namespace not found")},
		{[]any{"NSINFO", long}, replyErr("Namespace too long")},
		{[]any{"SELECT"}, replyErr("Invalid argument")},
		{[]any{"SELECT", "nope"}, replyErr("Namespace not found")},
		{[]any{"SELECT", long}, replyErr("Namespace too long")},
		// NSDEL errors, in the spec's order.
		{[]any{"NSDEL"}, replyErr("Unexpected arguments")},
		{[]any{"NSDEL", "ns1", "extra"}, replyErr("Unexpected arguments")},
		{[]any{"NSDEL", long}, replyErr("Namespace too long")},
		{[]any{"NSDEL", "default"}, replyErr("Cannot remove default namespace")},
		{[]any{"NSDEL", "nope"}, replyErr("This namespace doesn't exists")},
		{[]any{"SELECT", "ns1"}, "OK"},
		{[]any{"SET", "k", "v"}, "k"},
		{[]any{"NSDEL", "ns1"}, replyErr("Cannot remove namespace you're currently using.")},
		{[]any{"SELECT", "default"}, "OK"},
		{[]any{"NSDEL", "ns1"}, "OK"}, // not empty: still deleted
		{[]any{"NSINFO", "ns1"}, replyErr("Namespace not found")},
		{[]any{"SELECT", "ns1"}, replyErr("Namespace not found")},
		{[]any{"NSLIST"}, []string{"default", strings.Repeat("n", 128), "ns2"}},
		// A deleted name can be created again, empty.
		{[]any{"NSNEW", "ns1"}, "OK"},
		{[]any{"SELECT", "ns1"}, "OK"},
		{[]any{"GET", "k"}, null},
		{[]any{"DBSIZE"}, 0},
		// RELOAD.
		{[]any{"SET", "k", "v2"}, "k"},
		{[]any{"RELOAD", "ns1"}, "OK"},
		{[]any{"GET", "k"}, "v2"},
		{[]any{"RELOAD", "ns1", "extra"}, replyErr("Unexpected arguments")},
		{[]any{"RELOAD", strings.Repeat("r", 199)}, replyErr("Namespace too long")},
		{[]any{"RELOAD", "nope"}, replyErr("Namespace not found")},
	})
}

func TestNSInfoFields(t *testing.T) {
	ts := startServer(t, server.Config{}, false)
	c := ts.conn(t)
	ok(t, c, "NSNEW", "info")
	text := mustString(t, c, "NSINFO", "info")
	if !strings.HasPrefix(text, "# namespace\n") || !strings.HasSuffix(text, "\n") {
		t.Errorf("NSINFO text framing: %q", text)
	}
	fields, order := parseInfo(t, text)
	// The spec's fields, in the spec's order.
	specOrder := []string{
		"name", "entries", "public", "worm", "locked", "password",
		"data_size_bytes", "data_size_mb", "data_limits_bytes", "index_size_bytes", "index_size_kb",
		"next_internal_id", "mode",
		"stats_index_io_errors", "stats_index_io_error_last", "stats_index_faults",
		"stats_data_io_errors", "stats_data_io_error_last", "stats_data_faults",
		"index_disk_freespace_bytes", "index_disk_freespace_mb", "data_disk_freespace_bytes", "data_disk_freespace_mb",
		"data_current_id", "data_current_offset",
	}
	pos := map[string]int{}
	for i, k := range order {
		pos[k] = i
	}
	last := -1
	for _, k := range specOrder {
		i, found := pos[k]
		if !found {
			t.Errorf("NSINFO lacks %q", k)
			continue
		}
		if i < last {
			t.Errorf("NSINFO field %q out of order", k)
		}
		last = i
	}
	for k, v := range map[string]string{
		"name": "info", "entries": "0", "public": "yes", "worm": "no", "locked": "no",
		"password": "no", "data_size_bytes": "0", "data_size_mb": "0.00", "data_limits_bytes": "0",
		"next_internal_id": "0x00000000", "mode": "userkey",
	} {
		if fields[k] != v {
			t.Errorf("NSINFO %s = %q, want %q", k, fields[k], v)
		}
	}
	if _, found := fields["space_available"]; found {
		t.Error("space_available shown without maxsize")
	}
	if _, found := fields["data_path"]; !found {
		t.Error("data_path missing for an admin")
	}
	if m := nsInfo(t, c, "default")["mode"]; m != "userkey" {
		t.Errorf("default mode: %q", m)
	}

	expect(t, c, "OK", "SELECT", "info")
	expect(t, c, "a", "SET", "a", "12345")
	expect(t, c, "b", "SET", "b", "123")
	expect(t, c, "b", "SET", "b", "1234567")
	ok(t, c, "NSSET", "info", "maxsize", "100")
	ok(t, c, "NSSET", "info", "worm", "1")
	ok(t, c, "NSSET", "info", "password", "pw")
	ok(t, c, "NSSET", "info", "public", "0")
	f := nsInfo(t, c, "info")
	for k, v := range map[string]string{
		"entries": "2", "data_size_bytes": "12", "data_limits_bytes": "100", "space_available": "88",
		"worm": "yes", "password": "yes", "public": "no", "locked": "no",
	} {
		if f[k] != v {
			t.Errorf("NSINFO %s = %q, want %q", k, f[k], v)
		}
	}
	ok(t, c, "NSSET", "info", "lock", "1")
	if f := nsInfo(t, c, "info"); f["locked"] != "yes" {
		t.Errorf("locked = %q after lock", f["locked"])
	}
	ok(t, c, "NSSET", "info", "lock", "0")
	ok(t, c, "NSSET", "info", "freeze", "1")
	if f := nsInfo(t, c, "info"); f["locked"] != "yes" {
		t.Errorf("locked = %q after freeze", f["locked"])
	}
	ok(t, c, "NSSET", "info", "freeze", "0")
	if f := nsInfo(t, c, "info"); f["locked"] != "no" {
		t.Errorf("locked = %q after freeze 0", f["locked"])
	}
	// The persisted settings survive a restart of the namespace.
	ok(t, c, "RELOAD", "info")
	f = nsInfo(t, c, "info")
	if f["worm"] != "yes" || f["password"] != "yes" || f["public"] != "no" || f["data_limits_bytes"] != "100" {
		t.Errorf("settings after RELOAD: %v", f)
	}
}

func TestNSSetValidation(t *testing.T) {
	ts := startServer(t, server.Config{}, false)
	c := ts.conn(t)
	ok(t, c, "NSNEW", "v")
	run(t, c, []step{
		{[]any{"NSSET", "v", "public"}, replyErr("Unexpected arguments")},
		{[]any{"NSSET", "v", "public", "1", "x"}, replyErr("Unexpected arguments")},
		{[]any{"NSSET", "v", "public", ""}, replyErr("Invalid argument")},
		{[]any{"NSSET", strings.Repeat("v", 129), "public", "1"}, replyErr("Namespace too long")},
		{[]any{"NSSET", "v", "password", strings.Repeat("p", 385)}, replyErr("Argument too long")},
		{[]any{"NSSET", "v", strings.Repeat("p", 257), "1"}, replyErr("Argument too long")},
		{[]any{"NSSET", "v", "password", strings.Repeat("p", 119)}, replyErr("Invalid value")},
		{[]any{"NSSET", "v", "password", strings.Repeat("p", 64)}, replyErr("Invalid value")},
		{[]any{"NSSET", "v", "password", strings.Repeat("p", 63)}, "OK"},
		{[]any{"NSSET", "default", "public", "0"}, replyErr("Cannot update default namespace")},
		{[]any{"NSSET", "default", "maxsize", "10"}, replyErr("Cannot update default namespace")},
		{[]any{"NSSET", "default", "password", "x"}, replyErr("Cannot update default namespace")},
		{[]any{"NSSET", "nope", "public", "1"}, replyErr("Namespace not found")},
		{[]any{"NSSET", "v", "bogus", "1"}, replyErr("Invalid property")},
		{[]any{"NSSET", "v", "PUBLIC", "1"}, replyErr("Invalid property")},
		{[]any{"NSSET", "v", "password", "*"}, "OK"},
	})
	if f := nsInfo(t, c, "v"); f["password"] != "no" {
		t.Errorf("password %q after clearing it with *", f["password"])
	}
	// maxsize parses like atoll: non-numeric is 0 (unlimited).
	ok(t, c, "NSSET", "v", "maxsize", "12abc")
	if f := nsInfo(t, c, "v"); f["data_limits_bytes"] != "12" {
		t.Errorf("maxsize 12abc: %q", f["data_limits_bytes"])
	}
	ok(t, c, "NSSET", "v", "maxsize", "abc")
	if f := nsInfo(t, c, "v"); f["data_limits_bytes"] != "0" {
		t.Errorf("maxsize abc: %q", f["data_limits_bytes"])
	}
	// Booleans: the first character '1' means true.
	ok(t, c, "NSSET", "v", "public", "10")
	if f := nsInfo(t, c, "v"); f["public"] != "yes" {
		t.Errorf("public 10: %q", f["public"])
	}
	ok(t, c, "NSSET", "v", "public", "yes")
	if f := nsInfo(t, c, "v"); f["public"] != "no" {
		t.Errorf("public yes: %q", f["public"])
	}
}

func TestSelectPasswords(t *testing.T) {
	ts := startServer(t, server.Config{}, false)
	admin := ts.conn(t)
	ok(t, admin, "NSNEW", "sec")
	ok(t, admin, "SELECT", "sec")
	expect(t, admin, "k", "SET", "k", "secret value")
	ok(t, admin, "NSSET", "sec", "password", "helloworld")

	c := ts.conn(t)
	run(t, c, []step{
		// Public with a password: read-only without it.
		{[]any{"SELECT", "sec"}, "OK"},
		{[]any{"GET", "k"}, "secret value"},
		{[]any{"SET", "k", "x"}, replyErr("Namespace is in read-only mode")},
		{[]any{"SET", "new", "x"}, replyErr("Namespace is in read-only mode")},
		{[]any{"DEL", "k"}, replyErr("Namespace is in read-only mode")},
		{[]any{"FLUSH"}, replyErr("Flushing public namespace denied")},
		// Wrong passwords, including prefixes and extensions.
		{[]any{"SELECT", "sec", "hellowo"}, replyErr("Access denied")},
		{[]any{"SELECT", "sec", "helloworldhello"}, replyErr("Access denied")},
		{[]any{"SELECT", "sec", "HELLOWORLD"}, replyErr("Access denied")},
		{[]any{"SELECT", "sec", strings.Repeat("p", 256)}, replyErr("Password too long")},
		{[]any{"SELECT", "sec", "a", "b", "c"}, replyErr("Too many arguments")},
		{[]any{"SELECT", "sec", "FOO", "x"}, replyErr("Only SECURE extra method supported")},
		{[]any{"SELECT", "sec", "SECURE", strings.Repeat("0", 40)}, replyErr("No CHALLENGE requested, secure authentication not available")},
		// A failed SELECT keeps the connection where it was (read-only).
		{[]any{"SET", "k", "x"}, replyErr("Namespace is in read-only mode")},
		{[]any{"SELECT", "sec", "helloworld"}, "OK"},
		{[]any{"SET", "k", "rw"}, "k"},
		// SELECT of the current namespace resets writable.
		{[]any{"SELECT", "sec"}, "OK"},
		{[]any{"SET", "k", "x"}, replyErr("Namespace is in read-only mode")},
		// A namespace without password is always writable.
		{[]any{"SELECT", "default", "whatever"}, "OK"},
		{[]any{"SET", "d", "x"}, "d"},
	})

	// SECURE: sha1("<nonce>:<password>").
	nonce := mustString(t, c, "AUTH", "SECURE", "CHALLENGE")
	if len(nonce) != 16 || strings.Trim(nonce, "0123456789abcdef") != "" {
		t.Fatalf("challenge %q: want 16 lowercase hex characters", nonce)
	}
	expect(t, c, replyErr("Invalid hash length"), "SELECT", "sec", "SECURE", "abc")
	expect(t, c, replyErr("Access denied"), "SELECT", "sec", "secure", secureHash(nonce, "wrong"))
	nonce = mustString(t, c, "AUTH", "SECURE", "CHALLENGE")
	expect(t, c, replyErr("Access denied"), "SELECT", "sec", "SECURE", strings.ToUpper(secureHash(nonce, "helloworld")))
	nonce = mustString(t, c, "AUTH", "SECURE", "CHALLENGE")
	expect(t, c, "OK", "SELECT", "sec", "SECURE", secureHash(nonce, "helloworld"))
	expect(t, c, "k", "SET", "k", "via secure")

	// Private: no password, no access.
	ok(t, admin, "NSSET", "sec", "public", "0")
	c2 := ts.conn(t)
	run(t, c2, []step{
		{[]any{"SELECT", "sec"}, replyErr("Namespace protected and private")},
		{[]any{"GET", "k"}, null}, // still in default
		{[]any{"SELECT", "sec", "helloworld"}, "OK"},
		{[]any{"GET", "k"}, "via secure"},
	})
	// Being admin does not bypass a namespace password.
	expect(t, ts.conn(t), replyErr("Namespace protected and private"), "SELECT", "sec")
}

func TestWormMode(t *testing.T) {
	ts := startServer(t, server.Config{}, false)
	c := ts.conn(t)
	ok(t, c, "NSNEW", "w")
	ok(t, c, "SELECT", "w")
	expect(t, c, "a", "SET", "a", "1")
	expect(t, c, "gone", "SET", "gone", "1")
	ok(t, c, "DEL", "gone")
	ok(t, c, "NSSET", "w", "worm", "1")
	run(t, c, []step{
		{[]any{"SET", "a", "2"}, replyErr("Namespace is protected by worm mode")},
		{[]any{"SET", "a", "1"}, replyErr("Namespace is protected by worm mode")},
		{[]any{"GET", "a"}, "1"},
		{[]any{"DEL", "a"}, replyErr("Cannot delete a key when namespace is in worm mode")},
		{[]any{"DEL", "missing"}, replyErr("Key not found")},
		{[]any{"SET", "b", "new"}, "b"},
		{[]any{"SET", "gone", "back"}, "gone"},
		{[]any{"SET", "gone", "again"}, replyErr("Namespace is protected by worm mode")},
		{[]any{"GET", "gone"}, "back"},
		{[]any{"NSSET", "w", "worm", "0"}, "OK"},
		{[]any{"SET", "a", "2"}, "a"},
		{[]any{"DEL", "a"}, "OK"},
	})
}

func TestLockAndFreeze(t *testing.T) {
	ts := startServer(t, server.Config{}, false)
	c := ts.conn(t)
	other := ts.conn(t)
	ok(t, c, "NSNEW", "l")
	ok(t, c, "SELECT", "l")
	ok(t, other, "SELECT", "l")
	expect(t, c, "k", "SET", "k", "v")
	cur := mustString(t, c, "KEYCUR", "k")

	const locked = "Namespace is temporarily locked (read-only)"
	const frozen = "Namespace is temporarily frozen (read-write disabled)"
	ok(t, c, "NSSET", "l", "lock", "1")
	run(t, other, []step{
		{[]any{"GET", "k"}, "v"},
		{[]any{"EXISTS", "k"}, 1},
		{[]any{"MGET", "k"}, []any{"v"}},
		{[]any{"SET", "k", "x"}, replyErr(locked)},
		{[]any{"SET", "n", "x"}, replyErr(locked)},
		{[]any{"DEL", "k"}, replyErr(locked)},
		{[]any{"SELECT", "l"}, "OK"},
	})
	ok(t, c, "NSSET", "l", "lock", "0")
	expect(t, other, "k", "SET", "k", "v2")

	ok(t, c, "NSSET", "l", "freeze", "1")
	run(t, other, []step{
		{[]any{"GET", "k"}, replyErr(frozen)},
		{[]any{"MGET", "k"}, replyErr(frozen)},
		{[]any{"EXISTS", "k"}, replyErr(frozen)},
		{[]any{"CHECK", "k"}, replyErr(frozen)},
		{[]any{"LENGTH", "k"}, replyErr(frozen)},
		{[]any{"KEYTIME", "k"}, replyErr(frozen)},
		{[]any{"KEYCUR", "k"}, replyErr(frozen)},
		{[]any{"HISTORY", "k"}, replyErr(frozen)},
		{[]any{"SCAN"}, replyErr(frozen)},
		{[]any{"SCANX", cur}, replyErr(frozen)},
		{[]any{"RSCAN"}, replyErr(frozen)},
		{[]any{"HASH", "k"}, replyErr(frozen)},
		{[]any{"PROOF", "k", "0"}, replyErr(frozen)},
		{[]any{"SET", "k", "x"}, replyErr(frozen)},
		{[]any{"DEL", "k"}, replyErr(frozen)},
		{[]any{"NSJUMP"}, replyErr(frozen)},
		// Not data commands.
		{[]any{"PING"}, "PONG"},
		{[]any{"DBSIZE"}, 1},
		{[]any{"SELECT", "l"}, "OK"},
	})
	// Lock and freeze share one state: lock 0 unfreezes.
	ok(t, c, "NSSET", "l", "lock", "0")
	expect(t, other, "v2", "GET", "k")
	// Not persisted.
	ok(t, c, "NSSET", "l", "lock", "1")
	ok(t, c, "RELOAD", "l")
	expect(t, other, replyErr(locked), "SET", "k", "x")
}

func TestMaxSize(t *testing.T) {
	ts := startServer(t, server.Config{}, false)
	c := ts.conn(t)
	ok(t, c, "NSNEW", "m")
	ok(t, c, "NSSET", "m", "maxsize", "16")
	ok(t, c, "SELECT", "m")
	const nospace = "No space left on this namespace"
	run(t, c, []step{
		{[]any{"SET", "a", "0123456789"}, "a"}, // 10
		{[]any{"SET", "b", "01234"}, "b"},      // 15
		{[]any{"SET", "c", "0"}, "c"},          // 16: exactly at the limit
		{[]any{"SET", "d", "0"}, replyErr(nospace)},
		{[]any{"SET", "c", "01"}, replyErr(nospace)}, // growing an existing value
		{[]any{"SET", "a", "abcdefghij"}, "a"},       // same-size replacement
		{[]any{"SET", "a", "abcdefghij"}, null},
		// Shrinking 10 -> 5 frees 5 bytes.
		{[]any{"SET", "a", "abcde"}, "a"},
		{[]any{"SET", "e", "012345"}, replyErr(nospace)},
		{[]any{"SET", "e", "01234"}, "e"},
		{[]any{"SET", "f", "0"}, replyErr(nospace)},
		// A delete frees its value.
		{[]any{"DEL", "b"}, "OK"},
		{[]any{"SET", "f", "01234"}, "f"},
		{[]any{"GET", "d"}, null},
	})
	if f := nsInfo(t, c, "m"); f["data_size_bytes"] != "16" || f["space_available"] != "0" {
		t.Errorf("NSINFO after filling: data_size_bytes=%q space_available=%q", f["data_size_bytes"], f["space_available"])
	}
	// Lowering the limit below the current size: writes simply fail.
	ok(t, c, "NSSET", "m", "maxsize", "10")
	expect(t, c, replyErr(nospace), "SET", "g", "x")
	expect(t, c, "abcde", "GET", "a")
	ok(t, c, "NSSET", "m", "maxsize", "0")
	expect(t, c, "g", "SET", "g", strings.Repeat("x", 1000))
}

func TestDefaultMaxSize(t *testing.T) {
	ts := startServer(t, server.Config{MaxSize: 8}, false)
	c := ts.conn(t)
	expect(t, c, "a", "SET", "a", "12345678")
	expect(t, c, replyErr("No space left on this namespace"), "SET", "b", "1")
	if f := nsInfo(t, c, "default"); f["data_limits_bytes"] != "8" {
		t.Errorf("default data_limits_bytes = %q", f["data_limits_bytes"])
	}
}

func TestNamespaceDeletedUnderClient(t *testing.T) {
	ts := startServer(t, server.Config{}, false)
	admin := ts.conn(t)
	ok(t, admin, "NSNEW", "doomed")
	victim := ts.raw(t)
	if r := victim.cmd("SELECT", "doomed"); r.str != "OK" {
		t.Fatalf("SELECT: %v", r)
	}
	if r := victim.cmd("SET", "k", "v"); r.str != "k" {
		t.Fatalf("SET: %v", r)
	}
	ok(t, admin, "NSDEL", "doomed")
	r := victim.cmd("GET", "k")
	if r.kind != '-' || r.str != "Your active namespace is not available anymore (probably removed)." {
		t.Errorf("command after NSDEL: got %v", r)
	}
	victim.expectClosed()
	// A namespace of the same name created afterwards is a new, empty one.
	ok(t, admin, "NSNEW", "doomed")
	ok(t, admin, "SELECT", "doomed")
	expect(t, admin, null, "GET", "k")
}

func TestNamespaceIsolation(t *testing.T) {
	ts := startServer(t, server.Config{}, false)
	a := ts.conn(t)
	b := ts.conn(t)
	ok(t, a, "NSNEW", "other")
	ok(t, b, "SELECT", "other")
	expect(t, a, "shared", "SET", "shared", "in default")
	expect(t, b, "shared", "SET", "shared", "in other")
	expect(t, a, "only-default", "SET", "only-default", "x")
	expect(t, b, "only-other", "SET", "only-other", "y")
	expect(t, b, "only-other2", "SET", "only-other2", "y")

	run(t, a, []step{
		{[]any{"GET", "shared"}, "in default"},
		{[]any{"GET", "only-other"}, null},
		{[]any{"EXISTS", "only-other"}, 0},
		{[]any{"LENGTH", "shared"}, len("in default")},
		{[]any{"MGET", "shared", "only-other", "only-default"}, []any{"in default", null, "x"}},
		{[]any{"KEYCUR", "only-other"}, replyErr("Key not found")},
		{[]any{"HISTORY", "only-other"}, replyErr("Key not found")},
		{[]any{"DEL", "only-other"}, replyErr("Key not found")},
		{[]any{"KSCAN", "only-o"}, replyErr("No keys match")},
		{[]any{"DBSIZE"}, 2},
	})
	run(t, b, []step{
		{[]any{"GET", "shared"}, "in other"},
		{[]any{"GET", "only-default"}, null},
		{[]any{"DBSIZE"}, 3},
	})
	// KSCAN's order is unspecified.
	if r := mustArray(t, b, "KSCAN", "only-"); len(r) != 2 ||
		!(replyEqual(r[1], []string{"only-other", "only-other2"}) || replyEqual(r[1], []string{"only-other2", "only-other"})) {
		t.Errorf("KSCAN only- in other: %s", showReply(r))
	}
	scanKeys := func(c doer) []string {
		var keys []string
		for _, e := range mustArray(t, c, "SCAN")[1].([]any) {
			keys = append(keys, e.([]any)[0].(string))
		}
		return keys
	}
	if got := strings.Join(scanKeys(a), ","); got != "shared,only-default" {
		t.Errorf("SCAN default: %s", got)
	}
	if got := strings.Join(scanKeys(b), ","); got != "shared,only-other,only-other2" {
		t.Errorf("SCAN other: %s", got)
	}
	// A cursor from one namespace is not valid in another.
	cur := mustString(t, b, "KEYCUR", "only-other")
	if r := do(t, a, "SCAN", cur); r != replyErr("Invalid key format") && r != replyErr("No more data") {
		if arr, isArr := r.([]any); isArr {
			for _, e := range arr[1].([]any) {
				if k := e.([]any)[0]; k == "only-other2" || k == "only-other" {
					t.Errorf("SCAN in default with a cursor of other leaked key %q", k)
				}
			}
		}
	}
	ok(t, b, "DEL", "shared")
	expect(t, a, "in default", "GET", "shared")
	ok(t, a, "NSDEL", "other")
	expect(t, a, "in default", "GET", "shared")
}

func TestFlush(t *testing.T) {
	ts := startServer(t, server.Config{}, false)
	c := ts.conn(t)
	expect(t, c, replyErr("Flushing public namespace denied"), "FLUSH")
	ok(t, c, "NSNEW", "f")
	ok(t, c, "SELECT", "f")
	expect(t, c, "k", "SET", "k", "v")
	// No password: denied even when private.
	ok(t, c, "NSSET", "f", "public", "0")
	expect(t, c, replyErr("Flushing public namespace denied"), "FLUSH")
	// Password but public: denied.
	ok(t, c, "NSSET", "f", "public", "1")
	ok(t, c, "NSSET", "f", "password", "pw")
	expect(t, c, replyErr("Flushing public namespace denied"), "FLUSH")
	// Private with a password.
	ok(t, c, "NSSET", "f", "public", "0")
	ok(t, c, "SELECT", "f", "pw")
	ok(t, c, "FLUSH")
	expect(t, c, 0, "DBSIZE")
	expect(t, c, null, "GET", "k")
	expect(t, c, replyErr("No more data"), "SCAN")
	f := nsInfo(t, c, "f")
	if f["password"] != "yes" || f["public"] != "no" || f["entries"] != "0" || f["data_size_bytes"] != "0" {
		t.Errorf("NSINFO after FLUSH: %v", f)
	}
	expect(t, c, "k2", "SET", "k2", "after flush")
	ok(t, c, "RELOAD", "f")
	expect(t, c, null, "GET", "k")
	expect(t, c, "after flush", "GET", "k2")
}
