package crash

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
	"testing"
)

// TestDiskFull runs zdb on a 4 MiB tmpfs (mounting needs root; the test
// skips without it unless CI=true). Once the disk is full, writes must fail
// with an error reply, the daemon must keep running and serving what it
// had, and writes must work again once space is freed; nothing of the
// failed writes may show up, even after a crash.
func TestDiskFull(t *testing.T) {
	base := workDir(t)
	mnt := filepath.Join(base, "mnt")
	if err := os.Mkdir(mnt, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Mount("tmpfs", mnt, "tmpfs", 0, "size=4m,mode=0700"); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("cannot mount a tmpfs: %v", err)
		}
		t.Skipf("cannot mount a tmpfs (needs root): %v", err)
	}
	t.Cleanup(func() {
		if err := syscall.Unmount(mnt, 0); err != nil {
			t.Errorf("unmount %s: %v", mnt, err)
		}
	})
	// Data and index on the small file system; the log stays outside.
	d := newDaemon(t, base, "--compact-ratio", "-1", "--scrub-rate", "0")
	d.dataRootOverride = filepath.Join(mnt, "data")
	d.indexRootOverride = filepath.Join(mnt, "index")
	// Ballast to free later.
	ballast := filepath.Join(mnt, "ballast")
	if err := os.WriteFile(ballast, make([]byte, 1<<20), 0o600); err != nil {
		t.Fatal(err)
	}

	ctx := context.Background()
	m := newModel(sizes{20 << 10, 120 << 10})
	d.start()
	cl := d.client(2)
	var failed []string
	i := 0
	for ; i < 400 && len(failed) < 10; i++ {
		k := fmt.Sprintf("f%04d", i)
		st := m.begin(k, false)
		err := cl.Set(ctx, k, m.sz.value(k, st), 0).Err()
		switch {
		case err == nil:
			m.ack(k, st)
		case !isReply(err):
			t.Fatalf("SET %s: connection failed (crash?): %v", k, err)
		default:
			m.refused(k, st)
			if len(failed) == 0 {
				t.Logf("first refused write after %d keys: %v", i, err)
			}
			if err.Error() != "Cannot write data right now" && err.Error() != "No space left on this namespace" {
				t.Errorf("SET %s on a full disk: %q, want \"Cannot write data right now\"", k, err)
			}
			failed = append(failed, k)
		}
	}
	if len(failed) == 0 {
		t.Fatalf("wrote %d keys to a 4 MiB file system without an error", i)
	}
	if err := cl.Ping(ctx).Err(); err != nil {
		t.Fatalf("PING after disk full: %v", err)
	}
	m.verify(t, cl, "disk full")
	// A delete needs space too; it may fail, but must not break anything.
	if err := cl.Do(ctx, "DEL", "f0000").Err(); err == nil {
		m.ack("f0000", 0)
	} else if !isReply(err) {
		t.Fatalf("DEL on a full disk: %v", err)
	}

	// Free space: writes work again.
	if err := os.Remove(ballast); err != nil {
		t.Fatal(err)
	}
	for _, k := range failed[:3] {
		m.set(t, cl, k)
	}
	m.set(t, cl, "f0001")
	m.verify(t, cl, "after freeing space")

	// Nothing of the refused writes survives in the files, and a crash
	// changes nothing.
	d.kill()
	m.checkDisk(t, d.dataDir(), "data files after disk full and SIGKILL")
	d.start()
	m.verify(t, d.client(2), "restart after disk full")
	d.stop()
}
