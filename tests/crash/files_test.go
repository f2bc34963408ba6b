package crash

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// smallSizes keeps the file tests quick while spreading keys over several
// 1 MiB data files.
var smallSizes = sizes{1 << 10, 48 << 10}

// waitHints waits until every sealed data file has its index hint.
func (d *daemon) waitHints() {
	d.t.Helper()
	ok := waitFor(20*time.Second, func() bool {
		return len(d.hintFiles()) >= len(d.dataFiles())-1
	})
	if !ok {
		d.t.Fatalf("hints not written: %d hints for %d data files", len(d.hintFiles()), len(d.dataFiles()))
	}
}

// flipBytes XORs n random bytes of path within [from, to) with random
// non-zero masks and returns the offsets.
func flipBytes(t *testing.T, rng *rand.Rand, path string, from, to int64, n int) []int64 {
	t.Helper()
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var offs []int64
	for len(offs) < n {
		off := from + rng.Int64N(to-from)
		if slices.Contains(offs, off) {
			continue
		}
		b := make([]byte, 1)
		if _, err := f.ReadAt(b, off); err != nil {
			t.Fatal(err)
		}
		b[0] ^= byte(1 + rng.IntN(255))
		if _, err := f.WriteAt(b, off); err != nil {
			t.Fatal(err)
		}
		offs = append(offs, off)
	}
	return offs
}

// fillKeys writes n fresh keys named prefix%04d and overwrites or deletes
// a few of them.
func fillKeys(t *testing.T, rng *rand.Rand, m *model, cl *redis.Client, prefix string, n int) {
	t.Helper()
	for i := 0; i < n; i++ {
		m.set(t, cl, fmt.Sprintf("%s%04d", prefix, i))
	}
	for i := 0; i < n/5; i++ {
		k := fmt.Sprintf("%s%04d", prefix, rng.IntN(n))
		if rng.IntN(3) == 0 {
			m.del(t, cl, k)
		} else {
			m.set(t, cl, k)
		}
	}
}

// TestIndexLoss removes or damages the index hints of a stopped daemon:
// they are optional, so every key must still be served, and the hints come
// back.
func TestIndexLoss(t *testing.T) {
	seed := testSeed(t)
	rng := rand.New(rand.NewPCG(seed, 0))
	d := newDaemon(t, workDir(t), "--compact-ratio", "-1")
	m := newModel(smallSizes)
	d.start()
	cl := d.client(4)
	fillKeys(t, rng, m, cl, "a", 250)
	t.Logf("%d data files", len(d.dataFiles()))

	type damage struct {
		name  string
		kill  bool
		apply func(t *testing.T)
	}
	deleteAll := func(t *testing.T) {
		for _, h := range d.hintFiles() {
			if err := os.Remove(h); err != nil {
				t.Fatal(err)
			}
		}
	}
	flipOne := func(t *testing.T) {
		hs := d.hintFiles()
		h := hs[rng.IntN(len(hs))]
		st, err := os.Stat(h)
		if err != nil {
			t.Fatal(err)
		}
		offs := flipBytes(t, rng, h, 0, st.Size(), 1)
		t.Logf("flipped byte %d of %s (%d bytes)", offs[0], filepath.Base(h), st.Size())
	}
	truncOne := func(t *testing.T) {
		hs := d.hintFiles()
		h := hs[rng.IntN(len(hs))]
		st, err := os.Stat(h)
		if err != nil {
			t.Fatal(err)
		}
		n := rng.Int64N(st.Size())
		if err := os.Truncate(h, n); err != nil {
			t.Fatal(err)
		}
		t.Logf("truncated %s from %d to %d bytes", filepath.Base(h), st.Size(), n)
	}
	steps := []damage{
		{"SIGTERM, every hint deleted", false, deleteAll},
		{"SIGKILL, every hint deleted", true, deleteAll},
		{"SIGTERM, one hint with a flipped byte", false, flipOne},
		{"SIGKILL, one hint with a flipped byte", true, flipOne},
		{"SIGTERM, one hint truncated", false, truncOne},
	}
	for i, s := range steps {
		d.waitHints()
		if s.kill {
			d.kill()
		} else {
			d.stop()
		}
		hints := len(d.hintFiles())
		s.apply(t)
		d.start()
		cl := d.client(4)
		m.verify(t, cl, s.name)
		if !waitFor(20*time.Second, func() bool { return len(d.hintFiles()) >= len(d.dataFiles())-1 }) {
			t.Errorf("%s: hints not rebuilt: %d hints for %d data files", s.name, len(d.hintFiles()), len(d.dataFiles()))
		}
		t.Logf("%s: %d hints before, %d after restart", s.name, hints, len(d.hintFiles()))
		// Keep writing, so that the next round has new sealed files.
		fillKeys(t, rng, m, cl, fmt.Sprintf("b%d-", i), 30)
		m.verify(t, cl, s.name+", after more writes")
		if t.Failed() {
			return
		}
	}
	d.stop()
}

// TestBitrot flips bytes inside records of a sealed data file of a stopped
// daemon: the damaged keys must answer with an error (never with other
// bytes, in particular not with an older version), the others must be
// served, and CHECK, SCRUB and NSINFO must show the damage; both with the
// index rebuilt from the data files and with the index hints intact.
func TestBitrot(t *testing.T) {
	seed := testSeed(t)
	rng := rand.New(rand.NewPCG(seed, 0))
	d := newDaemon(t, workDir(t), "--compact-ratio", "-1")
	m := newModel(sizes{4 << 10, 48 << 10})
	ctx := context.Background()
	d.start()
	cl := d.client(4)
	// Keys "old*" get a first version early and a second one in a later
	// file: damage to the second must not bring back the first.
	for i := 0; i < 6; i++ {
		m.set(t, cl, fmt.Sprintf("old%d", i))
	}
	for i := 0; i < 150; i++ {
		m.set(t, cl, fmt.Sprintf("k%04d", i))
		if i%25 == 24 {
			m.set(t, cl, fmt.Sprintf("old%d", i/25))
		}
	}
	for i := 150; i < 250; i++ {
		m.set(t, cl, fmt.Sprintf("k%04d", i))
	}
	d.waitHints()
	d.stop()

	// The latest record of every key, and the sealed files holding some.
	latest := map[string]diskRecord{}
	byFile := map[string][]diskRecord{}
	dfs := d.dataFiles()
	for _, p := range dfs {
		recs, end := walkRecords(t, p)
		if st, _ := os.Stat(p); st.Size() != end {
			t.Fatalf("%s does not decode to its end (%d of %d)", p, end, st.Size())
		}
		for _, r := range recs {
			latest[r.key] = r
		}
	}
	for _, r := range latest {
		if r.file != dfs[len(dfs)-1] {
			byFile[r.file] = append(byFile[r.file], r)
		}
	}
	// Damage the sealed file holding the most second versions of old*.
	var target string
	best := -1
	for f, recs := range byFile {
		n := 0
		for _, r := range recs {
			if strings.HasPrefix(r.key, "old") {
				n++
			}
		}
		if n > best || (n == best && f < target) {
			target, best = f, n
		}
	}
	recs := byFile[target]
	slices.SortFunc(recs, func(a, b diskRecord) int { return int(a.off - b.off) })
	var valueHit, headerHit []string
	var olds, others []diskRecord
	for _, r := range recs {
		if strings.HasPrefix(r.key, "old") {
			olds = append(olds, r)
		} else {
			others = append(others, r)
		}
	}
	rng.Shuffle(len(others), func(i, j int) { others[i], others[j] = others[j], others[i] })
	if len(others) < 3 {
		t.Fatalf("%s holds only %d records", target, len(recs))
	}
	for _, r := range append(olds, others[:2]...) {
		flipBytes(t, rng, target, r.valOff, r.valOff+int64(r.valLen), 1+rng.IntN(3))
		valueHit = append(valueHit, r.key)
	}
	h := others[2]
	flipBytes(t, rng, target, h.off+2, h.valOff, 1) // past the magic: type, lengths, time, CRCs, key
	headerHit = append(headerHit, h.key)
	damaged := append(slices.Clone(valueHit), headerHit...)
	t.Logf("damaged %s: values of %v, header of %v", filepath.Base(target), valueHit, headerHit)

	check := func(t *testing.T, when string, rebuilt bool) {
		cl := d.client(4)
		for _, k := range m.keys() {
			v, err := cl.Get(ctx, k).Bytes()
			want := m.sz.value(k, m.acked[k])
			hit := slices.Contains(damaged, k)
			switch {
			case err == nil && !bytes.Equal(v, want):
				ver, exact := m.sz.version(k, v)
				t.Errorf("%s: GET %s returned other bytes (%d bytes, %s, exact %v) instead of v%d or an error",
					when, k, len(v), stateString(ver), exact, m.acked[k])
			case err == nil && hit:
				t.Errorf("%s: GET %s returned its value although it was damaged", when, k)
			case err == nil:
			case !isReply(err):
				t.Fatalf("%s: GET %s: %v", when, k, err)
			case !hit:
				t.Errorf("%s: GET %s (undamaged): %v", when, k, err)
			case errors.Is(err, redis.Nil) && (!rebuilt || slices.Contains(valueHit, k)):
				t.Errorf("%s: GET %s (damaged) answers nil: the key vanished instead of reporting the damage", when, k)
			case errors.Is(err, redis.Nil):
				t.Logf("%s: GET %s (header damaged, index rebuilt) answers nil", when, k)
			case err.Error() != "Data corrupted":
				t.Errorf("%s: GET %s (damaged) = %q, want \"Data corrupted\"", when, k, err)
			}
		}
		for _, k := range damaged {
			n, err := cl.Do(ctx, "CHECK", k).Int64()
			switch {
			case errors.Is(err, redis.Nil) && rebuilt:
			case err == nil && n == 1:
				t.Errorf("%s: CHECK %s (damaged) = 1", when, k)
			case err != nil && !isReply(err):
				t.Fatalf("%s: CHECK %s: %v", when, k, err)
			}
		}
		if n, err := cl.Do(ctx, "CHECK", "k0000").Int64(); !slices.Contains(damaged, "k0000") && (err != nil || n != 1) {
			t.Errorf("%s: CHECK k0000 = %d, %v; want 1", when, n, err)
		}
		rep, err := cl.Do(ctx, "SCRUB").Int64Slice()
		if err != nil || len(rep) != 3 {
			t.Fatalf("%s: SCRUB = %v, %v", when, rep, err)
		}
		t.Logf("%s: SCRUB: %d records, %d bytes, %d bad", when, rep[0], rep[1], rep[2])
		if rep[2] <= 0 {
			t.Errorf("%s: SCRUB found no bad record", when)
		}
		if n := nsinfoInt(t, cl, "scrub_errors"); n <= 0 {
			t.Errorf("%s: NSINFO scrub_errors = %d", when, n)
		}
		// Still writable and readable.
		m.set(t, cl, "after-"+strings.ReplaceAll(when, " ", "-"))
		if err := cl.Ping(ctx).Err(); err != nil {
			t.Fatalf("%s: PING: %v", when, err)
		}
	}

	// First without hints: the damaged file is replayed from its records,
	// as after an index loss; the answers must be those given with hints.
	saved := map[string][]byte{}
	for _, h := range d.hintFiles() {
		b, err := os.ReadFile(h)
		if err != nil {
			t.Fatal(err)
		}
		saved[h] = b
		os.Remove(h)
	}
	d.start()
	t.Run("rebuilt", func(t *testing.T) { check(t, "index rebuilt from data files", true) })
	d.kill()
	// Then with the hints written before the damage.
	for h, b := range saved {
		if err := os.WriteFile(h, b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	d.start()
	t.Run("hints", func(t *testing.T) {
		check(t, "with hints", false)
		// Compaction keeps a damaged file and must not bring back older
		// versions of its keys.
		if _, err := d.client(1).Do(ctx, "COMPACT").Int64(); err != nil {
			t.Errorf("COMPACT: %v", err)
		}
		check(t, "with hints, after COMPACT", false)
	})
	d.stop()
}

// TestTornTailGarbage appends junk to the last data file of a stopped
// daemon, as a crash in the middle of a write (or a file system that grew
// the file without data) leaves it: zdb must cut it off, serve everything
// acknowledged before and keep working.
func TestTornTailGarbage(t *testing.T) {
	seed := testSeed(t)
	rng := rand.New(rand.NewPCG(seed, 0))
	d := newDaemon(t, workDir(t))
	m := newModel(smallSizes)

	random := func(n int) []byte {
		b := make([]byte, n)
		for i := range b {
			b[i] = byte(rng.Uint32())
		}
		return b
	}
	record := func(i int) []byte {
		val := random(200 + rng.IntN(20000))
		return appendRecord(nil, recSet, fmt.Sprintf("torn%d", i), val, time.Now().UnixNano())
	}
	junk := []struct {
		name string
		make func(i int) []byte
	}{
		{"half a record", func(i int) []byte { r := record(i); return r[:len(r)/2] }},
		{"a header without its key", func(i int) []byte { return record(i)[:20] }},
		{"a record without its last byte", func(i int) []byte { r := record(i); return r[:len(r)-1] }},
		{"random garbage", func(i int) []byte { return random(1 + rng.IntN(8192)) }},
		{"garbage then half a record", func(i int) []byte {
			r := record(i)
			return append(random(1+rng.IntN(4096)), r[:len(r)/2]...)
		}},
		{"zeros", func(i int) []byte { return make([]byte, 4096*(1+rng.IntN(4))) }},
	}
	d.start()
	for i, j := range junk {
		cl := d.client(4)
		fillKeys(t, rng, m, cl, fmt.Sprintf("t%d-", i), 40)
		if i%2 == 0 {
			d.stop()
		} else {
			d.kill()
		}
		dfs := d.dataFiles()
		last := dfs[len(dfs)-1]
		st, err := os.Stat(last)
		if err != nil {
			t.Fatal(err)
		}
		b := j.make(i)
		f, err := os.OpenFile(last, os.O_WRONLY|os.O_APPEND, 0)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := f.Write(b); err != nil {
			t.Fatal(err)
		}
		f.Close()
		d.start()
		cl = d.client(4)
		m.verify(t, cl, "after "+j.name)
		if err := cl.Get(context.Background(), fmt.Sprintf("torn%d", i)).Err(); !errors.Is(err, redis.Nil) {
			t.Errorf("after %s: GET torn%d = %v, want nil", j.name, i, err)
		}
		if st2, err := os.Stat(last); err != nil || st2.Size() != st.Size() {
			t.Errorf("after %s: %s is %d bytes, want it cut back to %d", j.name, filepath.Base(last), st2.Size(), st.Size())
		}
		if n := nsinfoInt(t, cl, "recovery_torn_tails"); n != 1 {
			t.Errorf("after %s: NSINFO recovery_torn_tails = %d, want 1", j.name, n)
		}
		t.Logf("%s: appended %d bytes to %s (%d bytes)", j.name, len(b), filepath.Base(last), st.Size())
		// New writes land after the cut and survive a crash.
		fillKeys(t, rng, m, cl, fmt.Sprintf("n%d-", i), 20)
		d.kill()
		d.start()
		m.verify(t, d.client(4), "after "+j.name+", new writes, SIGKILL")
		if t.Failed() {
			return
		}
	}
	d.stop()
}
