package buildinfo

import "testing"

func TestRevision(t *testing.T) {
	// A test binary has build information but no VCS stamp: the main
	// module's version, "(devel)" or empty, never "(unknown)".
	if r := Revision(); r == "(unknown)" {
		t.Errorf("Revision() = %q", r)
	}
}
