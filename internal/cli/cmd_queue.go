package cli

import (
	"context"
	"flag"
	"fmt"
	"time"

	"github.com/zerostor/zerostor/internal/daemon"
)

type queueOptions struct {
	Limit int
}

func newQueueCommand() *command {
	o := queueOptions{Limit: 100}
	return &command{
		name:  "queue",
		args:  "[-n LIMIT]",
		short: "list the objects waiting for repair",
		long: `
Lists the repair queue in key order: the object, when it was first queued,
when its repair is tried next, the attempts so far and why it is queued
(scrub, audit, a backend drained, removed or lost, a failed read or write).
The daemon works the queue in the background. --json prints
{"total": N, "entries": [...]}.`,
		addFlags: func(fs *flag.FlagSet) {
			fs.IntVar(&o.Limit, "n", o.Limit, "list at most `count` objects (0: all)")
		},
		run: func(ctx context.Context, g *globals, args []string) error { return runQueue(ctx, g, o, args) },
	}
}

func runQueue(ctx context.Context, g *globals, o queueOptions, args []string) error {
	if err := noArgs(args); err != nil {
		return err
	}
	if o.Limit < 0 {
		return usageErrorf("-n must not be negative")
	}
	st, _, err := g.openStore(ctx)
	if err != nil {
		return err
	}
	q, total, err := st.RepairQueue(ctx, o.Limit)
	if err != nil {
		return err
	}
	if g.json {
		return g.printJSON(daemon.QueueToJSON(q, total))
	}
	if len(q) > 0 {
		t := newTable(g.env.Stdout)
		fmt.Fprintf(t, "KEY\tQUEUED\tNEXT TRY\tATTEMPTS\tREASON\n")
		now := time.Now()
		for _, e := range q {
			next := "now"
			if e.NotBefore.After(now) {
				next = "in " + e.NotBefore.Sub(now).Round(time.Second).String()
			}
			fmt.Fprintf(t, "%s\t%s\t%s\t%d\t%s\n", quoteKey(e.Key), agoString(e.Since), next, e.Attempts, e.Reason)
		}
		if err := t.Flush(); err != nil {
			return err
		}
	}
	g.printf("%d objects queued for repair", total)
	if len(q) < total {
		g.printf(" (the first %d shown; -n 0 lists all)", len(q))
	}
	g.printf("\n")
	return nil
}
