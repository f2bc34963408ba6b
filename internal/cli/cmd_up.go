package cli

import (
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/zerostor/zerostor/internal/config"
	"github.com/zerostor/zerostor/internal/daemon"
	"github.com/zerostor/zerostor/internal/localdeploy"
	"github.com/zerostor/zerostor/zstor"
)

type upOptions struct {
	Dir      string
	Backends int
	Groups   int
	K, M     int
	BasePort int
	S3       optionalString
}

// optionalString is a string flag that knows whether it was given.
type optionalString struct {
	value string
	set   bool
}

func (o *optionalString) String() string {
	if o == nil {
		return ""
	}
	return o.value
}

func (o *optionalString) Set(v string) error {
	o.value, o.set = v, true
	return nil
}

func newUpCommand() *command {
	o := upOptions{Dir: localdeploy.DefaultDir, Backends: localdeploy.DefaultBackends, Groups: localdeploy.DefaultGroups,
		K: localdeploy.DefaultK, M: localdeploy.DefaultM}
	return &command{
		name:  "up",
		args:  "[--dir DIR] [--backends 20] [--groups 4] [-k 16] [-m 4] [--base-port P] [--s3 ADDR]",
		short: "run a throwaway local deployment: zdb backends, config, daemon and S3 gateway",
		long: `
Starts --backends zdb servers on 127.0.0.1 in this process (data under
DIR/zdb/<i>), spread over --groups groups, writes DIR/zstor.toml (random
master key, k+m shards, S3 credentials, mode 0600) on the first start, and
runs the daemon on DIR/zstor.sock with the S3 gateway on --s3 (default
127.0.0.1:9000; --s3 "" turns it off). Later starts reuse the
configuration, its ports, its S3 credentials and the data; the sizing flags
then have no effect, and --s3, when given, changes [s3] listen in the file.
It prints how to use the store and the gateway, the S3 credentials
included. Ctrl-C stops everything.`,
		addFlags: func(fs *flag.FlagSet) {
			fs.StringVar(&o.Dir, "dir", o.Dir, "deployment `directory`")
			fs.IntVar(&o.Backends, "backends", o.Backends, "zdb servers (first start)")
			fs.IntVar(&o.Groups, "groups", o.Groups, "failure groups (first start)")
			fs.IntVar(&o.K, "k", o.K, "data shards (first start)")
			fs.IntVar(&o.M, "m", o.M, "parity shards (first start)")
			fs.IntVar(&o.BasePort, "base-port", o.BasePort, "backend i listens on `port`+i (default: free ports, first start)")
			fs.Var(&o.S3, "s3", "S3 gateway `address` host:port; \"\" turns it off (default "+config.DefaultS3Listen+" in a new configuration, else the configuration's)")
		},
		run:        func(ctx context.Context, g *globals, args []string) error { return runUp(ctx, g, o, args) },
		defaultLog: "info",
	}
}

func runUp(ctx context.Context, g *globals, o upOptions, args []string) error {
	if err := noArgs(args); err != nil {
		return err
	}
	if o.Backends < 1 || o.Groups < 1 || o.K < 1 || o.M < 0 || o.BasePort < 0 || o.BasePort > 65535-o.Backends {
		return usageErrorf("need --backends >= 1, --groups >= 1, -k >= 1, -m >= 0 and a valid --base-port")
	}
	var s3Listen *string
	if o.S3.set {
		if o.S3.value != "" {
			if err := config.CheckListen(o.S3.value); err != nil {
				return usageErrorf("--s3: %v", err)
			}
		}
		s3Listen = &o.S3.value
	}
	dir, err := filepath.Abs(o.Dir)
	if err != nil {
		return fmt.Errorf("up: %w", err)
	}
	file := filepath.Join(dir, localdeploy.ConfigName)
	// The gateway serves on the deployment's [s3] listen, when set.
	var gw *s3Gateway
	s3svc := g.s3ServiceOf(func(c *zstor.Client) (*s3Gateway, error) {
		cfg := c.Config()
		if cfg.S3.Listen == "" {
			return nil, nil
		}
		var err error
		gw, err = newS3Gateway(cfg, cfg.S3.Listen, file)
		return gw, err
	})
	return localdeploy.Run(ctx, localdeploy.Options{
		Dir: o.Dir, Backends: o.Backends, Groups: o.Groups, K: o.K, M: o.M, BasePort: o.BasePort,
		S3:     s3Listen,
		Logger: g.log,
		// The deployment's configuration file, so that `zstor reload` and
		// SIGHUP work on it too.
		Monitor: daemon.MonitorOptions{Version: g.version(), ConfigFile: file, Services: []daemon.Service{s3svc}},
		Ready:   func(d localdeploy.Deployment) { g.printUp(d, gw) },
	})
}

// printUp tells how to use the deployment; gw is its S3 gateway, nil when
// off. The S3 secret key is printed (the user's own local deployment), to
// stdout only: never to the log.
func (g *globals) printUp(d localdeploy.Deployment, gw *s3Gateway) {
	if g.json {
		var s3 any
		if gw != nil {
			s3 = map[string]any{"endpoint": "http://" + gw.addr, "access_key": gw.accessKey, "region": gw.s3.Region}
		}
		g.printJSON(map[string]any{
			"dir": d.Dir, "config": d.ConfigPath, "socket": d.Socket, "backends": d.Backends,
			"groups": d.Groups, "k": d.Config.K(), "m": d.Config.M(), "created": d.Created, "s3": s3,
		})
		return
	}
	var b strings.Builder
	how := "reusing"
	if d.Created {
		how = "wrote"
	}
	fmt.Fprintf(&b, "zstor is up: %d zdb backends in %d groups, %d+%d shards, data in %s\n", len(d.Backends), d.Groups, d.Config.K(), d.Config.M(), d.Dir)
	fmt.Fprintf(&b, "%s the configuration %s; the daemon listens on %s\n\n", how, d.ConfigPath, d.Socket)
	z := "zstor -c " + shellQuote(d.ConfigPath)
	fmt.Fprintf(&b, "  %s store -f FILE          # store a file (key: its path)\n", z)
	fmt.Fprintf(&b, "  %s retrieve -f FILE       # write it back\n", z)
	fmt.Fprintf(&b, "  %s retrieve -k KEY -o -   # to stdout\n", z)
	fmt.Fprintf(&b, "  %s list\n", z)
	fmt.Fprintf(&b, "  %s status\n\n", z)
	if gw != nil {
		printUpS3(&b, gw)
	} else {
		fmt.Fprintf(&b, "The S3 gateway is off (`zstor up --dir %s --s3 %s` turns it on).\n\n", shellQuote(d.Dir), config.DefaultS3Listen)
	}
	fmt.Fprintf(&b, "Ctrl-C stops it; the data stays for the next `zstor up --dir %s`.\n", shellQuote(d.Dir))
	g.printf("%s", b.String())
}

// printUpS3 tells how to use the S3 gateway with the AWS command line.
func printUpS3(b *strings.Builder, gw *s3Gateway) {
	endpoint := "http://" + gw.addr
	fmt.Fprintf(b, "The S3 gateway listens on %s (region %s):\n\n", endpoint, gw.s3.Region)
	aws := "aws --endpoint-url " + endpoint
	if gw.accessKey == "" {
		aws += " --no-sign-request" // anonymous reads only
	} else {
		secret := shellQuote(gw.secretKey)
		if os.Getenv(config.EnvS3SecretKey) != "" {
			secret = `"$` + config.EnvS3SecretKey + `"`
		}
		fmt.Fprintf(b, "  export AWS_ACCESS_KEY_ID=%s\n", shellQuote(gw.accessKey))
		fmt.Fprintf(b, "  export AWS_SECRET_ACCESS_KEY=%s\n", secret)
		fmt.Fprintf(b, "  export AWS_DEFAULT_REGION=%s\n", shellQuote(gw.s3.Region))
		fmt.Fprintf(b, "  %s s3 mb s3://photos\n", aws)
		fmt.Fprintf(b, "  %s s3 cp cat.jpg s3://photos/\n", aws)
	}
	fmt.Fprintf(b, "  %s s3 ls\n\n", aws)
}
