package store

import (
	"encoding/binary"
	"hash/crc32"
	"testing"
)

// FuzzReplayHint feeds arbitrary bytes to the hint decoder: it must reject
// or apply them without panicking, and only ever index records that lie
// inside the data file.
func FuzzReplayHint(f *testing.F) {
	valid := func(entries []byte, count uint32) []byte {
		b := append([]byte("ZDBHINT1"), make([]byte, 8)...)
		binary.LittleEndian.PutUint64(b[8:], 1<<20)
		b = append(b, entries...)
		b = binary.LittleEndian.AppendUint32(b, count)
		return binary.LittleEndian.AppendUint32(b, crc32.Checksum(b, castagnoliTable))
	}
	ent := []byte{1, 3, 0, 0, 0, 0, 5, 0, 0, 0, 9, 9, 9, 9, 'k', 'e', 'y'}
	f.Add(valid(ent, 1))
	f.Add(valid(nil, 0))
	f.Add(valid(ent, 2))
	f.Add([]byte("ZDBHINT1"))
	f.Fuzz(func(t *testing.T, data []byte) {
		s, err := Open(Options{DataDir: t.TempDir(), CompactRatio: -1})
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		df := &dataFile{id: 7}
		df.size.Store(1 << 20)
		s.mu.Lock()
		s.files[7] = df
		err = s.replayHint(df, data)
		delete(s.files, 7)
		s.mu.Unlock()
		if err == nil && df.live > df.size.Load() {
			t.Fatalf("hint indexed %d live bytes in a %d byte file", df.live, df.size.Load())
		}
	})
}
