package zstor

import (
	"bytes"
	"context"
	"errors"
	mrand "math/rand/v2"
	"testing"

	"github.com/zerostor/zerostor/internal/testcluster"
)

// TestRepairLostBackends: two of eight backends die; Repair rebuilds just
// the lost shards elsewhere and the object is fully redundant again,
// with the same content and version.
func TestRepairLostBackends(t *testing.T) {
	cl := testcluster.Start(t, 8, testcluster.Options{Groups: 4})
	c := openClient(t, testConfig(t, cl, 4, 2, testBlock), Options{})
	data := randBytes(mrand.New(mrand.NewPCG(31, 32)), 5*testBlock+3)
	before := put(t, c, "heal", data)
	ctx := context.Background()
	if rep, err := c.Repair(ctx, "heal"); err != nil || rep.Rebuilt != 0 || rep.Damaged != 0 {
		t.Fatalf("repair of a healthy object: %+v, %v", rep, err)
	}
	cl.Kill(2)
	cl.Kill(5)
	rep, err := c.Repair(ctx, "heal")
	if err != nil {
		t.Fatal(err)
	}
	if rep.Rebuilt == 0 || rep.Damaged == 0 {
		t.Fatalf("repair after losing 2 backends: %+v", rep)
	}
	chk, err := c.Check(ctx, "heal")
	if err != nil || chk.MinGood != 6 || chk.OK != chk.Blocks*6 {
		t.Fatalf("after repair: ok %d of %d, min good %d, %v", chk.OK, chk.Blocks*6, chk.MinGood, err)
	}
	if chk.Info.Version != before.Version || chk.Info.Checksum != before.Checksum {
		t.Fatalf("repair changed the object: %+v -> %+v", before, chk.Info)
	}
	// Two more backends may now die and the object still reads.
	cl.Kill(0)
	cl.Kill(7)
	mustEqual(t, "read after repair and two more losses", get(t, c, "heal", GetOptions{}), data)
}

// TestRepairBitrot: corrupted shards are found, rebuilt, and verified.
func TestRepairBitrot(t *testing.T) {
	cl := testcluster.Start(t, 6, testcluster.Options{Groups: 3})
	c := openClient(t, testConfig(t, cl, 4, 2, testBlock), Options{})
	rnd := mrand.New(mrand.NewPCG(33, 34))
	data := randBytes(rnd, 12*testBlock)
	put(t, c, "rot", data)
	if cl.Corrupt(1, rnd, 30)+cl.Corrupt(4, rnd, 30) == 0 {
		t.Fatal("nothing corrupted")
	}
	ctx := context.Background()
	chk, err := c.Check(ctx, "rot")
	if err != nil || chk.Corrupt == 0 {
		t.Fatalf("check before repair: corrupt %d, %v", chk.Corrupt, err)
	}
	rep, err := c.Repair(ctx, "rot")
	if err != nil || rep.Rebuilt < chk.Corrupt {
		t.Fatalf("repair: %+v, %v (check saw %d corrupt)", rep, err, chk.Corrupt)
	}
	chk, err = c.Check(ctx, "rot")
	if err != nil || chk.OK != chk.Blocks*6 {
		t.Fatalf("check after repair: ok %d of %d, corrupt %d, %v", chk.OK, chk.Blocks*6, chk.Corrupt, err)
	}
	mustEqual(t, "read after repair", get(t, c, "rot", GetOptions{}), data)
}

// TestConflictingCommits: a rebuild or repair whose object changed under
// it commits nothing, and the newer version stays.
func TestConflictingCommits(t *testing.T) {
	cl := testcluster.Start(t, 6, testcluster.Options{Groups: 3})
	c := openClient(t, testConfig(t, cl, 4, 2, testBlock), Options{})
	ctx := context.Background()
	put(t, c, "k", []byte("version one"))
	stale, err := c.store.Get(ctx, "k")
	if err != nil {
		t.Fatal(err)
	}
	put(t, c, "k", []byte("version two"))
	if _, err := c.put(ctx, "k", bytes.NewReader([]byte("rebuilt one")), PutOptions{}, stale); !errors.Is(err, ErrConflict) {
		t.Fatalf("rebuild commit over a newer version: %v, want ErrConflict", err)
	}
	if err := c.commitRepair(ctx, stale, cloneObject(stale)); !errors.Is(err, ErrConflict) {
		t.Fatalf("repair commit over a newer version: %v, want ErrConflict", err)
	}
	mustEqual(t, "newer version kept", get(t, c, "k", GetOptions{}), []byte("version two"))
}

// TestRepairConcurrentSameVersion: of two repairs of the same version
// racing, the second to commit is refused: it would point at shard
// copies the first one deleted.
func TestRepairConcurrentSameVersion(t *testing.T) {
	cl := testcluster.Start(t, 8, testcluster.Options{Groups: 4})
	c := openClient(t, testConfig(t, cl, 4, 2, testBlock), Options{DisableCommitLog: true})
	ctx := context.Background()
	put(t, c, "k", randBytes(mrand.New(mrand.NewPCG(35, 36)), 2*testBlock))
	seen, err := c.store.Get(ctx, "k")
	if err != nil {
		t.Fatal(err)
	}
	cl.Kill(1)
	if rep, err := c.Repair(ctx, "k"); err != nil || rep.Rebuilt == 0 {
		t.Fatalf("first repair: %+v, %v", rep, err)
	}
	// A second repair that examined the record before the first
	// committed: same version, other shard locations.
	if err := c.commitRepair(ctx, seen, cloneObject(seen)); !errors.Is(err, ErrConflict) {
		t.Fatalf("stale repair commit: %v, want ErrConflict", err)
	}
}
