package commitlog_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/zerostor/zerostor/internal/commitlog"
)

func TestOpString(t *testing.T) {
	for _, c := range []struct {
		op   commitlog.Op
		want string
	}{
		{commitlog.OpStore, "store"},
		{commitlog.OpDelete, "delete"},
		{commitlog.OpRepair, "repair"},
		{commitlog.OpRotate, "rotate"},
		{0, "op(0)"},
		{9, "op(9)"},
	} {
		if got := c.op.String(); got != c.want {
			t.Errorf("Op(%d).String() = %q, want %q", uint8(c.op), got, c.want)
		}
	}
}

// sampleEntry is an entry with every field set.
func sampleEntry() commitlog.Entry {
	e := commitlog.Entry{
		Seq:  42,
		Time: time.Date(2025, 3, 4, 5, 6, 7, 891, time.UTC),
		Op:   commitlog.OpStore,
		Key:  "photos/cat.jpg",
		Size: 1 << 40,
	}
	for i := range e.Version {
		e.Version[i] = byte(i + 1)
	}
	for i := range e.Root {
		e.Root[i] = byte(0xa0 + i)
	}
	return e
}

func TestEntryRoundTrip(t *testing.T) {
	for _, c := range []struct {
		name string
		edit func(*commitlog.Entry)
	}{
		{"full", func(*commitlog.Entry) {}},
		{"delete", func(e *commitlog.Entry) { e.Op, e.Root, e.Size = commitlog.OpDelete, [32]byte{}, 0 }},
		{"repair", func(e *commitlog.Entry) { e.Op = commitlog.OpRepair }},
		{"rotate", func(e *commitlog.Entry) { e.Op = commitlog.OpRotate }},
		{"zero time", func(e *commitlog.Entry) { e.Time = time.Time{} }},
		{"unix epoch", func(e *commitlog.Entry) { e.Time = time.Unix(0, 0).UTC() }},
		{"before 1970", func(e *commitlog.Entry) { e.Time = time.Date(1900, 1, 1, 0, 0, 0, 1, time.UTC) }},
		{"empty key", func(e *commitlog.Entry) { e.Key = "" }},
		{"longest key", func(e *commitlog.Entry) { e.Key = strings.Repeat("k", commitlog.MaxKeyLen) }},
		{"binary key", func(e *commitlog.Entry) { e.Key = "\x00\xff\n" }},
		{"max seq", func(e *commitlog.Entry) { e.Seq = 1<<64 - 1 }},
	} {
		t.Run(c.name, func(t *testing.T) {
			e := sampleEntry()
			c.edit(&e)
			b, err := e.MarshalBinary()
			if err != nil {
				t.Fatal(err)
			}
			var got commitlog.Entry
			if err := got.UnmarshalBinary(b); err != nil {
				t.Fatal(err)
			}
			if !got.Time.Equal(e.Time) || got.Time.IsZero() != e.Time.IsZero() {
				t.Errorf("time %v, want %v", got.Time, e.Time)
			}
			b2, err := got.MarshalBinary()
			if err != nil {
				t.Fatal(err)
			}
			if string(b2) != string(b) {
				t.Error("re-encoding the decoded entry gives other bytes")
			}
			got.Time, e.Time = time.Time{}, time.Time{}
			if got != e {
				t.Errorf("decoded %+v, want %+v", got, e)
			}
		})
	}
}

func TestEntryMarshalInvalid(t *testing.T) {
	for _, c := range []struct {
		name string
		edit func(*commitlog.Entry)
	}{
		{"zero op", func(e *commitlog.Entry) { e.Op = 0 }},
		{"unknown op", func(e *commitlog.Entry) { e.Op = 5 }},
		{"key too long", func(e *commitlog.Entry) { e.Key = strings.Repeat("k", commitlog.MaxKeyLen+1) }},
		{"negative size", func(e *commitlog.Entry) { e.Size = -1 }},
		{"time after 2262", func(e *commitlog.Entry) { e.Time = time.Date(2300, 1, 1, 0, 0, 0, 0, time.UTC) }},
		{"time before 1677", func(e *commitlog.Entry) { e.Time = time.Date(1600, 1, 1, 0, 0, 0, 0, time.UTC) }},
	} {
		t.Run(c.name, func(t *testing.T) {
			e := sampleEntry()
			c.edit(&e)
			if _, err := e.MarshalBinary(); !errors.Is(err, commitlog.ErrInvalid) {
				t.Errorf("MarshalBinary: %v, want ErrInvalid", err)
			}
			if _, err := e.Hash(); !errors.Is(err, commitlog.ErrInvalid) {
				t.Errorf("Hash: %v, want ErrInvalid", err)
			}
		})
	}
}

func TestEntryUnmarshalRejects(t *testing.T) {
	good, err := sampleEntry().MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	// Offsets in the encoding (docs/commit-log.md): seq 0, time 8, op 16,
	// size 17, version 25, root 41, key length 73, key 77.
	with := func(at int, p ...byte) []byte {
		b := append([]byte{}, good...)
		copy(b[at:], p)
		return b
	}
	cases := []struct {
		name string
		data []byte
	}{
		{"empty", nil},
		{"trailing byte", append(append([]byte{}, good...), 0)},
		{"zero op", with(16, 0)},
		{"unknown op", with(16, 7)},
		{"negative size", with(17+7, 0x80)},
		{"key length past the end", with(73, byte(len(good)))},
		{"absurd key length", with(73, 0xff, 0xff, 0xff, 0xff)},
		{"key length one over the limit", with(73, 0x01, 0x00, 0x01, 0x00)},
	}
	for n := range good {
		cases = append(cases, struct {
			name string
			data []byte
		}{"truncated", good[:n]})
	}
	for _, c := range cases {
		var e commitlog.Entry
		if err := e.UnmarshalBinary(c.data); !errors.Is(err, commitlog.ErrCorrupt) {
			t.Errorf("%s (%d bytes): %v, want ErrCorrupt", c.name, len(c.data), err)
		}
	}
}

func TestEntryHashCoversEveryField(t *testing.T) {
	base, err := sampleEntry().Hash()
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name string
		edit func(*commitlog.Entry)
	}{
		{"seq", func(e *commitlog.Entry) { e.Seq++ }},
		{"time", func(e *commitlog.Entry) { e.Time = e.Time.Add(time.Nanosecond) }},
		{"op", func(e *commitlog.Entry) { e.Op = commitlog.OpRepair }},
		{"key", func(e *commitlog.Entry) { e.Key += "x" }},
		{"version", func(e *commitlog.Entry) { e.Version[15] ^= 1 }},
		{"root", func(e *commitlog.Entry) { e.Root[0] ^= 1 }},
		{"size", func(e *commitlog.Entry) { e.Size++ }},
	} {
		e := sampleEntry()
		c.edit(&e)
		h, err := e.Hash()
		if err != nil {
			t.Fatal(err)
		}
		if h == base {
			t.Errorf("changing %s leaves the hash unchanged", c.name)
		}
	}
}
