package daemon

import (
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"syscall"
	"time"
)

// ErrRunning is returned by Listen when another daemon answers on the
// socket.
var ErrRunning = errors.New("daemon: another daemon answers on the socket")

// maxSocketPath is about the longest unix socket path the kernels take
// (sun_path is 108 bytes on Linux, 104 on BSDs, with a NUL).
const maxSocketPath = 103

// Listener is a unix socket listener made by Listen. Closing it removes
// the socket file, unless another process has replaced it since.
type Listener struct {
	net.Listener
	path string
	fi   fs.FileInfo
}

// Listen listens on the unix socket at path, mode 0600 from the first
// moment (the socket is bound under a temporary name, restricted, then
// linked into place, so no other user can ever connect). A stale socket
// (nothing accepts on it) is removed first; if something answers, Listen
// refuses with ErrRunning. A path that exists and is not a socket is
// never removed.
func Listen(path string) (*Listener, error) {
	if err := clearStale(path); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return nil, fmt.Errorf("daemon: socket directory: %w", err)
	}
	// Bound inside a private (0700) directory beside the target, so that
	// nobody else can connect before the chmod below, whatever the umask.
	priv, err := os.MkdirTemp(filepath.Dir(path), ".zs")
	if err != nil {
		return nil, fmt.Errorf("daemon: socket directory: %w", err)
	}
	defer os.Remove(priv)
	tmp := filepath.Join(priv, "s")
	ln, err := net.Listen("unix", tmp)
	if err != nil {
		if len(tmp) > maxSocketPath || len(path) > maxSocketPath {
			return nil, fmt.Errorf("daemon: listen on %s: %w (a unix socket path must be shorter than about %d bytes: use a shorter one)", path, err, maxSocketPath)
		}
		return nil, fmt.Errorf("daemon: listen on %s: %w", path, err)
	}
	ul := ln.(*net.UnixListener)
	ul.SetUnlinkOnClose(false)
	fail := func(err error) (*Listener, error) {
		ln.Close()
		os.Remove(tmp)
		return nil, err
	}
	if err := os.Chmod(tmp, 0o600); err != nil {
		return fail(fmt.Errorf("daemon: socket %s: %w", path, err))
	}
	// link fails if path appeared meanwhile: two daemons starting at once
	// cannot replace each other's socket.
	err = os.Link(tmp, path)
	if errors.Is(err, fs.ErrExist) {
		return fail(fmt.Errorf("%w: %s appeared while this daemon started", ErrRunning, path))
	}
	if err != nil {
		// A filesystem without hard links: rename, which replaces.
		if err2 := os.Rename(tmp, path); err2 != nil {
			return fail(fmt.Errorf("daemon: socket %s: %w", path, err2))
		}
	}
	os.Remove(tmp)
	fi, err := os.Lstat(path)
	if err != nil {
		return fail(fmt.Errorf("daemon: socket %s: %w", path, err))
	}
	return &Listener{Listener: ln, path: path, fi: fi}, nil
}

// Path is the socket's path.
func (l *Listener) Path() string { return l.path }

// Close stops listening and removes the socket file if it is still ours.
func (l *Listener) Close() error {
	err := l.Listener.Close()
	if fi, serr := os.Lstat(l.path); serr == nil && os.SameFile(fi, l.fi) {
		os.Remove(l.path)
	}
	return err
}

// clearStale removes a socket at path that nothing accepts on.
func clearStale(path string) error {
	fi, err := os.Lstat(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("daemon: socket %s: %w", path, err)
	}
	if fi.Mode().Type() != fs.ModeSocket {
		return fmt.Errorf("daemon: %s exists and is not a socket; remove it or set another socket path", path)
	}
	c, err := net.DialTimeout("unix", path, 2*time.Second)
	if err == nil {
		c.Close()
		return fmt.Errorf("%w: %s (stop it first, or use its socket)", ErrRunning, path)
	}
	if !errors.Is(err, syscall.ECONNREFUSED) {
		return fmt.Errorf("daemon: socket %s: %w", path, err)
	}
	if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("daemon: remove stale socket %s: %w", path, err)
	}
	return nil
}
