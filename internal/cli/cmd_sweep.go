package cli

import (
	"context"
	"flag"
	"time"

	"github.com/zerostor/zerostor/internal/daemon"
)

type sweepOptions struct {
	Grace time.Duration
}

func newSweepCommand() *command {
	o := sweepOptions{Grace: time.Hour}
	return &command{
		name:  "sweep",
		args:  "[--grace 1h]",
		short: "delete orphan shards (left by failed writes) older than the grace",
		long: `
Deletes the shards on the backends that no object references, left by
interrupted writes or by deletions a backend missed, if older than --grace
(so that writes in progress are never touched). The daemon runs it every 6
hours.`,
		addFlags: func(fs *flag.FlagSet) {
			fs.DurationVar(&o.Grace, "grace", o.Grace, "spare shards younger than `duration`")
		},
		run: func(ctx context.Context, g *globals, args []string) error { return runSweep(ctx, g, o, args) },
	}
}

func runSweep(ctx context.Context, g *globals, o sweepOptions, args []string) error {
	if err := noArgs(args); err != nil {
		return err
	}
	if o.Grace < 0 {
		return usageErrorf("--grace must not be negative")
	}
	st, _, err := g.openStore(ctx)
	if err != nil {
		return err
	}
	rep, err := st.Sweep(ctx, o.Grace)
	if g.json {
		out := daemon.SweepJSON{Scanned: rep.Scanned, Deleted: rep.Deleted, Errors: rep.Errors}
		if err != nil {
			out.Error, out.Kind = err.Error(), daemon.Kind(err)
		}
		if perr := g.printJSON(out); perr != nil {
			return perr
		}
		if err != nil {
			return &exitError{code: ExitFailure, msg: ""}
		}
		return nil
	}
	g.printf("scanned %d shards, deleted %d orphans, %d errors\n", rep.Scanned, rep.Deleted, rep.Errors)
	return err
}
