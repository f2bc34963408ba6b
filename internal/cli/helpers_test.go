package cli

import (
	"bytes"
	"context"
	"crypto/rand"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/zerostor/zerostor/internal/config"
	"github.com/zerostor/zerostor/internal/daemon"
	"github.com/zerostor/zerostor/internal/testcluster"
)

// writeConfig writes a k+m configuration of cl's backends with 1 MiB
// blocks, root dir/root, meta_dir dir/meta and socket dir/zstor.sock, and
// returns its path.
func writeConfig(t testing.TB, cl *testcluster.Cluster, dir string, k, m int) string {
	t.Helper()
	cfg := clusterConfig(t, cl, dir, k, m)
	if err := os.MkdirAll(cfg.Root, 0o755); err != nil {
		t.Fatal(err)
	}
	return writeConfigFile(t, dir, cfg)
}

// clusterConfig is writeConfig's configuration, not written.
func clusterConfig(t testing.TB, cl *testcluster.Cluster, dir string, k, m int) *config.Config {
	t.Helper()
	var key [32]byte
	rand.Read(key[:])
	cfg := cl.ZstorConfig(k, m, filepath.Join(dir, "meta"), key)
	cfg.BlockSize = config.MiB
	cfg.Root = filepath.Join(dir, "root")
	cfg.Socket = filepath.Join(dir, "zstor.sock")
	return cfg
}

// writeConfigFile writes cfg to dir/zstor.toml and returns its path.
func writeConfigFile(t testing.TB, dir string, cfg *config.Config) string {
	t.Helper()
	path := filepath.Join(dir, "zstor.toml")
	if err := config.WriteFile(path, cfg); err != nil {
		t.Fatal(err)
	}
	return path
}

// firstBackends is cfg with only its first n backends (in group order);
// groups left empty are dropped.
func firstBackends(cfg *config.Config, n int) *config.Config {
	out := *cfg
	out.Groups = nil
	for _, g := range cfg.Groups {
		g.Backends = g.Backends[:min(len(g.Backends), n)]
		n -= len(g.Backends)
		if len(g.Backends) > 0 {
			out.Groups = append(out.Groups, g)
		}
	}
	return &out
}

// result is one CLI run.
type result struct {
	out, err string
	code     int
}

func (r result) String() string {
	return fmt.Sprintf("exit %d\nstdout: %s\nstderr: %s", r.code, r.out, r.err)
}

// runner runs the command line in-process with -c cfg.
type runner struct {
	t     testing.TB
	cfg   string
	stdin io.Reader
	tty   bool
}

func (z runner) run(args ...string) result {
	z.t.Helper()
	var out, errb bytes.Buffer
	if z.cfg != "" {
		args = append([]string{"-c", z.cfg}, args...)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	code := Run(ctx, args, Env{Stdin: z.stdin, Stdout: &out, Stderr: &errb, StderrTTY: z.tty, Version: "test"})
	return result{out.String(), errb.String(), code}
}

// ok runs and fails the test unless the exit code is 0.
func (z runner) ok(args ...string) result {
	z.t.Helper()
	r := z.run(args...)
	if r.code != 0 {
		z.t.Fatalf("zstor %s: %v", strings.Join(args, " "), r)
	}
	return r
}

func (z runner) with(stdin io.Reader) runner { z.stdin = stdin; return z }

func randomFile(t testing.TB, path string, n int) []byte {
	t.Helper()
	data := make([]byte, n)
	rand.Read(data)
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return data
}

// startMonitor runs the daemon of the config at path until the returned
// function is called, or the test ends.
func startMonitor(t testing.TB, path string) (stop func()) {
	t.Helper()
	cfg, err := config.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	ready := make(chan struct{})
	done := make(chan error, 1)
	go func() {
		done <- daemon.Monitor(ctx, cfg, daemon.MonitorOptions{ConfigFile: path, Ready: func() { close(ready) }})
	}()
	select {
	case <-ready:
	case err := <-done:
		t.Fatalf("monitor: %v", err)
	}
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			if err := <-done; err != nil {
				t.Errorf("monitor: %v", err)
			}
		})
	}
	t.Cleanup(stop)
	return stop
}
