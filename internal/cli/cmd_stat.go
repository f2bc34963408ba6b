package cli

import (
	"context"
	"fmt"
	"slices"

	"github.com/zerostor/zerostor/internal/daemon"
)

func newStatCommand() *command {
	var o keyOptions
	return &command{
		name:     "stat",
		args:     "-f FILE | -k KEY",
		short:    "describe an object (size, time, checksum, shards, metadata)",
		addFlags: o.addFlags,
		run:      func(ctx context.Context, g *globals, args []string) error { return runStat(ctx, g, o, args) },
	}
}

func runStat(ctx context.Context, g *globals, o keyOptions, args []string) error {
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
