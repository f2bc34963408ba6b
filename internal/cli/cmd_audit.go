package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"

	"github.com/zerostor/zerostor/internal/daemon"
	"github.com/zerostor/zerostor/zstor"
)

type auditOptions struct {
	N int
}

func newAuditCommand() *command {
	o := auditOptions{N: 1}
	return &command{
		name:  "audit",
		args:  "[-n N]",
		short: "run proof-of-storage audits now",
		long: `
Each audit picks a random shard and asks its backend for one 8 KiB piece and
its Merkle path, checked against the root only zstor holds (0-db backends:
the whole shard is read). A missing or damaged shard is queued for repair; a
backend answering with wrong data is drained. Prints one line per audit;
exits 1 if any audit failed. The daemon audits in the background
([repair] audit_interval).`,
		addFlags: func(fs *flag.FlagSet) {
			fs.IntVar(&o.N, "n", o.N, "number of audits")
		},
		run: func(ctx context.Context, g *globals, args []string) error { return runAudit(ctx, g, o, args) },
	}
}

func runAudit(ctx context.Context, g *globals, o auditOptions, args []string) error {
	if err := noArgs(args); err != nil {
		return err
	}
	if o.N < 1 {
		return usageErrorf("-n must be at least 1")
	}
	st, _, err := g.openStore(ctx)
	if err != nil {
		return err
	}
	failed := 0
	for range o.N {
		res, err := st.Audit(ctx)
		if errors.Is(err, zstor.ErrNotFound) {
			// An empty store is not a failed audit.
			fmt.Fprintf(g.env.Stderr, "zstor: nothing to audit: no object with data is stored\n")
			return nil
		}
		if err != nil {
			return err
		}
		if res.State != zstor.ShardOK || res.Lied {
			failed++
		}
		if g.json {
			if err := g.printJSON(daemon.AuditToJSON(res)); err != nil {
				return err
			}
			continue
		}
		how := fmt.Sprintf("leaf %d", res.Leaf)
		if res.Full {
			how = "whole shard read"
		}
		verdict := daemon.ShardStateName(res.State)
		switch {
		case res.Lied:
			verdict = "WRONG DATA"
		case res.State != zstor.ShardOK:
			verdict = "FAILED: " + verdict
		}
		g.printf("%-11s %s block %d shard %d on %s (%s)", verdict, quoteKey(res.Key), res.Block, res.Shard, res.Backend, how)
		switch {
		case res.Lied:
			g.printf(": %s; the backend is drained\n", res.Err)
		case res.Err != "":
			g.printf(": %s\n", res.Err)
		default:
			g.printf("\n")
		}
	}
	if failed > 0 {
		msg := fmt.Sprintf("%d of %d audits failed (the shards are queued for repair)", failed, o.N)
		if g.json {
			fmt.Fprintf(g.env.Stderr, "zstor: %s\n", msg)
			return &exitError{code: ExitFailure}
		}
		return &exitError{code: ExitFailure, msg: msg}
	}
	return nil
}
