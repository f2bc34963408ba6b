package server_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/zerostor/zerostor/internal/zdb/server"
)

func TestDataCommands(t *testing.T) {
	ts := startServer(t, server.Config{}, false)
	c := ts.conn(t)

	steps := []struct {
		args []any
		want any
	}{
		// Missing keys.
		{[]any{"GET", "k"}, null},
		{[]any{"EXISTS", "k"}, 0},
		{[]any{"CHECK", "k"}, null},
		{[]any{"LENGTH", "k"}, null},
		{[]any{"KEYTIME", "k"}, null},
		{[]any{"KEYCUR", "k"}, replyErr("Key not found")},
		{[]any{"DEL", "k"}, replyErr("Key not found")},
		// Create, read.
		{[]any{"SET", "k", "hello"}, "k"},
		{[]any{"GET", "k"}, "hello"},
		{[]any{"EXISTS", "k"}, 1},
		{[]any{"CHECK", "k"}, 1},
		{[]any{"LENGTH", "k"}, 5},
		// Same value: nil, nothing written. Same, shorter, longer.
		{[]any{"SET", "k", "hello"}, null},
		{[]any{"SET", "k", "hellx"}, "k"},
		{[]any{"SET", "k", "hi"}, "k"},
		{[]any{"SET", "k", "hello world"}, "k"},
		{[]any{"GET", "k"}, "hello world"},
		{[]any{"LENGTH", "k"}, 11},
		{[]any{"SETX", "k2", "via setx"}, "k2"},
		{[]any{"GET", "k2"}, "via setx"},
		// An empty value is a value.
		{[]any{"SET", "empty", ""}, "empty"},
		{[]any{"GET", "empty"}, ""},
		{[]any{"EXISTS", "empty"}, 1},
		{[]any{"LENGTH", "empty"}, 0},
		{[]any{"MGET", "k", "missing", "k2", "", "empty"}, []any{"hello world", null, "via setx", null, ""}},
		// Delete.
		{[]any{"DEL", "k"}, "OK"},
		{[]any{"GET", "k"}, null},
		{[]any{"EXISTS", "k"}, 0},
		{[]any{"CHECK", "k"}, null},
		{[]any{"LENGTH", "k"}, null},
		{[]any{"KEYTIME", "k"}, null},
		{[]any{"KEYCUR", "k"}, replyErr("Key not found")},
		{[]any{"DEL", "k"}, replyErr("Key not found")},
		{[]any{"MGET", "k", "k2"}, []any{null, "via setx"}},
		// A deleted key comes back with SET.
		{[]any{"SET", "k", "again"}, "k"},
		{[]any{"GET", "k"}, "again"},
		// Argument counts.
		{[]any{"GET"}, replyErr("Unexpected arguments")},
		{[]any{"GET", "a", "b"}, replyErr("Unexpected arguments")},
		{[]any{"SET", "k"}, replyErr("Unexpected arguments")},
		{[]any{"SET", "k", "v", "123", "x"}, replyErr("Unexpected arguments")},
		{[]any{"DEL"}, replyErr("Unexpected arguments")},
		{[]any{"EXISTS"}, replyErr("Unexpected arguments")},
		{[]any{"CHECK"}, replyErr("Unexpected arguments")},
		{[]any{"LENGTH"}, replyErr("Unexpected arguments")},
		{[]any{"KEYTIME"}, replyErr("Unexpected arguments")},
		{[]any{"KEYCUR"}, replyErr("Unexpected arguments")},
		{[]any{"MGET"}, replyErr("Invalid arguments")},
		{[]any{"HISTORY"}, replyErr("Invalid arguments")},
		// Empty arguments.
		{[]any{"GET", ""}, replyErr("Invalid argument")},
		{[]any{"EXISTS", ""}, replyErr("Invalid argument")},
		{[]any{"CHECK", ""}, replyErr("Invalid argument")},
		{[]any{"LENGTH", ""}, replyErr("Invalid argument")},
		{[]any{"KEYTIME", ""}, replyErr("Invalid argument")},
		{[]any{"KEYCUR", ""}, replyErr("Invalid argument")},
		{[]any{"DEL", ""}, replyErr("Invalid argument")},
		{[]any{"SET", "", "v"}, replyErr("Invalid argument, key needed")},
		{[]any{"NSINFO", ""}, replyErr("Invalid argument")},
		{[]any{"SELECT", ""}, replyErr("Namespace not found")},
		// The admin-only timestamp forms (everyone is admin here).
		{[]any{"SET", "ts", "v", "1700000000"}, "ts"},
		{[]any{"KEYTIME", "ts"}, 1700000000},
		{[]any{"SET", "ts", "v", "notanumber"}, replyErr("Invalid argument")},
		{[]any{"DEL", "ts", "1700000001"}, "OK"},
		{[]any{"GET", "ts"}, null},
		{[]any{"PING"}, "PONG"},
	}
	for _, s := range steps {
		expect(t, c, s.want, s.args...)
	}

	now := time.Now().Unix()
	kt := mustInt(t, c, "KEYTIME", "k")
	if kt < now-120 || kt > now+5 {
		t.Errorf("KEYTIME = %d, now %d", kt, now)
	}
	cur := mustString(t, c, "KEYCUR", "k")
	if len(cur) != 17 {
		t.Errorf("KEYCUR: %d-byte cursor, want 17", len(cur))
	}
}

func TestBinarySafety(t *testing.T) {
	ts := startServer(t, server.Config{}, false)
	c := ts.conn(t)
	key := []byte("a\r\nb\x00c$3\r\n*1")
	val := []byte("\x00\r\n\xff\xfe-ERR\r\n$-1\r\n")
	expect(t, c, string(key), "SET", key, val)
	expect(t, c, string(val), "GET", key)
	expect(t, c, 1, "EXISTS", key)
	expect(t, c, len(val), "LENGTH", key)
	expect(t, c, []any{string(val), null}, "MGET", key, "a")
	expect(t, c, null, "GET", "a") // a prefix of the key is another key
	expect(t, c, null, "GET", []byte("a\r\nb"))
	scan := mustArray(t, c, "SCAN")
	if ents := scan[1].([]any); len(ents) != 1 || ents[0].([]any)[0] != string(key) {
		t.Errorf("SCAN: got %s", showReply(scan))
	}
	expect(t, c, []any{"0", []any{string(key)}}, "KSCAN", "a\r\n")
	// Every byte value, as key and value.
	all := make([]byte, 256)
	for i := range all {
		all[i] = byte(i)
	}
	expect(t, c, string(all[1:]), "SET", all[1:], all)
	expect(t, c, string(all), "GET", all[1:])
	ok(t, c, "DEL", key)
	expect(t, c, null, "GET", key)
}

func TestKeyAndValueLimits(t *testing.T) {
	ts := startServer(t, server.Config{}, false)
	c := ts.conn(t)
	k255 := strings.Repeat("k", 255)
	k256 := strings.Repeat("k", 256)
	k511 := strings.Repeat("x", 511)
	for _, s := range []struct {
		args []any
		want any
	}{
		{[]any{"SET", k255, "v"}, k255},
		{[]any{"GET", k255}, "v"},
		{[]any{"EXISTS", k255}, 1},
		{[]any{"SET", k256, "v"}, replyErr("Key too large")},
		{[]any{"GET", k256}, replyErr("Invalid key")},
		{[]any{"EXISTS", k256}, replyErr("Invalid key")},
		{[]any{"CHECK", k256}, replyErr("Invalid key")},
		{[]any{"LENGTH", k256}, replyErr("Invalid key")},
		{[]any{"KEYTIME", k256}, replyErr("Invalid key")},
		{[]any{"DEL", k256}, replyErr("Invalid key")},
		{[]any{"MGET", "a", k256}, replyErr("Invalid key")},
		{[]any{"GET", k511}, replyErr("Invalid key")},
		{[]any{"SET", k511, "v"}, replyErr("Key too large")},
		{[]any{"EXISTS", k511}, replyErr("Invalid key")},
		{[]any{"DBSIZE"}, 1},
	} {
		expect(t, c, s.want, s.args...)
	}

	// A value of exactly 8 MiB is accepted and read back intact.
	big := make([]byte, 8<<20)
	for i := range big {
		big[i] = byte(i*7 + i>>13)
	}
	expect(t, c, "big", "SET", "big", big)
	got := do(t, c, "GET", "big")
	if s, isStr := got.(string); !isStr || !bytes.Equal([]byte(s), big) {
		t.Fatalf("GET of the 8 MiB value: wrong content")
	}
	expect(t, c, 8<<20, "LENGTH", "big")
	expect(t, c, 1, "CHECK", "big")

	// One byte more: an error and the connection is dropped (the client
	// only sends the header: the server must not wait for the payload).
	rc := ts.raw(t)
	rc.write("*3\r\n$3\r\nSET\r\n$3\r\nbig\r\n$" + strconv.Itoa(8<<20+1) + "\r\n")
	if r := rc.read(); r.kind != '-' || r.str != "Payload too big" {
		t.Errorf("8 MiB + 1 value: got %v, want -Payload too big", r)
	}
	rc.expectClosed()
	// Other connections, and new ones, are fine; the old value is intact.
	expect(t, c, 8<<20, "LENGTH", "big")
	rc2 := ts.raw(t)
	if r := rc2.cmd("PING"); r.str != "PONG" {
		t.Errorf("PING on a new connection: %v", r)
	}
}

func TestSeqMode(t *testing.T) {
	ts := startServer(t, server.Config{}, false)
	c := ts.conn(t)
	ok(t, c, "NSNEW", "sq")
	ok(t, c, "NSSET", "sq", "mode", "seq")
	expect(t, c, replyErr("Invalid property value (expected: user, seq)"), "NSSET", "sq", "mode", "sequential")
	ok(t, c, "SELECT", "sq")
	id := func(n uint64) string { return string(binary.LittleEndian.AppendUint64(nil, n)) }
	for _, s := range []struct {
		args []any
		want any
	}{
		{[]any{"SET", "", "zero"}, id(0)},
		{[]any{"SET", "", "one"}, id(1)},
		{[]any{"SET", "", "two"}, id(2)},
		{[]any{"GET", id(0)}, "zero"},
		{[]any{"GET", id(1)}, "one"},
		{[]any{"GET", id(2)}, "two"},
		{[]any{"GET", id(3)}, null},
		{[]any{"GET", "abc"}, null}, // not an 8-byte id: not found
		{[]any{"EXISTS", id(1)}, 1},
		{[]any{"LENGTH", id(2)}, 3},
		{[]any{"MGET", id(0), id(7), id(2)}, []any{"zero", null, "two"}},
		// Update in place.
		{[]any{"SET", id(1), "ONE"}, id(1)},
		{[]any{"GET", id(1)}, "ONE"},
		{[]any{"SET", id(1), "ONE"}, null},
		// Only existing ids may be written.
		{[]any{"SET", id(3), "x"}, replyErr("Invalid key, only update authorized")},
		{[]any{"SET", id(99), "x"}, replyErr("Invalid key, only update authorized")},
		{[]any{"SET", "abc", "x"}, replyErr("Invalid key, only update authorized")},
		{[]any{"KSCAN", "a"}, replyErr("Index running mode doesn't support this feature")},
		{[]any{"DEL", id(2)}, "OK"},
		{[]any{"GET", id(2)}, null},
		{[]any{"SET", id(2), "x"}, replyErr("Invalid key, only update authorized")},
		// Ids are never reused.
		{[]any{"SET", "", "three"}, id(3)},
		{[]any{"DBSIZE"}, 3},
		{[]any{"NSSET", "sq", "mode", "user"}, replyErr("Cannot change mode of used namespace")},
	} {
		expect(t, c, s.want, s.args...)
	}
	info := nsInfo(t, c, "sq")
	if info["mode"] != "sequential" || info["next_internal_id"] != "0x04000000" || info["entries"] != "3" {
		t.Errorf("NSINFO sq: mode=%q next_internal_id=%q entries=%q", info["mode"], info["next_internal_id"], info["entries"])
	}
	// SCAN in seq mode returns the ids.
	scan := mustArray(t, c, "SCAN")
	var keys []string
	for _, e := range scan[1].([]any) {
		keys = append(keys, e.([]any)[0].(string))
	}
	if want := []string{id(0), id(1), id(3)}; strings.Join(keys, "|") != strings.Join(want, "|") {
		t.Errorf("SCAN in seq mode: got %q, want %q", keys, want)
	}
	// The mode survives a reload, and an empty namespace can switch back.
	ok(t, c, "RELOAD", "sq")
	expect(t, c, "ONE", "GET", id(1))
	ok(t, c, "NSNEW", "sq2")
	ok(t, c, "NSSET", "sq2", "mode", "seq")
	ok(t, c, "NSSET", "sq2", "mode", "user")
	if m := nsInfo(t, c, "sq2")["mode"]; m != "userkey" {
		t.Errorf("sq2 mode %q after switching back", m)
	}
}

func TestForcedSeqMode(t *testing.T) {
	ts := startServer(t, server.Config{Mode: "seq"}, false)
	c := ts.conn(t)
	if m := nsInfo(t, c, "default")["mode"]; m != "sequential" {
		t.Errorf("default mode %q with Mode=seq", m)
	}
	expect(t, c, string(make([]byte, 8)), "SET", "", "first")
	ok(t, c, "NSNEW", "x")
	expect(t, c, replyErr("This server instance is configured to use a single runtime mode"), "NSSET", "x", "mode", "user")
	if m := nsInfo(t, c, "x")["mode"]; m != "sequential" {
		t.Errorf("new namespace mode %q with Mode=seq", m)
	}
}

func TestManyClientsConcurrently(t *testing.T) {
	ts := startServer(t, server.Config{}, false)
	rdb := ts.client(t)
	ctx := context.Background()
	errs := make(chan error, 8)
	for w := range 8 {
		go func() {
			for i := range 200 {
				k := "w" + strconv.Itoa(w) + "-" + strconv.Itoa(i)
				if got, err := rdb.Do(ctx, "SET", k, k+"-value").Text(); err != nil || got != k {
					errs <- fmt.Errorf("SET %s: %q, %v", k, got, err)
					return
				}
				if got, err := rdb.Do(ctx, "GET", k).Text(); err != nil || got != k+"-value" {
					errs <- fmt.Errorf("GET %s: %q, %v", k, got, err)
					return
				}
			}
			errs <- nil
		}()
	}
	for range 8 {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	expect(t, rdb, 1600, "DBSIZE")
}
