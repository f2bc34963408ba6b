package cli

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/zerostor/zerostor/internal/daemon"
)

func newReloadCommand() *command {
	return &command{
		name:  "reload",
		args:  "",
		short: "make the running daemon re-read its configuration file",
		long: `
Asks the daemon on the configuration's socket to re-read the configuration
file it was started with and apply it without a restart (as SIGHUP or
SIGUSR1 do): backends added or removed, groups, labels, placement, and k+m,
block size and quorum for new objects. Objects with shards on removed
backends are queued for repair. A configuration that does not load, or that
changes the master key, the metadata key or prefix, is refused and the
daemon keeps the one it has. socket, prometheus_port and meta_dir take
effect at the next start. Without a daemon there is nothing to reload: each
command reads the configuration afresh.`,
		run: runReload,
	}
}

func runReload(ctx context.Context, g *globals, args []string) error {
	if err := noArgs(args); err != nil {
		return err
	}
	cfg, err := g.loadConfig()
	if err != nil {
		return err
	}
	const why = "reload applies to a running daemon (`zstor monitor`); without one, every command reads the configuration afresh, so there is nothing to reload"
	if cfg.Socket == "" {
		return fmt.Errorf("the configuration has no socket: %s", why)
	}
	c, err := daemon.Dial(ctx, cfg.Socket)
	if errors.Is(err, daemon.ErrNoDaemon) {
		return fmt.Errorf("no daemon answers on %s: %s", cfg.Socket, why)
	}
	if err != nil {
		return fmt.Errorf("daemon on %s does not answer: %w", cfg.Socket, err)
	}
	g.closers = append(g.closers, c)
	rep, err := c.Reload(ctx)
	if err != nil {
		return err
	}
	list := func(ids []string) string {
		if len(ids) == 0 {
			return "none"
		}
		return strings.Join(ids, ", ")
	}
	return g.result(daemon.ReloadToJSON(rep), "the daemon reloaded its configuration: backends added: %s; removed: %s; %d objects queued for repair\n",
		list(rep.Added), list(rep.Removed), rep.Queued)
}
