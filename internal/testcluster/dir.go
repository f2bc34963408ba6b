package testcluster

import (
	"os"
	"testing"
)

// ShortDir is a new temporary directory with a short path, removed when
// the test ends: unix socket paths are limited to about 100 bytes, which
// t.TempDir's paths can exceed.
func ShortDir(t testing.TB) string {
	t.Helper()
	d, err := os.MkdirTemp("", "zst")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(d) })
	return d
}
