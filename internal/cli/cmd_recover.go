package cli

import (
	"context"

	"github.com/zerostor/zerostor/internal/daemon"
)

func newRecoverCommand() *command {
	return &command{
		name:  "recover",
		args:  "",
		short: "rebuild the local metadata from the copies on the backends",
		long: `
Every object's metadata is also kept, encrypted, on the backends. recover
reads those copies back into the local metadata store (meta_dir): after
losing the machine, the configuration and its key bring everything back.`,
		run: runRecover,
	}
}

func runRecover(ctx context.Context, g *globals, args []string) error {
	if err := noArgs(args); err != nil {
		return err
	}
	st, _, err := g.openStore(ctx)
	if err != nil {
		return err
	}
	n, err := st.Recover(ctx)
	if err != nil {
		return err
	}
	return g.result(daemon.RecoverJSON{Restored: n}, "restored %d objects\n", n)
}
