package cli

import (
	"context"
	"fmt"
	"slices"

	"github.com/zerostor/zerostor/internal/daemon"
)

func newStatCommand() *command {
	return objectCommand(&command{
		name:  "stat",
		args:  "-f FILE | -k KEY",
		short: "describe an object (size, time, checksum, shards, metadata)",
	}, runStat)
}

func runStat(ctx context.Context, g *globals, st daemon.Store, key string) error {
	info, err := st.Stat(ctx, key)
	if err != nil {
		return notFound(key, err)
	}
	if g.json {
		return g.printJSON(daemon.ObjectToJSON(info))
	}
	t := newTable(g.env.Stdout)
	fmt.Fprintf(t, "key:\t%s\n", quoteKey(info.Key))
	fmt.Fprintf(t, "size:\t%d (%s)\n", info.Size, sizeString(info.Size))
	fmt.Fprintf(t, "modified:\t%s\n", timeString(info.Modified))
	fmt.Fprintf(t, "checksum:\t%s\n", info.Checksum)
	fmt.Fprintf(t, "version:\t%s\n", info.Version)
	fmt.Fprintf(t, "shards:\t%d+%d\n", info.K, info.M)
	fmt.Fprintf(t, "blocks:\t%d\n", info.Blocks)
	names := make([]string, 0, len(info.UserMeta))
	for k := range info.UserMeta {
		names = append(names, k)
	}
	slices.Sort(names)
	for _, k := range names {
		fmt.Fprintf(t, "meta %s:\t%s\n", quoteKey(k), quoteKey(info.UserMeta[k]))
	}
	return t.Flush()
}
