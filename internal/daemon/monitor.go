package daemon

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"runtime/debug"
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
	// ConfigFile is the file the configuration was read from: SIGHUP,
	// SIGUSR1 (0-stor_v2's reload signal) and POST /v1/reload re-read it
	// and apply it. Empty: reloads are refused.
	ConfigFile string
	// Heal tunes the self-healing loops (probes, repair, scrub, audits)
	// started with the store.
	Heal zstor.HealOptions
	// HealthTTL is how long the metrics and the health check reuse one
	// health picture; default DefaultHealthTTL, negative: never.
	HealthTTL time.Duration
	// Services are front ends served beside the socket on the daemon's
	// client (the S3 gateway, for one): the client is the only opener of
	// the metadata store, so they must share it. See Service.
	Services []Service
}

// A Service is a front end the daemon runs on its client.
//
// Start is called once the client is open and the socket listens, before
// Ready, with Monitor's context: it does what can fail at start (listen
// on a port, check its settings) and returns serve, or nil when there is
// nothing to serve. An error (or a panic) from Start stops Monitor, which
// returns it. Then serve runs in its own goroutine until its context is
// done, which happens when the daemon stops, before the client closes;
// it should stop gracefully and return nil. A serve that returns an error
// (or panics) earlier stops the daemon, and Monitor returns that error;
// one that returns nil earlier just ends.
// Once Start succeeded, serve is always called, with a context already
// done if the daemon does not get to serve, so that it can release what
// Start took.
type Service struct {
	// Name names the service in logs and errors ("s3 gateway").
	Name  string
	Start func(ctx context.Context, c *zstor.Client) (serve func(ctx context.Context) error, err error)
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
	if o.HealthTTL == 0 {
		o.HealthTTL = DefaultHealthTTL
	}
}

// Monitor is the daemon (`zstor monitor`): it opens cfg's store, starts
// its self-healing (probes, repair, scrub, audits), serves it on
// cfg.Socket, serves Prometheus metrics and the health check on
// 127.0.0.1:prometheus_port when that is set, runs opts.Services on its
// client, runs the orphan sweep periodically, reloads opts.ConfigFile on
// SIGHUP and SIGUSR1, and stops when ctx is done (or a service fails): it
// stops accepting, lets requests in flight finish, stops the services,
// then closes the store. It refuses to start when another daemon answers
// on the socket (ErrRunning), before any service starts.
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
	if err := c.StartHealing(opts.Heal); err != nil {
		ln.Close()
		return fmt.Errorf("daemon: start self-healing: %w", err)
	}
	rl := &reloader{c: c, path: opts.ConfigFile, log: log}
	st := DirectReloading(c, rl.reload)
	hc := NewHealthCache(st, max(opts.HealthTTL, 0), func() int { return c.Config().K() })

	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	m := NewMetrics(reg)
	reg.MustRegister(NewHealthCollector(hc))
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
		mux.Handle("/health", hc)
		metricsSrv = &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
		mwg.Add(1)
		go func() {
			defer mwg.Done()
			metricsSrv.Serve(mln)
		}()
		log.Info("metrics listening", "addr", mln.Addr().String())
	}

	// Canceled when ctx is, or when a service fails: it stops the socket
	// server and the services.
	sctx, stopServing := context.WithCancel(ctx)
	defer stopServing()
	svcs, err := startServices(ctx, c, opts.Services, log)
	if err != nil {
		ln.Close()
		if metricsSrv != nil {
			metricsSrv.Close()
			mwg.Wait()
		}
		return err
	}
	var (
		swg    sync.WaitGroup
		svcMu  sync.Mutex
		svcErr error // the first service that failed
	)
	for _, sv := range svcs {
		swg.Add(1)
		go func() {
			defer swg.Done()
			err := sv.run(sctx)
			if err == nil {
				if sctx.Err() == nil {
					log.Info("service stopped", "service", sv.name)
				}
				return
			}
			if sctx.Err() != nil {
				log.Warn("service stopped with an error", "service", sv.name, "err", err)
				return
			}
			log.Error("service failed; the daemon stops", "service", sv.name, "err", err)
			svcMu.Lock()
			if svcErr == nil {
				svcErr = err
			}
			svcMu.Unlock()
			stopServing()
		}()
	}

	bg, stopBG := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	// Registered before Ready, so that a reload signal sent once the
	// daemon is up never falls to the default action (exit).
	sigs := make(chan os.Signal, 1)
	if rs := reloadSignals(); len(rs) > 0 { // Notify with none would relay every signal
		signal.Notify(sigs, rs...)
		defer signal.Stop(sigs)
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			select {
			case <-bg.Done():
				return
			case sig := <-sigs:
				log.Info("reloading the configuration", "signal", sig.String(), "file", opts.ConfigFile)
				served.Reload(bg) // the reloader logs the outcome
			}
		}
	}()
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
	srv := NewServer(served, ServerOptions{Logger: log, ShutdownTimeout: opts.ShutdownTimeout, Version: opts.Version, Health: hc})
	err = srv.Serve(sctx, ln)
	log.Info("daemon stopping")
	stopServing()
	swg.Wait()
	if svcErr != nil {
		err = svcErr
	}
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

// startedService is a Service whose Start succeeded.
type startedService struct {
	name  string
	serve func(ctx context.Context) error
	log   *slog.Logger
}

// run is serve, with a panic turned into an error (and its stack logged):
// the daemon then stops cleanly, closing the store.
func (s startedService) run(ctx context.Context) (err error) {
	defer func() {
		if p := recover(); p != nil {
			s.log.Error("service panicked", "service", s.name, "panic", fmt.Sprint(p), "stack", string(debug.Stack()))
			err = fmt.Errorf("daemon: service %s panicked: %v", s.name, p)
		}
	}()
	return s.serve(ctx)
}

// startServices calls Start of every service in order. If one fails, the
// services started before it are served with a canceled context, so they
// release what they hold, and the error is returned.
func startServices(ctx context.Context, c *zstor.Client, svcs []Service, log *slog.Logger) ([]startedService, error) {
	var started []startedService
	for _, sv := range svcs {
		name := sv.Name
		if name == "" {
			name = "service"
		}
		serve, err := startService(ctx, c, sv, name, log)
		if err != nil {
			done, cancel := context.WithCancel(context.Background())
			cancel()
			for _, s := range started {
				if err := s.run(done); err != nil {
					log.Warn("service stopped with an error", "service", s.name, "err", err)
				}
			}
			return nil, err
		}
		if serve != nil {
			started = append(started, startedService{name: name, serve: serve, log: log})
		}
	}
	return started, nil
}

// startService is sv.Start, with a panic turned into an error.
func startService(ctx context.Context, c *zstor.Client, sv Service, name string, log *slog.Logger) (serve func(context.Context) error, err error) {
	defer func() {
		if p := recover(); p != nil {
			log.Error("service panicked at start", "service", name, "panic", fmt.Sprint(p), "stack", string(debug.Stack()))
			serve, err = nil, fmt.Errorf("daemon: service %s panicked at start: %v", name, p)
		}
	}()
	if sv.Start == nil {
		return nil, nil
	}
	return sv.Start(ctx, c)
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

// reloader re-reads the daemon's configuration file and applies it to the
// client, logging the outcome: a reload comes from a signal as often as
// from a request, and the log is where an operator looks for its result.
type reloader struct {
	c    *zstor.Client
	path string
	log  *slog.Logger
	// mu makes reloads one at a time, so that the comparison with the
	// running configuration below sees the one in force.
	mu sync.Mutex
}

func (r *reloader) reload(ctx context.Context) (zstor.ReloadReport, error) {
	if r.path == "" {
		err := fmt.Errorf("%w: reload: the daemon was started without a configuration file", zstor.ErrInvalid)
		r.log.Error("configuration reload refused", "err", err)
		return zstor.ReloadReport{}, err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	cfg, err := config.Load(r.path)
	if err != nil {
		err = fmt.Errorf("%w: reload: %w", zstor.ErrInvalid, err) // config errors name the file
		r.log.Error("configuration reload rejected; the running configuration stays", "file", r.path, "err", err)
		return zstor.ReloadReport{}, err
	}
	for _, k := range restartOnly(r.c.Config(), cfg) {
		r.log.Warn("configuration key changed but needs a restart to take effect", "key", k, "file", r.path)
	}
	rep, err := r.c.Reload(ctx, cfg)
	if err != nil {
		r.log.Error("configuration reload rejected; the running configuration stays", "file", r.path, "err", err)
		return rep, err
	}
	n := 0
	for _, g := range cfg.Groups {
		n += len(g.Backends)
	}
	r.log.Info("configuration reloaded", "file", r.path, "added", rep.Added, "removed", rep.Removed, "queued", rep.Queued, "backends", n)
	return rep, nil
}

// restartOnly names the keys that differ between the running
// configuration and a new one but only take effect at a restart: the
// daemon's socket and metrics port, the metadata directory, and [s3] (the
// services read it at start).
func restartOnly(old, cfg *config.Config) []string {
	var keys []string
	if old.Socket != cfg.Socket {
		keys = append(keys, "socket")
	}
	if old.PrometheusPort != cfg.PrometheusPort {
		keys = append(keys, "prometheus_port")
	}
	if old.MetaDir != cfg.MetaDir {
		keys = append(keys, "meta_dir")
	}
	o, n := old.S3, cfg.S3
	for _, k := range []struct {
		name    string
		changed bool
	}{
		{"s3.listen", o.Listen != n.Listen},
		{"s3.access_key", o.AccessKey != n.AccessKey},
		{"s3.secret_key", o.SecretKey != n.SecretKey},
		{"s3.region", o.Region != n.Region},
		{"s3.upload_expiry", o.UploadExpiry != n.UploadExpiry},
		{"s3.anonymous_read", o.AnonymousRead != n.AnonymousRead},
	} {
		if k.changed {
			keys = append(keys, k.name)
		}
	}
	return keys
}
