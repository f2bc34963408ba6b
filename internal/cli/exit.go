package cli

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/zerostor/zerostor/internal/daemon"
	"github.com/zerostor/zerostor/zstor"
)

// Exit codes.
const (
	ExitOK       = 0
	ExitFailure  = 1 // any error, and check of an unreadable object
	ExitUsage    = 2 // bad flags or arguments
	ExitNotFound = 3 // no such object
)

// usageError is a mistake in the command line: exit 2 with the usage.
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

func usageErrorf(format string, args ...any) error {
	return &usageError{fmt.Sprintf(format, args...)}
}

// noArgs refuses positional arguments.
func noArgs(args []string) error {
	if len(args) > 0 {
		return usageErrorf("unexpected argument %q", args[0])
	}
	return nil
}

// exitError carries an exit code chosen by a command, with its message
// already printed when msg is empty.
type exitError struct {
	code int
	msg  string
}

func (e *exitError) Error() string { return e.msg }

// fail reports err and returns its exit code.
func (g *globals) fail(c *command, err error) int {
	var ue *usageError
	if errors.As(err, &ue) {
		fmt.Fprintf(g.env.Stderr, "zstor %s: %s\n", c.name, ue.msg)
		fmt.Fprintf(g.env.Stderr, "Usage: zstor [global flags] %s %s\nRun 'zstor help %s' for details.\n", c.name, c.args, c.name)
		return ExitUsage
	}
	code := ExitFailure
	var ee *exitError
	switch {
	case errors.As(err, &ee):
		code = ee.code
		if ee.msg == "" {
			return code
		}
	case errors.Is(err, zstor.ErrNotFound):
		code = ExitNotFound
	}
	msg := err.Error()
	if g.json {
		b, _ := json.Marshal(map[string]string{"error": msg, "kind": daemon.Kind(err)})
		fmt.Fprintf(g.env.Stdout, "%s\n", b)
	}
	fmt.Fprintf(g.env.Stderr, "zstor: %s\n", strings.TrimPrefix(msg, "zstor: "))
	return code
}

// notFound turns a not-found error about key into "no object KEY" (still
// matching zstor.ErrNotFound); other errors pass.
func notFound(key string, err error) error {
	if errors.Is(err, zstor.ErrNotFound) {
		return &notFoundError{key}
	}
	return err
}

type notFoundError struct{ key string }

func (e *notFoundError) Error() string { return "no object " + quoteKey(e.key) }
func (e *notFoundError) Unwrap() error { return zstor.ErrNotFound }

// quoteKey prints a key as is when it is plain, quoted otherwise.
func quoteKey(k string) string {
	for _, r := range k {
		if r <= ' ' || r == '"' || r == '\\' || r == 0x7f || r == 0xfffd {
			return fmt.Sprintf("%q", k)
		}
	}
	if k == "" {
		return `""`
	}
	return k
}
