package crash

import (
	"encoding/binary"
	"hash/crc32"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// The on-disk record format (docs/format.md), decoded here independently
// of the engine:
//
//	0 magic "zR" | 2 type (1 set, 2 delete) | 3 key length | 4 value length u32
//	8 time i64 | 16 prev file u32 | 20 prev offset u32 | 24 back length u32
//	28 value CRC32C u32 | 32 header CRC32C (bytes 0..31 + key) u32 | 36 key | value
const (
	recHeader = 36
	recSet    = 1
	recDelete = 2
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// diskRecord is one record found in a data file.
type diskRecord struct {
	file   string
	off    int64
	typ    byte
	key    string
	valOff int64
	valLen int
	head   []byte // the first bytes of the value
}

func (r diskRecord) size() int64 { return recHeader + int64(len(r.key)) + int64(r.valLen) }

// walkRecords lists the records of one data file whose header decodes and
// verifies, stopping at the first one that does not (a torn tail or damage).
func walkRecords(t *testing.T, path string) (recs []diskRecord, end int64) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		t.Fatal(err)
	}
	size := st.Size()
	buf := make([]byte, recHeader+255+32)
	var off int64
	for off+recHeader <= size {
		n, err := f.ReadAt(buf, off)
		if err != nil && err != io.EOF {
			t.Fatal(err)
		}
		b := buf[:n]
		if b[0] != 'z' || b[1] != 'R' {
			break
		}
		klen := int(b[3])
		vlen := int(binary.LittleEndian.Uint32(b[4:]))
		if klen == 0 || recHeader+klen > n || (b[2] != recSet && b[2] != recDelete) {
			break
		}
		c := crc32.Update(0, castagnoli, b[:32])
		c = crc32.Update(c, castagnoli, b[recHeader:recHeader+klen])
		if c != binary.LittleEndian.Uint32(b[32:]) {
			break
		}
		r := diskRecord{file: path, off: off, typ: b[2], key: string(b[recHeader : recHeader+klen]),
			valOff: off + recHeader + int64(klen), valLen: vlen}
		if off+r.size() > size {
			break
		}
		r.head = slices.Clone(b[recHeader+klen : min(n, recHeader+klen+vlen)])
		recs = append(recs, r)
		off += r.size()
	}
	return recs, off
}

// appendRecord encodes a record the way zdb does.
func appendRecord(dst []byte, typ byte, key string, val []byte, when int64) []byte {
	start := len(dst)
	dst = append(dst, 'z', 'R', typ, byte(len(key)))
	dst = binary.LittleEndian.AppendUint32(dst, uint32(len(val)))
	dst = binary.LittleEndian.AppendUint64(dst, uint64(when))
	dst = binary.LittleEndian.AppendUint32(dst, ^uint32(0))
	dst = binary.LittleEndian.AppendUint32(dst, 0)
	dst = binary.LittleEndian.AppendUint32(dst, 0)
	dst = binary.LittleEndian.AppendUint32(dst, crc32.Checksum(val, castagnoli))
	c := crc32.Update(0, castagnoli, dst[start:start+32])
	c = crc32.Update(c, castagnoli, []byte(key))
	dst = binary.LittleEndian.AppendUint32(dst, c)
	dst = append(dst, key...)
	return append(dst, val...)
}

// diskStates replays the data files in order, the way recovery does, and
// returns the state of every key according to its last record, with the
// record itself.
func diskStates(t *testing.T, dataDir string) map[string]diskRecord {
	t.Helper()
	last := map[string]diskRecord{}
	for _, p := range files(t, dataDir, "d-*.zdb") {
		recs, _ := walkRecords(t, p)
		for _, r := range recs {
			last[r.key] = r
		}
	}
	return last
}

// stateOnDisk is the model state a last record stands for.
func stateOnDisk(r diskRecord, ok bool) int64 {
	if !ok || r.typ == recDelete {
		return 0
	}
	_, rest, _ := strings.Cut(string(r.head), "|")
	v, _, _ := strings.Cut(rest, "|")
	n, _ := strconv.ParseInt(v, 10, 64)
	return n
}

// checkDisk compares the model with the data files of a stopped daemon:
// every acknowledged write must be in them (write(2) happened before the
// reply), whatever recovery later makes of them. Keys with writes in
// flight may hold any of their possible states.
func (m *model) checkDisk(t *testing.T, dataDir, when string) {
	t.Helper()
	disk := diskStates(t, dataDir)
	m.mu.Lock()
	defer m.mu.Unlock()
	bad := 0
	for k := range m.nextVer {
		r, ok := disk[k]
		got := stateOnDisk(r, ok)
		allowed := append([]int64{m.acked[k]}, m.pending[k]...)
		if slices.Contains(allowed, got) {
			continue
		}
		if bad++; bad <= 20 {
			where := "no record"
			if ok {
				where = filepath.Base(r.file) + " offset " + strconv.FormatInt(r.off, 10)
			}
			t.Errorf("%s: data files say key %s is %s (last record: %s), but %s was acknowledged at %s (in flight: %v)",
				when, k, stateString(got), where, stateString(m.acked[k]), m.ackedAt[k].Format("15:04:05.000000"), m.pending[k])
		}
	}
	if bad > 0 {
		t.Errorf("%s: %d keys lost acknowledged writes on disk", when, bad)
	}
}
