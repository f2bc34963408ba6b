package s3_test

import (
	"context"
	"crypto/rand"
	"log/slog"
	"net"
	"os"
	"testing"
	"time"

	"github.com/zerostor/zerostor/internal/config"
	"github.com/zerostor/zerostor/internal/s3"
	"github.com/zerostor/zerostor/internal/testcluster"
	"github.com/zerostor/zerostor/zstor"
)

const (
	testAccess = "AKIAZSTORTEST0000001"
	testSecret = "zstor/test/secret/key/0123456789abcdefgh"
	testRegion = "us-east-1"
)

// gateway is a running S3 gateway over real zdb backends.
type gateway struct {
	Cluster  *testcluster.Cluster
	Client   *zstor.Client
	Server   *s3.Server
	Endpoint string // http://127.0.0.1:port
	Addr     string
}

type gatewayOptions struct {
	Backends, K, M int
	BlockSize      int
	Anonymous      bool
	UploadExpiry   time.Duration
	IdleTimeout    time.Duration
}

// startGateway starts Backends zdb processes, a zstor client K+M over
// them and the gateway on a loopback port; all stop with the test.
func startGateway(t testing.TB, o gatewayOptions) *gateway {
	t.Helper()
	if o.Backends == 0 {
		o.Backends, o.K, o.M = 6, 4, 2
	}
	cl := testcluster.Start(t, o.Backends, testcluster.Options{Groups: 2})
	var key [32]byte
	rand.Read(key[:])
	cfg := cl.ZstorConfig(o.K, o.M, t.TempDir(), key)
	if o.BlockSize != 0 {
		cfg.BlockSize = config.ByteSize(o.BlockSize)
	}
	ctx, cancel := context.WithCancel(context.Background())
	c, err := zstor.Open(ctx, cfg, zstor.Options{StragglerGrace: time.Second, ShardTimeout: 5 * time.Second})
	if err != nil {
		cancel()
		t.Fatalf("open zstor: %v", err)
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	srv, err := s3.New(c, s3.Options{
		Credentials:    map[string]string{testAccess: testSecret},
		Region:         testRegion,
		AllowAnonymous: o.Anonymous,
		UploadExpiry:   o.UploadExpiry,
		IdleTimeout:    o.IdleTimeout,
		Logger:         log,
	})
	if err != nil {
		cancel()
		c.Close()
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		cancel()
		c.Close()
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx, ln) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("s3 serve: %v", err)
		}
		c.Close()
	})
	return &gateway{Cluster: cl, Client: c, Server: srv, Addr: ln.Addr().String(), Endpoint: "http://" + ln.Addr().String()}
}
