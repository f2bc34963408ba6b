package main

import (
	"bytes"
	"strings"
	"testing"
)

// The exit codes documented in the README: 2 for bad flags, 1 when the
// daemon cannot start, 0 for --version.
func TestExitCodes(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct {
		args []string
		code int
		out  string
	}{
		{[]string{"--version"}, 0, "zdb "},
		{[]string{"--no-such-flag"}, 2, "flag provided but not defined"},
		{[]string{"extra"}, 2, `unexpected argument "extra"`},
		{[]string{"--log-level", "loud"}, 2, "bad --log-level"},
		{[]string{"--data", dir + "/d", "--index", dir + "/i", "--protect"}, 1, "protected mode only works with admin password"},
		{[]string{"--data", dir + "/d", "--index", dir + "/i", "--mode", "sideways"}, 1, "unknown mode"},
		{[]string{"--data", dir + "/d", "--index", dir + "/i", "--datasize", "10"}, 1, "datasize"},
	} {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			t.Setenv("ZDB_ADMIN", "")
			var out bytes.Buffer
			if code := run(tc.args, &out); code != tc.code || !strings.Contains(out.String(), tc.out) {
				t.Errorf("exit %d, want %d; output %q lacks %q", code, tc.code, out.String(), tc.out)
			}
		})
	}
}
