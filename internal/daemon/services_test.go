package daemon

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/zerostor/zerostor/internal/config"
	"github.com/zerostor/zerostor/internal/testcluster"
	"github.com/zerostor/zerostor/zstor"
)

// TestMonitorServices: services run on the daemon's client, start before
// Ready, stop before the client closes, and their failures stop the
// daemon with their error.
func TestMonitorServices(t *testing.T) {
	cl := testcluster.Start(t, 3, testcluster.Options{Groups: 3})
	quiet := func(o MonitorOptions) MonitorOptions {
		o.Logger = testLogger(t)
		o.SweepInterval = -1
		o.Heal = zstor.HealOptions{DisableScrub: true, DisableAudit: true}
		return o
	}

	t.Run("serve", func(t *testing.T) {
		cfg := clusterConfig(t, cl, 2, 1)
		var started, readyAfterStart atomic.Bool
		stopped := make(chan error, 1)
		svc := Service{Name: "test", Start: func(ctx context.Context, c *zstor.Client) (func(context.Context) error, error) {
			if _, err := c.Put(ctx, "/svc", strings.NewReader("from the service"), zstor.PutOptions{}); err != nil {
				return nil, err
			}
			started.Store(true)
			return func(ctx context.Context) error {
				<-ctx.Done()
				// The client is still open when the service is told to stop.
				_, err := c.Stat(context.Background(), "/svc")
				stopped <- err
				return nil
			}, nil
		}}
		mctx, cancel := context.WithCancel(ctx)
		defer cancel()
		ready := make(chan struct{})
		done := make(chan error, 1)
		opts := quiet(MonitorOptions{Services: []Service{svc, {Name: "nothing to serve", Start: func(context.Context, *zstor.Client) (func(context.Context) error, error) {
			return nil, nil
		}}}})
		opts.Ready = func() { readyAfterStart.Store(started.Load()); close(ready) }
		go func() { done <- Monitor(mctx, cfg, opts) }()
		select {
		case <-ready:
		case err := <-done:
			t.Fatalf("monitor: %v", err)
		}
		if !readyAfterStart.Load() {
			t.Error("Ready was called before the service started")
		}
		// What the service stored is visible through the socket: one client.
		c, err := Dial(ctx, cfg.Socket)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		if _, err := c.Stat(ctx, "/svc"); err != nil {
			t.Errorf("the service's object through the socket: %v", err)
		}
		cancel()
		if err := <-done; err != nil {
			t.Errorf("monitor: %v", err)
		}
		select {
		case err := <-stopped:
			if err != nil {
				t.Errorf("the client was closed before the service stopped: %v", err)
			}
		default:
			t.Error("the service was not stopped")
		}
	})

	t.Run("start error", func(t *testing.T) {
		cfg := clusterConfig(t, cl, 2, 1)
		boom := errors.New("listen tcp: address already in use")
		var firstServed atomic.Bool
		first := Service{Name: "first", Start: func(context.Context, *zstor.Client) (func(context.Context) error, error) {
			return func(ctx context.Context) error {
				if ctx.Err() == nil {
					t.Error("the first service is served with a live context after the second failed to start")
				}
				firstServed.Store(true)
				return nil
			}, nil
		}}
		failing := Service{Name: "second", Start: func(context.Context, *zstor.Client) (func(context.Context) error, error) {
			return nil, boom
		}}
		var readyCalled atomic.Bool
		opts := quiet(MonitorOptions{Services: []Service{first, failing}, Ready: func() { readyCalled.Store(true) }})
		err := Monitor(ctx, cfg, opts)
		if !errors.Is(err, boom) {
			t.Errorf("Monitor = %v, want the service's error", err)
		}
		if readyCalled.Load() {
			t.Error("Ready was called")
		}
		if !firstServed.Load() {
			t.Error("the first service was not given its serve call to release what it holds")
		}
		if _, err := os.Lstat(cfg.Socket); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("socket left: %v", err)
		}
		// The store was closed: it opens again.
		openDirect(t, cfg).Close()
	})

	t.Run("start panic", func(t *testing.T) {
		cfg := clusterConfig(t, cl, 2, 1)
		opts := quiet(MonitorOptions{Services: []Service{{Name: "gateway", Start: func(context.Context, *zstor.Client) (func(context.Context) error, error) {
			panic("not yet")
		}}}})
		if err := Monitor(ctx, cfg, opts); err == nil || !strings.Contains(err.Error(), "service gateway panicked at start: not yet") {
			t.Errorf("Monitor = %v", err)
		}
		openDirect(t, cfg).Close()
	})

	t.Run("serve error", func(t *testing.T) {
		cfg := clusterConfig(t, cl, 2, 1)
		boom := errors.New("accept: too many open files")
		fail := make(chan struct{})
		var otherStopped atomic.Bool
		opts := quiet(MonitorOptions{Services: []Service{
			{Name: "failing", Start: func(context.Context, *zstor.Client) (func(context.Context) error, error) {
				return func(ctx context.Context) error {
					select {
					case <-fail:
						return boom
					case <-ctx.Done():
						return nil
					}
				}, nil
			}},
			{Name: "other", Start: func(context.Context, *zstor.Client) (func(context.Context) error, error) {
				return func(ctx context.Context) error {
					<-ctx.Done()
					otherStopped.Store(true)
					return nil
				}, nil
			}},
		}})
		opts.Ready = func() { close(fail) }
		done := make(chan error, 1)
		go func() { done <- Monitor(ctx, cfg, opts) }()
		select {
		case err := <-done:
			if !errors.Is(err, boom) {
				t.Errorf("Monitor = %v, want the service's error", err)
			}
		case <-time.After(time.Minute):
			t.Fatal("a failed service did not stop the daemon")
		}
		if !otherStopped.Load() {
			t.Error("the other service was not stopped")
		}
		if _, err := os.Lstat(cfg.Socket); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("socket left: %v", err)
		}
	})

	t.Run("serve panic", func(t *testing.T) {
		cfg := clusterConfig(t, cl, 2, 1)
		opts := quiet(MonitorOptions{Services: []Service{{Name: "gateway", Start: func(context.Context, *zstor.Client) (func(context.Context) error, error) {
			return func(context.Context) error { panic("not yet") }, nil
		}}}})
		if err := Monitor(ctx, cfg, opts); err == nil || !strings.Contains(err.Error(), "service gateway panicked: not yet") {
			t.Errorf("Monitor = %v", err)
		}
	})

	t.Run("already running", func(t *testing.T) {
		cfg := clusterConfig(t, cl, 2, 1)
		startMonitor(t, cfg, quiet(MonitorOptions{}))
		var called atomic.Bool
		opts := quiet(MonitorOptions{Services: []Service{{Name: "s", Start: func(context.Context, *zstor.Client) (func(context.Context) error, error) {
			called.Store(true)
			return nil, nil
		}}}})
		if err := Monitor(ctx, cfg, opts); !errors.Is(err, ErrRunning) {
			t.Errorf("Monitor = %v, want ErrRunning", err)
		}
		if called.Load() {
			t.Error("a service was started beside a running daemon")
		}
	})
}

func TestRestartOnlyS3(t *testing.T) {
	old := &config.Config{}
	old.EnsureDefaults()
	cfg := *old
	cfg.S3.Listen, cfg.S3.SecretKey, cfg.S3.AnonymousRead = "127.0.0.1:9000", "a-new-secret", true
	got := restartOnly(old, &cfg)
	if want := []string{"s3.listen", "s3.secret_key", "s3.anonymous_read"}; !slices.Equal(got, want) {
		t.Errorf("restartOnly = %q, want %q", got, want)
	}
}
