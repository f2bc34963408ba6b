package server_test

import (
	"strings"
	"testing"

	"github.com/zerostor/zerostor/internal/zdb/server"
)

func TestSecureHashWorkedExample(t *testing.T) {
	// From the upstream README (docs/0db-protocol.md §1 AUTH).
	if got := secureHash("708f109fbef4d656", "helloworld"); got != "5af26c9c8bf4db0b342c42fc47e3bdae58da4578" {
		t.Fatalf("secureHash = %s", got)
	}
}

func TestAdminPassword(t *testing.T) {
	ts := startServer(t, server.Config{Admin: "root"}, false)
	c := ts.conn(t)
	const denied = "Permission denied"
	run(t, c, []step{
		// Everything admin-only is refused before AUTH.
		{[]any{"NSNEW", "x"}, replyErr(denied)},
		{[]any{"NSDEL", "x"}, replyErr(denied)},
		{[]any{"NSSET", "x", "public", "1"}, replyErr(denied)},
		{[]any{"RELOAD", "default"}, replyErr(denied)},
		{[]any{"HOOKS"}, replyErr(denied)},
		{[]any{"INDEX", "DIRTY"}, replyErr(denied)},
		{[]any{"INDEX"}, replyErr(denied)}, // admin is checked first
		{[]any{"DATA", "RAW", "1", "0"}, replyErr(denied)},
		{[]any{"NSJUMP"}, replyErr(denied)},
		{[]any{"SCRUB"}, replyErr(denied)},
		{[]any{"COMPACT"}, replyErr(denied)},
		{[]any{"SET", "k", "v", "1700000000"}, replyErr(denied)},
		{[]any{"DEL", "k", "1700000000"}, replyErr(denied)},
		// Everything else works.
		{[]any{"SET", "k", "v"}, "k"},
		{[]any{"GET", "k"}, "v"},
		{[]any{"NSLIST"}, []string{"default"}},
		{[]any{"DBSIZE"}, 1},
	})
	if f := nsInfo(t, c, "default"); f["data_path"] != "" || f["index_path"] != "" {
		t.Errorf("NSINFO shows paths to a non-admin: %q %q", f["data_path"], f["index_path"])
	}
	run(t, c, []step{
		{[]any{"AUTH"}, replyErr("Unexpected arguments")},
		{[]any{"AUTH", "a", "b", "c"}, replyErr("Unexpected arguments")},
		{[]any{"AUTH", ""}, replyErr("Invalid argument")},
		{[]any{"AUTH", strings.Repeat("r", 129)}, replyErr("Password too long")},
		{[]any{"AUTH", "blabla"}, replyErr("Access denied")},
		{[]any{"AUTH", "roo"}, replyErr("Access denied")},
		{[]any{"AUTH", "rootroot"}, replyErr("Access denied")},
		{[]any{"NSNEW", "x"}, replyErr(denied)},
		{[]any{"AUTH", "root"}, "OK"},
		{[]any{"NSNEW", "x"}, "OK"},
		{[]any{"SET", "k", "v2", "1700000000"}, "k"},
		{[]any{"KEYTIME", "k"}, 1700000000},
		{[]any{"DEL", "k", "1700000001"}, "OK"},
		// Admin does not bypass a namespace password.
		{[]any{"NSSET", "x", "password", "xpw"}, "OK"},
		{[]any{"NSSET", "x", "public", "0"}, "OK"},
		{[]any{"SELECT", "x"}, replyErr("Namespace protected and private")},
		{[]any{"SELECT", "x", "xpw"}, "OK"},
		{[]any{"HOOKS"}, []any{}},
	})
	if f := nsInfo(t, c, "default"); f["data_path"] == "" || f["index_path"] == "" {
		t.Error("NSINFO hides paths from an admin")
	}
	info, _ := parseInfo(t, mustString(t, c, "INFO"))
	if info["commands_unauthorized"] == "0" {
		t.Error("INFO commands_unauthorized not counted")
	}
	// Admin state is per connection.
	expect(t, ts.conn(t), replyErr(denied), "NSNEW", "y")
}

func TestAdminSecureAuth(t *testing.T) {
	ts := startServer(t, server.Config{Admin: "helloworld"}, false)
	c := ts.conn(t)
	run(t, c, []step{
		{[]any{"AUTH", "SECURE", strings.Repeat("0", 40)}, replyErr("No CHALLENGE requested, secure authentication not available")},
		{[]any{"AUTH", "FOO", "CHALLENGE"}, replyErr("Only SECURE extra method supported")},
		{[]any{"AUTH", "SECURE", ""}, replyErr("Invalid argument")},
	})
	nonce := mustString(t, c, "AUTH", "secure", "challenge")
	// A bad length keeps the nonce.
	expect(t, c, replyErr("Invalid hash length"), "AUTH", "SECURE", "abcd")
	ok(t, c, "AUTH", "SECURE", secureHash(nonce, "helloworld"))
	ok(t, c, "NSNEW", "x")
	// The nonce is single use.
	expect(t, c, replyErr("No CHALLENGE requested, secure authentication not available"), "AUTH", "SECURE", secureHash(nonce, "helloworld"))

	c2 := ts.conn(t)
	n1 := mustString(t, c2, "AUTH", "SECURE", "CHALLENGE")
	n2 := mustString(t, c2, "AUTH", "SECURE", "CHALLENGE")
	if n1 == n2 {
		t.Errorf("two challenges gave the same nonce %q", n1)
	}
	// Only the latest nonce counts.
	expect(t, c2, replyErr("Access denied"), "AUTH", "SECURE", secureHash(n1, "helloworld"))
	// A failed attempt discards the nonce.
	expect(t, c2, replyErr("No CHALLENGE requested, secure authentication not available"), "AUTH", "SECURE", secureHash(n2, "helloworld"))
	expect(t, c2, replyErr("Permission denied"), "NSNEW", "y")
	n3 := mustString(t, c2, "AUTH", "SECURE", "CHALLENGE")
	expect(t, c2, replyErr("Access denied"), "AUTH", "SECURE", secureHash(n3, "wrong"))
}

func TestSecureAuthWithoutAdmin(t *testing.T) {
	ts := startServer(t, server.Config{}, false)
	c := ts.conn(t)
	nonce := mustString(t, c, "AUTH", "SECURE", "CHALLENGE")
	expect(t, c, replyErr("Authentication disabled"), "AUTH", "SECURE", secureHash(nonce, "x"))
	expect(t, c, replyErr("Authentication disabled"), "AUTH", "x")
}

func TestProtectMode(t *testing.T) {
	ts := startServer(t, server.Config{Admin: "root", Protect: true}, false)
	setup := ts.conn(t)
	ok(t, setup, "SELECT", "default", "root")
	expect(t, setup, "k", "SET", "k", "v")

	c := ts.conn(t)
	run(t, c, []step{
		{[]any{"GET", "k"}, "v"},
		{[]any{"SET", "k", "x"}, replyErr("Namespace is in read-only mode")},
		{[]any{"DEL", "k"}, replyErr("Namespace is in read-only mode")},
		// AUTH alone does not make default writable.
		{[]any{"AUTH", "root"}, "OK"},
		{[]any{"SET", "k", "x"}, replyErr("Namespace is in read-only mode")},
		// SELECT without the password stays read-only (default is public).
		{[]any{"SELECT", "default"}, "OK"},
		{[]any{"SET", "k", "x"}, replyErr("Namespace is in read-only mode")},
		{[]any{"SELECT", "default", "wrong"}, replyErr("Access denied")},
		{[]any{"SELECT", "default", "root"}, "OK"},
		{[]any{"SET", "k", "x"}, "k"},
		{[]any{"GET", "k"}, "x"},
	})
	if f := nsInfo(t, c, "default"); f["password"] != "yes" || f["public"] != "yes" {
		t.Errorf("default under protect: password=%q public=%q", f["password"], f["public"])
	}
	// SELECT default SECURE works as well, without AUTH.
	c2 := ts.conn(t)
	nonce := mustString(t, c2, "AUTH", "SECURE", "CHALLENGE")
	ok(t, c2, "SELECT", "default", "SECURE", secureHash(nonce, "root"))
	expect(t, c2, "k2", "SET", "k2", "y")
	expect(t, c2, replyErr("Permission denied"), "NSNEW", "x")
	// Other namespaces are not affected by protect.
	ok(t, setup, "AUTH", "root")
	ok(t, setup, "NSNEW", "open")
	ok(t, c2, "SELECT", "open")
	expect(t, c2, "k", "SET", "k", "writable")
}
