package zstor

import (
	"bytes"
	"context"
	"crypto/rand"
	"io"
	mrand "math/rand/v2"
	"testing"
	"time"

	"github.com/zerostor/zerostor/internal/config"
	"github.com/zerostor/zerostor/internal/testcluster"
)

// testConfig describes a cluster's backends as a zstor config: k+m
// shards, one group per cluster group, a fresh master key.
func testConfig(t testing.TB, cl *testcluster.Cluster, k, m int, blockSize int) *config.Config {
	t.Helper()
	var key [32]byte
	rand.Read(key[:])
	cfg := cl.ZstorConfig(k, m, t.TempDir(), key)
	if blockSize != 0 {
		cfg.BlockSize = config.ByteSize(blockSize)
	}
	return cfg
}

func openClient(t testing.TB, cfg *config.Config, opts Options) *Client {
	t.Helper()
	if opts.StragglerGrace == 0 {
		opts.StragglerGrace = time.Second
	}
	if opts.ShardTimeout == 0 {
		opts.ShardTimeout = 5 * time.Second
	}
	c, err := Open(context.Background(), cfg, opts)
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func randBytes(rnd *mrand.Rand, n int) []byte {
	b := make([]byte, n)
	for i := 0; i+8 <= n; i += 8 {
		v := rnd.Uint64()
		for j := range 8 {
			b[i+j] = byte(v >> (8 * j))
		}
	}
	for i := n &^ 7; i < n; i++ {
		b[i] = byte(rnd.Uint32())
	}
	return b
}

// compressible returns text-like data that zstd shrinks well.
func compressible(rnd *mrand.Rand, n int) []byte {
	words := []string{"zero ", "stor ", "shard ", "block ", "dispersed ", "backend ", "\n"}
	var b bytes.Buffer
	for b.Len() < n {
		b.WriteString(words[rnd.IntN(len(words))])
	}
	return b.Bytes()[:n]
}

func put(t testing.TB, c *Client, key string, data []byte) ObjectInfo {
	t.Helper()
	info, err := c.Put(context.Background(), key, bytes.NewReader(data), PutOptions{})
	if err != nil {
		t.Fatalf("put %q (%d bytes): %v", key, len(data), err)
	}
	return info
}

func get(t testing.TB, c *Client, key string, opts GetOptions) []byte {
	t.Helper()
	r, err := c.Get(context.Background(), key, opts)
	if err != nil {
		t.Fatalf("get %q: %v", key, err)
	}
	defer r.Close()
	b, err := io.ReadAll(r)
	if err != nil {
		t.Fatalf("read %q: %v", key, err)
	}
	return b
}

func mustEqual(t testing.TB, what string, got, want []byte) {
	t.Helper()
	if !bytes.Equal(got, want) {
		i := 0
		for i < len(got) && i < len(want) && got[i] == want[i] {
			i++
		}
		t.Fatalf("%s: got %d bytes, want %d; first difference at %d", what, len(got), len(want), i)
	}
}
