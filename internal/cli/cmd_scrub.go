package cli

import (
	"context"
	"flag"
	"fmt"

	"github.com/zerostor/zerostor/internal/config"
	"github.com/zerostor/zerostor/internal/daemon"
	"github.com/zerostor/zerostor/zstor"
)

type scrubOptions struct {
	Rate config.ByteSize
}

func newScrubCommand() *command {
	var o scrubOptions
	return &command{
		name:  "scrub",
		args:  "[--rate BYTES]",
		short: "verify every shard now; queue the damaged objects for repair",
		long: `
Verifies every shard of every object on its backend (zdb's HASH: the shard
is not downloaded; 0-db backends are read), at most --rate shard bytes per
second (e.g. 64MiB; default unlimited). Objects with shards missing,
damaged or unreachable are queued for repair: the daemon repairs them, and
'zstor rebuild --all' repairs them now. Prints what it found; exits 1 when
a shard was not good. The daemon also scrubs in the background
([repair] scrub_rate, scrub_interval).`,
		addFlags: func(fs *flag.FlagSet) {
			fs.TextVar(&o.Rate, "rate", config.ByteSize(0), "verify at most `bytes` of shards per second (0: unlimited)")
		},
		run: func(ctx context.Context, g *globals, args []string) error { return runScrub(ctx, g, o, args) },
	}
}

func runScrub(ctx context.Context, g *globals, o scrubOptions, args []string) error {
	if err := noArgs(args); err != nil {
		return err
	}
	st, _, err := g.openStore(ctx)
	if err != nil {
		return err
	}
	p := g.newProgress("scrub", -1)
	rep, err := st.Scrub(ctx, zstor.ScrubOptions{Rate: int64(o.Rate), Progress: func(r zstor.ScrubReport) { p.update(r.Bytes) }})
	p.finish()
	out := daemon.ScrubToJSON(rep, err)
	if g.json {
		if perr := g.printJSON(out); perr != nil {
			return perr
		}
	} else {
		g.printf("scrubbed %d objects, %d shards (%s) in %s: %d ok, %d missing, %d corrupt, %d unreachable; %d objects queued for repair\n",
			rep.Objects, rep.Shards, sizeString(rep.Bytes), durationString(rep.Duration), rep.OK, rep.Missing, rep.Corrupt, rep.Unreachable, rep.Queued)
	}
	if err != nil {
		if g.json {
			return &exitError{code: ExitFailure}
		}
		return err
	}
	if bad := out.Problems(); bad > 0 {
		who := "`zstor rebuild --all` repairs them now, or a running daemon (`zstor monitor`) by itself"
		if _, viaDaemon := st.(*daemon.Client); viaDaemon {
			who = "the daemon repairs them in the background; `zstor queue` shows them"
		}
		msg := fmt.Sprintf("%d shards not good in %d objects, queued for repair: %s", bad, rep.Queued, who)
		if g.json {
			fmt.Fprintf(g.env.Stderr, "zstor: %s\n", msg)
			return &exitError{code: ExitFailure}
		}
		return &exitError{code: ExitFailure, msg: msg}
	}
	return nil
}
