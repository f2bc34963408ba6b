package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net"
	"net/netip"

	"github.com/zerostor/zerostor/internal/config"
	"github.com/zerostor/zerostor/internal/daemon"
	"github.com/zerostor/zerostor/internal/s3"
	"github.com/zerostor/zerostor/zstor"
)

type s3Options struct {
	monitorOptions
	Listen string
}

func newS3Command() *command {
	o := s3Options{monitorOptions: defaultMonitorOptions()}
	return &command{
		name:  "s3",
		args:  "[--listen ADDR] [--sweep-interval 6h] [--sweep-grace 1h]",
		short: "run the daemon with the S3 gateway: the store over the S3 API on ADDR",
		long: `
Runs the daemon, exactly as 'zstor monitor' does (the socket, self-healing,
metrics, the orphan sweep, reloads), and serves the store over the S3 API on
ADDR: --listen, else [s3] listen in the configuration, else 127.0.0.1:9000.
A bucket's objects are stored as zstor objects named BUCKET/KEY.

Every request must be signed (AWS Signature V4) with [s3] access_key and
secret_key, or $ZSTOR_S3_ACCESS_KEY and $ZSTOR_S3_SECRET_KEY, which override
them; without credentials it refuses to start unless [s3] anonymous_read is
set (unsigned requests may then read, never write). The gateway speaks plain
HTTP: on an address other than the loopback, put TLS in front of it. Any S3
client works, e.g.

  aws --endpoint-url http://127.0.0.1:9000 s3 mb s3://photos
  aws --endpoint-url http://127.0.0.1:9000 s3 cp cat.jpg s3://photos/

SIGINT or SIGTERM stop it cleanly: requests in flight finish first. 'zstor
monitor' serves the gateway too when [s3] listen is set.`,
		addFlags: func(fs *flag.FlagSet) {
			fs.StringVar(&o.Listen, "listen", o.Listen, "gateway `address` host:port (default [s3] listen, else "+config.DefaultS3Listen+")")
			o.monitorOptions.addFlags(fs)
		},
		run:        func(ctx context.Context, g *globals, args []string) error { return runS3(ctx, g, o, args) },
		defaultLog: "info",
	}
}

func runS3(ctx context.Context, g *globals, o s3Options, args []string) error {
	if err := noArgs(args); err != nil {
		return err
	}
	if o.Listen != "" {
		if err := config.CheckListen(o.Listen); err != nil {
			return usageErrorf("--listen: %v", err)
		}
	}
	cfg, err := g.loadConfig()
	if err != nil {
		return err
	}
	listen := o.Listen
	if listen == "" {
		listen = cfg.S3.Listen
	}
	if listen == "" {
		listen = config.DefaultS3Listen
	}
	svc, err := g.s3Service(cfg, listen)
	if err != nil {
		return err
	}
	return g.runDaemon(ctx, cfg, o.monitorOptions, []daemon.Service{svc})
}

// s3Gateway is where and how the gateway serves, and, once it serves,
// the address it listens on.
type s3Gateway struct {
	listen    string // as configured
	addr      string // the address listened on, once it listens
	accessKey string
	secretKey string
	s3        config.S3
}

// newS3Gateway is the gateway of cfg on listen. It refuses to serve
// without credentials unless anonymous reads are allowed.
func newS3Gateway(cfg *config.Config, listen, configFile string) (*s3Gateway, error) {
	ak, sk, err := cfg.S3Credentials()
	if err != nil {
		return nil, fmt.Errorf("s3 gateway: %w", err)
	}
	if ak == "" && !cfg.S3.AnonymousRead {
		return nil, fmt.Errorf("s3 gateway: no credentials: set access_key and secret_key in the [s3] section of %s, "+
			"or the environment variables %s and %s (or anonymous_read = true in [s3] to serve unsigned reads only)",
			configFile, config.EnvS3AccessKey, config.EnvS3SecretKey)
	}
	return &s3Gateway{listen: listen, accessKey: ak, secretKey: sk, s3: cfg.S3}, nil
}

// s3Service checks the gateway of cfg on listen ("": [s3] listen) now, so
// that a command fails before the daemon starts, and returns it as a
// service of the daemon.
func (g *globals) s3Service(cfg *config.Config, listen string) (daemon.Service, error) {
	if listen == "" {
		listen = cfg.S3.Listen
	}
	if _, err := newS3Gateway(cfg, listen, g.configPath()); err != nil {
		return daemon.Service{}, err
	}
	return g.s3ServiceOf(func(c *zstor.Client) (*s3Gateway, error) {
		return newS3Gateway(c.Config(), listen, g.configPath())
	}), nil
}

// s3ServiceOf is the gateway as a daemon service: gateway decides at
// start how it serves (nil: not at all).
func (g *globals) s3ServiceOf(gateway func(c *zstor.Client) (*s3Gateway, error)) daemon.Service {
	return daemon.Service{Name: "s3 gateway", Start: func(ctx context.Context, c *zstor.Client) (func(context.Context) error, error) {
		gw, err := gateway(c)
		if err != nil || gw == nil {
			return nil, err
		}
		return g.startS3(c, gw)
	}}
}

// startS3 makes the gateway and listens; the function returned serves
// until its context is done.
func (g *globals) startS3(c *zstor.Client, gw *s3Gateway) (func(context.Context) error, error) {
	log := g.log.With("service", "s3")
	creds := map[string]string{}
	if gw.accessKey != "" {
		creds[gw.accessKey] = gw.secretKey
	}
	srv, err := newS3Server(c, s3.Options{
		Credentials:    creds,
		Region:         gw.s3.Region,
		AllowAnonymous: gw.s3.AnonymousRead,
		UploadExpiry:   gw.s3.UploadExpiry,
		Logger:         log,
	})
	if err != nil {
		return nil, fmt.Errorf("s3 gateway: %w", err)
	}
	ln, err := net.Listen("tcp", gw.listen)
	if err != nil {
		return nil, fmt.Errorf("s3 gateway: %w", err)
	}
	gw.addr = ln.Addr().String()
	args := []any{"addr", gw.addr, "region", gw.s3.Region, "anonymous_read", gw.s3.AnonymousRead}
	if gw.accessKey != "" {
		args = append(args, "access_key", gw.accessKey) // never the secret
	}
	g.log.Info("s3 gateway listening", args...)
	if gw.s3.AnonymousRead && !loopback(gw.listen) {
		g.log.Warn("s3 gateway: anonymous_read is on and the gateway listens beyond the loopback: anyone who reaches "+gw.addr+" can read every bucket", "addr", gw.addr)
	}
	return func(ctx context.Context) error {
		defer ln.Close()
		if ctx.Err() != nil {
			return nil // the daemon did not get to serve
		}
		err := srv.Serve(ctx, ln)
		if errors.Is(err, context.Canceled) && ctx.Err() != nil {
			err = nil
		}
		return err
	}, nil
}

// s3Server is what the daemon serves of the gateway: *s3.Server.
type s3Server interface {
	Serve(ctx context.Context, ln net.Listener) error
}

// newS3Server makes the gateway; tests of what the command line owns
// (flags, configuration, credentials, listening, logs) replace it.
var newS3Server = func(c *zstor.Client, opts s3.Options) (s3Server, error) {
	return s3.New(c, opts)
}

// loopback reports whether the listen address host:port only takes
// connections from this machine; an empty host is every interface.
func loopback(listen string) bool {
	host, _, err := net.SplitHostPort(listen)
	if err != nil || host == "" {
		return false
	}
	if host == "localhost" {
		return true
	}
	ip, err := netip.ParseAddr(host)
	return err == nil && ip.IsLoopback()
}
