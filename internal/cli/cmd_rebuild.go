package cli

import (
	"context"
	"flag"

	"github.com/zerostor/zerostor/internal/daemon"
	"github.com/zerostor/zerostor/zstor"
)

type rebuildOptions struct {
	keyOptions
	All bool
}

func newRebuildCommand() *command {
	var o rebuildOptions
	return &command{
		name:  "rebuild",
		args:  "-f FILE | -k KEY | --all",
		short: "re-encode an object under the current configuration, or repair every object",
		long: `
With -f or -k: reads the object back (verified), stores it again with the
configuration's current shards and backends as a new version, and deletes
the old shards.

With --all: repairs every object in place, now: shards missing, damaged or
on backends that do not answer are rebuilt from the others, and shards on
draining backends are moved. Prints each object repaired or failed, then a
summary; exits 1 if any object could not be repaired. The daemon does the
same in the background for the objects it knows to need it.`,
		addFlags: func(fs *flag.FlagSet) {
			o.keyOptions.addFlags(fs)
			fs.BoolVar(&o.All, "all", false, "repair every object")
		},
		run: func(ctx context.Context, g *globals, args []string) error {
			if !o.All {
				if err := o.check(args); err != nil {
					return err
				}
				st, key, err := g.openKey(ctx, o.Key, o.File)
				if err != nil {
					return err
				}
				return runRebuild(ctx, g, st, key)
			}
			if err := noArgs(args); err != nil {
				return err
			}
			if o.File != "" || o.Key != "" {
				return usageErrorf("--all takes no -f or -k")
			}
			return runRebuildAll(ctx, g)
		},
	}
}

func runRebuild(ctx context.Context, g *globals, st daemon.Store, key string) error {
	info, err := st.Rebuild(ctx, key)
	if err != nil {
		return notFound(key, err)
	}
	return g.result(daemon.ObjectToJSON(info), "rebuilt %s: %d+%d shards, %d blocks, version %s\n",
		quoteKey(info.Key), info.K, info.M, info.Blocks, info.Version)
}

func runRebuildAll(ctx context.Context, g *globals) error {
	st, _, err := g.openStore(ctx)
	if err != nil {
		return err
	}
	// Calls are serialized by RepairAll (and arrive in order through the
	// daemon).
	progress := func(key string, r zstor.RepairReport, err error) {
		switch {
		case g.json:
		case err != nil:
			g.printf("failed    %s: %v\n", quoteKey(key), err)
		case r.Rebuilt > 0:
			degraded := ""
			if r.Degraded {
				degraded = ", placed degraded (too few healthy backends or groups)"
			}
			g.printf("repaired  %s: %d shards rebuilt, %d of them moved%s\n", quoteKey(key), r.Rebuilt, r.Moved, degraded)
		}
	}
	rep, err := st.RepairAll(ctx, progress)
	if g.json {
		if perr := g.printJSON(daemon.RepairAllToJSON(rep, err)); perr != nil {
			return perr
		}
		if err != nil {
			return &exitError{code: ExitFailure}
		}
		return nil
	}
	g.printf("%d objects examined: %d repaired, %d shards rebuilt (%d moved), %s read and written, %d failed\n",
		rep.Objects, rep.Repaired, rep.Rebuilt, rep.Moved, sizeString(rep.Bytes), rep.Failed)
	return err
}
