// Command zstor stores files dispersed, encrypted and erasure-coded over
// zdb backends. Run "zstor help" for its commands; docs/cli.md has them
// all, with their exit codes.
package main

import (
	"context"
	"os"
	"os/signal"
	"runtime/debug"
	"syscall"

	"github.com/zerostor/zerostor/internal/cli"
)

func main() {
	// A soft memory limit makes the collector free the large transient
	// block buffers before the heap doubles, keeping the process within a
	// small, fixed footprint; GOMEMLIMIT overrides it.
	if os.Getenv("GOMEMLIMIT") == "" {
		debug.SetMemoryLimit(192 << 20)
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	go func() {
		// After the first signal a second one kills at once.
		<-ctx.Done()
		stop()
	}()
	code := cli.Run(ctx, os.Args[1:], cli.OSEnv())
	stop()
	os.Exit(code)
}
