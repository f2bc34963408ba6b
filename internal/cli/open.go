package cli

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"strings"

	"github.com/zerostor/zerostor/internal/config"
	"github.com/zerostor/zerostor/internal/daemon"
	"github.com/zerostor/zerostor/internal/meta"
	"github.com/zerostor/zerostor/zstor"
)

// configPath is -c, else $ZSTOR_CONFIG, else zstor.toml.
func (g *globals) configPath() string {
	if g.config != "" {
		return g.config
	}
	if p := g.env.getenv(EnvConfig); p != "" {
		return p
	}
	return DefaultConfig
}

// loadConfig reads and validates the config, with errors meant for the
// user: a missing file says how to get one; an invalid one lists every
// problem.
func (g *globals) loadConfig() (*config.Config, error) {
	path := g.configPath()
	cfg, err := config.Load(path)
	switch {
	case err == nil:
		return cfg, nil
	case errors.Is(err, fs.ErrNotExist):
		return nil, fmt.Errorf("no configuration file %s: give one with -c FILE or $%s; `zstor up` starts a local deployment and writes one", path, EnvConfig)
	case errors.Is(err, config.ErrInvalid):
		var lines []string
		for l := range strings.SplitSeq(err.Error(), "\n") {
			if l = strings.TrimPrefix(strings.TrimSpace(l), path+": "); l != "" {
				lines = append(lines, "  "+l)
			}
		}
		problems := "problem"
		if len(lines) != 1 {
			problems += "s"
		}
		return nil, fmt.Errorf("invalid configuration %s (%d %s):\n%s", path, len(lines), problems, strings.Join(lines, "\n"))
	}
	return nil, err
}

// openKey opens the store (openStore) and resolves the object's key from
// -k key or -f file (keyOf).
func (g *globals) openKey(ctx context.Context, key, file string) (daemon.Store, string, error) {
	st, cfg, err := g.openStore(ctx)
	if err != nil {
		return nil, "", err
	}
	if key, err = keyOf(cfg, key, file); err != nil {
		return nil, "", err
	}
	return st, key, nil
}

// openStore loads the config and returns the store: through the daemon
// when one answers on the config's socket, else opened in this process.
func (g *globals) openStore(ctx context.Context) (daemon.Store, *config.Config, error) {
	cfg, err := g.loadConfig()
	if err != nil {
		return nil, nil, err
	}
	if cfg.Socket != "" {
		c, err := daemon.Dial(ctx, cfg.Socket)
		if err == nil {
			g.log.Debug("using the daemon", "socket", cfg.Socket)
			g.closers = append(g.closers, c)
			return c, cfg, nil
		}
		if !errors.Is(err, daemon.ErrNoDaemon) {
			return nil, nil, fmt.Errorf("daemon on %s does not answer: %w", cfg.Socket, err)
		}
	}
	g.log.Debug("opening the store directly", "meta_dir", cfg.MetaDir)
	c, err := zstor.Open(ctx, cfg, zstor.Options{Logger: g.log})
	if err != nil {
		if errors.Is(err, meta.ErrInUse) {
			hint := "set socket in the configuration so that commands go through it"
			if cfg.Socket != "" {
				hint = fmt.Sprintf("but nothing answers on its socket %s", cfg.Socket)
			}
			return nil, nil, fmt.Errorf("%w (another process, probably `zstor monitor`, holds the metadata store; %s)", err, hint)
		}
		return nil, nil, err
	}
	st := daemon.Direct(c)
	g.closers = append(g.closers, st)
	return st, cfg, nil
}
