package zdbclient_test

import (
	"bytes"
	"context"
	"errors"
	"math/rand"
	"net"
	"strings"
	"testing"

	"github.com/zerostor/zerostor/internal/resp"
	"github.com/zerostor/zerostor/internal/shardtree"
	"github.com/zerostor/zerostor/internal/zdb/server"
	"github.com/zerostor/zerostor/internal/zdbclient"
)

func TestProofAgainstZDB(t *testing.T) {
	addr, _ := startZDB(t, server.Config{})
	ctx := context.Background()
	c := zdbclient.New(zdbclient.Config{Address: addr})
	defer c.Close()
	rng := rand.New(rand.NewSource(1))
	for _, size := range []int{0, 1, shardtree.LeafSize, 5*shardtree.LeafSize + 1, 256 << 10} {
		key := []byte{'k', byte(size), byte(size >> 8), byte(size >> 16)}
		val := make([]byte, size)
		rng.Read(val)
		if _, err := c.Set(ctx, key, val); err != nil {
			t.Fatal(err)
		}
		root := shardtree.Root(val)
		for i := range shardtree.Leaves(size) {
			p, err := c.Proof(ctx, key, i)
			if err != nil {
				t.Fatalf("%d-byte value: Proof(%d): %v", size, i, err)
			}
			if err := shardtree.Verify(root, size, p); err != nil {
				t.Fatalf("%d-byte value: proof of leaf %d: %v", size, i, err)
			}
		}
	}
	key := []byte("three-leaves")
	if _, err := c.Set(ctx, key, bytes.Repeat([]byte{1}, 2*shardtree.LeafSize+1)); err != nil {
		t.Fatal(err)
	}
	var re *zdbclient.ReplyError
	for _, tc := range []struct {
		name  string
		key   string
		index int
		is    error
		reply bool // the error also carries the backend's *ReplyError
	}{
		{"missing key", "missing", 0, zdbclient.ErrNotFound, false},
		{"index past the end", "three-leaves", 3, zdbclient.ErrLeafIndex, true},
		{"negative index", "three-leaves", -1, zdbclient.ErrLeafIndex, true},
	} {
		_, err := c.Proof(ctx, []byte(tc.key), tc.index)
		if !errors.Is(err, tc.is) || errors.As(err, &re) != tc.reply || !strings.Contains(err.Error(), addr) {
			t.Errorf("%s: %v, want %v naming the backend", tc.name, err, tc.is)
		}
	}
	if _, err := c.Proof(ctx, key, 2); err != nil {
		t.Fatalf("Proof after errors: %v", err)
	}
}

// TestProofStrictBackend: a backend without PROOF (0-db, or zdb in strict
// mode) is a *ReplyError, not ErrNotFound or ErrCorrupt, so the caller can
// fall back to reading the shard.
func TestProofStrictBackend(t *testing.T) {
	addr, _ := startZDB(t, server.Config{Strict0DB: true})
	c := zdbclient.New(zdbclient.Config{Address: addr})
	defer c.Close()
	_, err := c.Proof(context.Background(), []byte("k"), 0)
	var re *zdbclient.ReplyError
	if !errors.As(err, &re) || re.Msg != "Command not supported" || errors.Is(err, zdbclient.ErrNotFound) || errors.Is(err, zdbclient.ErrCorrupt) {
		t.Fatalf("PROOF on a strict backend: %v", err)
	}
}

// fakeBackend answers SELECT with +OK and every other command with reply.
func fakeBackend(t *testing.T, reply []byte) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			nc, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer nc.Close()
				r := resp.NewReader(nc, resp.Limits{})
				for {
					args, err := r.ReadCommand()
					if err != nil {
						return
					}
					out := reply
					if strings.EqualFold(string(args[0]), "SELECT") {
						out = resp.AppendSimple(nil, "OK")
					}
					if _, err := nc.Write(out); err != nil {
						return
					}
				}
			}()
		}
	}()
	return ln.Addr().String()
}

// TestProofMalformedReplies: whatever a backend sends, Proof returns a
// clear error (or, for well-formed shapes, a proof Verify then judges),
// never a panic.
func TestProofMalformedReplies(t *testing.T) {
	bulk := func(b []byte, n int) []byte { return resp.AppendBulk(b, bytes.Repeat([]byte{'h'}, n)) }
	arr := func(n int, items ...func([]byte) []byte) []byte {
		b := resp.AppendArrayHeader(nil, n)
		for _, it := range items {
			b = it(b)
		}
		return b
	}
	item := func(n int) func([]byte) []byte { return func(b []byte) []byte { return bulk(b, n) } }
	for _, tc := range []struct {
		name  string
		reply []byte
		want  string // in the error; "" means success
		is    error
	}{
		{"leaf only", arr(1, item(10)), "", nil},
		{"leaf and two hashes", arr(3, item(shardtree.LeafSize), item(32), item(32)), "", nil},
		{"null bulk", resp.AppendNull(nil), "", zdbclient.ErrNotFound},
		{"corrupt", resp.AppendError(nil, "Data corrupted"), "", zdbclient.ErrCorrupt},
		{"status", resp.AppendSimple(nil, "OK"), "malformed PROOF reply", nil},
		{"integer", resp.AppendInt(nil, 3), "malformed PROOF reply", nil},
		{"plain bulk", bulk(nil, 32), "malformed PROOF reply", nil},
		{"empty array", arr(0), "malformed PROOF reply", nil},
		{"null array", resp.AppendNullArray(nil), "malformed PROOF reply", nil},
		{"leaf too long", arr(1, item(shardtree.LeafSize+1)), "leaf", nil},
		{"leaf not a bulk", arr(2, func(b []byte) []byte { return resp.AppendInt(b, 1) }, item(32)), "leaf", nil},
		{"null leaf", arr(1, resp.AppendNull), "leaf", nil},
		{"short hash", arr(3, item(5), item(32), item(31)), "path hash 1", nil},
		{"long hash", arr(2, item(5), item(33)), "path hash 0", nil},
		{"null hash", arr(2, item(5), resp.AppendNull), "path hash 0", nil},
		{"hash an integer", arr(2, item(5), func(b []byte) []byte { return resp.AppendInt(b, 7) }), "path hash 0", nil},
		{"nested array", arr(2, item(5), func(b []byte) []byte { return append(b, arr(1, item(32))...) }), "path hash 0", nil},
		{"path too long", arr(101, func(b []byte) []byte {
			b = bulk(b, 5)
			for range 100 {
				b = bulk(b, 32)
			}
			return b
		}), "path of 100 hashes", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := zdbclient.New(zdbclient.Config{Address: fakeBackend(t, tc.reply)})
			defer c.Close()
			p, err := c.Proof(context.Background(), []byte("k"), 4)
			switch {
			case tc.is != nil:
				if !errors.Is(err, tc.is) {
					t.Fatalf("got %v, want %v", err, tc.is)
				}
			case tc.want == "":
				if err != nil || p.Index != 4 {
					t.Fatalf("well-formed reply: %+v, %v", p, err)
				}
			case err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), "PROOF"):
				t.Fatalf("got %v, want an error saying %q", err, tc.want)
			case len(err.Error()) > 400:
				t.Fatalf("error of %d bytes quotes the reply", len(err.Error()))
			}
		})
	}
}
