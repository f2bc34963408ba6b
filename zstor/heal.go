package zstor

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"
)

// Self-healing runs in the daemon (StartHealing); one-shot commands do not
// start it. It is four loops:
//
//   - the prober reads every backend's NSINFO each probe_interval, which
//     keeps reachability, latency and free space current and moves backends
//     through healthy → degraded → down → terminal; a backend turning
//     terminal has all its objects queued for repair;
//   - the repairer takes due entries off the durable queue and repairs
//     them, rate-limited while foreground traffic runs;
//   - the scrubber verifies every shard at scrub_rate, queueing damage;
//   - the auditor challenges a random shard each audit_interval.

// healStats are counters for Health and the metrics.
type healStats struct {
	queued        atomic.Int64 // entries queued (including re-queued)
	repaired      atomic.Int64 // objects whose repair committed or found nothing to do
	repairFailed  atomic.Int64 // attempts that failed
	rebuiltShards atomic.Int64
	repairBytes   atomic.Int64 // shard bytes read and written by repair
	audits        atomic.Int64
	auditFailures atomic.Int64
	scrubbed      atomic.Int64 // objects verified by scrubs
	scrubProblems atomic.Int64
}

// HealOptions tune StartHealing; zero values take the config's [repair]
// section.
type HealOptions struct {
	// DisableScrub and DisableAudit stop those loops (tests, benchmarks).
	DisableScrub, DisableAudit bool
}

// terminalAfter is [repair] terminal_after.
func (c *Client) terminalAfter() time.Duration {
	if d := c.top().cfg.Repair.TerminalAfter; d > 0 {
		return d
	}
	return 15 * time.Minute
}

// StartHealing starts the background loops (see the package comment of
// heal.go); Close stops them. Calling it twice is an error.
func (c *Client) StartHealing(opts HealOptions) error {
	if err := c.check(); err != nil {
		return err
	}
	if !c.healing.CompareAndSwap(false, true) {
		return fmt.Errorf("%w: healing already started", ErrInvalid)
	}
	ctx, cancel := context.WithCancel(context.Background())
	c.healStop = cancel
	loops := []func(context.Context){c.probeLoop, c.repairLoop}
	if !opts.DisableScrub {
		loops = append(loops, c.scrubLoop)
	}
	if !opts.DisableAudit {
		loops = append(loops, c.auditLoop)
	}
	for _, f := range loops {
		c.healWG.Add(1)
		go func() {
			defer c.healWG.Done()
			f(ctx)
		}()
	}
	return nil
}

// stopHealing stops the loops and waits for them (Close).
func (c *Client) stopHealing() {
	if c.healStop != nil {
		c.healStop()
	}
	c.healWG.Wait()
}

// sleep waits d or until ctx is done; it reports whether ctx is still live.
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

// probeLoop refreshes every backend each probe_interval and acts on
// backends that turn terminal.
func (c *Client) probeLoop(ctx context.Context) {
	terminal := map[string]bool{}
	wasDown := map[string]bool{}
	for {
		t := c.top()
		interval := t.cfg.Repair.ProbeInterval
		if interval <= 0 {
			interval = 5 * time.Second
		}
		// A probe may take longer than the interval on a loaded machine;
		// it is not a failure below 2 s.
		pctx, cancel := context.WithTimeout(ctx, min(max(interval, 2*time.Second), 5*time.Second))
		c.probe(pctx, t.all())
		cancel()
		now := time.Now()
		ta := c.terminalAfter()
		for _, b := range t.backends {
			st := b.state(now, ta)
			if st == StateTerminal && !terminal[b.id] {
				c.log.Warn("backend terminal: rebuilding its shards elsewhere", "backend", b.id, "down_for", ta)
				if _, err := c.enqueueBackend(ctx, b.id, "backend "+b.id+" terminal"); err != nil && ctx.Err() == nil {
					c.log.Error("cannot queue the objects of a terminal backend", "backend", b.id, "err", err)
					continue // try again next round
				}
			}
			terminal[b.id] = st == StateTerminal
			if wasDown[b.id] && st < StateDown {
				// Back: objects waiting for it can be repaired now.
				c.log.Info("backend back", "backend", b.id)
				c.retryNow(ctx)
			}
			wasDown[b.id] = st >= StateDown
		}
		if !sleep(ctx, interval) {
			return
		}
	}
}

// probe reads NSINFO of every backend concurrently.
func (c *Client) probe(ctx context.Context, bs []*backend) {
	var wg sync.WaitGroup
	for _, b := range bs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_ = b.refresh(ctx) // recorded by call
		}()
	}
	wg.Wait()
}

// foreground counts a store or retrieve running: repair slows down to
// [repair] rate while any does. It returns the function ending it.
func (c *Client) foreground() func() {
	c.fgActive.Add(1)
	var once sync.Once
	return func() {
		once.Do(func() {
			c.fgActive.Add(-1)
			c.fgLast.Store(time.Now().UnixNano())
		})
	}
}

// fgQuiet is how long after the last foreground operation repair runs at
// idle_rate again.
const fgQuiet = time.Second

func (c *Client) busy() bool {
	return c.fgActive.Load() > 0 || time.Since(time.Unix(0, c.fgLast.Load())) < fgQuiet
}

// pacer spreads n bytes at rate bytes/s; a burst of up to pacerBurst is
// allowed after a pause.
type pacer struct {
	mu   sync.Mutex
	next time.Time
}

const pacerBurst = 100 * time.Millisecond

func (p *pacer) wait(ctx context.Context, n int, rate int64) error {
	if rate <= 0 {
		return ctx.Err()
	}
	p.mu.Lock()
	now := time.Now()
	if p.next.Before(now.Add(-pacerBurst)) {
		p.next = now.Add(-pacerBurst)
	}
	p.next = p.next.Add(time.Duration(float64(n) / float64(rate) * float64(time.Second)))
	d := p.next.Sub(now)
	p.mu.Unlock()
	if d <= 0 {
		return nil
	}
	if !sleep(ctx, d) {
		return ctx.Err()
	}
	return nil
}

// repairPace is the repair rate limit: [repair] rate while foreground
// traffic runs, idle_rate otherwise (0: unlimited).
func (c *Client) repairPace(ctx context.Context, n int) error {
	r := c.top().cfg.Repair
	rate := int64(r.IdleRate)
	if c.busy() {
		rate = int64(r.Rate)
	}
	return c.repairPacer.wait(ctx, n, rate)
}

// retryNow makes every queued entry due now.
func (c *Client) retryNow(ctx context.Context) {
	now := time.Now()
	err := c.queue.Scan(ctx, nil, func(k, v []byte) error {
		e, err := decodeQueueEntry(v)
		if err != nil || !e.NotBefore.After(now) {
			return nil
		}
		e.NotBefore = now
		_, err = c.queue.CompareAndSwap(ctx, k, v, e.encode())
		return err
	})
	if err != nil && ctx.Err() == nil {
		c.log.Error("repair queue: cannot reschedule", "err", err)
	}
	c.wakeRepair()
}

func (c *Client) wakeRepair() {
	select {
	case c.repairWake <- struct{}{}:
	default:
	}
}

// repairLoop works the durable queue: due entries are repaired by up to
// [repair] workers at once; the loop sleeps until woken by a new entry or
// the next entry is due.
func (c *Client) repairLoop(ctx context.Context) {
	for ctx.Err() == nil {
		next, err := c.repairDue(ctx)
		if err != nil && ctx.Err() == nil {
			c.log.Error("repair queue", "err", err)
		}
		wait := time.Minute
		if !next.IsZero() {
			wait = max(time.Until(next), 10*time.Millisecond)
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
		case <-c.repairWake:
		case <-t.C:
		}
		t.Stop()
	}
}

// repairDue repairs every due entry once and returns when the next one is
// due (zero when the queue is empty).
func (c *Client) repairDue(ctx context.Context) (next time.Time, err error) {
	workers := c.top().cfg.Repair.Workers
	if workers <= 0 {
		workers = 2
	}
	sem := make(chan struct{}, workers)
	var wg sync.WaitGroup
	var mu sync.Mutex
	now := time.Now()
	err = c.queue.Scan(ctx, nil, func(k, v []byte) error {
		e, derr := decodeQueueEntry(v)
		if derr != nil {
			c.log.Error("repair queue: dropping an unreadable entry", "key", string(k), "err", derr)
			c.dequeue(ctx, string(k), v)
			return nil
		}
		if e.NotBefore.After(now) {
			mu.Lock()
			if next.IsZero() || e.NotBefore.Before(next) {
				next = e.NotBefore
			}
			mu.Unlock()
			return nil
		}
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
			return ctx.Err()
		}
		wg.Add(1)
		go func() {
			defer func() { <-sem; wg.Done() }()
			if retry := c.repairEntry(ctx, string(k), v, e); !retry.IsZero() {
				mu.Lock()
				if next.IsZero() || retry.Before(next) {
					next = retry
				}
				mu.Unlock()
			}
		}()
		return nil
	})
	wg.Wait()
	return next, err
}

// pendingRetry is when an object with shards on down (not terminal)
// backends is looked at again.
const pendingRetry = time.Minute

// repairEntry repairs one queued object and settles its entry; it returns
// the time of a retry, if any.
func (c *Client) repairEntry(ctx context.Context, key string, raw []byte, e queueEntry) time.Time {
	rep, err := c.repair(ctx, key, repairOpts{pace: c.repairPace, verify: e.Verify})
	c.stats.repairBytes.Add(rep.Bytes)
	c.stats.rebuiltShards.Add(int64(rep.Rebuilt))
	if ctx.Err() != nil {
		return time.Time{} // shutting down: the entry stays for the next start
	}
	switch {
	case errors.Is(err, ErrNotFound):
		c.dequeue(ctx, key, raw) // deleted meanwhile: nothing to repair
		return time.Time{}
	case err == nil && rep.Pending == 0:
		if rep.Rebuilt > 0 {
			c.log.Info("repaired", "key", key, "rebuilt", rep.Rebuilt, "moved", rep.Moved, "degraded", rep.Degraded, "reason", e.Reason)
		}
		c.stats.repaired.Add(1)
		c.dequeue(ctx, key, raw)
		return time.Time{}
	case err == nil:
		c.retryLater(ctx, key, raw, e, fmt.Errorf("%w: %d", errPending, rep.Pending), pendingRetry)
		return time.Now().Add(pendingRetry)
	}
	c.stats.repairFailed.Add(1)
	c.log.Warn("repair failed; will retry", "key", key, "attempt", e.Attempts+1, "err", err)
	c.retryLater(ctx, key, raw, e, err, 0)
	return time.Now().Add(2 * time.Second)
}
