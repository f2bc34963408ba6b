package daemon

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/zerostor/zerostor/internal/config"
	"github.com/zerostor/zerostor/zstor"
)

// MonitorOptions tune Monitor. The zero value is the default.
type MonitorOptions struct {
	Logger  *slog.Logger
	Version string
	// Open tunes the store's client (its Logger defaults to Logger).
	Open zstor.Options
	// SweepInterval is the period of the orphan sweep; default 6h,
	// negative disables it. The first sweep runs SweepDelay after start
	// (default 10 minutes, or SweepInterval if shorter).
	SweepInterval time.Duration
	SweepDelay    time.Duration
	// SweepGrace spares shards younger than this; default 1h.
	SweepGrace time.Duration
	// ShutdownTimeout bounds the wait for requests in flight at stop;
	// default 5 minutes.
	ShutdownTimeout time.Duration
	// Ready, when set, is called once the socket (and the metrics
	// address) accept connections.
	Ready func()
}

func (o *MonitorOptions) ensureDefaults() {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Open.Logger == nil {
		o.Open.Logger = o.Logger
	}
	if o.SweepInterval == 0 {
		o.SweepInterval = 6 * time.Hour
	}
	if o.SweepDelay <= 0 {
		o.SweepDelay = min(10*time.Minute, max(o.SweepInterval, 0))
	}
	if o.SweepGrace <= 0 {
		o.SweepGrace = time.Hour
	}
}

// Monitor is the daemon (`zstor monitor`): it opens cfg's store, serves it
// on cfg.Socket, serves Prometheus metrics on 127.0.0.1:prometheus_port
// when that is set, runs the orphan sweep periodically, and stops when ctx
// is done: it stops accepting, lets requests in flight finish, then
// closes the store. It refuses to start when another daemon answers on
// the socket (ErrRunning).
func Monitor(ctx context.Context, cfg *config.Config, opts MonitorOptions) error {
	opts.ensureDefaults()
	log := opts.Logger
	if cfg.Socket == "" {
		return errors.New("daemon: the configuration has no socket: set socket = \"/path/to/zstor.sock\"")
	}
	ln, err := Listen(cfg.Socket)
	if err != nil {
		return err
	}
	c, err := zstor.Open(ctx, cfg, opts.Open)
	if err != nil {
		ln.Close()
		return err
	}
	defer c.Close()
	st := Direct(c)

	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	m := NewMetrics(reg)
	reg.MustRegister(NewBackendCollector(st))
	served := m.Instrument(st)

	var metricsSrv *http.Server
	var mwg sync.WaitGroup
	if cfg.PrometheusPort > 0 {
		addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(cfg.PrometheusPort))
		mln, err := net.Listen("tcp", addr)
		if err != nil {
			ln.Close()
			return fmt.Errorf("daemon: metrics: %w", err)
		}
		mux := http.NewServeMux()
		mux.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{Registry: reg}))
		mux.HandleFunc("/health", func(w http.ResponseWriter, _ *http.Request) { w.Write([]byte("ok\n")) })
		metricsSrv = &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
		mwg.Add(1)
		go func() {
			defer mwg.Done()
			metricsSrv.Serve(mln)
		}()
		log.Info("metrics listening", "addr", mln.Addr().String())
	}

	bg, stopBG := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	if opts.SweepInterval > 0 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sweepLoop(bg, served, opts, log)
		}()
	}

	log.Info("daemon listening", "socket", cfg.Socket)
	if opts.Ready != nil {
		opts.Ready()
	}
	srv := NewServer(served, ServerOptions{Logger: log, ShutdownTimeout: opts.ShutdownTimeout, Version: opts.Version})
	err = srv.Serve(ctx, ln)
	log.Info("daemon stopping")
	stopBG()
	wg.Wait()
	if metricsSrv != nil {
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		metricsSrv.Shutdown(sctx)
		cancel()
		mwg.Wait()
	}
	if cerr := c.Close(); err == nil && cerr != nil {
		err = fmt.Errorf("daemon: close store: %w", cerr)
	}
	return err
}

func sweepLoop(ctx context.Context, st Store, opts MonitorOptions, log *slog.Logger) {
	t := time.NewTimer(opts.SweepDelay)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		start := time.Now()
		rep, err := st.Sweep(ctx, opts.SweepGrace)
		if ctx.Err() != nil {
			return
		}
		args := []any{"scanned", rep.Scanned, "deleted", rep.Deleted, "errors", rep.Errors, "took", time.Since(start).Round(time.Millisecond)}
		if err != nil {
			log.Warn("orphan sweep", append(args, "err", err)...)
		} else {
			log.Info("orphan sweep", args...)
		}
		t.Reset(opts.SweepInterval)
	}
}
