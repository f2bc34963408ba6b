// Command zdb is the storage daemon: an append-only key-value store that
// speaks 0-db's Redis protocol. Run "zdb --help" for its flags.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"os/signal"
	"runtime/debug"
	"syscall"
	"time"

	"github.com/zerostor/zerostor/internal/buildinfo"
	"github.com/zerostor/zerostor/internal/zdb/server"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stderr))
}

// Exit codes: 0 clean stop, 1 runtime failure, 2 bad flags.
func run(argv []string, stderr io.Writer) int {
	var cfg server.Config
	fs := flag.NewFlagSet("zdb", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&cfg.DataDir, "data", "./zdb-data", "data files directory")
	fs.StringVar(&cfg.IndexDir, "index", "./zdb-index", "index (hints and namespace settings) directory")
	fs.StringVar(&cfg.Mode, "mode", "", "force every namespace to user or seq mode (default: each namespace chooses, user)")
	fs.Int64Var(&cfg.DataSize, "datasize", 256<<20, "data file rotation size in bytes")
	fs.StringVar(&cfg.Listen, "listen", "127.0.0.1", "TCP listen address (loopback by default; see README)")
	fs.IntVar(&cfg.Port, "port", 9900, "TCP port")
	fs.StringVar(&cfg.Socket, "socket", "", "unix socket path (replaces TCP unless --dualnet)")
	fs.BoolVar(&cfg.DualNet, "dualnet", false, "listen on both the unix socket and TCP")
	fs.StringVar(&cfg.Hook, "hook", "", "hook executable called on events")
	fs.StringVar(&cfg.Admin, "admin", "", "admin password (or env ZDB_ADMIN); without one every client is admin")
	fs.Int64Var(&cfg.MaxSize, "maxsize", 0, "size limit of the default namespace in bytes (0 = none)")
	fs.BoolVar(&cfg.Protect, "protect", false, "default namespace read-only unless selected with the admin password")
	fs.BoolVar(&cfg.Strict0DB, "strict-0db", false, "answer only 0-db's own commands (HASH, PROOF, SCRUB, COMPACT become unknown), to test clients against 0-db's command set")
	fs.BoolVar(&cfg.Sync, "sync", false, "acknowledge writes only once they are on disk (group commit)")
	synctime := fs.Int("synctime", 0, "fsync the data files at least every N seconds (0 = off)")
	rotate := fs.Int("rotate", 0, "start a new data file every N seconds (0 = off)")
	background := fs.Bool("background", false, "run in the background once started")
	logfile := fs.String("logfile", "", "write logs to this file")
	verbose := fs.Bool("verbose", false, "debug logging")
	fs.StringVar(&cfg.MetricsAddr, "metrics", "", "serve Prometheus /metrics and /health on this address (e.g. 127.0.0.1:9901)")
	logLevel := fs.String("log-level", "info", "log level: debug, info, warn, error")
	logJSON := fs.Bool("log-json", false, "log in JSON")
	version := fs.Bool("version", false, "print the version and exit")
	fs.Float64Var(&cfg.CompactRatio, "compact-ratio", 0.5, "compact a sealed data file once this share of it is dead (negative = never)")
	fs.Int64Var(&cfg.ScrubRate, "scrub-rate", 16<<20, "background scrub speed in bytes/s (0 = off)")
	fs.DurationVar(&cfg.ScrubInterval, "scrub-interval", 24*time.Hour, "pause between background scrub passes")
	fs.DurationVar(&cfg.IdleTimeout, "idle-timeout", 15*time.Minute, "close client connections idle this long (negative = never)")
	fs.DurationVar(&cfg.ClientTimeout, "client-timeout", 30*time.Second, "a started command or a reply must get through within this")
	fs.IntVar(&cfg.MaxClients, "max-clients", 1024, "maximum simultaneous client connections")
	if err := fs.Parse(argv); err != nil {
		return 2
	}
	server.Revision = buildinfo.Revision()
	if *version {
		fmt.Fprintf(stderr, "zdb %s\n", server.Revision)
		return 0
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "zdb: unexpected argument %q\n", fs.Arg(0))
		return 2
	}
	if cfg.Admin == "" {
		cfg.Admin = os.Getenv("ZDB_ADMIN")
	}
	cfg.SyncInterval = time.Duration(*synctime) * time.Second
	cfg.RotateInterval = time.Duration(*rotate) * time.Second

	if *background && os.Getenv("ZDB_BACKGROUNDED") == "" {
		return daemonize(argv, *logfile, stderr)
	}

	var out io.Writer = stderr
	if *logfile != "" {
		f, err := os.OpenFile(*logfile, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o600)
		if err != nil {
			fmt.Fprintf(stderr, "zdb: %v\n", err)
			return 1
		}
		defer f.Close()
		out = f
	}
	level := new(slog.LevelVar)
	if err := level.UnmarshalText([]byte(*logLevel)); err != nil {
		fmt.Fprintf(stderr, "zdb: bad --log-level %q\n", *logLevel)
		return 2
	}
	if *verbose {
		level.Set(slog.LevelDebug)
	}
	hopts := &slog.HandlerOptions{Level: level}
	var h slog.Handler = slog.NewTextHandler(out, hopts)
	if *logJSON {
		h = slog.NewJSONHandler(out, hopts)
	}
	cfg.Logger = slog.New(h)

	srv, err := server.New(cfg)
	if err != nil {
		cfg.Logger.Error("cannot start", "err", err)
		return 1
	}
	defer func() {
		if p := recover(); p != nil {
			cfg.Logger.Error("crash", "panic", p, "stack", string(debug.Stack()))
			srv.Crash()
			panic(p)
		}
	}()
	if err := srv.Listen(); err != nil {
		cfg.Logger.Error("cannot listen", "err", err)
		return 1
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	if err := srv.Serve(ctx); err != nil {
		cfg.Logger.Error("server stopped", "err", err)
		return 1
	}
	cfg.Logger.Info("stopped")
	return 0
}

// daemonize starts this program again detached from the terminal and
// returns at once.
func daemonize(argv []string, logfile string, stderr io.Writer) int {
	self, err := os.Executable()
	if err != nil {
		fmt.Fprintf(stderr, "zdb: %v\n", err)
		return 1
	}
	cmd := exec.Command(self, argv...)
	cmd.Env = append(os.Environ(), "ZDB_BACKGROUNDED=1")
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if logfile == "" {
		devnull, _ := os.OpenFile(os.DevNull, os.O_WRONLY, 0)
		cmd.Stdout, cmd.Stderr = devnull, devnull
	}
	if err := cmd.Start(); err != nil {
		fmt.Fprintf(stderr, "zdb: %v\n", err)
		return 1
	}
	fmt.Fprintf(stderr, "zdb: running in the background, pid %d\n", cmd.Process.Pid)
	return 0
}
