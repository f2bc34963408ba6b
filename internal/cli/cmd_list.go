package cli

import (
	"context"
	"flag"
	"fmt"

	"github.com/zerostor/zerostor/internal/daemon"
)

type listOptions struct {
	After string
	Long  bool
}

func newListCommand() *command {
	var o listOptions
	return &command{
		name:  "list",
		args:  "[--after KEY] [-l] [PREFIX]",
		short: "list objects (all, or those whose key starts with PREFIX)",
		long: `
Prints one object per line, in key order: size in bytes, modification time
and key (-l adds the checksum). --json prints one JSON object per line.`,
		addFlags: o.addFlags,
		run:      func(ctx context.Context, g *globals, args []string) error { return runList(ctx, g, o, args) },
	}
}

func (o *listOptions) addFlags(fs *flag.FlagSet) {
	fs.StringVar(&o.After, "after", "", "start after `key` (to resume a listing)")
	fs.BoolVar(&o.Long, "l", false, "also print checksums")
}

func runList(ctx context.Context, g *globals, o listOptions, args []string) error {
	if len(args) > 1 {
		return usageErrorf("at most one PREFIX, got %d arguments", len(args))
	}
	prefix := ""
	if len(args) == 1 {
		prefix = args[0]
	}
	st, _, err := g.openStore(ctx)
	if err != nil {
		return err
	}
	t := newTable(g.env.Stdout)
	n := 0
	for info, err := range st.List(ctx, prefix, o.After) {
		if err != nil {
			t.Flush()
			return err
		}
		n++
		if g.json {
			if err := g.printJSON(daemon.ObjectToJSON(info)); err != nil {
				return err
			}
			continue
		}
		if o.Long {
			fmt.Fprintf(t, "%d\t%s\t%s\t%s\n", info.Size, timeString(info.Modified), info.Checksum, quoteKey(info.Key))
		} else {
			fmt.Fprintf(t, "%d\t%s\t%s\n", info.Size, timeString(info.Modified), quoteKey(info.Key))
		}
		if n%1000 == 0 {
			t.Flush()
		}
	}
	return t.Flush()
}
