// Command zstor stores files dispersed, encrypted and erasure-coded over
// zdb backends. Run "zstor help" for its commands; docs/cli.md has them
// all, with their exit codes.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/zerostor/zerostor/internal/cli"
)

func main() {
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
