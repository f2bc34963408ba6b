package store

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"testing"

	"github.com/zerostor/zerostor/internal/zdb/index"
)

func openT(t *testing.T, dir string, mode Mode) *Store {
	t.Helper()
	s, err := Open(Options{DataDir: dir, Mode: mode, DataSize: 1 << 20, CompactRatio: -1})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func set(t *testing.T, s *Store, key, val string) Result {
	t.Helper()
	res := make([]Result, 1)
	if err := s.Apply([]Op{{Key: []byte(key), Value: []byte(val)}}, res); err != nil {
		t.Fatal(err)
	}
	return res[0]
}

func get(t *testing.T, s *Store, key string) (string, error) {
	t.Helper()
	v, err := s.Get(nil, []byte(key), nil)
	return string(v), err
}

func TestSetGetReopen(t *testing.T) {
	dir := t.TempDir()
	s := openT(t, dir, ModeUser)
	big := string(bytes.Repeat([]byte("x"), 300<<10))
	for i := 0; i < 20; i++ {
		set(t, s, fmt.Sprintf("k%d", i), fmt.Sprintf("v%d-%s", i, big))
	}
	if r := set(t, s, "k1", "v1-"+big); !r.Unchanged {
		t.Fatalf("same value: %+v", r)
	}
	set(t, s, "k2", "two")
	res := make([]Result, 1)
	s.Apply([]Op{{Key: []byte("k3"), Delete: true}}, res)
	if res[0].Err != nil {
		t.Fatal(res[0].Err)
	}
	if st := s.Stats(); st.DataFiles < 5 {
		t.Fatalf("expected rotation, stats %+v", st)
	}
	check := func(s *Store) {
		if v, err := get(t, s, "k2"); err != nil || v != "two" {
			t.Fatalf("k2 = %q, %v", v, err)
		}
		if _, err := get(t, s, "k3"); !errors.Is(err, ErrNotFound) {
			t.Fatalf("k3: %v", err)
		}
		if v, err := get(t, s, "k19"); err != nil || v != "v19-"+big {
			t.Fatalf("k19: %v", err)
		}
		if s.Len() != 19 {
			t.Fatalf("len %d", s.Len())
		}
	}
	check(s)
	s.Close()
	s = openT(t, dir, ModeUser)
	check(s)
	// Without hints: rebuilt from data files.
	s.Close()
	hints, _ := listIDs(dir, hintPrefix, hintSuffix)
	if len(hints) == 0 {
		t.Fatal("no hints written")
	}
	for _, id := range hints {
		os.Remove(hintName(dir, id))
	}
	s = openT(t, dir, ModeUser)
	check(s)
	// Compaction keeps everything.
	if _, err := s.Compact(0); err != nil {
		t.Fatal(err)
	}
	check(s)
	s.Close()
	s = openT(t, dir, ModeUser)
	check(s)
	s.Close()
}

func TestTornTail(t *testing.T) {
	dir := t.TempDir()
	s := openT(t, dir, ModeUser)
	set(t, s, "a", "alpha")
	set(t, s, "b", "beta")
	s.Close()
	name := dataName(dir, 1)
	st, _ := os.Stat(name)
	os.Truncate(name, st.Size()-2)
	s = openT(t, dir, ModeUser)
	if v, err := get(t, s, "a"); v != "alpha" || err != nil {
		t.Fatalf("a: %q %v", v, err)
	}
	if _, err := get(t, s, "b"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("b: %v", err)
	}
	set(t, s, "c", "gamma")
	s.Close()
	s = openT(t, dir, ModeUser)
	defer s.Close()
	if v, _ := get(t, s, "c"); v != "gamma" {
		t.Fatalf("c after torn tail: %q", v)
	}
}

func TestSeqAndScan(t *testing.T) {
	dir := t.TempDir()
	s := openT(t, dir, ModeSeq)
	defer s.Close()
	for i := 0; i < 5; i++ {
		r := set(t, s, "", fmt.Sprint("v", i))
		if r.ID != uint64(i) {
			t.Fatalf("id %d", r.ID)
		}
	}
	if r := set(t, s, string(index.SeqKey(9)), "x"); !errors.Is(r.Err, ErrBadKey) {
		t.Fatalf("update of unknown id: %+v", r)
	}
	set(t, s, string(index.SeqKey(1)), "new1")
	ents, err := s.Scan(nil, false, 100, 1e9)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range ents {
		v, _ := s.Get(nil, e.Key, nil)
		got = append(got, string(v))
	}
	if fmt.Sprint(got) != "[v0 v2 v3 v4 new1]" {
		t.Fatalf("scan %v", got)
	}
	rev, _ := s.Scan(nil, true, 2, 1e9)
	if len(rev) != 2 || !bytes.Equal(rev[0].Key, index.SeqKey(1)) {
		t.Fatalf("rscan %v", rev)
	}
	more, err := s.Scan(&rev[1].Cursor, true, 100, 1e9)
	if err != nil || len(more) != 3 {
		t.Fatalf("rscan more %v %v", more, err)
	}
	if _, err := s.Scan(&ents[len(ents)-1].Cursor, false, 10, 1e9); err != io.EOF {
		t.Fatalf("end: %v", err)
	}
}

// A data file cut behind the daemon's back must give read errors, not a
// crash (the mapped read faults with SIGBUS).
func TestFileTruncatedUnderneath(t *testing.T) {
	dir := t.TempDir()
	s := openT(t, dir, ModeUser)
	defer s.Close()
	big := string(bytes.Repeat([]byte("y"), 100<<10))
	for i := 0; i < 30; i++ {
		set(t, s, fmt.Sprintf("k%d", i), big)
	}
	if err := os.Truncate(dataName(dir, 1), 0); err != nil {
		t.Fatal(err)
	}
	if _, err := get(t, s, "k0"); err == nil {
		t.Fatal("read of a truncated file succeeded")
	}
	if v, err := get(t, s, "k29"); err != nil || v != big {
		t.Fatalf("k29 in a later file: %v", err)
	}
}

// flipValueByte damages one byte of key's stored value on disk.
func flipValueByte(t *testing.T, dir string, s *Store, key string) {
	t.Helper()
	info, err := s.Stat([]byte(key))
	if err != nil {
		t.Fatal(err)
	}
	f, err := os.OpenFile(dataName(dir, info.File), os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	at := int64(info.Offset) + int64(len(key)) + 36 + 1
	b := []byte{0}
	f.ReadAt(b, at)
	b[0] ^= 0xff
	f.WriteAt(b, at)
}

// A damaged value in the middle of the log keeps its key pointing at it
// (reads report the damage, never an older version); a damaged value at the
// very end of the last file is a torn write and is cut off.
func TestDamagedValueAtRecovery(t *testing.T) {
	dir := t.TempDir()
	s := openT(t, dir, ModeUser)
	set(t, s, "k", "old-value")
	set(t, s, "k", "new-value")
	set(t, s, "other", "fine")
	set(t, s, "tail", "last-record")
	flipValueByte(t, dir, s, "k")
	flipValueByte(t, dir, s, "tail")
	s.Close()
	s = openT(t, dir, ModeUser)
	defer s.Close()
	if v, err := get(t, s, "k"); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("k: got %q, %v; want ErrCorrupt", v, err)
	}
	if v, err := get(t, s, "other"); err != nil || v != "fine" {
		t.Fatalf("other: %q %v", v, err)
	}
	if _, err := get(t, s, "tail"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("tail: %v; want the torn record cut", err)
	}
	if st := s.Stats(); st.RecoveredTorn != 1 || st.RecoveredCorrupt != 1 {
		t.Fatalf("stats: torn %d corrupt %d", st.RecoveredTorn, st.RecoveredCorrupt)
	}
}

// After a record whose header is damaged, recovery must pick up the next
// record even when that one's value is damaged too: its key then reports
// the damage instead of going back to an older version.
func TestHeaderDamageThenValueDamage(t *testing.T) {
	dir := t.TempDir()
	s := openT(t, dir, ModeUser)
	set(t, s, "v", "old-version")
	if err := s.Rotate(); err != nil {
		t.Fatal(err)
	}
	set(t, s, "h", "header-will-break")
	set(t, s, "v", "new-version")
	set(t, s, "tail", "keeps-the-file-going")
	info, _ := s.Stat([]byte("h"))
	flipValueByte(t, dir, s, "v")
	s.Close()
	f, _ := os.OpenFile(dataName(dir, info.File), os.O_RDWR, 0)
	b := []byte{0}
	f.ReadAt(b, int64(info.Offset)+5) // inside the value length: header CRC fails
	b[0] ^= 0x10
	f.WriteAt(b, int64(info.Offset)+5)
	f.Close()
	hints, _ := listIDs(dir, hintPrefix, hintSuffix)
	for _, id := range hints {
		os.Remove(hintName(dir, id))
	}
	s = openT(t, dir, ModeUser)
	defer s.Close()
	if v, err := get(t, s, "v"); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("v: got %q, %v; want ErrCorrupt, not the old version", v, err)
	}
	if v, err := get(t, s, "tail"); err != nil || v != "keeps-the-file-going" {
		t.Fatalf("tail: %q %v", v, err)
	}
}
