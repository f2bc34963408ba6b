package daemon

import (
	"bytes"
	"context"
	"encoding/hex"
	"fmt"
	"io"
	"iter"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/zeebo/blake3"
	"github.com/zerostor/zerostor/internal/testcluster"
	"github.com/zerostor/zerostor/zstor"
)

// memStore is an in-memory Store for tests of the wire protocol. Keys
// starting with "fail/" fail on read after half their bytes (ErrCorrupt);
// keys starting with "err/<kind>" fail every call with that kind's
// sentinel.
type memStore struct {
	mu   sync.Mutex
	objs map[string]memObj
	// putGate, when set, makes Put wait for a receive before it returns.
	putGate chan struct{}
	putIn   chan struct{} // receives when a Put reached the gate
	// health, when set, replaces memHealth (called with mu held).
	health func() (zstor.Health, error)
}

type memObj struct {
	data []byte
	info zstor.ObjectInfo
}

func newMemStore() *memStore { return &memStore{objs: map[string]memObj{}} }

func sentinelFor(key string) error {
	k, ok := strings.CutPrefix(key, "err/")
	if !ok {
		return nil
	}
	for _, e := range kinds {
		if e.kind == k {
			return fmt.Errorf("memstore: %q: %w", key, e.err)
		}
	}
	return fmt.Errorf("memstore: plain failure of %q", key)
}

func (m *memStore) Put(ctx context.Context, key string, r io.Reader, opts zstor.PutOptions) (zstor.ObjectInfo, error) {
	if err := sentinelFor(key); err != nil {
		return zstor.ObjectInfo{}, err
	}
	if key == "" {
		return zstor.ObjectInfo{}, fmt.Errorf("%w: empty key", zstor.ErrInvalid)
	}
	data, err := io.ReadAll(r)
	if err != nil {
		return zstor.ObjectInfo{}, fmt.Errorf("memstore: read: %w", err)
	}
	if m.putGate != nil {
		m.putIn <- struct{}{}
		<-m.putGate
	}
	sum := blake3.Sum256(data)
	info := zstor.ObjectInfo{Key: key, Size: int64(len(data)), Modified: time.Now().UTC().Truncate(time.Microsecond),
		Checksum: hex.EncodeToString(sum[:]), Version: "v1", UserMeta: opts.UserMeta, K: 4, M: 2, Blocks: 1}
	m.mu.Lock()
	m.objs[key] = memObj{data, info}
	m.mu.Unlock()
	return info, nil
}

func (m *memStore) get(key string) (memObj, error) {
	if err := sentinelFor(key); err != nil {
		return memObj{}, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	o, ok := m.objs[key]
	if !ok {
		return o, fmt.Errorf("memstore: %q: %w", key, zstor.ErrNotFound)
	}
	return o, nil
}

type memReader struct {
	io.Reader
	info zstor.ObjectInfo
}

func (r *memReader) Info() zstor.ObjectInfo { return r.info }
func (r *memReader) Close() error           { return nil }

type failAfter struct {
	r   io.Reader
	err error
}

func (f *failAfter) Read(p []byte) (int, error) {
	n, err := f.r.Read(p)
	if err == io.EOF {
		return n, f.err
	}
	return n, err
}

func (m *memStore) Get(ctx context.Context, key string, opts zstor.GetOptions) (ObjectReader, error) {
	o, err := m.get(key)
	if err != nil {
		return nil, err
	}
	if opts.Offset < 0 || opts.Offset > int64(len(o.data)) {
		return nil, fmt.Errorf("%w: offset %d", zstor.ErrInvalid, opts.Offset)
	}
	end := int64(len(o.data))
	if opts.Length > 0 {
		end = min(end, opts.Offset+opts.Length)
	}
	var r io.Reader = bytes.NewReader(o.data[opts.Offset:end])
	if strings.HasPrefix(key, "fail/") {
		r = &failAfter{bytes.NewReader(o.data[opts.Offset : opts.Offset+(end-opts.Offset)/2]), fmt.Errorf("memstore: block 3: %w", zstor.ErrCorrupt)}
	}
	return &memReader{r, o.info}, nil
}

func (m *memStore) Stat(ctx context.Context, key string) (zstor.ObjectInfo, error) {
	o, err := m.get(key)
	return o.info, err
}

func (m *memStore) Delete(ctx context.Context, key string) error {
	if _, err := m.get(key); err != nil {
		return err
	}
	m.mu.Lock()
	delete(m.objs, key)
	m.mu.Unlock()
	return nil
}

func (m *memStore) List(ctx context.Context, prefix, after string) iter.Seq2[zstor.ObjectInfo, error] {
	return func(yield func(zstor.ObjectInfo, error) bool) {
		if err := sentinelFor(prefix); err != nil {
			yield(zstor.ObjectInfo{}, err)
			return
		}
		m.mu.Lock()
		var keys []string
		for k := range m.objs {
			if strings.HasPrefix(k, prefix) && k > after {
				keys = append(keys, k)
			}
		}
		m.mu.Unlock()
		slices.Sort(keys)
		for _, k := range keys {
			o, err := m.get(k)
			if err != nil {
				continue
			}
			if !yield(o.info, nil) {
				return
			}
			if strings.HasPrefix(k, "fail/") {
				yield(zstor.ObjectInfo{}, fmt.Errorf("memstore: list broke: %w", zstor.ErrUnavailable))
				return
			}
		}
	}
}

func (m *memStore) Check(ctx context.Context, key string) (zstor.CheckReport, error) {
	o, err := m.get(key)
	if err != nil {
		return zstor.CheckReport{}, err
	}
	return zstor.CheckReport{Info: o.info, Blocks: 1, Shards: 6, OK: 5, Missing: 1, MinGood: 5,
		Problems: []zstor.ShardProblem{{Block: 0, Shard: 3, Backend: "b3", State: zstor.ShardMissing, Err: "gone"}}}, nil
}

func (m *memStore) Rebuild(ctx context.Context, key string) (zstor.ObjectInfo, error) {
	o, err := m.get(key)
	o.info.Version = "v2"
	return o.info, err
}

func (m *memStore) Status(ctx context.Context) ([]zstor.BackendStatus, error) {
	return []zstor.BackendStatus{{ID: "127.0.0.1:1/default", Group: "g0", Reachable: true, Latency: 1500 * time.Microsecond, Entries: 3, Mode: "userkey"}}, nil
}

func (m *memStore) Recover(ctx context.Context) (int, error) { return 7, nil }

func (m *memStore) Sweep(ctx context.Context, grace time.Duration) (zstor.SweepReport, error) {
	if grace == 42*time.Minute {
		return zstor.SweepReport{Scanned: 10, Errors: 1}, fmt.Errorf("memstore: sweep: %w", zstor.ErrUnavailable)
	}
	return zstor.SweepReport{Scanned: 10, Deleted: int(grace / time.Minute)}, nil
}

// memHealth is what memStore.Health reports: every field set, so that a
// round trip through the socket shows any field lost.
func memHealth() zstor.Health {
	t0 := time.Date(2026, 11, 20, 10, 0, 0, 0, time.UTC)
	return zstor.Health{
		Backends: []zstor.BackendStatus{
			{ID: "127.0.0.1:1/default", Group: "g0", Reachable: true, Latency: 1500 * time.Microsecond, P95: 4 * time.Millisecond,
				Entries: 3, DataSize: 4096, DataLimit: 1 << 30, Errors: 2, Mode: "userkey", State: zstor.StateDegraded, Draining: true,
				ErrorRate: 0.125, Calls: 99, Audits: 7, AuditFailures: 1, Shards: 12},
			{ID: "127.0.0.1:2/default", Group: "g1", LastError: "dial: refused", State: zstor.StateDown, DownSince: t0, ErrorRate: 1, Calls: 5},
		},
		Objects: 9, Bytes: 123456, Redundancy: map[int]int64{6: 7, 5: 2}, Degraded: 2, Healing: true,
		Repair: zstor.RepairStats{Queue: 2, Queued: 5, Repaired: 3, Failed: 1, RebuiltShards: 4, Bytes: 1 << 20},
		Scrub:  zstor.ScrubStatus{Running: true, PassStart: t0, Cursor: "/a/\xffb", Objects: 4},
		Audits: 10, AuditFailures: 1,
	}
}

func (m *memStore) Health(ctx context.Context, refresh bool) (zstor.Health, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.health != nil {
		return m.health()
	}
	return memHealth(), nil
}

func (m *memStore) RepairQueue(ctx context.Context, limit int) ([]zstor.QueuedRepair, int, error) {
	t0 := time.Date(2026, 11, 20, 10, 0, 0, 0, time.UTC)
	q := []zstor.QueuedRepair{
		{Key: "/q/1", Since: t0, NotBefore: t0.Add(time.Minute), Attempts: 2, Reason: "scrub: 1 corrupt"},
		{Key: "/q/\xff", Since: t0, NotBefore: t0, Reason: "drain"},
	}
	if limit > 0 && limit < len(q) {
		q = q[:limit]
	}
	return q, 2, nil
}

// RepairAll reports two objects, the second failing, and fails as a whole
// as zstor's does.
func (m *memStore) RepairAll(ctx context.Context, progress func(string, zstor.RepairReport, error)) (zstor.RepairAllReport, error) {
	ok := zstor.RepairReport{Blocks: 2, Damaged: 1, Rebuilt: 2, Moved: 1, Bytes: 300}
	if progress != nil {
		progress("/r/ok", ok, nil)
		progress("/r/bad", zstor.RepairReport{Blocks: 1, Damaged: 1, Unplaced: 1, Degraded: true}, fmt.Errorf("memstore: repair /r/bad: %w", zstor.ErrUnavailable))
	}
	return zstor.RepairAllReport{Objects: 2, Repaired: 1, Rebuilt: 2, Moved: 1, Failed: 1, Bytes: 300, Errors: []string{"memstore: repair /r/bad"}},
		fmt.Errorf("memstore: repair all: 1 of 2 objects failed: %w", zstor.ErrUnavailable)
}

// Scrub finds one corrupt shard in the object after opts.After and
// reports progress twice, a scrub progress interval apart.
func (m *memStore) Scrub(ctx context.Context, opts zstor.ScrubOptions) (zstor.ScrubReport, error) {
	rep := zstor.ScrubReport{Objects: 1, Shards: 6, Bytes: 6000, OK: 5, Corrupt: 1, Queued: 1, Last: opts.After + "/next", Duration: time.Duration(opts.Rate)}
	if opts.Progress != nil {
		opts.Progress(zstor.ScrubReport{Objects: 1})
		time.Sleep(scrubProgressEvery + 10*time.Millisecond)
		opts.Progress(rep)
	}
	return rep, nil
}

func (m *memStore) Audit(ctx context.Context) (zstor.AuditResult, error) {
	return zstor.AuditResult{Key: "/a", Block: 1, Shard: 2, Backend: "127.0.0.1:1/default", Leaf: 3, State: zstor.ShardCorrupt, Lied: true, Err: "wrong leaf"}, nil
}

func (m *memStore) Drain(ctx context.Context, id string) (int, error) {
	if err := sentinelFor(id); err != nil {
		return 0, err
	}
	return len(id), nil
}

func (m *memStore) Undrain(ctx context.Context, id string) error { return sentinelFor(id) }

func (m *memStore) Reload(ctx context.Context) (zstor.ReloadReport, error) {
	return zstor.ReloadReport{Added: []string{"127.0.0.1:3/default"}, Queued: 1}, nil
}

func (m *memStore) VerifyLog(ctx context.Context) (zstor.LogReport, error) {
	return zstor.LogReport{Batches: 2, Entries: 5, LastSeq: 5, Head: "ab", PublicKey: "cd", Pending: 1},
		&zstor.LogError{Batch: 2, Seq: 4, Entry: 1, Reason: "bad signature"}
}

func (m *memStore) Close() error { return nil }

var _ Store = (*memStore)(nil)

func testLogger(t testing.TB) *slog.Logger {
	return slog.New(slog.NewTextHandler(tlogWriter{t}, &slog.HandlerOptions{Level: slog.LevelInfo}))
}

type tlogWriter struct{ t testing.TB }

func (w tlogWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

// serve runs a server of st on a fresh socket and returns a client of it;
// the server stops at the end of the test.
func serve(t testing.TB, st Store) (*Client, string) {
	t.Helper()
	sock := testcluster.ShortDir(t) + "/d.sock"
	ln, err := Listen(sock)
	if err != nil {
		t.Fatal(err)
	}
	srv := NewServer(st, ServerOptions{Logger: testLogger(t), Version: "test"})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx, ln) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("serve: %v", err)
		}
	})
	c, err := Dial(context.Background(), sock)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c, sock
}
