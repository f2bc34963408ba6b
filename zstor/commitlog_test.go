package zstor

import (
	"bytes"
	"context"
	"errors"
	mrand "math/rand/v2"
	"testing"
	"time"

	"github.com/zerostor/zerostor/internal/commitlog"
	"github.com/zerostor/zerostor/internal/config"
	"github.com/zerostor/zerostor/internal/testcluster"
)

// TestCommitLog: stores, deletes, repairs and rebuilds are logged, the
// chain continues across restarts, and a tampered batch is named.
func TestCommitLog(t *testing.T) {
	cl := testcluster.Start(t, 7, testcluster.Options{Groups: 7})
	cfg := testConfig(t, cl, 4, 2, testBlock)
	c := openClient(t, cfg, Options{})
	ctx := context.Background()
	rnd := mrand.New(mrand.NewPCG(61, 62))
	for _, k := range []string{"a", "b", "c"} {
		put(t, c, k, randBytes(rnd, 2*testBlock))
	}
	if err := c.Delete(ctx, "b"); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Rebuild(ctx, "c"); err != nil {
		t.Fatal(err)
	}
	cl.Kill(3)
	if rep, err := c.Repair(ctx, "a"); err != nil || rep.Rebuilt == 0 {
		t.Fatalf("repair: %+v, %v", rep, err)
	}
	rep, err := c.VerifyLog(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Entries != 6 || rep.LastSeq != 6 || rep.Batches == 0 || rep.PublicKey == "" {
		t.Fatalf("log after 3 stores, a delete, a rebuild and a repair: %+v", rep)
	}
	// Users cannot write or delete the log's objects.
	if _, err := c.Put(ctx, commitlog.BatchKey(0), bytes.NewReader(nil), PutOptions{}); !errors.Is(err, ErrInvalid) {
		t.Fatalf("put into the reserved prefix: %v", err)
	}
	if err := c.Delete(ctx, commitlog.BatchKey(0)); !errors.Is(err, ErrInvalid) {
		t.Fatalf("delete in the reserved prefix: %v", err)
	}

	// A restart continues the chain.
	c.Close()
	c = openClient(t, cfg, Options{})
	put(t, c, "d", []byte("after the restart"))
	rep2, err := c.VerifyLog(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if rep2.Entries != 7 || rep2.Batches <= rep.Batches || rep2.PublicKey != rep.PublicKey {
		t.Fatalf("log after a restart and one more store: %+v (before: %+v)", rep2, rep)
	}

	// Someone with backend access rewrites the first batch: an entry's
	// key changes, so the batch no longer matches its signature.
	data, err := logStore{c: c}.GetBatch(ctx, 0)
	if err != nil {
		t.Fatal(err)
	}
	i := bytes.Index(data, []byte("a"))
	if i < 0 {
		t.Fatal("key not found in batch 0")
	}
	data[i] = 'z'
	if err := (logStore{c: c}).PutBatch(ctx, 0, data); err != nil {
		t.Fatal(err)
	}
	_, err = c.VerifyLog(ctx)
	var le *LogError
	if !errors.As(err, &le) || le.Batch != 0 || !errors.Is(err, ErrCorrupt) {
		t.Fatalf("verify of a tampered log: %v", err)
	}
}

// TestReload: backends added and removed without a restart; objects on
// a removed backend are queued and repaired onto the others, keeping
// their own k+m after k+m changed; the master key cannot change.
func TestReload(t *testing.T) {
	cl := testcluster.Start(t, 9, testcluster.Options{Groups: 9})
	full := testConfig(t, cl, 4, 2, testBlock)
	// Start with 7 of the 9 backends.
	cfg := *full
	cfg.Groups = full.Groups[:7]
	c := openClient(t, &cfg, Options{DisableCommitLog: true})
	ctx := context.Background()
	rnd := mrand.New(mrand.NewPCG(63, 64))
	m := putObjects(t, c, rnd, 8, 3*testBlock)

	// Add backends 7 and 8, remove backend 0, and go to 5+3 for new
	// objects.
	next := *full
	next.Groups = full.Groups[1:]
	next.MinimalShards, next.ExpectedShards, next.WriteQuorum = 5, 8, 6
	rep, err := c.Reload(ctx, &next)
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Added) != 2 || len(rep.Removed) != 1 || rep.Queued == 0 {
		t.Fatalf("reload: %+v", rep)
	}
	if all, err := c.RepairAll(ctx, nil); err != nil || all.Rebuilt == 0 {
		t.Fatalf("repair all: %+v, %v", all, err)
	}
	for k := range m {
		chk, err := c.Check(ctx, k)
		if err != nil || chk.Info.K != 4 || chk.Info.M != 2 || chk.MinGood != 6 {
			t.Fatalf("%s after reload and repair: k %d m %d min good %d, %v", k, chk.Info.K, chk.Info.M, chk.MinGood, err)
		}
	}
	h, err := c.Health(ctx, false)
	if err != nil {
		t.Fatal(err)
	}
	for _, b := range h.Backends {
		if b.ID == rep.Removed[0] {
			t.Fatalf("removed backend still listed: %+v", b)
		}
	}
	m["new"] = randBytes(rnd, 2*testBlock)
	if info := put(t, c, "new", m["new"]); info.K != 5 || info.M != 3 {
		t.Fatalf("new object after reload: %d+%d, want 5+3", info.K, info.M)
	}
	waitHealed(t, c, m, 10*time.Second)

	other := next
	other.Encryption = config.Encryption{Algorithm: "AES", Key: "11" + full.Encryption.Key[2:]}
	if full.Encryption.Key[:2] == "11" {
		other.Encryption.Key = "22" + full.Encryption.Key[2:]
	}
	if _, err := c.Reload(ctx, &other); !errors.Is(err, ErrInvalid) {
		t.Fatalf("reload with another master key: %v", err)
	}
}
