package cli

import (
	"context"
)

func newDeleteCommand() *command {
	var o keyOptions
	return &command{
		name:     "delete",
		args:     "-k KEY | -f FILE",
		short:    "delete an object and its shards",
		addFlags: o.addFlags,
		run:      func(ctx context.Context, g *globals, args []string) error { return runDelete(ctx, g, o, args) },
	}
}

func runDelete(ctx context.Context, g *globals, o keyOptions, args []string) error {
	if err := o.check(args); err != nil {
		return err
	}
	st, cfg, err := g.openStore(ctx)
	if err != nil {
		return err
	}
	key, err := keyOf(cfg, o.Key, o.File)
	if err != nil {
		return err
	}
	if err := st.Delete(ctx, key); err != nil {
		return notFound(key, err)
	}
	if g.json {
		return g.printJSON(map[string]string{"deleted": key})
	}
	g.printf("deleted %s\n", quoteKey(key))
	return nil
}
