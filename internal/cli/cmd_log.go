package cli

import (
	"context"

	"github.com/zerostor/zerostor/internal/daemon"
)

func newLogCommand() *command {
	return &command{
		name:  "log",
		args:  "verify",
		short: "verify the signed commit log",
		long: `
verify: writes the log entries still buffered, then checks the whole commit
log stored on the backends: every batch decodes, is signed by this
instance's key, matches its Merkle root and chains onto the previous one,
and entry numbers run on without a gap. Prints the batches, entries and the
head hash (keep it: a later head that does not descend from it means the
log was rolled back); exits 1 naming the first bad batch.`,
		run: runLog,
	}
}

func runLog(ctx context.Context, g *globals, args []string) error {
	if len(args) != 1 || args[0] != "verify" {
		return usageErrorf("want verify")
	}
	st, _, err := g.openStore(ctx)
	if err != nil {
		return err
	}
	rep, err := st.VerifyLog(ctx)
	if g.json {
		if perr := g.printJSON(daemon.LogToJSON(rep, err)); perr != nil {
			return perr
		}
		if err != nil {
			return &exitError{code: ExitFailure}
		}
		return nil
	}
	if err != nil {
		return err
	}
	head := rep.Head
	if head == "" {
		head = "-"
	}
	g.printf("commit log ok: %d batches, %d entries (last seq %d), %d pending; head %s\n", rep.Batches, rep.Entries, rep.LastSeq, rep.Pending, head)
	if rep.PublicKey != "" {
		g.printf("signed by %s\n", rep.PublicKey)
	}
	return nil
}
