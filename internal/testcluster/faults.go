package testcluster

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"strconv"
	"syscall"
	"time"
)

// faultTimeout bounds the TB-flavoured methods that talk to a daemon.
const faultTimeout = 30 * time.Second

// Kill stops backend i's daemon with SIGKILL, like a crash. Killing a
// backend that is not running does nothing.
func (c *Cluster) Kill(i int) {
	c.t.Helper()
	nd := c.node(i)
	nd.mu.Lock()
	err := nd.killLocked()
	nd.mu.Unlock()
	if err != nil {
		c.fatalf("testcluster: backend %d: kill: %v", i, err)
	}
}

// Stop stops backend i's daemon with SIGTERM and waits for a clean exit
// (a paused daemon is resumed for it). Stopping a backend that is not
// running does nothing.
func (c *Cluster) Stop(i int) {
	c.t.Helper()
	c.must(i, c.StopContext)
}

// StopContext is Stop returning its error.
func (c *Cluster) StopContext(_ context.Context, i int) error {
	c.t.Helper()
	return c.onNode(i, "stop", func(nd *node) error { return nd.stopLocked() })
}

// must runs the Context variant f of a TB-flavoured method on backend i,
// bounded by faultTimeout, and fails the test on its error.
func (c *Cluster) must(i int, f func(context.Context, int) error) {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), faultTimeout)
	defer cancel()
	if err := f(ctx, i); err != nil {
		c.fatalf("%v", err)
	}
}

// onNode runs f on backend i with its lock held; f's error comes back as
// "testcluster: backend i: op: ...".
func (c *Cluster) onNode(i int, op string, f func(nd *node) error) error {
	c.t.Helper()
	nd, err := c.nodeErr(i)
	if err != nil {
		return err
	}
	nd.mu.Lock()
	defer nd.mu.Unlock()
	if err := f(nd); err != nil {
		return fmt.Errorf("testcluster: backend %d: %s: %w", i, op, err)
	}
	return nil
}

// Restart starts backend i's daemon again, after Kill or Stop, on the same
// port with the same directories, and waits until it answers PING (at
// most about 10 s). Restarting a running backend is an error.
func (c *Cluster) Restart(i int) {
	c.t.Helper()
	c.must(i, c.RestartContext)
}

// RestartContext is Restart returning its error.
func (c *Cluster) RestartContext(ctx context.Context, i int) error {
	c.t.Helper()
	return c.onNode(i, "restart", func(nd *node) error {
		if nd.runningLocked() {
			return fmt.Errorf("zdb is running (pid %d); Kill or Stop it first", nd.proc.pid)
		}
		return nd.startLocked(ctx)
	})
}

// Pause stops backend i's daemon with SIGSTOP: its connections stay open
// but nothing is answered (and new ones are accepted by the kernel but not
// served) until Resume. It returns once the process is stopped.
func (c *Cluster) Pause(i int) {
	c.t.Helper()
	nd := c.node(i)
	nd.mu.Lock()
	defer nd.mu.Unlock()
	if !nd.runningLocked() {
		c.fatalf("testcluster: backend %d: pause: zdb is not running", i)
		return
	}
	if err := nd.proc.cmd.Process.Signal(syscall.SIGSTOP); err != nil {
		c.fatalf("testcluster: backend %d: pause: SIGSTOP: %v", i, err)
		return
	}
	nd.paused = true
	if err := waitStopped(nd.proc.pid, 5*time.Second); err != nil {
		c.fatalf("testcluster: backend %d: pause: %v", i, err)
		return
	}
	c.logf("testcluster: backend %d: zdb paused (pid %d)", i, nd.proc.pid)
}

// Resume continues a paused daemon with SIGCONT. Resuming a backend that
// is not paused does nothing.
func (c *Cluster) Resume(i int) {
	c.t.Helper()
	nd := c.node(i)
	nd.mu.Lock()
	defer nd.mu.Unlock()
	if !nd.paused || !nd.runningLocked() {
		nd.paused = false
		return
	}
	if err := nd.proc.cmd.Process.Signal(syscall.SIGCONT); err != nil {
		c.fatalf("testcluster: backend %d: resume: SIGCONT: %v", i, err)
		return
	}
	nd.paused = false
	c.logf("testcluster: backend %d: zdb resumed (pid %d)", i, nd.proc.pid)
}

// proxyOf returns backend i's proxy, failing when the cluster has none.
func (c *Cluster) proxyOf(i int, op string) *Proxy {
	c.t.Helper()
	nd := c.node(i)
	if nd.proxy == nil {
		c.fatalf("testcluster: backend %d: %s needs Options.Proxy", i, op)
	}
	return nd.proxy
}

// Slow makes backend i's proxy delay every chunk a client sends (in
// practice every request) by d; 0 restores full speed. Requires
// Options.Proxy.
func (c *Cluster) Slow(i int, d time.Duration) {
	c.t.Helper()
	c.proxyOf(i, "Slow").SetDelay(d)
	c.logf("testcluster: backend %d: proxy delay %v", i, d)
}

// Blackhole makes backend i's proxy accept connections and silently drop
// everything, both ways, so that clients hang until their own timeouts.
// Turning it off closes the connections that lost bytes meanwhile and
// forwards again. Requires Options.Proxy.
func (c *Cluster) Blackhole(i int, on bool) {
	c.t.Helper()
	c.proxyOf(i, "Blackhole").SetBlackhole(on)
	c.logf("testcluster: backend %d: blackhole %v", i, on)
}

// Disconnect closes every client connection open through backend i's
// proxy, as a network blip would; the daemon keeps running. It returns
// how many were closed. Requires Options.Proxy.
func (c *Cluster) Disconnect(i int) int {
	c.t.Helper()
	return c.proxyOf(i, "Disconnect").CloseConns()
}

// Fill makes backend i's namespace full: its size limit becomes its
// current data size (NSINFO data_size_bytes, at least 1), so that storing
// any further value under a new key fails with zdb's "No space left on
// this namespace". Overwriting a key with a value no longer than the old
// one still succeeds, as in zdb.
//
// zdb refuses NSSET on the default namespace, so there Fill restarts the
// daemon (SIGTERM, same port) with --maxsize, and open connections drop.
func (c *Cluster) Fill(i int) {
	c.t.Helper()
	c.must(i, c.FillContext)
}

// FillContext is Fill returning its error.
func (c *Cluster) FillContext(ctx context.Context, i int) error {
	c.t.Helper()
	return c.setLimit(ctx, i, "fill", c.fillLocked)
}

// setLimit runs fillLocked or unfillLocked (op "fill" or "unfill") on
// backend i and logs the change.
func (c *Cluster) setLimit(ctx context.Context, i int, op string, f func(context.Context, *node) error) error {
	c.t.Helper()
	return c.onNode(i, op, func(nd *node) error {
		if err := f(ctx, nd); err != nil {
			return err
		}
		c.logf("testcluster: backend %d: namespace %s %sed", i, c.opts.Namespace, op)
		return nil
	})
}

func (c *Cluster) fillLocked(ctx context.Context, nd *node) error {
	c.t.Helper()
	if !nd.runningLocked() {
		return errors.New("zdb is not running")
	}
	ns := c.opts.Namespace
	a, err := nd.admin(ctx)
	if err != nil {
		return err
	}
	defer a.Close()
	size, err := a.nsInfoInt(ctx, ns, "data_size_bytes")
	if err != nil {
		return err
	}
	limit := max(size, 1)
	if ns != "default" {
		_, err := a.do(ctx, "NSSET", ns, "maxsize", strconv.FormatInt(limit, 10))
		return err
	}
	a.Close()
	nd.maxsize = limit
	return nd.restartLocked(ctx)
}

// Unfill lifts backend i's size limit again (unlimited). On the default
// namespace it restarts the daemon without --maxsize if it runs, else the
// next Restart does without.
func (c *Cluster) Unfill(i int) {
	c.t.Helper()
	c.must(i, c.UnfillContext)
}

// UnfillContext is Unfill returning its error.
func (c *Cluster) UnfillContext(ctx context.Context, i int) error {
	c.t.Helper()
	return c.setLimit(ctx, i, "unfill", c.unfillLocked)
}

func (c *Cluster) unfillLocked(ctx context.Context, nd *node) error {
	c.t.Helper()
	ns := c.opts.Namespace
	if ns == "default" {
		if nd.maxsize == 0 {
			return nil
		}
		nd.maxsize = 0
		if !nd.runningLocked() {
			return nil
		}
		return nd.restartLocked(ctx)
	}
	if !nd.runningLocked() {
		return errors.New("zdb is not running")
	}
	a, err := nd.admin(ctx)
	if err != nil {
		return err
	}
	defer a.Close()
	_, err = a.do(ctx, "NSSET", ns, "maxsize", "0")
	return err
}

// Corrupt flips n randomly chosen bytes (distinct positions, each XORed
// with a random non-zero mask) in the data files of backend i's namespace,
// chosen uniformly over their current contents, and returns how many it
// flipped: fewer than n only when the files hold fewer bytes. It works
// whether or not the daemon runs; a running one sees the damage on its
// next read of those bytes. A nil rnd draws from a random seed.
func (c *Cluster) Corrupt(i int, rnd *rand.Rand, n int) int {
	c.t.Helper()
	nd := c.node(i)
	flipped, err := corruptFiles(nd.dataFiles(), rnd, n)
	if err != nil {
		c.fatalf("testcluster: backend %d: corrupt: %v", i, err)
	}
	c.logf("testcluster: backend %d: flipped %d bytes in its data files", i, flipped)
	return flipped
}

func corruptFiles(paths []string, rnd *rand.Rand, n int) (int, error) {
	if rnd == nil {
		rnd = rand.New(rand.NewPCG(rand.Uint64(), rand.Uint64()))
	}
	sizes := make([]int64, len(paths))
	var total int64
	for j, p := range paths {
		st, err := os.Stat(p)
		if err != nil {
			return 0, err
		}
		sizes[j] = st.Size()
		total += st.Size()
	}
	n = int(min(int64(max(n, 0)), total))
	// Positions and masks in the order drawn, so that a seed replays the
	// same damage; then grouped by file, so each file is opened once.
	type flip struct {
		off  int64
		mask byte
	}
	seen := make(map[int64]bool, n)
	byFile := make([][]flip, len(paths))
	for len(seen) < n {
		pos := rnd.Int64N(total)
		if seen[pos] {
			continue
		}
		seen[pos] = true
		mask := byte(1 + rnd.IntN(255))
		j := 0
		for pos >= sizes[j] {
			pos -= sizes[j]
			j++
		}
		byFile[j] = append(byFile[j], flip{pos, mask})
	}
	flipped := 0
	for j, flips := range byFile {
		if len(flips) == 0 {
			continue
		}
		f, err := os.OpenFile(paths[j], os.O_RDWR, 0)
		if err != nil {
			return flipped, err
		}
		for _, fl := range flips {
			var b [1]byte
			if _, err := f.ReadAt(b[:], fl.off); err != nil {
				f.Close()
				return flipped, fmt.Errorf("%s at %d: %w", paths[j], fl.off, err)
			}
			b[0] ^= fl.mask
			if _, err := f.WriteAt(b[:], fl.off); err != nil {
				f.Close()
				return flipped, fmt.Errorf("%s at %d: %w", paths[j], fl.off, err)
			}
			flipped++
		}
		if err := f.Close(); err != nil {
			return flipped, err
		}
	}
	return flipped, nil
}
