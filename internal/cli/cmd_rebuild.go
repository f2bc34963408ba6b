package cli

import (
	"context"

	"github.com/zerostor/zerostor/internal/daemon"
)

func newRebuildCommand() *command {
	var o keyOptions
	return &command{
		name:  "rebuild",
		args:  "-f FILE | -k KEY",
		short: "re-encode an object under the current configuration",
		long: `
Reads the object back (verified), stores it again with the configuration's
current shards and backends as a new version, and deletes the old shards:
how to restore full redundancy after a backend was lost or replaced.`,
		addFlags: o.addFlags,
		run:      func(ctx context.Context, g *globals, args []string) error { return runRebuild(ctx, g, o, args) },
	}
}

func runRebuild(ctx context.Context, g *globals, o keyOptions, args []string) error {
	if err := o.check(args); err != nil {
		return err
	}
	st, cfg, err := g.openStore(ctx)
	if err != nil {
		return err
	}
	key, err := keyOf(cfg, o.Key, o.File)
	if err != nil {
		return err
	}
	info, err := st.Rebuild(ctx, key)
	if err != nil {
		return notFound(key, err)
	}
	if g.json {
		return g.printJSON(daemon.ObjectToJSON(info))
	}
	g.printf("rebuilt %s: %d+%d shards, %d blocks, version %s\n", quoteKey(info.Key), info.K, info.M, info.Blocks, info.Version)
	return nil
}
