package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"slices"
	"strings"

	"golang.org/x/term"
)

// Env is the outside world of one run: streams, environment, terminal.
type Env struct {
	Stdin  io.Reader
	Stdout io.Writer
	Stderr io.Writer
	// Getenv reads the environment; nil means no variables.
	Getenv func(string) string
	// StderrTTY enables progress bars (stderr is a terminal).
	StderrTTY bool
	// Version is what `zstor version` reports; empty: from build info.
	Version string
}

// OSEnv is the process's own environment.
func OSEnv() Env {
	return Env{
		Stdin: os.Stdin, Stdout: os.Stdout, Stderr: os.Stderr, Getenv: os.Getenv,
		StderrTTY: term.IsTerminal(int(os.Stderr.Fd())),
	}
}

func (e Env) getenv(k string) string {
	if e.Getenv == nil {
		return ""
	}
	return e.Getenv(k)
}

// Environment variables.
const (
	// EnvConfig is the config file when -c is not given.
	EnvConfig = "ZSTOR_CONFIG"
	// DefaultConfig is the config file when neither -c nor $ZSTOR_CONFIG
	// is given, as in 0-stor.
	DefaultConfig = "zstor.toml"
)

// globals are the options every command takes, before or after its name.
type globals struct {
	env      Env
	config   string
	json     bool
	logLevel string
	logFile  string
	log      *slog.Logger
	closers  []io.Closer
}

func (g *globals) addFlags(fs *flag.FlagSet) {
	fs.StringVar(&g.config, "c", g.config, "config `file` (default $"+EnvConfig+", else "+DefaultConfig+")")
	fs.StringVar(&g.config, "config", g.config, "config `file`")
	fs.BoolVar(&g.json, "json", g.json, "machine-readable output (JSON)")
	fs.StringVar(&g.logLevel, "log-level", g.logLevel, "log `level`: debug, info, warn, error (default warn; info for monitor, s3 and up)")
	fs.StringVar(&g.logFile, "log-file", g.logFile, "write logs to `file` instead of stderr")
	fs.StringVar(&g.logFile, "log_file", g.logFile, "same as --log-file")
}

// command is one subcommand.
type command struct {
	name     string
	args     string // synopsis after the name, e.g. "-f FILE [-k KEY]"
	short    string
	long     string
	addFlags func(fs *flag.FlagSet)
	run      func(ctx context.Context, g *globals, args []string) error
	// defaultLog is the log level when --log-level is not given.
	defaultLog string
}

func commands() []*command {
	return []*command{
		newStoreCommand(), newRetrieveCommand(), newCheckCommand(), newRebuildCommand(),
		newStatusCommand(), newTestCommand(), newMonitorCommand(), newS3Command(),
		newListCommand(), newStatCommand(), newDeleteCommand(),
		newRecoverCommand(), newSweepCommand(),
		newScrubCommand(), newAuditCommand(), newQueueCommand(), newBackendCommand(), newReloadCommand(), newLogCommand(),
		newUpCommand(), newVersionCommand(),
	}
}

// Run runs the command line args (without the program name) and returns
// the exit code. ctx is canceled to interrupt (SIGINT, SIGTERM).
func Run(ctx context.Context, args []string, env Env) int {
	if env.Stdin == nil {
		env.Stdin = strings.NewReader("")
	}
	if env.Stdout == nil {
		env.Stdout = io.Discard
	}
	if env.Stderr == nil {
		env.Stderr = io.Discard
	}
	g := &globals{env: env}
	defer g.close()
	cmds := commands()

	top := flag.NewFlagSet("zstor", flag.ContinueOnError)
	top.SetOutput(env.Stderr)
	g.addFlags(top)
	top.Usage = func() { usage(env.Stderr, top, cmds) }
	if err := top.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return ExitOK
		}
		return ExitUsage
	}
	rest := top.Args()
	if len(rest) == 0 {
		usage(env.Stderr, top, cmds)
		return ExitUsage
	}
	name := rest[0]
	if name == "help" {
		if len(rest) > 1 {
			if c := find(cmds, rest[1]); c != nil {
				fs := c.flagSet(g)
				fs.SetOutput(env.Stdout)
				fs.Usage()
				return ExitOK
			}
		}
		usage(env.Stdout, top, cmds)
		return ExitOK
	}
	c := find(cmds, name)
	if c == nil {
		fmt.Fprintf(env.Stderr, "zstor: unknown command %q\nRun 'zstor help' for the list of commands.\n", name)
		return ExitUsage
	}
	fs := c.flagSet(g)
	pos, err := parseInterspersed(fs, rest[1:])
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return ExitOK
		}
		return ExitUsage
	}
	if err := g.setupLog(c.defaultLog); err != nil {
		return g.fail(c, err)
	}
	if err := c.run(ctx, g, pos); err != nil {
		return g.fail(c, err)
	}
	return ExitOK
}

func find(cmds []*command, name string) *command {
	i := slices.IndexFunc(cmds, func(c *command) bool { return c.name == name })
	if i < 0 {
		return nil
	}
	return cmds[i]
}

func (c *command) flagSet(g *globals) *flag.FlagSet {
	fs := flag.NewFlagSet("zstor "+c.name, flag.ContinueOnError)
	fs.SetOutput(g.env.Stderr)
	if c.addFlags != nil {
		c.addFlags(fs)
	}
	// Global flags work after the command name too.
	cmdFlags := map[string]bool{}
	fs.VisitAll(func(f *flag.Flag) { cmdFlags[f.Name] = true })
	g.addFlags(fs)
	fs.Usage = func() {
		w := fs.Output()
		fmt.Fprintf(w, "Usage: zstor [global flags] %s %s\n\n%s\n", c.name, c.args, c.short)
		if c.long != "" {
			fmt.Fprintf(w, "\n%s\n", strings.TrimSpace(c.long))
		}
		if len(cmdFlags) > 0 {
			fmt.Fprintf(w, "\nFlags:\n")
			printFlags(w, fs, func(name string) bool { return cmdFlags[name] })
		}
		fmt.Fprintf(w, "\nGlobal flags:\n")
		printFlags(w, fs, func(name string) bool { return !cmdFlags[name] })
	}
	return fs
}

func (g *globals) setupLog(def string) error {
	level := g.logLevel
	if level == "" {
		level = def
	}
	if level == "" {
		level = "warn"
	}
	var lv slog.Level
	if err := lv.UnmarshalText([]byte(level)); err != nil {
		return usageErrorf("bad --log-level %q (want debug, info, warn or error)", level)
	}
	var w io.Writer = g.env.Stderr
	if g.logFile != "" {
		f, err := os.OpenFile(g.logFile, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o600)
		if err != nil {
			return fmt.Errorf("log file: %w", err)
		}
		g.closers = append(g.closers, f)
		w = f
	}
	g.log = slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: lv}))
	return nil
}

func (g *globals) close() {
	for i := len(g.closers) - 1; i >= 0; i-- {
		g.closers[i].Close()
	}
}
