package server

import (
	"context"
	"log/slog"
	"os/exec"
	"sync"
	"time"
)

// hookTimeout bounds a blocking hook.
const hookTimeout = 2 * time.Minute

// hooks runs the --hook executable with 0-db's argument contract:
// argv = [hook, event, instance-id, args...], environment inherited.
type hooks struct {
	path string
	id   string
	log  *slog.Logger

	mu   sync.Mutex
	runs []*hookRun // recent runs, for HOOKS
	wg   sync.WaitGroup
}

type hookRun struct {
	event      string
	args       []string
	pid        int
	start, end time.Time
	status     int
}

func newHooks(path, id string, log *slog.Logger) *hooks {
	return &hooks{path: path, id: id, log: log}
}

// run starts the hook for event. Blocking hooks are waited for and their
// failure returned; others run in the background. Without --hook it does
// nothing.
func (h *hooks) run(event string, blocking bool, args ...string) error {
	if h.path == "" {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), hookTimeout)
	cmd := exec.CommandContext(ctx, h.path, append([]string{event, h.id}, args...)...)
	r := &hookRun{event: event, args: args, start: time.Now()}
	if err := cmd.Start(); err != nil {
		cancel()
		h.log.Error("hook failed to start", "hook", h.path, "event", event, "err", err)
		return err
	}
	r.pid = cmd.Process.Pid
	h.remember(r)
	finish := func() error {
		defer cancel()
		err := cmd.Wait()
		h.mu.Lock()
		r.end = time.Now()
		r.status = cmd.ProcessState.ExitCode()
		h.mu.Unlock()
		if err != nil {
			h.log.Warn("hook failed", "event", event, "err", err)
		} else {
			h.log.Debug("hook done", "event", event)
		}
		return err
	}
	if blocking {
		return finish()
	}
	h.wg.Add(1)
	go func() {
		defer h.wg.Done()
		finish()
	}()
	return nil
}

// remember keeps r and drops runs that ended more than a minute ago.
func (h *hooks) remember(r *hookRun) {
	h.mu.Lock()
	defer h.mu.Unlock()
	kept := h.runs[:0]
	for _, x := range h.runs {
		if x.end.IsZero() || time.Since(x.end) < time.Minute {
			kept = append(kept, x)
		}
	}
	h.runs = append(kept, r)
}

// recent returns copies of the recent runs.
func (h *hooks) recent() []hookRun {
	h.mu.Lock()
	defer h.mu.Unlock()
	out := make([]hookRun, 0, len(h.runs))
	for _, r := range h.runs {
		out = append(out, *r)
	}
	return out
}

// wait waits for background hooks (at shutdown).
func (h *hooks) wait() { h.wg.Wait() }
