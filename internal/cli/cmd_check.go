package cli

import (
	"context"
	"fmt"

	"github.com/zerostor/zerostor/internal/daemon"
)

func newCheckCommand() *command {
	return objectCommand(&command{
		name:  "check",
		args:  "-f FILE | -k KEY",
		short: "verify every shard of an object; print its checksum",
		long: `
Prints the object's content checksum (hex BLAKE3-256) when it is readable,
with a warning on stderr when it is degraded (some shards missing, damaged
or unreachable). Exits 1 when it is not readable (a block has fewer than K
good shards), 3 when it does not exist. --json prints the whole report.`,
	}, runCheck)
}

func runCheck(ctx context.Context, g *globals, st daemon.Store, key string) error {
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
