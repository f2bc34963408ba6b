package testcluster

import (
	"context"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/zerostor/zerostor/internal/zdbclient"
)

// RedisOptions returns go-redis options for the backend: its Addr, RESP2
// without the client-identity commands zdb does not know, no retries (a
// fault shows as an error at once), and the namespace selected with its
// password on every new connection. Adjust the timeouts for fault tests.
func (b Backend) RedisOptions() *redis.Options {
	ns, pw := b.Namespace, b.Password
	return &redis.Options{
		Addr:            b.Addr,
		Protocol:        2,
		DisableIdentity: true,
		MaxRetries:      -1,
		DialTimeout:     2 * time.Second,
		ReadTimeout:     5 * time.Second,
		WriteTimeout:    5 * time.Second,
		OnConnect: func(ctx context.Context, cn *redis.Conn) error {
			if ns == "default" || ns == "" {
				return nil
			}
			args := []any{"SELECT", ns}
			if pw != "" {
				args = append(args, pw)
			}
			cmd := redis.NewStatusCmd(ctx, args...)
			cn.Process(ctx, cmd)
			return cmd.Err()
		},
	}
}

// ClientConfig returns a zdbclient configuration for the backend.
func (b Backend) ClientConfig() zdbclient.Config {
	return zdbclient.Config{Address: b.Addr, Namespace: b.Namespace, Password: b.Password}
}

// Client returns a go-redis client of backend i made from RedisOptions;
// the cluster closes it on Close.
func (c *Cluster) Client(i int) *redis.Client {
	c.t.Helper()
	cl := redis.NewClient(c.node(i).b.RedisOptions())
	c.mu.Lock()
	c.clients = append(c.clients, cl)
	c.mu.Unlock()
	return cl
}
