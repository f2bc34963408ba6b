package zstor

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/zerostor/zerostor/internal/config"
	"github.com/zerostor/zerostor/internal/meta"
)

// drainTable holds the draining backends: id → why.
const drainTable = "drain"

// Drain moves every shard off backend id and places nothing new on it;
// once its shard count (BackendStatus.Shards) is zero it can be removed
// from the config. The mark is durable: it survives restarts until
// Undrain. The moves are done by the background repair (StartHealing) or
// by RepairAll.
func (c *Client) Drain(ctx context.Context, id string) (queued int, err error) {
	if err := c.check(); err != nil {
		return 0, err
	}
	if c.top().byID[id] == nil {
		return 0, fmt.Errorf("%w: drain: no data backend %q in the config", ErrInvalid, id)
	}
	if err := c.drain(ctx, id, "drained by the operator"); err != nil {
		return 0, err
	}
	return c.enqueueBackend(ctx, id, "backend "+id+" draining")
}

// drain marks id draining (durably) without queueing its objects.
func (c *Client) drain(ctx context.Context, id, why string) error {
	if err := c.drains.Put(context.WithoutCancel(ctx), []byte(id), []byte(why)); err != nil {
		return fmt.Errorf("zstor: drain %s: %w", id, err)
	}
	if b := c.top().byID[id]; b != nil && !b.draining.Swap(true) && why != "drained by the operator" {
		// A backend that lied: everything on it is suspect.
		c.bg.Add(1)
		go func() {
			defer c.bg.Done()
			if _, err := c.enqueueBackend(context.WithoutCancel(ctx), id, why); err != nil {
				c.log.Error("cannot queue the objects of a drained backend", "backend", id, "err", err)
			}
		}()
	}
	return nil
}

// Undrain cancels Drain (or the drain a failed audit started): the
// backend takes new shards again. Shards already moved stay where they
// are.
func (c *Client) Undrain(ctx context.Context, id string) error {
	if err := c.check(); err != nil {
		return err
	}
	if err := c.drains.Delete(ctx, []byte(id)); err != nil {
		return fmt.Errorf("zstor: undrain %s: %w", id, err)
	}
	if b := c.top().byID[id]; b != nil {
		b.draining.Store(false)
	}
	return nil
}

// applyDrains sets the draining flag of t's backends from the table.
func (c *Client) applyDrains(ctx context.Context, t *topology) error {
	for _, b := range t.backends {
		_, err := c.drains.Get(ctx, []byte(b.id))
		switch {
		case err == nil:
			b.draining.Store(true)
		case errors.Is(err, meta.ErrNotFound):
			b.draining.Store(false)
		default:
			return fmt.Errorf("zstor: read drain marks: %w", err)
		}
	}
	return nil
}

// ReloadReport says what a Reload changed.
type ReloadReport struct {
	Added, Removed []string // backend ids
	Queued         int      // objects queued because a backend was removed
}

// Reload applies a changed config without a restart: backends added or
// removed, groups, labels, placement, k+m, block size and quorum for new
// objects. Existing objects keep their own k+m, and repairs keep it. The
// master key, metadata key and metadata prefix cannot change this way.
// Objects with shards on removed backends are queued for repair.
func (c *Client) Reload(ctx context.Context, cfg *config.Config) (ReloadReport, error) {
	var rep ReloadReport
	if err := c.check(); err != nil {
		return rep, err
	}
	if err := cfg.Validate(); err != nil {
		return rep, fmt.Errorf("zstor: reload: %w", err)
	}
	master, err := cfg.MasterKey()
	if err != nil {
		return rep, fmt.Errorf("zstor: reload: %w", err)
	}
	metaKey, err := cfg.MetaKey()
	if err != nil {
		return rep, fmt.Errorf("zstor: reload: %w", err)
	}
	prefix := cfg.Meta.Config.Prefix
	if prefix == "" {
		prefix = "zstor"
	}
	switch {
	case keyID(master) != c.keyID:
		return rep, fmt.Errorf("%w: reload: the master key changed; restart with the new key (objects keep the key they were written with)", ErrInvalid)
	case metaKey != c.metaKey:
		return rep, fmt.Errorf("%w: reload: the metadata encryption key changed; that needs a restart", ErrInvalid)
	case prefix != c.metaPrefix:
		return rep, fmt.Errorf("%w: reload: [meta.config] prefix changed; that needs a restart", ErrInvalid)
	}
	c.reloadMu.Lock()
	defer c.reloadMu.Unlock()
	old := c.top()
	t, err := c.buildTopology(ctx, cfg, old)
	if err != nil {
		return rep, fmt.Errorf("zstor: reload: %w", err)
	}
	if err := c.applyDrains(ctx, t); err != nil {
		return rep, err
	}
	kept := map[*backend]bool{}
	for _, b := range t.all() {
		kept[b] = true
	}
	for _, b := range t.backends {
		if old.byID[b.id] == nil {
			rep.Added = append(rep.Added, b.id)
		}
	}
	c.topo.Store(t)
	var removed []*backend
	for _, b := range old.all() {
		if !kept[b] {
			removed = append(removed, b)
			if t.byID[b.id] == nil && slices.Contains(old.backends, b) {
				rep.Removed = append(rep.Removed, b.id)
			}
		}
	}
	c.retiredMu.Lock()
	c.retired = append(c.retired, removed...)
	c.retiredMu.Unlock()
	c.log.Info("config reloaded", "added", rep.Added, "removed", rep.Removed, "k", cfg.K(), "m", cfg.M())
	for _, id := range rep.Removed {
		n, err := c.enqueueBackend(ctx, id, "backend "+id+" removed from the config")
		rep.Queued += n
		if err != nil {
			return rep, err
		}
	}
	return rep, nil
}
