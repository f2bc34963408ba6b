// Package localdeploy is `zstor up`: a throwaway local deployment in one
// process — N zdb servers on 127.0.0.1 (the project's own server package,
// in-process), a generated zstor configuration, and the daemon serving it
// on a unix socket. The first start picks free ports and records them in
// DIR/zstor.toml; later starts reuse the file, the ports and the data.
// The configuration has an [s3] section: the S3 gateway's address
// (127.0.0.1:9000 unless Options.S3 says otherwise) and generated
// credentials; the caller adds the gateway to the daemon
// (Options.Monitor.Services), this package does not know it.
//
// Layout of DIR:
//
//	.lock            held while the deployment runs
//	zstor.toml       the configuration (mode 0600: it holds the master key
//	                 and the S3 secret key)
//	zstor.sock       the daemon's socket
//	meta/            the metadata store
//	zdb/<i>/data     backend i's data files
//	zdb/<i>/index    backend i's index
package localdeploy

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"time"

	"github.com/zerostor/zerostor/internal/config"
	"github.com/zerostor/zerostor/internal/daemon"
	"github.com/zerostor/zerostor/internal/zdb/server"
)

// Defaults of Options.
const (
	DefaultDir = "zstor-local"
	// DefaultBackends leaves 4 spares beyond the 16+4 shards, so the
	// shards of a lost backend have somewhere to go.
	DefaultBackends = 24
	DefaultGroups   = 4
	DefaultK        = 16
	DefaultM        = 4
	// localTerminalAfter is the generated config's repair.terminal_after.
	localTerminalAfter = time.Minute
	// ConfigName is the configuration's file name in the directory.
	ConfigName = "zstor.toml"
)

// Options configure Run. Backends, Groups, K, M and BasePort only matter
// at the first start, when the configuration is generated.
type Options struct {
	Dir      string // default ./zstor-local
	Backends int    // zdb servers; default 24
	Groups   int    // failure groups they are spread over; default 4
	K, M     int    // data and parity shards; default 16 and 4
	// BasePort, when set, puts backend i on port BasePort+i; otherwise
	// free ports are picked.
	BasePort int
	// S3 sets the S3 gateway's address, [s3] listen: nil keeps the
	// configuration's (config.DefaultS3Listen in a new one); "" turns
	// the gateway off; an address moves it. An existing configuration is
	// rewritten when this changes it, and gets credentials when it has
	// none and the gateway is on; the credentials it has are kept.
	S3     *string
	Logger *slog.Logger
	// Monitor tunes the daemon (its Logger defaults to Logger).
	Monitor daemon.MonitorOptions
	// Ready is called once the backends and the daemon serve.
	Ready func(Deployment)
}

func (o *Options) ensureDefaults() {
	if o.Dir == "" {
		o.Dir = DefaultDir
	}
	if o.Backends == 0 {
		o.Backends = DefaultBackends
	}
	if o.Groups == 0 {
		o.Groups = DefaultGroups
	}
	if o.K == 0 {
		o.K = DefaultK
	}
	if o.M == 0 {
		o.M = DefaultM
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Monitor.Logger == nil {
		o.Monitor.Logger = o.Logger
	}
}

// Deployment describes a running deployment.
type Deployment struct {
	Dir        string // absolute
	ConfigPath string
	Socket     string
	Config     *config.Config
	Backends   []string // addresses, in backend order
	Groups     int
	// Created is true when this start generated the configuration.
	Created bool
}

// Run starts the deployment and serves until ctx is done, then stops the
// daemon (requests in flight finish) and then the backends.
func Run(ctx context.Context, opts Options) error {
	opts.ensureDefaults()
	log := opts.Logger
	dir, err := filepath.Abs(opts.Dir)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("up: %w", err)
	}
	unlock, err := lockDir(dir)
	if err != nil {
		return fmt.Errorf("up: %w", err)
	}
	defer unlock()
	dep := Deployment{Dir: dir, ConfigPath: filepath.Join(dir, ConfigName)}

	var ports []int
	cfg, err := config.Load(dep.ConfigPath)
	switch {
	case err == nil:
		if ports, err = localPorts(cfg); err != nil {
			return fmt.Errorf("up: %s: %w", dep.ConfigPath, err)
		}
		if cfg, err = updateS3(dep.ConfigPath, cfg, opts.S3, log); err != nil {
			return fmt.Errorf("up: %w", err)
		}
	case errors.Is(err, fs.ErrNotExist):
		if opts.Backends < 1 || opts.Groups < 1 || opts.Groups > opts.Backends {
			return fmt.Errorf("up: %d backends in %d groups: need at least one backend per group", opts.Backends, opts.Groups)
		}
		if opts.K < 1 || opts.M < 0 || opts.K+opts.M > opts.Backends {
			return fmt.Errorf("up: %d+%d shards need at least %d backends, have %d", opts.K, opts.M, opts.K+opts.M, opts.Backends)
		}
		ports = make([]int, opts.Backends)
		if opts.BasePort > 0 {
			for i := range ports {
				ports[i] = opts.BasePort + i
			}
		}
		dep.Created = true
	default:
		return fmt.Errorf("up: %w", err)
	}

	zctx, stopZdbs := context.WithCancel(context.Background())
	var zwg sync.WaitGroup
	defer func() {
		stopZdbs()
		zwg.Wait()
	}()
	zlog := slog.New(minLevel{log.Handler(), slog.LevelWarn})
	for i := range ports {
		srv, err := server.New(server.Config{
			DataDir:  filepath.Join(dir, "zdb", strconv.Itoa(i), "data"),
			IndexDir: filepath.Join(dir, "zdb", strconv.Itoa(i), "index"),
			Listen:   "127.0.0.1",
			Port:     ports[i],
			Logger:   zlog.With("zdb", i),
		})
		if err != nil {
			return fmt.Errorf("up: zdb %d: %w", i, err)
		}
		if err := srv.Listen(); err != nil {
			return fmt.Errorf("up: zdb %d: %w (is `zstor up` already running on %s?)", i, err, dir)
		}
		if ports[i] == 0 {
			for _, a := range srv.Addrs() {
				if ta, ok := a.(*net.TCPAddr); ok {
					ports[i] = ta.Port
				}
			}
		}
		zwg.Add(1)
		go func() {
			defer zwg.Done()
			if err := srv.Serve(zctx); err != nil {
				log.Error("zdb stopped", "zdb", i, "err", err)
			}
		}()
	}
	for _, p := range ports {
		dep.Backends = append(dep.Backends, net.JoinHostPort("127.0.0.1", strconv.Itoa(p)))
	}

	if dep.Created {
		gen, err := config.Local(dir, dep.Backends, opts.Groups, opts.K, opts.M)
		if err != nil {
			return fmt.Errorf("up: %w", err)
		}
		// A local deployment is for trying things: a killed backend is
		// given up on after a minute, not 0-stor's 15.
		gen.Repair = config.DefaultRepair()
		gen.Repair.TerminalAfter = localTerminalAfter
		if opts.S3 != nil {
			gen.S3.Listen = *opts.S3 // config.Local wrote the credentials
		}
		if err := config.WriteFile(dep.ConfigPath, gen); err != nil {
			return fmt.Errorf("up: %w", err)
		}
		if cfg, err = config.Load(dep.ConfigPath); err != nil {
			return fmt.Errorf("up: the generated configuration does not load: %w", err)
		}
		log.Info("configuration written", "path", dep.ConfigPath)
	}
	dep.Config, dep.Socket, dep.Groups = cfg, cfg.Socket, len(cfg.Groups)

	mopts := opts.Monitor
	ready := mopts.Ready
	mopts.Ready = func() {
		if ready != nil {
			ready()
		}
		if opts.Ready != nil {
			opts.Ready(dep)
		}
	}
	err = daemon.Monitor(ctx, cfg, mopts)
	log.Info("stopping the backends")
	return err
}

// updateS3 applies listen (nil: no change) to the [s3] of a configuration
// made by Run, gives it credentials when the gateway is on and it has
// none, and rewrites the file when that changed anything. The file's
// other keys are kept (Run made it: every key is explicit in it).
func updateS3(path string, cfg *config.Config, listen *string, log *slog.Logger) (*config.Config, error) {
	s := cfg.S3
	if listen != nil {
		s.Listen = *listen
	}
	if s.Listen != "" && s.AccessKey == "" && s.SecretKey == "" {
		ak, sk, err := config.NewS3Credentials()
		if err != nil {
			return nil, err
		}
		s.AccessKey, s.SecretKey = ak, sk
	}
	if s == cfg.S3 {
		return cfg, nil
	}
	cfg.S3 = s
	if err := config.WriteFile(path, cfg); err != nil {
		return nil, err
	}
	cfg, err := config.Load(path)
	if err != nil {
		return nil, fmt.Errorf("the rewritten configuration does not load: %w", err)
	}
	log.Info("configuration updated", "path", path, "s3.listen", s.Listen)
	return cfg, nil
}

// localPorts returns the port of every data backend of a configuration
// made by Run, in order; every backend must be on the loopback.
func localPorts(cfg *config.Config) ([]int, error) {
	var ports []int
	for _, g := range cfg.Groups {
		for _, b := range g.Backends {
			host, p, err := net.SplitHostPort(b.Address)
			if err != nil {
				return nil, fmt.Errorf("backend %s: not host:port, not a configuration made by `zstor up`", b.Address)
			}
			port, err := strconv.Atoi(p)
			if err != nil || port <= 0 || port > 65535 {
				return nil, fmt.Errorf("backend %s: bad port", b.Address)
			}
			if ip := net.ParseIP(host); host != "localhost" && (ip == nil || !ip.IsLoopback()) {
				return nil, fmt.Errorf("backend %s is not on the loopback: not a configuration made by `zstor up`", b.Address)
			}
			ports = append(ports, port)
		}
	}
	if len(ports) == 0 {
		return nil, errors.New("no backends")
	}
	return ports, nil
}

// minLevel drops records below a level: the embedded zdb servers log
// only their warnings and errors.
type minLevel struct {
	slog.Handler
	min slog.Level
}

func (h minLevel) Enabled(ctx context.Context, l slog.Level) bool {
	return l >= h.min && h.Handler.Enabled(ctx, l)
}

func (h minLevel) WithAttrs(a []slog.Attr) slog.Handler {
	return minLevel{h.Handler.WithAttrs(a), h.min}
}
func (h minLevel) WithGroup(n string) slog.Handler { return minLevel{h.Handler.WithGroup(n), h.min} }
