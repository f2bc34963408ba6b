package cli

import (
	"context"
	"runtime"
	"runtime/debug"
)

func newVersionCommand() *command {
	return &command{
		name:  "version",
		short: "print the version",
		run: func(_ context.Context, g *globals, args []string) error {
			if len(args) > 0 {
				return usageErrorf("unexpected argument %q", args[0])
			}
			if g.json {
				return g.printJSON(map[string]string{"version": g.version(), "go": runtime.Version()})
			}
			g.printf("zstor %s (%s)\n", g.version(), runtime.Version())
			return nil
		},
	}
}

// version is the build's version: the module version or VCS revision.
func (g *globals) version() string {
	if g.env.Version != "" {
		return g.env.Version
	}
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return "(unknown)"
	}
	rev, dirty := "", false
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.modified":
			dirty = s.Value == "true"
		}
	}
	if rev == "" {
		return bi.Main.Version
	}
	if dirty {
		rev += "-dirty"
	}
	return rev
}
