package store

import (
	"errors"
	"fmt"
	"os"
	"testing"
	"time"
)

// recordingEvents is a unit-test Events: it records calls and can
// "restore" a missing data file from a saved copy.
type recordingEvents struct {
	rotations [][2]uint32
	corrupt   int
	missing   []string
	restore   map[string][]byte
}

func (e *recordingEvents) Rotated(prev, next uint32, _ []uint32) {
	e.rotations = append(e.rotations, [2]uint32{prev, next})
}
func (e *recordingEvents) Corrupt(uint32, int64, error) { e.corrupt++ }
func (e *recordingEvents) MissingData(path string) bool {
	e.missing = append(e.missing, path)
	if b, ok := e.restore[path]; ok {
		return os.WriteFile(path, b, 0o600) == nil
	}
	return false
}

// A sealed data file that is gone (archived) but still has its hint is
// offered to the missing-data hook; a restored file is used, an absent one
// leaves its keys missing and the store working.
func TestMissingDataFile(t *testing.T) {
	for _, restore := range []bool{true, false} {
		t.Run(fmt.Sprintf("restored=%v", restore), func(t *testing.T) {
			dir := t.TempDir()
			ev := &recordingEvents{restore: map[string][]byte{}}
			open := func() *Store {
				s, err := Open(Options{DataDir: dir, DataSize: 1 << 20, CompactRatio: -1, Events: ev})
				if err != nil {
					t.Fatal(err)
				}
				return s
			}
			s := open()
			set(t, s, "archived", "in file 1")
			if err := s.Rotate(); err != nil {
				t.Fatal(err)
			}
			set(t, s, "current", "in file 2")
			// Hints are written in the background after a rotation.
			for i := 0; i < 500; i++ {
				if _, err := os.Stat(hintName(dir, 1)); err == nil {
					break
				}
				time.Sleep(10 * time.Millisecond)
			}
			s.Close()
			if len(ev.rotations) != 1 || ev.rotations[0] != [2]uint32{1, 2} {
				t.Fatalf("rotations %v", ev.rotations)
			}
			path := dataName(dir, 1)
			saved, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := os.Stat(hintName(dir, 1)); err != nil {
				t.Fatalf("no hint for the sealed file: %v", err)
			}
			os.Remove(path)
			if restore {
				ev.restore[path] = saved
			}
			s = open()
			defer s.Close()
			if len(ev.missing) != 1 || ev.missing[0] != path {
				t.Fatalf("missing-data calls %v", ev.missing)
			}
			v, err := get(t, s, "archived")
			switch {
			case restore && (err != nil || v != "in file 1"):
				t.Fatalf("restored key: %q %v", v, err)
			case !restore && !errors.Is(err, ErrNotFound):
				t.Fatalf("key of a lost file: %q %v", v, err)
			}
			if v, err := get(t, s, "current"); err != nil || v != "in file 2" {
				t.Fatalf("current: %q %v", v, err)
			}
			set(t, s, "after", "works")
		})
	}
}
