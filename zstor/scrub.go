package zstor

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/zerostor/zerostor/internal/meta"
)

// ScrubOptions tune Scrub.
type ScrubOptions struct {
	// Rate bounds the shard bytes verified per second; 0 is unlimited.
	Rate int64
	// After resumes a pass after this key ("" from the start).
	After string
	// Progress, when set, is called after each object.
	Progress func(ScrubReport)
}

// ScrubReport is what a scrub pass found.
type ScrubReport struct {
	Objects     int64 // objects verified
	Shards      int64 // shards verified
	Bytes       int64 // shard bytes verified (by the backend's HASH where it has one)
	OK          int64
	Missing     int64
	Corrupt     int64
	Unreachable int64
	Queued      int64 // objects queued for repair
	Last        string
	Duration    time.Duration
}

// ScrubStatus is the background scrubber's state, for Health.
type ScrubStatus struct {
	Running   bool
	PassStart time.Time // of the pass running or the last one
	LastPass  time.Time // when the last complete pass ended
	Cursor    string    // last object verified in the running pass
	Objects   int64     // objects verified in the running (or last) pass
}

// Scrub verifies every shard of every object (the backend's HASH where it
// has one, a read on 0-db) and queues the objects with damage for repair.
// It reports what it found; unreachable backends are counted, and their
// objects queued (the repairer rebuilds them once the backend is
// terminal).
func (c *Client) Scrub(ctx context.Context, opts ScrubOptions) (ScrubReport, error) {
	if err := c.check(); err != nil {
		return ScrubReport{}, err
	}
	start := time.Now()
	var rep ScrubReport
	var p pacer
	errStop := errors.New("stop")
	after := opts.After
	for {
		// Keys are listed a page at a time and each is re-read whole, so
		// objects changed during the pass are verified as they are now.
		var keys []string
		err := c.store.List(ctx, "", after, func(i meta.Info) error {
			keys = append(keys, i.Key)
			if len(keys) == 256 {
				return errStop
			}
			return nil
		})
		if err != nil && !errors.Is(err, errStop) {
			return rep, fmt.Errorf("zstor: scrub: %w", err)
		}
		if len(keys) == 0 {
			break
		}
		for _, k := range keys {
			if err := c.scrubObject(ctx, k, &rep, &p, opts.Rate); err != nil {
				rep.Duration = time.Since(start)
				return rep, fmt.Errorf("zstor: scrub %q: %w", k, err)
			}
			rep.Last = k
			if opts.Progress != nil {
				opts.Progress(rep)
			}
		}
		after = keys[len(keys)-1]
	}
	rep.Duration = time.Since(start)
	return rep, nil
}

// scrubObject verifies one object; damage is queued for repair.
func (c *Client) scrubObject(ctx context.Context, key string, rep *ScrubReport, p *pacer, rate int64) error {
	o, err := c.store.Get(ctx, key)
	if errors.Is(err, meta.ErrNotFound) {
		return nil // deleted since it was listed
	}
	if err != nil {
		return err
	}
	var missing, corrupt, unreachable int64
	for bi := range o.Blocks {
		n := len(o.Blocks[bi].Shards)
		if err := p.wait(ctx, n*o.Blocks[bi].ShardLen, rate); err != nil {
			return err
		}
		for _, st := range c.blockStates(ctx, o, bi) {
			switch st {
			case ShardOK:
				rep.OK++
			case ShardMissing:
				missing++
			case ShardCorrupt:
				corrupt++
			case ShardUnreachable:
				unreachable++
			}
		}
		rep.Shards += int64(n)
		rep.Bytes += int64(n * o.Blocks[bi].ShardLen)
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	rep.Objects++
	rep.Missing += missing
	rep.Corrupt += corrupt
	rep.Unreachable += unreachable
	c.stats.scrubbed.Add(1)
	if bad := missing + corrupt + unreachable; bad > 0 {
		c.stats.scrubProblems.Add(bad)
		rep.Queued++
		c.enqueue(ctx, key, fmt.Sprintf("scrub: %d missing, %d corrupt, %d unreachable shards", missing, corrupt, unreachable), true)
	}
	return nil
}

// Keys of the scrubber's state in the state table.
const (
	stateTable       = "state"
	scrubCursorKey   = "scrub.cursor"
	scrubPassKey     = "scrub.pass-start"
	scrubLastPassKey = "scrub.last-pass"
)

// scrubLoop runs a full pass each scrub_interval at scrub_rate, resuming
// an interrupted pass where it stopped.
func (c *Client) scrubLoop(ctx context.Context) {
	for ctx.Err() == nil {
		r := c.top().cfg.Repair
		interval := r.ScrubInterval
		if interval <= 0 {
			interval = 7 * 24 * time.Hour
		}
		if r.ScrubRate <= 0 {
			if !sleep(ctx, time.Minute) { // disabled; the config may change
				return
			}
			continue
		}
		passStart := c.stateTime(ctx, scrubPassKey)
		cursor, _ := c.state.Get(ctx, []byte(scrubCursorKey))
		if passStart.IsZero() {
			// No pass running: start one when the interval since the last
			// start has passed.
			last := c.stateTime(ctx, scrubLastPassKey)
			if wait := time.Until(last.Add(interval)); !last.IsZero() && wait > 0 {
				if !sleep(ctx, min(wait, time.Minute)) {
					return
				}
				continue
			}
			passStart = time.Now()
			c.setState(ctx, scrubPassKey, strconv.FormatInt(passStart.UnixNano(), 10))
			cursor = nil
		}
		c.scrubMu.Lock()
		c.scrub = ScrubStatus{Running: true, PassStart: passStart, LastPass: c.stateTime(ctx, scrubLastPassKey), Cursor: string(cursor)}
		c.scrubMu.Unlock()
		saved := time.Now()
		_, err := c.Scrub(ctx, ScrubOptions{Rate: int64(r.ScrubRate), After: string(cursor), Progress: func(rep ScrubReport) {
			c.scrubMu.Lock()
			c.scrub.Cursor, c.scrub.Objects = rep.Last, rep.Objects
			c.scrubMu.Unlock()
			if time.Since(saved) > 5*time.Second {
				c.setState(ctx, scrubCursorKey, rep.Last)
				saved = time.Now()
			}
		}})
		c.scrubMu.Lock()
		c.scrub.Running = false
		c.scrubMu.Unlock()
		if err != nil {
			if ctx.Err() == nil {
				c.log.Error("scrub pass stopped; retrying in a minute", "err", err)
				sleep(ctx, time.Minute)
			}
			continue
		}
		now := time.Now()
		c.setState(ctx, scrubLastPassKey, strconv.FormatInt(passStart.UnixNano(), 10))
		c.delState(ctx, scrubPassKey)
		c.delState(ctx, scrubCursorKey)
		c.scrubMu.Lock()
		c.scrub.LastPass = now
		c.scrubMu.Unlock()
		c.log.Info("scrub pass done", "took", now.Sub(passStart).Round(time.Second))
	}
}

func (c *Client) stateTime(ctx context.Context, key string) time.Time {
	v, err := c.state.Get(ctx, []byte(key))
	if err != nil {
		return time.Time{}
	}
	n, err := strconv.ParseInt(string(v), 10, 64)
	if err != nil {
		return time.Time{}
	}
	return time.Unix(0, n)
}

func (c *Client) setState(ctx context.Context, key, val string) {
	if err := c.state.Put(context.WithoutCancel(ctx), []byte(key), []byte(val)); err != nil {
		c.log.Error("cannot save state", "key", key, "err", err)
	}
}

func (c *Client) delState(ctx context.Context, key string) {
	if err := c.state.Delete(context.WithoutCancel(ctx), []byte(key)); err != nil {
		c.log.Error("cannot save state", "key", key, "err", err)
	}
}

// scrubStatus returns the scrubber's state.
func (c *Client) scrubStatus() ScrubStatus {
	c.scrubMu.Lock()
	defer c.scrubMu.Unlock()
	return c.scrub
}
