package cli

import (
	"context"

	"github.com/zerostor/zerostor/internal/daemon"
)

func newDeleteCommand() *command {
	return objectCommand(&command{
		name:  "delete",
		args:  "-k KEY | -f FILE",
		short: "delete an object and its shards",
	}, runDelete)
}

func runDelete(ctx context.Context, g *globals, st daemon.Store, key string) error {
	if err := st.Delete(ctx, key); err != nil {
		return notFound(key, err)
	}
	return g.result(map[string]string{"deleted": key}, "deleted %s\n", quoteKey(key))
}
