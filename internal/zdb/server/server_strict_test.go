package server

import (
	"testing"
)

// TestStrict0DBHidesExtensions: with Strict0DB our own commands answer
// like any command 0-db does not know.
func TestStrict0DBHidesExtensions(t *testing.T) {
	for _, name := range []string{"HASH", "PROOF", "SCRUB", "COMPACT"} {
		cmd := lookupCommand([]byte(name))
		if cmd == nil || !cmd.extension {
			t.Fatalf("%s: not marked as an extension", name)
		}
	}
	for _, name := range []string{"SET", "GET", "SCAN", "NSINFO"} {
		if cmd := lookupCommand([]byte(name)); cmd == nil || cmd.extension {
			t.Fatalf("%s: marked as an extension", name)
		}
	}
}
