package server_test

import (
	"encoding/hex"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/zeebo/blake3"

	"github.com/zerostor/zerostor/internal/zdb/record"
	"github.com/zerostor/zerostor/internal/zdb/server"
)

type scanEntry struct {
	key  string
	size int64
	ts   int64
}

// scanBatch runs SCAN/RSCAN (with a cursor unless it is "") and returns
// the batch and the next cursor; done when the reply is "No more data".
func scanBatch(t *testing.T, c doer, cmd, cursor string) (ents []scanEntry, next string, done bool) {
	t.Helper()
	args := []any{cmd}
	if cursor != "" {
		args = append(args, cursor)
	}
	r := do(t, c, args...)
	if r == replyErr("No more data") {
		return nil, "", true
	}
	arr, isArr := r.([]any)
	if !isArr || len(arr) != 2 {
		t.Fatalf("%s: got %s, want [cursor, entries]", cmd, showReply(r))
	}
	next, _ = arr[0].(string)
	if len(next) != 17 {
		t.Fatalf("%s: cursor of %d bytes, want 17", cmd, len(next))
	}
	list, _ := arr[1].([]any)
	if len(list) == 0 {
		t.Fatalf("%s: empty batch instead of No more data", cmd)
	}
	for _, e := range list {
		f, _ := e.([]any)
		if len(f) != 3 {
			t.Fatalf("%s: entry %s, want [key, size, timestamp]", cmd, showReply(e))
		}
		k, ok1 := f[0].(string)
		n, ok2 := f[1].(int64)
		ts, ok3 := f[2].(int64)
		if !ok1 || !ok2 || !ok3 {
			t.Fatalf("%s: entry %s, want [bulk, int, int]", cmd, showReply(e))
		}
		ents = append(ents, scanEntry{k, n, ts})
	}
	return ents, next, false
}

// scanAll walks a whole namespace with cursors.
func scanAll(t *testing.T, c doer, cmd string) []scanEntry {
	t.Helper()
	var all []scanEntry
	cursor := ""
	for i := 0; ; i++ {
		ents, next, done := scanBatch(t, c, cmd, cursor)
		if done {
			return all
		}
		all = append(all, ents...)
		cursor = next
		if i > 100000 {
			t.Fatal("scan does not end")
		}
	}
}

func keysOf(ents []scanEntry) []string {
	var out []string
	for _, e := range ents {
		out = append(out, e.key)
	}
	return out
}

func TestScan(t *testing.T) {
	ts := startServer(t, server.Config{}, false)
	c := ts.conn(t)
	ok(t, c, "NSNEW", "s")
	ok(t, c, "SELECT", "s")
	for _, cmd := range []string{"SCAN", "RSCAN", "SCANX"} {
		expect(t, c, replyErr("No more data"), cmd)
	}
	now := time.Now().Unix()
	for i := 1; i <= 6; i++ {
		k := fmt.Sprintf("key%d", i)
		expect(t, c, k, "SET", k, strings.Repeat("v", i))
	}
	ents, _, _ := scanBatch(t, c, "SCAN", "")
	if ents[0].key != "key1" || ents[0].size != 1 || ents[0].ts < now-60 || ents[0].ts > now+60 {
		t.Errorf("SCAN first entry %+v, want key1, size 1, now", ents[0])
	}
	ents, _, _ = scanBatch(t, c, "RSCAN", "")
	if ents[0].key != "key6" || ents[0].size != 6 {
		t.Errorf("RSCAN first entry %+v, want key6, size 6", ents[0])
	}
	want := []string{"key1", "key2", "key3", "key4", "key5", "key6"}
	if got := keysOf(scanAll(t, c, "SCAN")); !slices.Equal(got, want) {
		t.Errorf("SCAN walk: %q", got)
	}
	if got := keysOf(scanAll(t, c, "SCANX")); !slices.Equal(got, want) {
		t.Errorf("SCANX walk: %q", got)
	}
	rev := slices.Clone(want)
	slices.Reverse(rev)
	if got := keysOf(scanAll(t, c, "RSCAN")); !slices.Equal(got, rev) {
		t.Errorf("RSCAN walk: %q", got)
	}

	// A cursor resumes after its entry; KEYCUR gives one.
	cur := mustString(t, c, "KEYCUR", "key3")
	if ents, _, _ := scanBatch(t, c, "SCAN", cur); ents[0].key != "key4" {
		t.Errorf("SCAN after KEYCUR key3 starts at %q", ents[0].key)
	}
	if ents, _, _ := scanBatch(t, c, "RSCAN", cur); ents[0].key != "key2" {
		t.Errorf("RSCAN after KEYCUR key3 starts at %q", ents[0].key)
	}
	last := mustString(t, c, "KEYCUR", "key6")
	expect(t, c, replyErr("No more data"), "SCAN", last)
	first := mustString(t, c, "KEYCUR", "key1")
	expect(t, c, replyErr("No more data"), "RSCAN", first)

	// Deleted keys disappear from the ends.
	ok(t, c, "DEL", "key1")
	if ents, _, _ := scanBatch(t, c, "SCAN", ""); ents[0].key != "key2" {
		t.Errorf("SCAN after DEL key1 starts at %q", ents[0].key)
	}
	ok(t, c, "DEL", "key6")
	if ents, _, _ := scanBatch(t, c, "RSCAN", ""); ents[0].key != "key5" {
		t.Errorf("RSCAN after DEL key6 starts at %q", ents[0].key)
	}
	// A cursor stays valid after its key is deleted or updated.
	ok(t, c, "DEL", "key3")
	if ents, _, _ := scanBatch(t, c, "SCAN", cur); ents[0].key != "key4" {
		t.Errorf("SCAN from the cursor of deleted key3 starts at %q", ents[0].key)
	}
	cur4 := mustString(t, c, "KEYCUR", "key4")
	expect(t, c, "key4", "SET", "key4", "updated")
	if ents, _, _ := scanBatch(t, c, "SCAN", cur4); ents[0].key != "key5" {
		t.Errorf("SCAN from the cursor of updated key4 starts at %q", ents[0].key)
	}
	// An overwritten key moves to its latest write.
	if got := keysOf(scanAll(t, c, "SCAN")); !slices.Equal(got, []string{"key2", "key5", "key4"}) {
		t.Errorf("SCAN after updates: %q", got)
	}
	// Bad cursors.
	for _, bad := range []string{"abc", strings.Repeat("\xff", 17), strings.Repeat("x", 18), strings.Repeat("\x00", 16)} {
		expect(t, c, replyErr("Invalid key format"), "SCAN", bad)
		expect(t, c, replyErr("Invalid key format"), "RSCAN", bad)
	}
	// A forged cursor: right length, wrong size field.
	forged := []byte(cur4)
	forged[5] ^= 0xff
	expect(t, c, replyErr("Invalid key format"), "SCAN", forged)
}

func TestScanManyKeysAcrossFiles(t *testing.T) {
	ts := startServer(t, server.Config{DataSize: 1 << 20}, false)
	c := ts.conn(t)
	const n = 1500
	want := map[string]bool{}
	val := strings.Repeat("x", 1000) // about 1.5 MiB: rotates at least once
	for i := range n {
		k := "k" + strconv.Itoa(i)
		want[k] = true
		expect(t, c, k, "SET", k, val)
		if i == 100 {
			ok(t, c, "NSJUMP") // and a small file in the middle
		}
	}
	if f := nsInfo(t, c, "default"); f["data_current_id"] == "1" {
		t.Fatalf("expected several data files, data_current_id=%s", f["data_current_id"])
	}
	for _, cmd := range []string{"SCAN", "RSCAN"} {
		seen := map[string]int{}
		var order []string
		cursor := ""
		batches := 0
		for {
			ents, next, done := scanBatch(t, c, cmd, cursor)
			if done {
				break
			}
			batches++
			for _, e := range ents {
				seen[e.key]++
				order = append(order, e.key)
			}
			cursor = next
		}
		if len(seen) != n || len(order) != n {
			t.Errorf("%s: %d distinct keys in %d entries, want %d", cmd, len(seen), len(order), n)
		}
		for k := range want {
			if seen[k] != 1 {
				t.Errorf("%s: key %s seen %d times", cmd, k, seen[k])
			}
		}
		if batches < 2 {
			t.Errorf("%s: everything in one batch", cmd)
		}
		if cmd == "SCAN" && (order[0] != "k0" || order[n-1] != "k"+strconv.Itoa(n-1)) {
			t.Errorf("SCAN order: first %s last %s", order[0], order[n-1])
		}
		if cmd == "RSCAN" && (order[0] != "k"+strconv.Itoa(n-1) || order[n-1] != "k0") {
			t.Errorf("RSCAN order: first %s last %s", order[0], order[n-1])
		}
	}
}

func TestKScan(t *testing.T) {
	ts := startServer(t, server.Config{}, false)
	c := ts.conn(t)
	for _, k := range []string{"pa1", "pa2", "pb1", "zz"} {
		expect(t, c, k, "SET", k, "v")
	}
	ok(t, c, "DEL", "pa2")
	r := mustArray(t, c, "KSCAN", "p")
	if len(r) != 2 || r[0] != "0" {
		t.Fatalf("KSCAN p: %s", showReply(r))
	}
	var keys []string
	for _, k := range r[1].([]any) {
		keys = append(keys, k.(string))
	}
	slices.Sort(keys)
	if !slices.Equal(keys, []string{"pa1", "pb1"}) {
		t.Errorf("KSCAN p: %q", keys)
	}
	expect(t, c, []any{"0", []any{"pa1"}}, "KSCAN", "pa")
	expect(t, c, replyErr("No keys match"), "KSCAN", "q")
	expect(t, c, replyErr("Unexpected arguments"), "KSCAN")
	expect(t, c, replyErr("Invalid argument"), "KSCAN", "")
}

func TestHistory(t *testing.T) {
	ts := startServer(t, server.Config{}, false)
	c := ts.conn(t)
	expect(t, c, "other", "SET", "other", "x")
	for _, v := range []string{"v1", "v2", "v3"} {
		expect(t, c, "h", "SET", "h", v)
	}
	now := time.Now().Unix()
	hist := func(args ...any) (cursor any, ts int64, val any) {
		t.Helper()
		r := mustArray(t, c, append([]any{"HISTORY"}, args...)...)
		if len(r) != 3 {
			t.Fatalf("HISTORY: %s, want 3 elements", showReply(r))
		}
		tsStr, isStr := r[1].(string)
		if !isStr {
			t.Fatalf("HISTORY timestamp %s, want a bulk string", showReply(r[1]))
		}
		n, err := strconv.ParseInt(tsStr, 10, 64)
		if err != nil || n < now-60 || n > now+60 {
			t.Errorf("HISTORY timestamp %q, want about %d", tsStr, now)
		}
		if r[0] == nil {
			return null, n, r[2]
		}
		return r[0], n, r[2]
	}
	cur, _, val := hist("h")
	if val != "v3" {
		t.Fatalf("HISTORY h: value %s, want v3", showReply(val))
	}
	if s, _ := cur.(string); len(s) != 8 {
		t.Fatalf("HISTORY cursor %s, want 8 bytes", showReply(cur))
	}
	cur2, _, val := hist("h", cur)
	if val != "v2" {
		t.Errorf("HISTORY step 2: %s, want v2", showReply(val))
	}
	cur3, _, val := hist("h", cur2)
	if val != "v1" || cur3 != null {
		t.Errorf("HISTORY step 3: value %s cursor %s, want v1 and nil", showReply(val), showReply(cur3))
	}
	run(t, c, []step{
		{[]any{"HISTORY", "missing"}, replyErr("Key not found")},
		{[]any{"HISTORY", "h", "short"}, replyErr("Invalid arguments")},
		{[]any{"HISTORY", "h", string(make([]byte, 8))}, replyErr("No more history")},
		{[]any{"HISTORY", "other", cur}, replyErr("Invalid arguments (invalid key)")},
		{[]any{"HISTORY", "h", cur, "x"}, replyErr("Invalid arguments")},
	})
	// The wire type of the timestamp is a bulk string.
	rc := ts.raw(t)
	if r := rc.cmd("HISTORY", "h"); r.kind != '*' || len(r.arr) != 3 || r.arr[1].kind != '$' || r.arr[0].kind != '$' || r.arr[2].kind != '$' {
		t.Errorf("HISTORY wire shape: %v", r)
	}
	// A deleted key has no history by name, but its cursors still walk.
	ok(t, c, "DEL", "h")
	expect(t, c, replyErr("Key not found"), "HISTORY", "h")
	if _, _, val := hist("h", cur2); val != "v1" {
		t.Errorf("HISTORY by cursor after DEL: %s", showReply(val))
	}
}

func TestDataRaw(t *testing.T) {
	ts := startServer(t, server.Config{}, false)
	c := ts.conn(t)
	ok(t, c, "NSNEW", "raw")
	ok(t, c, "SELECT", "raw")
	expect(t, c, "a", "SET", "a", "first")
	expect(t, c, "b", "SET", "b", "second")
	expect(t, c, "a", "SET", "a", "third")
	ok(t, c, "DEL", "b")
	f := nsInfo(t, c, "raw")
	file := f["data_current_id"]
	end, _ := strconv.ParseInt(f["data_current_offset"], 10, 64)
	type rec struct {
		key, val any
		flag     int64
	}
	want := []rec{{"a", "first", 0}, {"b", "second", 0}, {"a", "third", 0}, {"b", null, 1}}
	var off int64
	var offs []int64
	now := time.Now().Unix()
	for i, w := range want {
		offs = append(offs, off)
		r := mustArray(t, c, "DATA", "RAW", file, strconv.FormatInt(off, 10))
		if len(r) != 6 {
			t.Fatalf("DATA RAW %s %d: %s, want 6 elements", file, off, showReply(r))
		}
		key, prev, crc, flags, stamp, payload := r[0], r[1], r[2], r[3], r[4], r[5]
		if payload == nil {
			payload = null
		}
		if key != w.key || flags != w.flag || !replyEqual(payload, w.val) {
			t.Errorf("record %d: key %s flags %s payload %s, want %v", i, showReply(key), showReply(flags), showReply(payload), w)
		}
		if _, isInt := prev.(int64); !isInt {
			t.Errorf("record %d: previous offset %s, want an integer", i, showReply(prev))
		}
		if s, isInt := stamp.(int64); !isInt || s < now-60 || s > now+60 {
			t.Errorf("record %d: timestamp %s", i, showReply(stamp))
		}
		if p, isStr := payload.(string); isStr {
			if crc != int64(record.Checksum([]byte(p))) {
				t.Errorf("record %d: crc %s, want %d", i, showReply(crc), record.Checksum([]byte(p)))
			}
		}
		vlen := 0
		if p, isStr := payload.(string); isStr {
			vlen = len(p)
		}
		off += int64(record.Size(len(key.(string)), vlen))
	}
	// The second version of a points back at the first.
	if r := mustArray(t, c, "DATA", "RAW", file, strconv.FormatInt(offs[2], 10)); r[1] != offs[0] {
		t.Errorf("previous offset of a's second version: %s, want %d", showReply(r[1]), offs[0])
	}
	if off != end {
		t.Errorf("walked to %d, data_current_offset is %d", off, end)
	}
	run(t, c, []step{
		{[]any{"DATA", "RAW", file, strconv.FormatInt(end, 10)}, replyErr("EOF")},
		{[]any{"DATA", "RAW", file, strconv.FormatInt(end+1000, 10)}, replyErr("EOF")},
		{[]any{"DATA", "RAW", "9999", "0"}, replyErr("Invalid file id")},
		{[]any{"DATA", "RAW", file, "x"}, replyErr("Invalid offset")},
		{[]any{"DATA", "RAW", file, "-1"}, replyErr("Invalid offset")},
		{[]any{"DATA", "RAW", file}, replyErr("Invalid arguments")},
		{[]any{"DATA", "COOKED", file, "0"}, replyErr("Invalid arguments")},
	})
	// An offset inside a record is refused, not misread.
	if r := do(t, c, "DATA", "RAW", file, "1"); r == nil {
		t.Error("DATA RAW at a misaligned offset: no reply")
	} else if _, isErr := r.(replyErr); !isErr {
		t.Errorf("DATA RAW at a misaligned offset: %s, want an error", showReply(r))
	}
}

func TestNSJumpAndDirty(t *testing.T) {
	ts := startServer(t, server.Config{}, false)
	c := ts.conn(t)
	expect(t, c, "k", "SET", "k", "before")
	f := nsInfo(t, c, "default")
	id1, _ := strconv.Atoi(f["data_current_id"])
	if f["data_current_offset"] == "0" {
		t.Errorf("data_current_offset 0 after a write")
	}
	ok(t, c, "NSJUMP")
	f = nsInfo(t, c, "default")
	id2, _ := strconv.Atoi(f["data_current_id"])
	if id2 <= id1 || f["data_current_offset"] != "0" {
		t.Errorf("after NSJUMP: data_current_id %d -> %d, offset %s", id1, id2, f["data_current_offset"])
	}
	expect(t, c, "before", "GET", "k")
	expect(t, c, "k2", "SET", "k2", "after")
	expect(t, c, replyErr("EOF"), "DATA", "RAW", strconv.Itoa(id1), "1000")

	run(t, c, []step{
		{[]any{"INDEX"}, replyErr("Missing arguments")},
		{[]any{"INDEX", "FOO"}, replyErr("Unknown INDEX subcommand")},
		{[]any{"INDEX", strings.Repeat("x", 257)}, replyErr("Argument too long")},
		{[]any{"INDEX", "DIRTY", "FOO"}, replyErr("Unknown INDEX DIRTY subcommand")},
	})
	dirty := mustArray(t, c, "INDEX", "DIRTY")
	if !slices.Contains(dirty, any(int64(id2))) {
		t.Errorf("INDEX DIRTY %s lacks the file just written (%d)", showReply(dirty), id2)
	}
	ok(t, c, "INDEX", "DIRTY", "RESET")
	expect(t, c, []any{}, "INDEX", "dirty")
	expect(t, c, "k3", "SET", "k3", "x")
	expect(t, c, []any{int64(id2)}, "INDEX", "DIRTY")
	// Four arguments: the list again.
	expect(t, c, []any{int64(id2)}, "INDEX", "DIRTY", "RESET", "x")
	ok(t, c, "INDEX", "DIRTY", "reset")
	expect(t, c, []any{}, "INDEX", "DIRTY")
}

func TestHashScrubCompact(t *testing.T) {
	ts := startServer(t, server.Config{}, false)
	c := ts.conn(t)
	ok(t, c, "NSNEW", "hc")
	ok(t, c, "SELECT", "hc")
	expect(t, c, replyErr("No more data"), "SCAN")
	scrub := mustArray(t, c, "SCRUB")
	if !replyEqual(scrub, []any{0, 0, 0}) {
		t.Errorf("SCRUB of an empty namespace: %s", showReply(scrub))
	}
	val := func(i, gen int) string { return fmt.Sprintf("value-%d-%d-%s", i, gen, strings.Repeat("p", 300)) }
	const n = 50
	var bytes int64
	for gen := range 3 {
		for i := range n {
			k := "k" + strconv.Itoa(i)
			expect(t, c, k, "SET", k, val(i, gen))
			bytes += int64(record.Size(len(k), len(val(i, gen))))
		}
	}
	ok(t, c, "DEL", "k0")
	bytes += int64(record.Size(2, 0))
	v := val(1, 2)
	sum := blake3.Sum256([]byte(v))
	expect(t, c, hex.EncodeToString(sum[:]), "HASH", "k1")
	expect(t, c, null, "HASH", "k0")
	expect(t, c, null, "HASH", "missing")
	expect(t, c, replyErr("Invalid argument"), "HASH", "")
	expect(t, c, replyErr("Invalid key"), "HASH", strings.Repeat("k", 256))

	expect(t, c, []any{3*n + 1, bytes, 0}, "SCRUB")

	// Only sealed files are compacted: seal the one holding the garbage.
	ok(t, c, "NSJUMP")
	before := nsInfo(t, c, "hc")
	reclaimed := mustInt(t, c, "COMPACT")
	if reclaimed <= 0 {
		t.Fatalf("COMPACT after overwrites reclaimed %d", reclaimed)
	}
	after := nsInfo(t, c, "hc")
	b1, _ := strconv.ParseInt(before["data_disk_bytes"], 10, 64)
	b2, _ := strconv.ParseInt(after["data_disk_bytes"], 10, 64)
	if b2 >= b1 {
		t.Errorf("data_disk_bytes %d -> %d after COMPACT", b1, b2)
	}
	for i := 1; i < n; i++ {
		expect(t, c, val(i, 2), "GET", "k"+strconv.Itoa(i))
	}
	expect(t, c, null, "GET", "k0")
	expect(t, c, n-1, "DBSIZE")
	if got := len(scanAll(t, c, "SCAN")); got != n-1 {
		t.Errorf("SCAN after COMPACT: %d keys", got)
	}
	r := mustArray(t, c, "SCRUB")
	if len(r) != 3 || r[2] != int64(0) || r[0].(int64) < n-1 {
		t.Errorf("SCRUB after COMPACT: %s", showReply(r))
	}
	// The data survives a reload (hints and data files agree).
	ok(t, c, "RELOAD", "hc")
	for i := 1; i < n; i++ {
		expect(t, c, val(i, 2), "GET", "k"+strconv.Itoa(i))
	}
	expect(t, c, null, "GET", "k0")
	expect(t, c, 0, "COMPACT")
}
