package store

import (
	"fmt"
	"os"
	"syscall"
	"testing"
)

// Preallocated space must not outlive the active file: sealed files take
// on disk what they hold, whatever the rotation size.
func TestPreallocTrimmedOnSeal(t *testing.T) {
	dir := t.TempDir()
	s := openT(t, dir, ModeUser)
	defer s.Close()
	val := make([]byte, 100<<10)
	for i := 0; i < 40; i++ {
		set(t, s, fmt.Sprintf("k%d", i), string(val))
	}
	ids, _ := listIDs(dir, dataPrefix, dataSuffix)
	if len(ids) < 3 {
		t.Fatalf("expected several files, got %d", len(ids))
	}
	for _, id := range ids[:len(ids)-1] {
		var st syscall.Stat_t
		if err := syscall.Stat(dataName(dir, id), &st); err != nil {
			t.Fatal(err)
		}
		fi, _ := os.Stat(dataName(dir, id))
		if alloc := st.Blocks * 512; alloc > fi.Size()+64<<10 {
			t.Errorf("sealed file %d: %d bytes allocated for %d bytes of data", id, alloc, fi.Size())
		}
	}
}
