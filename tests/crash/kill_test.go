package crash

import (
	"context"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// killCycles runs writers against zdb, kills it with SIGKILL at a random
// moment, restarts it on the same directories and checks the model, rounds
// times; then stops it cleanly and checks once more.
func killCycles(t *testing.T, rounds int, extra ...string) {
	seed := testSeed(t)
	rng := rand.New(rand.NewPCG(seed, 0))
	d := newDaemon(t, workDir(t), extra...)
	m := newModel(defaultSizes)
	w := &workload{m: m, writers: 8, keys: 150, delPct: 15, seed: seed}
	if testing.Short() {
		w.keys = 60
	}
	for c := 1; c <= rounds; c++ {
		d.start()
		cl := d.client(16)
		if c > 1 {
			m.verify(t, cl, "cycle "+strconv.Itoa(c)+" after restart")
			t.Logf("recovery so far: torn tails cut %d, corrupt regions %d",
				nsinfoInt(t, cl, "recovery_torn_tails"), nsinfoInt(t, cl, "recovery_corrupt_regions"))
		}
		stop := make(chan struct{})
		wait := w.run(t, cl, stop)
		delay := randDelay(rng, 200*time.Millisecond, 2*time.Second)
		time.Sleep(delay)
		d.kill()
		close(stop)
		wait()
		cl.Close()
		m.checkDisk(t, d.dataDir(), "cycle "+strconv.Itoa(c)+" data files after kill")
		t.Logf("cycle %d: killed after %v; %d writes acknowledged (%d MiB), %d in flight (%v); %d data files",
			c, delay, w.acked.Load(), w.bytes.Load()>>20, w.lost.Load(), w.losses, len(d.dataFiles()))
		if t.Failed() {
			return
		}
	}
	// Crashes while recovering (cutting a torn tail, loading hints) must
	// not lose anything either.
	for i := 0; i < 3; i++ {
		d.killDuringStartup(randDelay(rng, time.Millisecond, 60*time.Millisecond))
	}
	d.start()
	cl := d.client(4)
	m.verify(t, cl, "after last kill and kills during startup")
	d.stop()
	d.start()
	m.verify(t, d.client(4), "after clean restart")
	d.stop()
}

func TestKill9DuringWrites(t *testing.T) {
	killCycles(t, cycles(t, 5, 2))
}

func TestKill9DuringWritesSync(t *testing.T) {
	killCycles(t, cycles(t, 3, 1), "--sync")
}

// TestKill9DuringCompaction builds sealed files that are mostly dead, then
// repeatedly starts a COMPACT while writers go on and kills zdb while the
// compaction runs. Afterwards a clean COMPACT must shrink the data.
func TestKill9DuringCompaction(t *testing.T) {
	seed := testSeed(t)
	rng := rand.New(rand.NewPCG(seed, 0))
	rounds := cycles(t, 6, 3)
	d := newDaemon(t, workDir(t), "--compact-ratio", "0.1")
	m := newModel(defaultSizes)
	// A small key space overwritten over and over leaves mostly dead files.
	w := &workload{m: m, writers: 8, keys: 30, delPct: 25, seed: seed}
	ctx := context.Background()

	d.start()
	cl := d.client(16)
	stop := make(chan struct{})
	wait := w.run(t, cl, stop)
	time.Sleep(1500 * time.Millisecond)
	close(stop)
	wait()
	m.verify(t, cl, "after setup")
	t.Logf("setup: %d writes, %d MiB in %d data files", w.acked.Load(), d.dataBytes()>>20, len(d.dataFiles()))
	d.kill()

	est := 400 * time.Millisecond // how long a COMPACT takes; refined as we go
	hits := 0
	for c := 1; c <= rounds; c++ {
		when := "compaction cycle " + strconv.Itoa(c) + " after restart"
		if c%2 == 0 {
			// Replaying copies and tombstones from the data files alone
			// must give the same answers as the hints.
			for _, h := range d.hintFiles() {
				os.Remove(h)
			}
			when += " without hints"
		}
		d.start()
		cl := d.client(16)
		m.verify(t, cl, when)
		before := d.dataBytes()
		stop := make(chan struct{})
		wait := w.run(t, cl, stop)
		time.Sleep(randDelay(rng, 100*time.Millisecond, 400*time.Millisecond)) // more dead data meanwhile

		var done atomic.Bool
		var took atomic.Int64
		compactErr := make(chan error, 1)
		adm := d.client(2)
		startAt := time.Now()
		go func() {
			_, err := adm.Do(ctx, "COMPACT").Int64()
			took.Store(int64(time.Since(startAt)))
			done.Store(true)
			compactErr <- err
		}()
		// Mostly kill at a random point of the compaction: wait until it
		// shows as running, then a random share of its expected duration.
		// Every third cycle lets the whole pass finish (files deleted,
		// tombstones of the oldest file dropped) and crashes just after.
		whole := c%3 == 0
		if whole {
			if !waitFor(60*time.Second, done.Load) {
				t.Fatalf("cycle %d: COMPACT did not finish within 60s", c)
			}
			time.Sleep(randDelay(rng, time.Millisecond, 50*time.Millisecond))
		} else {
			waitFor(2*time.Second, func() bool {
				if done.Load() {
					return true
				}
				info, err := cl.Do(ctx, "NSINFO", "default").Text()
				return err == nil && strings.Contains(info, "compaction_running: yes")
			})
			time.Sleep(randDelay(rng, 0, est))
		}
		mid := !done.Load()
		killedAt := time.Since(startAt)
		d.kill()
		close(stop)
		wait()
		m.checkDisk(t, d.dataDir(), "cycle "+strconv.Itoa(c)+" data files after kill")
		err := <-compactErr
		state := "compaction running"
		if !mid {
			if err != nil {
				t.Errorf("cycle %d: COMPACT failed: %v", c, err)
			}
			state = "COMPACT done after " + time.Duration(took.Load()).Round(time.Millisecond).String()
			if !whole {
				est = max(est*3/4, 20*time.Millisecond)
			}
		} else {
			hits++
		}
		t.Logf("cycle %d: %d MiB of data files; killed %v after sending COMPACT (%s); %d writes acknowledged so far",
			c, before>>20, killedAt.Round(time.Millisecond), state, w.acked.Load())
		if t.Failed() {
			return
		}
	}
	t.Logf("%d of %d kills hit a running compaction", hits, rounds)
	if hits == 0 && rounds > 2 {
		t.Errorf("no kill hit a running compaction")
	}

	// A clean compaction must give space back and lose nothing.
	d.start()
	cl = d.client(4)
	m.verify(t, cl, "before final COMPACT")
	for i := 0; i < w.writers; i++ { // make sure there is something dead
		for k := 0; k < w.keys; k += 2 {
			m.set(t, cl, w.key(i, k))
		}
	}
	before := d.dataBytes()
	n, err := cl.Do(ctx, "COMPACT").Int64()
	if err != nil {
		t.Fatalf("final COMPACT: %v", err)
	}
	after := d.dataBytes()
	t.Logf("final COMPACT: reclaimed %d bytes; data files %d -> %d bytes", n, before, after)
	if after >= before || n <= 0 {
		t.Errorf("final COMPACT did not shrink the data: %d -> %d bytes (reply %d)", before, after, n)
	}
	m.verify(t, cl, "after final COMPACT")
	d.kill()
	d.start()
	m.verify(t, d.client(4), "after kill following final COMPACT")
	d.stop()
	// A hint outliving its compacted data file makes every start report
	// the file as missing (and call the missing-data hook).
	for _, h := range d.hintFiles() {
		id := strings.TrimSuffix(strings.TrimPrefix(filepath.Base(h), "i-"), ".zdh")
		if _, err := os.Stat(filepath.Join(d.dataDir(), "d-"+id+".zdb")); err != nil {
			t.Errorf("hint %s has no data file: %v", filepath.Base(h), err)
		}
	}
	for _, l := range d.logLines("data file missing") {
		t.Errorf("zdb log: %s", l)
	}
}
