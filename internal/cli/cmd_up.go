package cli

import (
	"context"
	"flag"
	"fmt"
	"path/filepath"
	"strings"

	"github.com/zerostor/zerostor/internal/daemon"
	"github.com/zerostor/zerostor/internal/localdeploy"
)

type upOptions struct {
	Dir      string
	Backends int
	Groups   int
	K, M     int
	BasePort int
}

func newUpCommand() *command {
	o := upOptions{Dir: localdeploy.DefaultDir, Backends: localdeploy.DefaultBackends, Groups: localdeploy.DefaultGroups,
		K: localdeploy.DefaultK, M: localdeploy.DefaultM}
	return &command{
		name:  "up",
		args:  "[--dir DIR] [--backends 20] [--groups 4] [-k 16] [-m 4] [--base-port P]",
		short: "run a throwaway local deployment: zdb backends, config and daemon",
		long: `
Starts --backends zdb servers on 127.0.0.1 in this process (data under
DIR/zdb/<i>), spread over --groups groups, writes DIR/zstor.toml (random
master key, k+m shards, mode 0600) on the first start, and runs the daemon
on DIR/zstor.sock. Later starts reuse the configuration, its ports and the
data; the sizing flags then have no effect. Ctrl-C stops everything.`,
		addFlags: func(fs *flag.FlagSet) {
			fs.StringVar(&o.Dir, "dir", o.Dir, "deployment `directory`")
			fs.IntVar(&o.Backends, "backends", o.Backends, "zdb servers (first start)")
			fs.IntVar(&o.Groups, "groups", o.Groups, "failure groups (first start)")
			fs.IntVar(&o.K, "k", o.K, "data shards (first start)")
			fs.IntVar(&o.M, "m", o.M, "parity shards (first start)")
			fs.IntVar(&o.BasePort, "base-port", o.BasePort, "backend i listens on `port`+i (default: free ports, first start)")
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
	dir, err := filepath.Abs(o.Dir)
	if err != nil {
		return fmt.Errorf("up: %w", err)
	}
	return localdeploy.Run(ctx, localdeploy.Options{
		Dir: o.Dir, Backends: o.Backends, Groups: o.Groups, K: o.K, M: o.M, BasePort: o.BasePort,
		Logger: g.log,
		// The deployment's configuration file, so that `zstor reload` and
		// SIGHUP work on it too.
		Monitor: daemon.MonitorOptions{Version: g.version(), ConfigFile: filepath.Join(dir, localdeploy.ConfigName)},
		Ready:   func(d localdeploy.Deployment) { g.printUp(d) },
	})
}

func (g *globals) printUp(d localdeploy.Deployment) {
	if g.json {
		g.printJSON(map[string]any{
			"dir": d.Dir, "config": d.ConfigPath, "socket": d.Socket, "backends": d.Backends,
			"groups": d.Groups, "k": d.Config.K(), "m": d.Config.M(), "created": d.Created,
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
	fmt.Fprintf(&b, "Ctrl-C stops it; the data stays for the next `zstor up --dir %s`.\n", shellQuote(d.Dir))
	g.printf("%s", b.String())
}
