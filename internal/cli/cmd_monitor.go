package cli

import (
	"context"
	"flag"
	"fmt"
	"path/filepath"
	"time"

	"github.com/zerostor/zerostor/internal/config"
	"github.com/zerostor/zerostor/internal/daemon"
)

// monitorOptions are the daemon's flags, shared by monitor and s3.
type monitorOptions struct {
	SweepInterval time.Duration
	SweepGrace    time.Duration
}

func defaultMonitorOptions() monitorOptions {
	return monitorOptions{SweepInterval: 6 * time.Hour, SweepGrace: time.Hour}
}

func (o *monitorOptions) addFlags(fs *flag.FlagSet) {
	fs.DurationVar(&o.SweepInterval, "sweep-interval", o.SweepInterval, "orphan sweep period (0: never)")
	fs.DurationVar(&o.SweepGrace, "sweep-grace", o.SweepGrace, "the sweep spares shards younger than this")
}

func newMonitorCommand() *command {
	o := defaultMonitorOptions()
	return &command{
		name:  "monitor",
		args:  "[--sweep-interval 6h] [--sweep-grace 1h]",
		short: "run the daemon: serve the store on the config's socket, heal it in the background",
		long: `
Opens the store once and serves it on the configuration's socket (a unix
socket, mode 0600); while it runs, every other zstor command goes through
it. It heals the store in the background: it probes the backends, repairs
objects that lost shards, scrubs every shard and audits random ones
([repair] in the configuration). Serves Prometheus metrics and a health
check (/metrics, /health) on 127.0.0.1:prometheus_port when that is set,
and deletes orphan shards periodically. With [s3] listen set in the
configuration it also serves the S3 gateway there (see 'zstor help s3').
SIGHUP or SIGUSR1 (or 'zstor reload') make it re-read the configuration
file; a file that does not load is refused and the running configuration
stays. SIGINT or SIGTERM stop it cleanly: requests in flight finish first.`,
		addFlags:   o.addFlags,
		run:        func(ctx context.Context, g *globals, args []string) error { return runMonitor(ctx, g, o, args) },
		defaultLog: "info",
	}
}

func runMonitor(ctx context.Context, g *globals, o monitorOptions, args []string) error {
	if err := noArgs(args); err != nil {
		return err
	}
	cfg, err := g.loadConfig()
	if err != nil {
		return err
	}
	var services []daemon.Service
	if cfg.S3.Listen != "" {
		svc, err := g.s3Service(cfg, "")
		if err != nil {
			return err
		}
		services = append(services, svc)
	}
	return g.runDaemon(ctx, cfg, o, services)
}

// runDaemon runs the daemon on cfg with services beside the socket.
func (g *globals) runDaemon(ctx context.Context, cfg *config.Config, o monitorOptions, services []daemon.Service) error {
	interval := o.SweepInterval
	if interval == 0 {
		interval = -1
	}
	file, err := filepath.Abs(g.configPath())
	if err != nil {
		return fmt.Errorf("configuration file: %w", err)
	}
	return daemon.Monitor(ctx, cfg, daemon.MonitorOptions{
		Logger: g.log, Version: g.version(), SweepInterval: interval, SweepGrace: o.SweepGrace, ConfigFile: file,
		Services: services,
	})
}
