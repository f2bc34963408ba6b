package daemon

import (
	"context"
	"io"
	"iter"
	"time"

	"github.com/zerostor/zerostor/zstor"
)

// Store is what the command line needs of an open store. Two
// implementations exist: Direct, over a *zstor.Client opened in this
// process, and *Client, which talks to a running daemon over its socket.
// Each command is written once against this interface.
type Store interface {
	// Put stores r under key, streaming: nothing is buffered whole.
	Put(ctx context.Context, key string, r io.Reader, opts zstor.PutOptions) (zstor.ObjectInfo, error)
	// Get opens key (or a range of it) for reading. The reader returns
	// only verified bytes, and an error rather than io.EOF if the object
	// could not be read to its end.
	Get(ctx context.Context, key string, opts zstor.GetOptions) (ObjectReader, error)
	Stat(ctx context.Context, key string) (zstor.ObjectInfo, error)
	Delete(ctx context.Context, key string) error
	// List yields the objects whose key starts with prefix, in key order,
	// after after.
	List(ctx context.Context, prefix, after string) iter.Seq2[zstor.ObjectInfo, error]
	Check(ctx context.Context, key string) (zstor.CheckReport, error)
	Rebuild(ctx context.Context, key string) (zstor.ObjectInfo, error)
	Status(ctx context.Context) ([]zstor.BackendStatus, error)
	Recover(ctx context.Context) (int, error)
	Sweep(ctx context.Context, grace time.Duration) (zstor.SweepReport, error)
	Close() error
}

// ObjectReader streams one object. *zstor.Reader is one.
type ObjectReader interface {
	io.ReadCloser
	Info() zstor.ObjectInfo
}

// Direct adapts a client opened in this process to Store. Closing the
// Store closes the client.
func Direct(c *zstor.Client) Store { return direct{c} }

type direct struct{ *zstor.Client }

func (d direct) Get(ctx context.Context, key string, opts zstor.GetOptions) (ObjectReader, error) {
	r, err := d.Client.Get(ctx, key, opts)
	if err != nil {
		return nil, err
	}
	return r, nil
}

func (d direct) Status(ctx context.Context) ([]zstor.BackendStatus, error) {
	return d.Client.Status(ctx), nil
}

var (
	_ Store        = direct{}
	_ Store        = (*Client)(nil)
	_ ObjectReader = (*zstor.Reader)(nil)
	_ ObjectReader = (*remoteReader)(nil)
)
