package cli

import (
	"context"
	"fmt"

	"github.com/zerostor/zerostor/internal/daemon"
)

func newStatusCommand() *command {
	return &command{
		name:  "status",
		args:  "",
		short: "show every backend: reachable, mode, entries, size, latency",
		run:   runStatus,
	}
}

func runStatus(ctx context.Context, g *globals, args []string) error {
	if err := noArgs(args); err != nil {
		return err
	}
	st, _, err := g.openStore(ctx)
	if err != nil {
		return err
	}
	bs, err := st.Status(ctx)
	if err != nil {
		return err
	}
	if g.json {
		out := make([]daemon.BackendJSON, len(bs))
		for i, b := range bs {
			out[i] = daemon.BackendToJSON(b)
		}
		return g.printJSON(out)
	}
	t := newTable(g.env.Stdout)
	fmt.Fprintf(t, "BACKEND\tGROUP\tREACHABLE\tMODE\tENTRIES\tSIZE/LIMIT\tLATENCY\tERRORS\n")
	up := 0
	for _, b := range bs {
		reach := "no"
		if b.Reachable {
			reach = "yes"
			up++
		}
		limit := "-"
		if b.DataLimit > 0 {
			limit = sizeString(b.DataLimit)
		}
		mode := b.Mode
		if mode == "" {
			mode = "-"
		}
		fmt.Fprintf(t, "%s\t%s\t%s\t%s\t%d\t%s / %s\t%s\t%d\n", b.ID, b.Group, reach, mode, b.Entries,
			sizeString(b.DataSize), limit, durationString(b.Latency), b.Errors)
	}
	if err := t.Flush(); err != nil {
		return err
	}
	g.printf("%d of %d backends reachable\n", up, len(bs))
	for _, b := range bs {
		if !b.Reachable && b.LastError != "" {
			g.printf("  %s: %s\n", b.ID, b.LastError)
		}
	}
	return nil
}
