package daemon

import (
	"context"
	"fmt"
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

	// Health is the store's state: backends, redundancy, repair, scrub
	// and audits; refresh reads every backend's NSINFO first.
	Health(ctx context.Context, refresh bool) (zstor.Health, error)
	// RepairQueue lists the objects waiting for repair (at most limit, 0
	// for all) and how many there are.
	RepairQueue(ctx context.Context, limit int) ([]zstor.QueuedRepair, int, error)
	// RepairAll repairs every object now. progress, when set, is called
	// after each object. The report is valid with an error too.
	RepairAll(ctx context.Context, progress func(key string, rep zstor.RepairReport, err error)) (zstor.RepairAllReport, error)
	// Scrub verifies every shard now, queueing the damage for repair.
	// Through a daemon, opts.Progress is called at most a few times a
	// second; the report returned is complete.
	Scrub(ctx context.Context, opts zstor.ScrubOptions) (zstor.ScrubReport, error)
	Audit(ctx context.Context) (zstor.AuditResult, error)
	// Drain moves every shard off the backend id ("address/namespace")
	// and returns how many objects were queued; Undrain cancels it.
	Drain(ctx context.Context, id string) (int, error)
	Undrain(ctx context.Context, id string) error
	// Reload re-reads the daemon's configuration file and applies it. It
	// needs a daemon: a store opened by Direct refuses it.
	Reload(ctx context.Context) (zstor.ReloadReport, error)
	VerifyLog(ctx context.Context) (zstor.LogReport, error)
	Close() error
}

// ObjectReader streams one object. *zstor.Reader is one.
type ObjectReader interface {
	io.ReadCloser
	Info() zstor.ObjectInfo
}

// Direct adapts a client opened in this process to Store. Closing the
// Store closes the client. Its Reload is refused (ErrInvalid): a command
// that opens the store reads the configuration afresh anyway, and only a
// daemon has a running configuration to change.
func Direct(c *zstor.Client) Store { return direct{Client: c} }

// DirectReloading is Direct whose Reload calls reload: the daemon's, which
// re-reads its configuration file and applies it to c.
func DirectReloading(c *zstor.Client, reload func(context.Context) (zstor.ReloadReport, error)) Store {
	return direct{Client: c, reload: reload}
}

type direct struct {
	*zstor.Client
	reload func(context.Context) (zstor.ReloadReport, error)
}

// Reload implements Store; it shadows the client's Reload(ctx, cfg).
func (d direct) Reload(ctx context.Context) (zstor.ReloadReport, error) {
	if d.reload == nil {
		return zstor.ReloadReport{}, fmt.Errorf("%w: reload applies to a running daemon (zstor monitor); this store was opened directly", zstor.ErrInvalid)
	}
	return d.reload(ctx)
}

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
