package cli

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/zerostor/zerostor/internal/config"
	"github.com/zerostor/zerostor/internal/daemon"
	"github.com/zerostor/zerostor/zstor"
)

func newStatusCommand() *command {
	return &command{
		name:  "status",
		args:  "",
		short: "show the backends, the redundancy of the objects, repair, scrub and audits",
		long: `
Prints every data backend (state, draining, latency, shards, space, error
rate, audits), then the objects by the shards available for their worst
block, the degraded and unreadable ones, the repair queue, scrub and audit
figures, and the health verdict (the daemon's /health check). Backend states:
healthy; degraded (answering, but failing calls, full, or caught by an
audit); down (not answering: reads and writes go around it); terminal (down
longer than [repair] terminal_after: its shards are rebuilt elsewhere).
--json prints the whole health picture.`,
		run: runStatus,
	}
}

func runStatus(ctx context.Context, g *globals, args []string) error {
	if err := noArgs(args); err != nil {
		return err
	}
	st, cfg, err := g.openStore(ctx)
	if err != nil {
		return err
	}
	h, err := st.Health(ctx, true)
	if err != nil {
		return err
	}
	if g.json {
		return g.printJSON(daemon.HealthToJSON(h))
	}
	if err := g.printBackends(h.Backends); err != nil {
		return err
	}
	g.printRedundancy(h, cfg)
	return nil
}

// printBackends prints the backend table and the backends' problems.
func (g *globals) printBackends(bs []zstor.BackendStatus) error {
	t := newTable(g.env.Stdout)
	fmt.Fprintf(t, "BACKEND\tGROUP\tSTATE\tDRAINING\tLATENCY\tP95\tSHARDS\tUSED / LIMIT\tERROR RATE\tFAILED AUDITS\n")
	states := map[zstor.BackendState]int{}
	reachable, up, draining := 0, 0, 0
	for _, b := range bs {
		states[b.State]++
		if b.Reachable {
			reachable++
		}
		if b.State < zstor.StateDown {
			up++
		}
		drain := "no"
		if b.Draining {
			drain = "yes"
			draining++
		}
		limit := "-"
		if b.DataLimit > 0 {
			limit = sizeString(b.DataLimit)
		}
		fmt.Fprintf(t, "%s\t%s\t%s\t%s\t%s\t%s\t%d\t%s / %s\t%.1f%%\t%d/%d\n", b.ID, b.Group, b.State, drain,
			durationString(b.Latency), durationString(b.P95), b.Shards, sizeString(b.DataSize), limit,
			b.ErrorRate*100, b.AuditFailures, b.Audits)
	}
	if err := t.Flush(); err != nil {
		return err
	}
	var parts []string
	for s := zstor.StateHealthy; s <= zstor.StateTerminal; s++ {
		if states[s] > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", states[s], s))
		}
	}
	// "N of M backends reachable" is the line scripts of the earlier
	// status look for; up counts the states that serve.
	g.printf("%d of %d backends reachable; %d up (%s)", reachable, len(bs), up, strings.Join(parts, ", "))
	if draining > 0 {
		g.printf("; %d draining", draining)
	}
	g.printf("\n")
	for _, b := range bs {
		if b.State < zstor.StateDown || b.LastError == "" {
			continue
		}
		since := ""
		if !b.DownSince.IsZero() {
			since = " since " + timeString(b.DownSince)
		}
		g.printf("  %s: %s%s: %s\n", b.ID, b.State, since, b.LastError)
	}
	return nil
}

// printRedundancy prints the objects' redundancy, repair, scrub, audits
// and the health verdict.
func (g *globals) printRedundancy(h zstor.Health, cfg *config.Config) {
	k, n := cfg.K(), cfg.K()+cfg.M()
	g.printf("\nobjects: %d (%s)\n", h.Objects, sizeString(h.Bytes))
	if len(h.Redundancy) > 0 {
		g.printf("by shards available in their worst block:\n")
		counts := make([]int, 0, len(h.Redundancy))
		for c := range h.Redundancy {
			counts = append(counts, c)
		}
		slices.Sort(counts)
		slices.Reverse(counts)
		for _, c := range counts {
			note := ""
			switch {
			case c >= n:
				note = " (all, as configured now)"
			case c < k:
				note = " (unreadable)"
			}
			g.printf("  %3d shards%s: %d\n", c, note, h.Redundancy[c])
		}
	}
	g.printf("degraded: %d, unreadable: %d\n", h.Degraded, h.Unreadable)
	r := h.Repair
	g.printf("repair queue: %d objects\n", r.Queue)
	if !h.Healing {
		g.printf("self-healing: not running here (the daemon, `zstor monitor`, runs it)\n")
	} else {
		g.printf("repair since start: %d repaired, %d shards rebuilt (%s), %d failed attempts\n", r.Repaired, r.RebuiltShards, sizeString(r.Bytes), r.Failed)
		s := h.Scrub
		switch {
		case s.Running:
			g.printf("scrub: running since %s, %d objects verified this pass\n", timeString(s.PassStart), s.Objects)
		default:
			g.printf("scrub: idle\n")
		}
		if !s.LastPass.IsZero() {
			g.printf("last complete scrub pass: %s\n", timeString(s.LastPass))
		}
		g.printf("audits since start: %d, %d failed\n", h.Audits, h.AuditFailures)
	}
	sum := daemon.Summarize(h, nil, k)
	if sum.OK() {
		g.printf("health: ok\n")
	} else {
		g.printf("health: FAILING: %s\n", sum.Reason)
	}
}
