package testcluster

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"
)

// node is one backend: its settings and the daemon process serving it.
type node struct {
	c     *Cluster
	b     Backend // fixed once the cluster has started
	port  int     // zdb's port, kept across restarts
	mport int     // --metrics port, 0 if none

	mu      sync.Mutex
	proc    *process // nil before the first start
	paused  bool
	starts  int
	logOff  int64 // where the current run's log starts
	maxsize int64 // --maxsize while the default namespace is filled
	proxy   *Proxy
}

func (n *node) runningLocked() bool { return n.proc != nil && !n.proc.exited() }

// args are zdb's flags for the next start.
func (n *node) args() []string {
	o := n.c.opts
	a := []string{
		"--data", n.b.DataDir, "--index", n.b.IndexDir,
		"--listen", "127.0.0.1", "--port", strconv.Itoa(n.port),
		"--datasize", strconv.FormatInt(o.DataSize, 10),
	}
	if o.Sync {
		a = append(a, "--sync")
	}
	if o.Namespace == "default" && o.Mode == "seq" {
		a = append(a, "--mode", "seq")
	}
	if n.mport != 0 {
		a = append(a, "--metrics", net.JoinHostPort("127.0.0.1", strconv.Itoa(n.mport)))
	}
	if n.maxsize > 0 {
		a = append(a, "--maxsize", strconv.FormatInt(n.maxsize, 10))
	}
	return append(a, o.Args...)
}

// startLocked starts the daemon and waits until it answers PING. The first
// start may move to other free ports when another process took the chosen
// ones meanwhile; later starts keep the port (clients rely on it) and only
// retry for a moment.
func (n *node) startLocked(ctx context.Context) error {
	n.c.t.Helper()
	switch {
	case n.c.closed.Load():
		return errors.New("cluster closed")
	case n.runningLocked():
		return errors.New("already running")
	}
	bin, err := Binary()
	if err != nil {
		return err
	}
	deadline := time.Now().Add(2 * time.Second)
	for attempt := 1; ; attempt++ {
		inUse, err := n.tryStartLocked(ctx, bin)
		if err == nil {
			return nil
		}
		switch {
		case !inUse || ctx.Err() != nil:
			return err
		case n.starts == 0 && attempt < 5:
			if err := n.pickPorts(); err != nil {
				return err
			}
		case n.starts > 0 && time.Now().Before(deadline):
			time.Sleep(100 * time.Millisecond)
		default:
			return err
		}
	}
}

// tryStartLocked runs zdb once; inUse tells that it failed to bind.
func (n *node) tryStartLocked(ctx context.Context, bin string) (inUse bool, err error) {
	n.c.t.Helper()
	logf, err := os.OpenFile(n.b.LogPath, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o600)
	if err != nil {
		return false, err
	}
	off, _ := logf.Seek(0, io.SeekEnd)
	n.logOff = off
	args := n.args()
	fmt.Fprintf(logf, "=== testcluster: start #%d of backend %d at %s: %s %s\n",
		n.starts+1, n.b.Index, time.Now().Format(time.RFC3339Nano), bin, strings.Join(args, " "))
	cmd := exec.Command(bin, args...)
	cmd.Stdout, cmd.Stderr = logf, logf
	// The admin password goes by environment, to stay out of ps and logs.
	cmd.Env = append(os.Environ(), "ZDB_ADMIN="+n.c.opts.Admin)
	cmd.SysProcAttr = sysProcAttr()
	p, err := startProcess(cmd)
	logf.Close() // the child has its own descriptor
	if err != nil {
		return false, err
	}
	n.proc, n.paused = p, false
	if err := waitReady(ctx, p, n.b.ZdbAddr); err != nil {
		kerr := p.kill()
		log := runLog(n.b.LogPath, off)
		inUse := strings.Contains(log, "address already in use")
		return inUse, fmt.Errorf("%w\n--- log of this run, %s:\n%s", errors.Join(err, kerr), n.b.LogPath, log)
	}
	n.starts++
	n.c.logf("testcluster: backend %d: zdb started (pid %d, %s)", n.b.Index, p.pid, n.b.ZdbAddr)
	return false, nil
}

// pickPorts chooses free loopback ports for zdb (and its metrics).
func (n *node) pickPorts() error {
	ports, err := freePorts(1 + btoi(n.mport != 0))
	if err != nil {
		return err
	}
	n.port = ports[0]
	if n.mport != 0 {
		n.mport = ports[1]
		n.b.MetricsAddr = net.JoinHostPort("127.0.0.1", strconv.Itoa(n.mport))
	}
	n.b.ZdbAddr = net.JoinHostPort("127.0.0.1", strconv.Itoa(n.port))
	if n.proxy == nil {
		n.b.Addr = n.b.ZdbAddr
	}
	return nil
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}

// freePorts returns k distinct free loopback ports. All are held open
// until all are found, so that one call never returns the same port twice.
func freePorts(k int) ([]int, error) {
	ports := make([]int, 0, k)
	for range k {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, fmt.Errorf("free port: %w", err)
		}
		defer l.Close()
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}

// killLocked SIGKILLs the daemon if it runs.
func (n *node) killLocked() error {
	n.c.t.Helper()
	if !n.runningLocked() {
		return nil
	}
	pid := n.proc.pid
	err := n.proc.kill()
	n.paused = false
	if err == nil {
		n.c.logf("testcluster: backend %d: zdb killed (pid %d)", n.b.Index, pid)
	}
	return err
}

// stopLocked stops the daemon with SIGTERM if it runs.
func (n *node) stopLocked() error {
	n.c.t.Helper()
	if !n.runningLocked() {
		return nil
	}
	pid := n.proc.pid
	err := n.proc.terminate()
	n.paused = false
	if err != nil {
		return fmt.Errorf("%w\n--- last lines of %s:\n%s", err, n.b.LogPath, logTail(n.b.LogPath, n.logOff, 30))
	}
	n.c.logf("testcluster: backend %d: zdb stopped (pid %d)", n.b.Index, pid)
	return nil
}

// restartLocked stops the daemon if it runs and starts it again.
func (n *node) restartLocked(ctx context.Context) error {
	n.c.t.Helper()
	if err := n.stopLocked(); err != nil {
		return err
	}
	return n.startLocked(ctx)
}

// admin opens an admin connection to the daemon (not through the proxy).
func (n *node) admin(ctx context.Context) (*adminConn, error) {
	a, err := dialAdmin(ctx, n.b.ZdbAddr, n.c.opts.Admin)
	if err != nil {
		return nil, fmt.Errorf("admin connection: %w", err)
	}
	return a, nil
}

// setupNamespace creates and configures the namespace on the first start.
func (n *node) setupNamespace(ctx context.Context) error {
	o := n.c.opts
	if o.Namespace == "default" {
		return nil
	}
	a, err := n.admin(ctx)
	if err != nil {
		return err
	}
	defer a.Close()
	if _, err := a.do(ctx, "NSNEW", o.Namespace); err != nil {
		// Reusing a directory (StartDir) finds the namespace there.
		var re replyError
		if !errors.As(err, &re) || !strings.Contains(string(re), "not available") {
			return fmt.Errorf("NSNEW %s: %w", o.Namespace, err)
		}
	}
	if o.Password != "" {
		if _, err := a.do(ctx, "NSSET", o.Namespace, "password", o.Password); err != nil {
			return fmt.Errorf("NSSET %s password: %w", o.Namespace, err)
		}
	}
	if o.Mode == "seq" {
		if _, err := a.do(ctx, "NSSET", o.Namespace, "mode", "seq"); err != nil {
			return fmt.Errorf("NSSET %s mode seq: %w", o.Namespace, err)
		}
	}
	return nil
}

// dataFiles lists the namespace's data files in log order.
func (n *node) dataFiles() []string {
	m, _ := filepath.Glob(filepath.Join(n.b.DataDir, n.c.opts.Namespace, "d-*.zdb"))
	return m // Glob sorts and the ids are zero-padded
}
