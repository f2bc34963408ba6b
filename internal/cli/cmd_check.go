package cli

import (
	"context"
	"flag"
	"fmt"

	"github.com/zerostor/zerostor/internal/daemon"
)

type keyOptions struct {
	File string
	Key  string
}

func (o *keyOptions) addFlags(fs *flag.FlagSet) {
	fs.StringVar(&o.File, "f", "", "the object stored from `file` (its path under root is the key)")
	fs.StringVar(&o.File, "file", "", "same as -f")
	fs.StringVar(&o.Key, "k", "", "object `key`")
	fs.StringVar(&o.Key, "key", "", "same as -k")
}

// check refuses positional arguments and a missing -f / -k.
func (o keyOptions) check(args []string) error {
	if len(args) > 0 {
		return usageErrorf("unexpected argument %q", args[0])
	}
	if o.File == "" && o.Key == "" {
		return usageErrorf("give -f FILE or -k KEY")
	}
	return nil
}

func newCheckCommand() *command {
	var o keyOptions
	return &command{
		name:  "check",
		args:  "-f FILE | -k KEY",
		short: "verify every shard of an object; print its checksum",
		long: `
Prints the object's content checksum (hex BLAKE3-256) when it is readable,
with a warning on stderr when it is degraded (some shards missing, damaged
or unreachable). Exits 1 when it is not readable (a block has fewer than K
good shards), 3 when it does not exist. --json prints the whole report.`,
		addFlags: o.addFlags,
		run:      func(ctx context.Context, g *globals, args []string) error { return runCheck(ctx, g, o, args) },
	}
}

func runCheck(ctx context.Context, g *globals, o keyOptions, args []string) error {
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
	rep, err := st.Check(ctx, key)
	if err != nil {
		return notFound(key, err)
	}
	readable, healthy := daemon.Readable(rep), daemon.Healthy(rep)
	if g.json {
		if err := g.printJSON(daemon.CheckToJSON(rep)); err != nil {
			return err
		}
	} else if readable {
		g.printf("%s\n", rep.Info.Checksum)
	}
	bad := rep.Missing + rep.Corrupt + rep.Unreachable
	switch {
	case !readable:
		msg := fmt.Sprintf("%s is not readable: a block has %d good shards, %d needed (%d missing, %d corrupt, %d unreachable of %d)",
			quoteKey(key), rep.MinGood, rep.Info.K, rep.Missing, rep.Corrupt, rep.Unreachable, rep.Blocks*rep.Shards)
		if g.json {
			fmt.Fprintf(g.env.Stderr, "zstor: %s\n", msg)
			return &exitError{code: ExitFailure}
		}
		return &exitError{code: ExitFailure, msg: msg}
	case !healthy:
		g.warnf("%s is degraded: %d of %d shards not good (%d missing, %d corrupt, %d unreachable); worst block has %d of %d; `zstor rebuild -k %s` restores full redundancy",
			quoteKey(key), bad, rep.Blocks*rep.Shards, rep.Missing, rep.Corrupt, rep.Unreachable, rep.MinGood, rep.Shards, shellQuote(key))
	}
	return nil
}
