package config

import (
	"errors"
	"fmt"
	"strings"
)

// ErrInvalid is matched (errors.Is) by every error about the content of a
// configuration: unknown keys, bad values, failed validation.
var ErrInvalid = errors.New("invalid configuration")

// ErrUnknownKey is matched by the error for a key zstor does not know.
var ErrUnknownKey = errors.New("unknown key")

// FieldError is one problem with one key. Key is the TOML key path, with
// array indexes where it helps ("groups[1].backends[0].address"); Line is
// the line in the file, when known.
type FieldError struct {
	Key  string
	Line int
	Msg  string
	Err  error // an underlying cause, may be nil
}

func (e *FieldError) Error() string {
	var b strings.Builder
	if e.Line > 0 {
		fmt.Fprintf(&b, "line %d: ", e.Line)
	}
	if e.Key != "" {
		b.WriteString(e.Key)
		b.WriteString(": ")
	}
	b.WriteString(e.Msg)
	return b.String()
}

// Is makes every FieldError match ErrInvalid.
func (e *FieldError) Is(target error) bool { return target == ErrInvalid }

// Unwrap returns the cause.
func (e *FieldError) Unwrap() error { return e.Err }

func fieldErr(key, format string, args ...any) *FieldError {
	return &FieldError{Key: key, Msg: fmt.Sprintf(format, args...)}
}

// fileError prefixes every line of an error with the file name.
type fileError struct {
	path string
	err  error
}

func (e *fileError) Error() string {
	lines := strings.Split(e.err.Error(), "\n")
	for i, l := range lines {
		lines[i] = e.path + ": " + l
	}
	return strings.Join(lines, "\n")
}

func (e *fileError) Unwrap() error { return e.err }
