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
// 127.0.0.1:prometheus_port when that is set, runs the orphan sweep
// periodically, reloads opts.ConfigFile on SIGHUP and SIGUSR1, and stops
// when ctx is done: it stops accepting, lets requests in flight finish,
// then closes the store. It refuses to start when another daemon answers
// on the socket (ErrRunning).
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
// daemon's socket and metrics port, and the metadata directory.
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
	return keys
}
