package testcluster

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"syscall"
	"time"
)

// Time limits of process handling: nothing waits forever.
const (
	readyTimeout = 10 * time.Second // start until PING answers
	stopTimeout  = 15 * time.Second // SIGTERM until exit
	killTimeout  = 10 * time.Second // SIGKILL until reaped (a stuck kernel, not zdb)
)

// process is one run of a daemon.
type process struct {
	cmd  *exec.Cmd
	pid  int
	done chan struct{} // closed once the process is reaped
	err  error         // cmd.Wait's result, set before done closes

	signalled bool // we sent SIGKILL/SIGTERM: its exit is expected
}

// startProcess starts cmd from a goroutine locked to its OS thread until
// the process is reaped. With the parent-death signal of sysProcAttr, the
// daemon is killed if that thread ends, which only happens when the whole
// test process goes away.
func startProcess(cmd *exec.Cmd) (*process, error) {
	p := &process{cmd: cmd, done: make(chan struct{})}
	started := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		// Never unlocked: the thread ends with this goroutine, after the
		// process is gone.
		if err := cmd.Start(); err != nil {
			started <- err
			return
		}
		p.pid = cmd.Process.Pid
		started <- nil
		p.err = cmd.Wait()
		close(p.done)
	}()
	if err := <-started; err != nil {
		return nil, err
	}
	return p, nil
}

func (p *process) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// kill sends SIGKILL and waits until the process is reaped.
func (p *process) kill() error {
	if p.exited() {
		return nil
	}
	p.signalled = true
	if err := p.cmd.Process.Signal(syscall.SIGKILL); err != nil && !errors.Is(err, os.ErrProcessDone) {
		return fmt.Errorf("SIGKILL pid %d: %w", p.pid, err)
	}
	select {
	case <-p.done:
		return nil
	case <-time.After(killTimeout):
		return fmt.Errorf("pid %d still not reaped %v after SIGKILL", p.pid, killTimeout)
	}
}

// terminate sends SIGTERM (and SIGCONT, in case the process is stopped)
// and waits for a clean exit; after stopTimeout it kills the process and
// reports it.
func (p *process) terminate() error {
	if p.exited() {
		return nil
	}
	p.signalled = true
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil && !errors.Is(err, os.ErrProcessDone) {
		return fmt.Errorf("SIGTERM pid %d: %w", p.pid, err)
	}
	p.cmd.Process.Signal(syscall.SIGCONT)
	select {
	case <-p.done:
	case <-time.After(stopTimeout):
		kerr := p.kill()
		return errors.Join(fmt.Errorf("pid %d did not exit within %v of SIGTERM; killed", p.pid, stopTimeout), kerr)
	}
	if p.err != nil {
		return fmt.Errorf("pid %d exited uncleanly after SIGTERM: %w", p.pid, p.err)
	}
	return nil
}

// waitReady waits until the daemon answers PING on addr, for at most
// readyTimeout, and fails early when the process exits.
func waitReady(ctx context.Context, p *process, addr string) error {
	ctx, cancel := context.WithTimeout(ctx, readyTimeout)
	defer cancel()
	for {
		if p.exited() {
			return fmt.Errorf("zdb (pid %d) exited while starting: %v", p.pid, p.err)
		}
		pctx, pcancel := context.WithTimeout(ctx, time.Second)
		err := ping(pctx, addr)
		pcancel()
		if err == nil {
			return nil
		}
		t := time.NewTimer(20 * time.Millisecond)
		select {
		case <-ctx.Done():
			t.Stop()
			if p.exited() {
				return fmt.Errorf("zdb (pid %d) exited while starting: %v", p.pid, p.err)
			}
			return fmt.Errorf("zdb (pid %d) did not answer PING on %s in time: %v (%w)", p.pid, addr, err, ctx.Err())
		case <-p.done:
			t.Stop()
		case <-t.C:
		}
	}
}

// logTail returns the last n lines of a log file, from byte offset from on.
func logTail(path string, from int64, n int) string {
	lines, err := logLines(path, from)
	if err != nil {
		return "(log: " + err.Error() + ")"
	}
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// runLog returns a daemon run's log from byte offset from on for an error
// message: all of it when short, else its start (where zdb says why it
// cannot start) and its end.
func runLog(path string, from int64) string {
	const head, tail = 10, 30
	lines, err := logLines(path, from)
	if err != nil {
		return "(log: " + err.Error() + ")"
	}
	if len(lines) > head+tail {
		lines = append(append(lines[:head:head], "[...]"), lines[len(lines)-tail:]...)
	}
	return strings.Join(lines, "\n")
}

// logLines reads a log's lines from byte offset from on (at most the last
// 64 KiB of them).
func logLines(path string, from int64) ([]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	const maxRead = 64 << 10
	if st, err := f.Stat(); err == nil && st.Size()-from > maxRead {
		from = st.Size() - maxRead
	}
	if _, err := f.Seek(from, io.SeekStart); err != nil {
		return nil, err
	}
	b, err := io.ReadAll(f)
	if err != nil {
		return nil, err
	}
	return strings.Split(strings.TrimRight(string(b), "\n"), "\n"), nil
}

// logProblems returns the lines of a daemon log that betray a Go panic, a
// runtime fatal error or zdb's own crash report.
func logProblems(path string) string {
	f, err := os.Open(path)
	if err != nil {
		return ""
	}
	defer f.Close()
	var bad []string
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		l := sc.Text()
		if strings.HasPrefix(l, "panic:") || strings.HasPrefix(l, "fatal error:") || strings.Contains(l, "msg=crash") {
			bad = append(bad, l)
		}
	}
	return strings.Join(bad, "\n")
}
