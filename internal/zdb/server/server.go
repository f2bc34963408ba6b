// Package server is the zdb daemon: it accepts RESP2 connections over TCP
// and unix sockets and serves 0-db's command set over namespaces whose data
// lives in package store.
package server

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/zerostor/zerostor/internal/zdb/store"
)

// Config is the daemon's configuration; the zero value of a field means its
// documented default.
type Config struct {
	DataDir  string // default "./zdb-data"
	IndexDir string // default "./zdb-index"
	// Mode forces every namespace to "user" or "seq"; "" lets each
	// namespace choose (NSSET mode), starting in user mode.
	Mode     string
	DataSize int64 // data file rotation size, default 256 MiB

	Listen  string // TCP address, default "127.0.0.1" (loopback: see docs)
	Port    int    // 0 picks a free port (see Addrs); the CLI defaults to 9900
	Socket  string // unix socket path; replaces TCP unless DualNet
	DualNet bool

	Admin   string // admin password; empty: every client is admin
	Protect bool   // default namespace read-only unless SELECTed with the admin password
	// Strict0DB answers only 0-db's own commands: HASH, PROOF, SCRUB and
	// COMPACT become unknown, so clients can be tested against 0-db's
	// command set.
	Strict0DB bool
	MaxSize   int64 // maxsize of the default namespace

	Sync           bool          // acknowledge writes only once on disk
	SyncInterval   time.Duration // background fsync period (--synctime)
	RotateInterval time.Duration // start new data files this often (--rotate)

	Hook        string // hook executable
	MetricsAddr string // Prometheus /metrics listen address; "" disables

	CompactRatio  float64       // dead share that triggers compaction; default 0.5, negative disables
	ScrubRate     int64         // background scrub bytes/s; 0 disables
	ScrubInterval time.Duration // pause between scrub passes

	IdleTimeout   time.Duration // close connections idle this long; default 15m, negative disables
	ClientTimeout time.Duration // a started command or a reply write must finish within this; default 30s
	MaxClients    int           // default 1024

	Logger *slog.Logger
}

func (c *Config) ensureDefaults() error {
	if c.DataDir == "" {
		c.DataDir = "./zdb-data"
	}
	if c.IndexDir == "" {
		c.IndexDir = "./zdb-index"
	}
	if c.DataSize == 0 {
		c.DataSize = 256 << 20
	}
	if c.Listen == "" {
		c.Listen = "127.0.0.1"
	}
	if c.IdleTimeout == 0 {
		c.IdleTimeout = 15 * time.Minute
	}
	if c.ClientTimeout == 0 {
		c.ClientTimeout = 30 * time.Second
	}
	if c.MaxClients == 0 {
		c.MaxClients = 1024
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	switch c.Mode {
	case "", "user", "seq":
	case "direct":
		c.Mode = "seq"
	default:
		return fmt.Errorf("unknown mode %q (want user or seq)", c.Mode)
	}
	if c.Protect && c.Admin == "" {
		return errors.New("protected mode only works with admin password")
	}
	return nil
}

// Server is a running zdb daemon.
type Server struct {
	cfg        Config
	log        *slog.Logger
	ns         namespaces
	hooks      *hooks
	metrics    *metrics
	waits      waits
	instanceID uint32
	hookID     string
	boot       time.Time

	mu        sync.Mutex
	listeners []net.Listener
	conns     map[*conn]struct{}
	httpSrv   *http.Server
	stop      chan struct{} // closed by STOP
	stopOnce  sync.Once
	wg        sync.WaitGroup

	clients                         atomic.Int64 // open connections
	clientsLifetime                 atomic.Int64
	cmdsExecuted, cmdsFailed        atomic.Int64
	cmdsUnauthorized                atomic.Int64
	netRx, netTx                    atomic.Int64
	dataReadBytes, dataWriteBytes   atomic.Int64
	dataReadFailed, dataWriteFailed atomic.Int64
}

// New loads the namespaces from disk. Call Listen and Serve to run it.
func New(cfg Config) (*Server, error) {
	if err := cfg.ensureDefaults(); err != nil {
		return nil, err
	}
	s := &Server{
		cfg:   cfg,
		log:   cfg.Logger,
		boot:  time.Now(),
		conns: make(map[*conn]struct{}),
		stop:  make(chan struct{}),
	}
	var b [4]byte
	rand.Read(b[:])
	s.instanceID = binary.LittleEndian.Uint32(b[:])
	s.hookID = s.instanceName()
	s.hooks = newHooks(cfg.Hook, s.hookID, s.log)
	s.metrics = newMetrics(s)
	s.ns.srv = s
	if err := s.hooks.run("namespaces-init", true, cfg.IndexDir, cfg.DataDir); err != nil {
		return nil, fmt.Errorf("namespaces-init hook: %w", err)
	}
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return nil, err
	}
	if err := s.ns.load(); err != nil {
		return nil, err
	}
	return s, nil
}

func (s *Server) instanceName() string {
	if s.cfg.Socket != "" {
		return "unix://" + s.cfg.Socket
	}
	return "tcp://" + net.JoinHostPort(s.cfg.Listen, strconv.Itoa(s.cfg.Port))
}

func (s *Server) defaultMode() store.Mode {
	if s.cfg.Mode == "seq" {
		return store.ModeSeq
	}
	return store.ModeUser
}

// Listen opens the configured listeners. Port 0 picks a free port (see Addrs).
func (s *Server) Listen() error {
	var lns []net.Listener
	if s.cfg.Socket != "" {
		os.Remove(s.cfg.Socket) // a stale socket from a previous run
		ln, err := net.Listen("unix", s.cfg.Socket)
		if err != nil {
			return fmt.Errorf("listen on %s: %w", s.cfg.Socket, err)
		}
		os.Chmod(s.cfg.Socket, 0o770)
		lns = append(lns, ln)
	}
	if s.cfg.Socket == "" || s.cfg.DualNet {
		addr := net.JoinHostPort(s.cfg.Listen, strconv.Itoa(s.cfg.Port))
		ln, err := net.Listen("tcp", addr)
		if err != nil {
			for _, l := range lns {
				l.Close()
			}
			return fmt.Errorf("listen on %s: %w", addr, err)
		}
		lns = append(lns, ln)
		if s.cfg.Port == 0 && s.cfg.Socket == "" {
			// The hooks' instance id names the port actually bound.
			s.cfg.Port = ln.Addr().(*net.TCPAddr).Port
			s.hookID = s.instanceName()
			s.hooks.id = s.hookID
		}
	}
	if s.cfg.MetricsAddr != "" {
		ln, err := net.Listen("tcp", s.cfg.MetricsAddr)
		if err != nil {
			for _, l := range lns {
				l.Close()
			}
			return fmt.Errorf("metrics listen on %s: %w", s.cfg.MetricsAddr, err)
		}
		s.httpSrv = &http.Server{Handler: s.metrics.handler(), ReadHeaderTimeout: 10 * time.Second}
		go s.httpSrv.Serve(ln)
		s.log.Info("metrics listening", "addr", ln.Addr().String())
	}
	s.mu.Lock()
	s.listeners = lns
	s.mu.Unlock()
	for _, ln := range lns {
		s.log.Info("listening", "addr", ln.Addr().String(), "network", ln.Addr().Network())
	}
	return nil
}

// Addrs returns the listening addresses.
func (s *Server) Addrs() []net.Addr {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []net.Addr
	for _, l := range s.listeners {
		out = append(out, l.Addr())
	}
	return out
}

// Serve accepts connections until ctx is done or a client sends STOP, then
// closes every connection and namespace. Listen must have been called.
func (s *Server) Serve(ctx context.Context) error {
	s.mu.Lock()
	lns := s.listeners
	s.mu.Unlock()
	if len(lns) == 0 {
		return errors.New("server: Serve before Listen")
	}
	if err := s.hooks.run("ready", true); err != nil {
		s.shutdown()
		return fmt.Errorf("ready hook: %w", err)
	}
	for _, ln := range lns {
		s.wg.Add(1)
		go s.acceptLoop(ln)
	}
	if s.cfg.RotateInterval > 0 {
		t := time.NewTicker(s.cfg.RotateInterval)
		defer t.Stop()
		go func() {
			for {
				select {
				case <-s.stop:
					return
				case <-ctx.Done():
					return
				case <-t.C:
					s.rotateAll()
				}
			}
		}()
	}
	select {
	case <-ctx.Done():
	case <-s.stop:
	}
	s.hooks.run("close", false)
	s.shutdown()
	return nil
}

func (s *Server) acceptLoop(ln net.Listener) {
	defer s.wg.Done()
	var delay time.Duration
	for {
		nc, err := ln.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			// Out of descriptors and the like: back off, keep serving.
			delay = min(max(2*delay, 5*time.Millisecond), time.Second)
			s.log.Warn("accept failed", "err", err, "retry_in", delay)
			time.Sleep(delay)
			continue
		}
		delay = 0
		if int(s.clients.Load()) >= s.cfg.MaxClients {
			nc.SetWriteDeadline(time.Now().Add(time.Second))
			nc.Write([]byte("-Too many clients connected\r\n"))
			nc.Close()
			s.metrics.rejected.Inc()
			continue
		}
		c := newConn(s, nc)
		s.mu.Lock()
		s.conns[c] = struct{}{}
		s.mu.Unlock()
		s.clients.Add(1)
		s.clientsLifetime.Add(1)
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			c.serve()
			s.mu.Lock()
			delete(s.conns, c)
			s.mu.Unlock()
			s.clients.Add(-1)
		}()
	}
}

// requestStop is STOP: ask Serve to return.
func (s *Server) requestStop() { s.stopOnce.Do(func() { close(s.stop) }) }

func (s *Server) shutdown() {
	s.mu.Lock()
	for _, l := range s.listeners {
		l.Close()
	}
	for c := range s.conns {
		c.nc.Close()
	}
	s.mu.Unlock()
	s.waits.cancelAll()
	s.wg.Wait()
	if s.httpSrv != nil {
		s.httpSrv.Close()
	}
	for _, ns := range s.ns.list() {
		st := ns.st.Stats()
		ddir, idir := s.ns.dirs(ns.name)
		s.hooks.run("namespace-closing", false, ns.name,
			store.HintPath(idir, st.ActiveFile), store.DataPath(ddir, st.ActiveFile), "")
	}
	s.ns.closeAll()
	if s.cfg.Socket != "" {
		os.Remove(s.cfg.Socket)
	}
	s.hooks.wait()
}

// Crash runs the crash hook; main calls it when the process panics.
func (s *Server) Crash() { s.hooks.run("crash", true) }

// rotateAll starts a new data file in every namespace (--rotate).
func (s *Server) rotateAll() {
	for _, ns := range s.ns.list() {
		ns.mu.RLock()
		err := ns.st.Rotate()
		ns.mu.RUnlock()
		if err != nil {
			s.log.Error("rotation failed", "namespace", ns.name, "err", err)
		}
	}
}
