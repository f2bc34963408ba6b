package zdbclient_test

import (
	"bytes"
	"context"
	"errors"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/zeebo/blake3"

	"github.com/zerostor/zerostor/internal/resp"
	"github.com/zerostor/zerostor/internal/shardtree"
	"github.com/zerostor/zerostor/internal/zdb/server"
	"github.com/zerostor/zerostor/internal/zdbclient"
)

// startZDB runs a real zdb on a free loopback port; stop ends it.
func startZDB(t *testing.T, cfg server.Config) (addr string, stop func()) {
	t.Helper()
	dir := t.TempDir()
	cfg.DataDir, cfg.IndexDir, cfg.Listen, cfg.Port = dir+"/data", dir+"/index", "127.0.0.1", 0
	srv, err := server.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Listen(); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { srv.Serve(ctx); close(done) }()
	stop = func() { cancel(); <-done }
	t.Cleanup(stop)
	return srv.Addrs()[0].String(), stop
}

// adminDo sends one command on a fresh connection and expects +OK.
func adminDo(t *testing.T, addr string, args ...string) {
	t.Helper()
	nc, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	msg := resp.AppendArrayHeader(nil, len(args))
	for _, a := range args {
		msg = resp.AppendBulkString(msg, a)
	}
	nc.Write(msg)
	buf := make([]byte, 512)
	n, _ := nc.Read(buf)
	if !bytes.HasPrefix(buf[:n], []byte("+OK")) {
		t.Fatalf("%v: %q", args, buf[:n])
	}
}

func TestClientAgainstZDB(t *testing.T) {
	addr, _ := startZDB(t, server.Config{})
	adminDo(t, addr, "NSNEW", "shards")
	adminDo(t, addr, "NSSET", "shards", "password", "s3cret")
	adminDo(t, addr, "NSSET", "shards", "public", "0")
	ctx := context.Background()

	c := zdbclient.New(zdbclient.Config{Address: addr, Namespace: "shards", Password: "s3cret"})
	defer c.Close()
	val := bytes.Repeat([]byte{7}, 100000)
	if k, err := c.Set(ctx, []byte("k1"), val); err != nil || string(k) != "k1" {
		t.Fatalf("Set: %q %v", k, err)
	}
	if k, err := c.Set(ctx, []byte("k1"), val); err != nil || string(k) != "k1" {
		t.Fatalf("Set unchanged: %q %v", k, err)
	}
	if got, err := c.Get(ctx, []byte("k1")); err != nil || !bytes.Equal(got, val) {
		t.Fatalf("Get: %v", err)
	}
	// HASH is the shard tree root: plain BLAKE3 only up to one 8 KiB leaf.
	if sum, err := c.Hash(ctx, []byte("k1")); err != nil || sum != shardtree.Root(val) || sum == blake3.Sum256(val) {
		t.Fatalf("Hash: %v", err)
	}
	info, err := c.NSInfo(ctx)
	if err != nil || info["entries"] != "1" || info["password"] != "yes" {
		t.Fatalf("NSInfo: %v %v", info, err)
	}
	if err := c.Delete(ctx, []byte("k1")); err != nil {
		t.Fatal(err)
	}
	for name, err := range map[string]error{
		"get":    func() error { _, err := c.Get(ctx, []byte("k1")); return err }(),
		"delete": c.Delete(ctx, []byte("k1")),
		"hash":   func() error { _, err := c.Hash(ctx, []byte("k1")); return err }(),
	} {
		if !errors.Is(err, zdbclient.ErrNotFound) || !strings.Contains(err.Error(), addr+"/shards") {
			t.Errorf("%s of a deleted key: %v", name, err)
		}
	}

	bad := zdbclient.New(zdbclient.Config{Address: addr, Namespace: "shards", Password: "wrong"})
	defer bad.Close()
	_, err = bad.Get(ctx, []byte("x"))
	var re *zdbclient.ReplyError
	if !errors.As(err, &re) || re.Msg != "Access denied" || strings.Contains(err.Error(), "wrong") {
		t.Fatalf("wrong password: %v", err)
	}
}

func TestClientSeqNamespace(t *testing.T) {
	addr, _ := startZDB(t, server.Config{Mode: "seq"})
	c := zdbclient.New(zdbclient.Config{Address: addr})
	defer c.Close()
	ctx := context.Background()
	for want := byte(0); want < 3; want++ {
		k, err := c.Set(ctx, nil, []byte{want})
		if err != nil || len(k) != 8 || k[0] != want {
			t.Fatalf("Set: %x %v", k, err)
		}
	}
}

func TestClientFailures(t *testing.T) {
	ctx := context.Background()
	t.Run("backend killed", func(t *testing.T) {
		addr, stop := startZDB(t, server.Config{})
		c := zdbclient.New(zdbclient.Config{Address: addr})
		defer c.Close()
		if _, err := c.Set(ctx, []byte("a"), []byte("b")); err != nil {
			t.Fatal(err)
		}
		stop()
		_, err := c.Get(ctx, []byte("a"))
		if err == nil || !strings.Contains(err.Error(), addr) {
			t.Fatalf("Get from a stopped backend: %v", err)
		}
	})
	t.Run("backend that never answers", func(t *testing.T) {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer ln.Close()
		go func() {
			for {
				nc, err := ln.Accept()
				if err != nil {
					return
				}
				defer nc.Close() // hold it open, say nothing
			}
		}()
		c := zdbclient.New(zdbclient.Config{Address: ln.Addr().String()})
		defer c.Close()
		cctx, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
		defer cancel()
		start := time.Now()
		_, err = c.Get(cctx, []byte("a"))
		if !errors.Is(err, context.DeadlineExceeded) || time.Since(start) > 5*time.Second {
			t.Fatalf("silent backend: %v after %v", err, time.Since(start))
		}
	})
	t.Run("closed client", func(t *testing.T) {
		c := zdbclient.New(zdbclient.Config{Address: "127.0.0.1:1"})
		c.Close()
		if _, err := c.Get(ctx, []byte("a")); !errors.Is(err, zdbclient.ErrClosed) {
			t.Fatalf("%v", err)
		}
	})
}
