package record

import (
	"bytes"
	"errors"
	"testing"
)

func TestRoundTrip(t *testing.T) {
	tests := []struct {
		name string
		h    Header
		key  string
		val  []byte
	}{
		{"small", Header{Type: TypeSet, Time: 42, PrevFile: NoPrev}, "k", []byte("v")},
		{"empty value", Header{Type: TypeSet, Time: 1}, "key", nil},
		{"delete", Header{Type: TypeDelete, PrevFile: 3, PrevOff: 99}, "gone", nil},
		{"binary", Header{Type: TypeSet, BackLen: 77}, "a\x00\r\nb", []byte("\x00\xff\r\n")},
		{"max key", Header{Type: TypeSet}, string(bytes.Repeat([]byte{'x'}, MaxKeySize)), bytes.Repeat([]byte{1}, 1000)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tc.h.ValCRC = Checksum(tc.val)
			b := Append([]byte("prefix"), tc.h, []byte(tc.key), tc.val)[len("prefix"):]
			if len(b) != Size(len(tc.key), len(tc.val)) {
				t.Fatalf("len %d, want %d", len(b), Size(len(tc.key), len(tc.val)))
			}
			h, k, v, err := Decode(append(b, "trailing"...))
			if err != nil {
				t.Fatal(err)
			}
			tc.h.KeyLen, tc.h.ValLen = uint8(len(tc.key)), uint32(len(tc.val))
			if h != tc.h || string(k) != tc.key || !bytes.Equal(v, tc.val) {
				t.Fatalf("got %+v %q %q", h, k, v)
			}
			if h.Len() != len(b) {
				t.Fatalf("Len %d", h.Len())
			}
		})
	}
}

func TestDecodeDetectsDamage(t *testing.T) {
	val := []byte("hello world")
	b := Append(nil, Header{Type: TypeSet, ValCRC: Checksum(val)}, []byte("key"), val)
	for i := range b {
		c := bytes.Clone(b)
		c[i] ^= 0x40
		// A damaged key length may make the record look longer than the
		// buffer (ErrShort); every other flip is a checksum failure.
		if _, _, _, err := Decode(c); !errors.Is(err, ErrCorrupt) && !(i == 3 && errors.Is(err, ErrShort)) {
			t.Errorf("flip at byte %d: err = %v, want ErrCorrupt", i, err)
		}
	}
	for n := 0; n < len(b); n++ {
		if _, _, _, err := Decode(b[:n]); err == nil {
			t.Errorf("truncated to %d bytes decoded", n)
		}
	}
}

func FuzzDecode(f *testing.F) {
	val := []byte("value")
	f.Add(Append(nil, Header{Type: TypeSet, ValCRC: Checksum(val)}, []byte("key"), val))
	f.Add(Append(nil, Header{Type: TypeDelete}, []byte("k"), nil))
	f.Add([]byte("zR"))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		h, key, v, err := Decode(b)
		if err != nil {
			return
		}
		// Anything that decodes must re-encode to the same bytes.
		re := Append(nil, h, key, v)
		if !bytes.Equal(re, b[:h.Len()]) {
			t.Fatalf("re-encoding differs")
		}
	})
}
