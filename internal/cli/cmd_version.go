package cli

import (
	"context"
	"runtime"

	"github.com/zerostor/zerostor/internal/buildinfo"
)

func newVersionCommand() *command {
	return &command{
		name:  "version",
		short: "print the version",
		run: func(_ context.Context, g *globals, args []string) error {
			if err := noArgs(args); err != nil {
				return err
			}
			return g.result(map[string]string{"version": g.version(), "go": runtime.Version()},
				"zstor %s (%s)\n", g.version(), runtime.Version())
		},
	}
}

// version is the build's version: the module version or VCS revision.
func (g *globals) version() string {
	if g.env.Version != "" {
		return g.env.Version
	}
	return buildinfo.Revision()
}
