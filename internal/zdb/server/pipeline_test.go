package server_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/zerostor/zerostor/internal/zdb/server"
)

// TestPipeline sends 1000 mixed commands in one go and checks every reply,
// in order, against a model of the namespace.
func TestPipeline(t *testing.T) {
	ts := startServer(t, server.Config{}, false)
	rdb := ts.client(t)
	ctx := context.Background()
	rng := rand.New(rand.NewPCG(1, 2))
	model := map[string]string{}
	type sent struct {
		cmd  *redis.Cmd
		want any
		desc string
	}
	var cmds []sent
	pipe := rdb.Pipeline()
	for i := range 1000 {
		k := "k" + strconv.Itoa(rng.IntN(40))
		switch op := rng.IntN(10); {
		case op < 5: // SET, sometimes with the current value
			v := "v" + strconv.Itoa(rng.IntN(6))
			var want any = k
			if cur, found := model[k]; found && cur == v {
				want = null
			}
			model[k] = v
			cmds = append(cmds, sent{pipe.Do(ctx, "SET", k, v), want, fmt.Sprintf("#%d SET %s %s", i, k, v)})
		case op < 8:
			var want any = null
			if v, found := model[k]; found {
				want = v
			}
			cmds = append(cmds, sent{pipe.Do(ctx, "GET", k), want, fmt.Sprintf("#%d GET %s", i, k)})
		case op < 9:
			var want any = replyErr("Key not found")
			if _, found := model[k]; found {
				want = "OK"
			}
			delete(model, k)
			cmds = append(cmds, sent{pipe.Do(ctx, "DEL", k), want, fmt.Sprintf("#%d DEL %s", i, k)})
		default:
			want := int64(0)
			if _, found := model[k]; found {
				want = 1
			}
			cmds = append(cmds, sent{pipe.Do(ctx, "EXISTS", k), want, fmt.Sprintf("#%d EXISTS %s", i, k)})
		}
	}
	if _, err := pipe.Exec(ctx); err != nil && !errors.Is(err, redis.Nil) {
		var re redis.Error
		if !errors.As(err, &re) {
			t.Fatalf("pipeline: %v", err)
		}
	}
	bad := 0
	for _, s := range cmds {
		v, err := s.cmd.Result()
		var got any = v
		switch {
		case errors.Is(err, redis.Nil):
			got = null
		case err != nil:
			got = replyErr(err.Error())
		}
		if !replyEqual(got, s.want) {
			bad++
			if bad < 10 {
				t.Errorf("%s: got %s, want %s", s.desc, showReply(got), showReply(s.want))
			}
		}
	}
	if bad > 0 {
		t.Errorf("%d of %d replies wrong", bad, len(cmds))
	}
	expect(t, rdb, len(model), "DBSIZE")
	for k, v := range model {
		expect(t, rdb, v, "GET", k)
	}
}

// TestPipelineAcrossNamespaces checks that a pipeline switching namespaces
// writes each command where it was sent, and that replies keep their order
// when batched writes meet other commands and errors.
func TestPipelineAcrossNamespaces(t *testing.T) {
	ts := startServer(t, server.Config{}, false)
	c := ts.conn(t)
	ok(t, c, "NSNEW", "p1")
	ok(t, c, "NSNEW", "p2")
	ok(t, c, "NSSET", "p2", "worm", "1")
	ctx := context.Background()
	var cmds []*redis.Cmd
	var wants []any
	add := func(want any, args ...any) {
		wants = append(wants, want)
		cmds = append(cmds, redis.NewCmd(ctx, args...))
	}
	for i := range 20 {
		k := "k" + strconv.Itoa(i)
		add("OK", "SELECT", "p1")
		add(k, "SET", k, "p1-"+k)
		add(k, "SET", k, "p1-"+k+"-b")
		add(null, "SET", k, "p1-"+k+"-b")
		add("OK", "SELECT", "p2")
		add(k, "SET", k, "p2-"+k)
		add(replyErr("Namespace is protected by worm mode"), "SET", k, "p2-again")
		add(replyErr("Cannot delete a key when namespace is in worm mode"), "DEL", k)
		add("p2-"+k, "GET", k)
		add("OK", "SELECT", "default")
		add(replyErr("Key not found"), "DEL", k)
		add(k, "SET", k, "default-"+k)
	}
	pipe := c.Pipeline()
	for _, cmd := range cmds {
		pipe.Process(ctx, cmd)
	}
	pipe.Exec(ctx)
	for i, cmd := range cmds {
		v, err := cmd.Result()
		var got any = v
		switch {
		case errors.Is(err, redis.Nil):
			got = null
		case err != nil:
			var re redis.Error
			if !errors.As(err, &re) {
				t.Fatalf("%v: %v", cmd.Args(), err)
			}
			got = replyErr(err.Error())
		}
		if !replyEqual(got, wants[i]) {
			t.Errorf("#%d %v: got %s, want %s", i, cmd.Args(), showReply(got), showReply(wants[i]))
		}
	}
	for _, ns := range []string{"p1", "p2", "default"} {
		ok(t, c, "SELECT", ns)
		expect(t, c, 20, "DBSIZE")
	}
	ok(t, c, "SELECT", "p1")
	expect(t, c, "p1-k7-b", "GET", "k7")
	ok(t, c, "SELECT", "default")
	expect(t, c, "default-k7", "GET", "k7")
}

// TestPipelinedRefusals mixes writes that the store answers with writes
// refused before they reach it (bad arguments, permissions, state): the
// replies must keep the order of the commands.
func TestPipelinedRefusals(t *testing.T) {
	ts := startServer(t, server.Config{Admin: "root"}, false)
	rc := ts.raw(t)
	if r := rc.cmd("AUTH", "root"); r.str != "OK" {
		t.Fatalf("AUTH: %v", r)
	}
	for _, tc := range []struct {
		cmds  [][]string
		wants []rawReply
	}{
		{
			[][]string{{"SET", "a", "1"}, {"SET", strings.Repeat("k", 256), "v"}, {"SET", "b", "2"}},
			[]rawReply{{kind: '$', str: "a"}, {kind: '-', str: "Key too large"}, {kind: '$', str: "b"}},
		},
		{
			[][]string{{"DEL", "a"}, {"DEL", ""}, {"DEL", "b"}, {"DEL", "b"}},
			[]rawReply{{kind: '+', str: "OK"}, {kind: '-', str: "Invalid argument"}, {kind: '+', str: "OK"}, {kind: '-', str: "Key not found"}},
		},
		{
			[][]string{{"SET", "c", "1"}, {"SET", "c"}, {"SET", "d", "1", "x"}, {"DEL", "c", "x"}, {"SET", "e", "1"}},
			[]rawReply{{kind: '$', str: "c"}, {kind: '-', str: "Unexpected arguments"}, {kind: '-', str: "Invalid argument"}, {kind: '-', str: "Invalid argument"}, {kind: '$', str: "e"}},
		},
	} {
		var b strings.Builder
		for _, c := range tc.cmds {
			b.WriteString(encode(c...))
		}
		rc.write(b.String())
		for i, want := range tc.wants {
			if r := rc.read(); r.kind != want.kind || r.str != want.str {
				t.Errorf("%q: got %v, want %v", tc.cmds[i], r, want)
			}
		}
	}
	// Refused for the connection's state: read-only, locked.
	admin := ts.conn(t)
	ok(t, admin, "AUTH", "root")
	ok(t, admin, "NSNEW", "ro")
	ok(t, admin, "NSSET", "ro", "password", "pw")
	rc.write(encode("SELECT", "ro", "pw") + encode("SET", "x", "1") + encode("SELECT", "ro") + encode("SET", "y", "1") + encode("GET", "x"))
	for _, want := range []rawReply{{kind: '+', str: "OK"}, {kind: '$', str: "x"}, {kind: '+', str: "OK"}, {kind: '-', str: "Namespace is in read-only mode"}, {kind: '$', str: "1"}} {
		if r := rc.read(); r.kind != want.kind || r.str != want.str {
			t.Errorf("read-only sequence: got %v, want %v", r, want)
		}
	}
	rc.cmd("SELECT", "ro", "pw")
	ok(t, admin, "NSSET", "ro", "lock", "1")
	rc.write(encode("GET", "x") + encode("SET", "x", "2") + encode("DEL", "x") + encode("GET", "x"))
	for _, want := range []rawReply{{kind: '$', str: "1"}, {kind: '-', str: "Namespace is temporarily locked (read-only)"}, {kind: '-', str: "Namespace is temporarily locked (read-only)"}, {kind: '$', str: "1"}} {
		if r := rc.read(); r.kind != want.kind || r.str != want.str {
			t.Errorf("locked sequence: got %v, want %v", r, want)
		}
	}
	ok(t, admin, "NSSET", "ro", "lock", "0")
	rc.write(encode("SET", "x", "3") + encode("SET", "x", "4", "1700000000") + encode("SET", "z", "1"))
	for _, want := range []rawReply{{kind: '$', str: "x"}, {kind: '$', str: "x"}, {kind: '$', str: "z"}} {
		if r := rc.read(); r.kind != want.kind || r.str != want.str {
			t.Errorf("timestamped sequence: got %v, want %v", r, want)
		}
	}
	// Failures are counted.
	info, _ := parseInfo(t, mustString(t, admin, "INFO"))
	if n, _ := strconv.Atoi(info["commands_failed"]); n < 9 {
		t.Errorf("commands_failed = %d, want at least the 9 refusals above", n)
	}
}
