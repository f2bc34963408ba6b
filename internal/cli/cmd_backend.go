package cli

import (
	"context"
	"errors"
	"fmt"

	"github.com/zerostor/zerostor/internal/daemon"
	"github.com/zerostor/zerostor/zstor"
)

func newBackendCommand() *command {
	return &command{
		name:  "backend",
		args:  "drain ID | undrain ID",
		short: "drain a backend (move its shards elsewhere) or undo it",
		long: `
ID is the backend's address/namespace, as 'zstor status' shows it.

drain: nothing new is placed on the backend and every object with a shard
on it is queued for repair, which moves the shards to other backends (the
daemon does it in the background; 'zstor rebuild --all' does it now). The
mark survives restarts. Once 'zstor status' shows 0 shards on it, remove it
from the configuration and run 'zstor reload'.

undrain: the backend takes new shards again; shards already moved stay
where they are.`,
		run: runBackend,
	}
}

func runBackend(ctx context.Context, g *globals, args []string) error {
	if len(args) != 2 || (args[0] != "drain" && args[0] != "undrain") {
		return usageErrorf("want drain ID or undrain ID")
	}
	action, id := args[0], args[1]
	st, _, err := g.openStore(ctx)
	if err != nil {
		return err
	}
	hint := func(err error) error {
		if errors.Is(err, zstor.ErrInvalid) {
			return fmt.Errorf("%w (`zstor status` lists the backend ids, address/namespace)", err)
		}
		return err
	}
	if action == "undrain" {
		if err := st.Undrain(ctx, id); err != nil {
			return hint(err)
		}
		return g.result(daemon.DrainJSON{Backend: id}, "%s takes new shards again\n", id)
	}
	n, err := st.Drain(ctx, id)
	if err != nil {
		return hint(err)
	}
	how := "`zstor rebuild --all` moves them now; a running daemon (`zstor monitor`) moves them in the background"
	if _, viaDaemon := st.(*daemon.Client); viaDaemon {
		how = "the daemon moves them in the background; `zstor rebuild --all` does it now"
	}
	return g.result(daemon.DrainJSON{Backend: id, Queued: n},
		"draining %s: %d objects with shards on it queued for repair; %s. Once `zstor status` shows 0 shards on it, remove it from the configuration and run `zstor reload`.\n",
		id, n, how)
}
