package cli

import (
	"context"

	"github.com/zerostor/zerostor/internal/daemon"
)

func newRebuildCommand() *command {
	return objectCommand(&command{
		name:  "rebuild",
		args:  "-f FILE | -k KEY",
		short: "re-encode an object under the current configuration",
		long: `
Reads the object back (verified), stores it again with the configuration's
current shards and backends as a new version, and deletes the old shards:
how to restore full redundancy after a backend was lost or replaced.`,
	}, runRebuild)
}

func runRebuild(ctx context.Context, g *globals, st daemon.Store, key string) error {
	info, err := st.Rebuild(ctx, key)
	if err != nil {
		return notFound(key, err)
	}
	return g.result(daemon.ObjectToJSON(info), "rebuilt %s: %d+%d shards, %d blocks, version %s\n",
		quoteKey(info.Key), info.K, info.M, info.Blocks, info.Version)
}
