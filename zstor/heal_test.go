package zstor

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	mrand "math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/zerostor/zerostor/internal/config"
	"github.com/zerostor/zerostor/internal/testcluster"
	"github.com/zerostor/zerostor/internal/zdbclient"
)

// healConfig is testConfig with fast self-healing: backends terminal after
// terminal, probed every 100ms, no background scrub or audits unless the
// test turns them on.
func healConfig(t testing.TB, cl *testcluster.Cluster, k, m int, terminal time.Duration) *config.Config {
	cfg := testConfig(t, cl, k, m, testBlock)
	cfg.Repair = config.Repair{
		TerminalAfter: terminal,
		ProbeInterval: 100 * time.Millisecond,
		Workers:       2,
		ScrubInterval: time.Hour,
	}
	return cfg
}

// backendOf returns the zstor backend of cluster node i and its position
// in the client's list (the config orders backends by group).
func backendOf(t testing.TB, c *Client, cl *testcluster.Cluster, i int) (*backend, int) {
	t.Helper()
	be := cl.Backend(i)
	id := be.Addr + "/" + be.Namespace
	for j, b := range c.top().backends {
		if b.id == id {
			return b, j
		}
	}
	t.Fatalf("node %d (%s) is not a backend of the client", i, id)
	return nil, 0
}

func startHealing(t testing.TB, c *Client, opts HealOptions) {
	t.Helper()
	if err := c.StartHealing(opts); err != nil {
		t.Fatal(err)
	}
}

// objects is a test's model: key → content of every acknowledged write.
type objects map[string][]byte

func putObjects(t testing.TB, c *Client, rnd *mrand.Rand, n, maxSize int) objects {
	t.Helper()
	m := objects{}
	for i := range n {
		key := fmt.Sprintf("obj/%03d", i)
		m[key] = randBytes(rnd, 1+rnd.IntN(maxSize))
		put(t, c, key, m[key])
	}
	return m
}

// waitHealed waits until every object of m is back to full redundancy
// (every shard verified) and the repair queue is empty, then checks every
// object reads back byte-identical.
func waitHealed(t testing.TB, c *Client, m objects, timeout time.Duration) {
	t.Helper()
	ctx := context.Background()
	deadline := time.Now().Add(timeout)
	for {
		whole, why := fullyRedundant(ctx, c, m)
		if whole {
			break
		}
		if time.Now().After(deadline) {
			q, n, _ := c.RepairQueue(ctx, 5)
			t.Fatalf("not healed after %v: %s; queue %d: %+v", timeout, why, n, q)
		}
		time.Sleep(200 * time.Millisecond)
	}
	for k, want := range m {
		mustEqual(t, "read "+k+" after healing", get(t, c, k, GetOptions{}), want)
	}
}

func fullyRedundant(ctx context.Context, c *Client, m objects) (bool, string) {
	if _, n, err := c.RepairQueue(ctx, 0); err != nil || n > 0 {
		return false, fmt.Sprintf("%d queued (%v)", n, err)
	}
	for k := range m {
		chk, err := c.Check(ctx, k)
		if err != nil {
			return false, fmt.Sprintf("check %s: %v", k, err)
		}
		if chk.MinGood != chk.Info.K+chk.Info.M {
			return false, fmt.Sprintf("%s has %d of %d shards good in its worst block", k, chk.MinGood, chk.Info.K+chk.Info.M)
		}
	}
	return true, ""
}

// TestHealLostBackends: m backends die for good; once they are terminal
// the daemon rebuilds their shards on the spare backends by itself.
func TestHealLostBackends(t *testing.T) {
	cl := testcluster.Start(t, 9, testcluster.Options{Groups: 3})
	c := openClient(t, healConfig(t, cl, 4, 2, time.Second), Options{})
	m := putObjects(t, c, mrand.New(mrand.NewPCG(41, 42)), 12, 3*testBlock)
	startHealing(t, c, HealOptions{DisableScrub: true, DisableAudit: true})
	_, one := backendOf(t, c, cl, 1)
	_, four := backendOf(t, c, cl, 4)
	cl.Kill(1)
	cl.Kill(4)
	// Down first, then terminal; the health picture shows it.
	deadline := time.Now().Add(10 * time.Second)
	for {
		h, err := c.Health(context.Background(), false)
		if err != nil {
			t.Fatal(err)
		}
		if h.Backends[one].State >= StateDown && h.Backends[four].State >= StateDown {
			if h.Degraded == 0 {
				t.Fatalf("two backends down but no degraded object: %+v", h.Redundancy)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("killed backends not seen down: %v %v", h.Backends[one].State, h.Backends[four].State)
		}
		time.Sleep(50 * time.Millisecond)
	}
	waitHealed(t, c, m, 30*time.Second)
	h, err := c.Health(context.Background(), false)
	if err != nil {
		t.Fatal(err)
	}
	if h.Degraded != 0 || h.Backends[one].State != StateTerminal || h.Repair.Repaired == 0 || h.Repair.RebuiltShards == 0 {
		t.Fatalf("after healing: degraded %d, state %v, repair %+v", h.Degraded, h.Backends[one].State, h.Repair)
	}
}

// TestHealWaitsForTerminal: a backend that is down only briefly is not
// rebuilt elsewhere; its objects wait in the queue and are whole again
// when it returns.
func TestHealWaitsForTerminal(t *testing.T) {
	cl := testcluster.Start(t, 8, testcluster.Options{Groups: 4})
	c := openClient(t, healConfig(t, cl, 4, 2, time.Hour), Options{})
	ctx := context.Background()
	m := putObjects(t, c, mrand.New(mrand.NewPCG(43, 44)), 4, 2*testBlock)
	startHealing(t, c, HealOptions{DisableScrub: true, DisableAudit: true})
	cl.Stop(3)
	if _, err := c.Scrub(ctx, ScrubOptions{}); err != nil {
		t.Fatal(err)
	}
	time.Sleep(500 * time.Millisecond)
	h, err := c.Health(ctx, false)
	if err != nil {
		t.Fatal(err)
	}
	if h.Repair.RebuiltShards != 0 {
		t.Fatalf("shards rebuilt for a backend down %v (not terminal): %+v", time.Second, h.Repair)
	}
	if h.Repair.Queue == 0 {
		t.Fatal("objects with shards on a down backend are not queued")
	}
	cl.Restart(3)
	// The prober sees it back and the queued objects are found whole.
	waitHealed(t, c, m, 30*time.Second)
}

// TestHealCorruption: random bytes corrupted in several backends' data
// files; the scrubber finds the damage and repair fixes it. Three
// backends are damaged, so the objects are 4+3: any block keeps k good
// shards whatever the flips hit.
func TestHealCorruption(t *testing.T) {
	cl := testcluster.Start(t, 9, testcluster.Options{Groups: 3})
	cfg := healConfig(t, cl, 4, 3, time.Hour)
	cfg.Repair.ScrubRate = 1 << 30
	c := openClient(t, cfg, Options{})
	rnd := mrand.New(mrand.NewPCG(45, 46))
	m := putObjects(t, c, rnd, 10, 4*testBlock)
	flipped := 0
	for _, i := range []int{0, 4, 8} {
		flipped += cl.Corrupt(i, rnd, 20)
	}
	if flipped == 0 {
		t.Fatal("nothing corrupted")
	}
	startHealing(t, c, HealOptions{DisableAudit: true})
	waitHealed(t, c, m, 30*time.Second)
	if h, _ := c.Health(context.Background(), false); h.Repair.RebuiltShards == 0 {
		t.Fatalf("corruption healed without rebuilding a shard? %+v", h.Repair)
	}
}

// TestHealLyingBackend: a backend that answers with wrong data (a value
// replaced behind zstor's back, with a valid zdb checksum) fails its
// audits, loses trust, is drained, and every shard it held is rebuilt
// elsewhere.
func TestHealLyingBackend(t *testing.T) {
	cl := testcluster.Start(t, 8, testcluster.Options{Groups: 4})
	cfg := healConfig(t, cl, 4, 2, time.Hour)
	c := openClient(t, cfg, Options{})
	ctx := context.Background()
	m := putObjects(t, c, mrand.New(mrand.NewPCG(47, 48)), 6, 3*testBlock)
	// Backend 2 rewrites every value it holds.
	liar, pos := backendOf(t, c, cl, 2)
	raw := zdbclient.New(cl.Backend(2).ClientConfig())
	defer raw.Close()
	var keys [][]byte
	if err := scanAll(ctx, liar, func(e zdbclient.ScanEntry) error {
		keys = append(keys, e.Key)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	for _, k := range keys {
		v, err := raw.Get(ctx, k)
		if err != nil {
			t.Fatal(err)
		}
		v[len(v)/2] ^= 0x5a
		if _, err := raw.Set(ctx, k, v); err != nil {
			t.Fatal(err)
		}
	}
	// Audit until one lands on the liar.
	lied := false
	for i := 0; i < 500 && !lied; i++ {
		res, err := c.Audit(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if res.Lied && res.Backend != liar.id {
			t.Fatalf("honest backend %s called a liar: %+v", res.Backend, res)
		}
		lied = res.Lied
	}
	if !lied {
		t.Fatal("500 audits never caught the lying backend")
	}
	st := liar.status(time.Hour)
	if !st.Draining || st.AuditFailures == 0 || st.State != StateDegraded {
		t.Fatalf("liar after a failed audit: %+v", st)
	}
	startHealing(t, c, HealOptions{DisableScrub: true, DisableAudit: true})
	waitHealed(t, c, m, 30*time.Second)
	h, err := c.Health(ctx, false)
	if err != nil {
		t.Fatal(err)
	}
	if h.Backends[pos].Shards != 0 {
		t.Fatalf("liar still holds %d shards after healing", h.Backends[pos].Shards)
	}
}

// TestHealFullBackend: with one spare backend full, the shards of a lost
// backend go to the spares that have room.
func TestHealFullBackend(t *testing.T) {
	cl := testcluster.Start(t, 9, testcluster.Options{Groups: 3})
	c := openClient(t, healConfig(t, cl, 4, 2, time.Second), Options{})
	m := putObjects(t, c, mrand.New(mrand.NewPCG(49, 50)), 8, 3*testBlock)
	cl.Fill(0)
	cl.Fill(7)
	cl.Kill(5)
	startHealing(t, c, HealOptions{DisableScrub: true, DisableAudit: true})
	waitHealed(t, c, m, 30*time.Second)
}

// TestDrainUnderLoad: a backend is drained while objects are written and
// read; afterwards it holds no shard and everything is whole.
func TestDrainUnderLoad(t *testing.T) {
	cl := testcluster.Start(t, 9, testcluster.Options{Groups: 3})
	c := openClient(t, healConfig(t, cl, 4, 2, time.Hour), Options{})
	ctx := context.Background()
	rnd := mrand.New(mrand.NewPCG(51, 52))
	m := putObjects(t, c, rnd, 10, 3*testBlock)
	startHealing(t, c, HealOptions{DisableScrub: true, DisableAudit: true})
	victim := c.top().backends[4].id
	var mu sync.Mutex
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		lr := mrand.New(mrand.NewPCG(53, 54))
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			key := fmt.Sprintf("load/%03d", i%20)
			data := randBytes(lr, 1+lr.IntN(2*testBlock))
			put(t, c, key, data)
			mu.Lock()
			m[key] = data
			mu.Unlock()
			mustEqual(t, "read under drain", get(t, c, key, GetOptions{}), data)
		}
	}()
	if _, err := c.Drain(ctx, victim); err != nil {
		t.Fatal(err)
	}
	time.Sleep(time.Second)
	close(stop)
	wg.Wait()
	waitHealed(t, c, m, 30*time.Second)
	h, err := c.Health(ctx, false)
	if err != nil {
		t.Fatal(err)
	}
	if h.Backends[4].Shards != 0 || !h.Backends[4].Draining {
		t.Fatalf("drained backend: %+v", h.Backends[4])
	}
	if _, err := c.Drain(ctx, "nowhere/none"); err == nil {
		t.Fatal("drain of an unknown backend accepted")
	}
}

// TestHealKilledDuringRepair: the healing process is killed (SIGKILL)
// while it repairs; a new one finishes the work from the durable queue,
// nothing is lost, and the orphans of the interrupted repair are swept
// without touching live shards.
func TestHealKilledDuringRepair(t *testing.T) {
	cl := testcluster.Start(t, 9, testcluster.Options{Groups: 3})
	cfg := healConfig(t, cl, 4, 2, time.Second)
	// Slow repair, so the kill lands in the middle of it.
	cfg.Repair.Rate, cfg.Repair.IdleRate = 256<<10, 256<<10
	path := filepath.Join(t.TempDir(), "zstor.toml")
	if err := config.WriteFile(path, cfg); err != nil {
		t.Fatal(err)
	}
	c := openClient(t, cfg, Options{})
	m := putObjects(t, c, mrand.New(mrand.NewPCG(55, 56)), 16, 4*testBlock)
	c.Close()
	cl.Kill(6)

	child := exec.Command(os.Args[0], "-test.run=^TestHealChildProcess$", "-test.v")
	child.Env = append(os.Environ(), "ZSTOR_HEAL_CHILD="+path)
	out := &testcluster.SyncBuffer{}
	child.Stdout, child.Stderr = out, out
	if err := child.Start(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(20 * time.Second)
	for !strings.Contains(out.String(), "repaired") {
		if time.Now().After(deadline) {
			child.Process.Kill()
			child.Wait()
			t.Fatalf("the child never repaired anything:\n%s", out.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	child.Process.Kill() // SIGKILL: no cleanup of any kind
	child.Wait()

	cfg.Repair.Rate, cfg.Repair.IdleRate = 0, 0
	c2 := openClient(t, cfg, Options{})
	ctx := context.Background()
	if _, n, err := c2.RepairQueue(ctx, 0); err != nil || n == 0 {
		t.Fatalf("queue after the kill: %d entries, %v (the kill came too late to test anything)", n, err)
	}
	startHealing(t, c2, HealOptions{DisableScrub: true, DisableAudit: true})
	waitHealed(t, c2, m, 60*time.Second)
	if _, err := c2.Sweep(ctx, 0); err == nil {
		t.Log("swept")
	}
	for k, want := range m {
		mustEqual(t, "read "+k+" after the sweep", get(t, c2, k, GetOptions{}), want)
	}
}

// TestHealChildProcess is the process TestHealKilledDuringRepair kills.
func TestHealChildProcess(t *testing.T) {
	path := os.Getenv("ZSTOR_HEAL_CHILD")
	if path == "" {
		t.Skip("run by TestHealKilledDuringRepair")
	}
	cfg, err := config.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	logger := slog.New(slog.NewTextHandler(os.Stdout, &slog.HandlerOptions{Level: slog.LevelInfo}))
	c, err := Open(context.Background(), cfg, Options{Logger: logger, ShardTimeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.StartHealing(HealOptions{DisableScrub: true, DisableAudit: true}); err != nil {
		t.Fatal(err)
	}
	time.Sleep(time.Minute) // killed long before
}

// TestHealRandomized mixes writes, reads, overwrites and deletes with
// backend kills, restarts and corruption, one fault at a time, while the
// store heals itself; every acknowledged write must read back as the
// model says, during the run and after it. Seeded: ZSTOR_TEST_SEED=n
// replays a run's sequence of operations and faults (timing aside).
func TestHealRandomized(t *testing.T) {
	seed := uint64(time.Now().UnixNano())
	if s := os.Getenv("ZSTOR_TEST_SEED"); s != "" {
		v, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			t.Fatalf("ZSTOR_TEST_SEED: %v", err)
		}
		seed = v
	}
	t.Logf("seed %d (ZSTOR_TEST_SEED=%d to replay)", seed, seed)
	run := 20 * time.Second
	if testing.Short() {
		run = 5 * time.Second
	}
	rnd := mrand.New(mrand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	const nodes = 10
	cl := testcluster.Start(t, nodes, testcluster.Options{Groups: 5})
	cfg := healConfig(t, cl, 4, 2, time.Second)
	c := openClient(t, cfg, Options{})
	startHealing(t, c, HealOptions{DisableScrub: true, DisableAudit: true})
	ctx := context.Background()
	model := objects{}
	deleted := map[string]bool{}
	dead := -1
	var deadUntil time.Time
	faultAt := time.Now().Add(time.Second)
	end := time.Now().Add(run)
	ops := 0
	for time.Now().Before(end) {
		ops++
		key := fmt.Sprintf("r/%02d", rnd.IntN(40))
		switch op := rnd.IntN(10); {
		case op < 4:
			data := randBytes(rnd, rnd.IntN(3*testBlock))
			put(t, c, key, data)
			model[key] = data
			delete(deleted, key)
		case op < 8:
			if want, ok := model[key]; ok {
				mustEqual(t, fmt.Sprintf("op %d: read %s", ops, key), get(t, c, key, GetOptions{}), want)
			}
		default:
			if _, ok := model[key]; ok {
				if err := c.Delete(ctx, key); err != nil {
					t.Fatalf("op %d: delete %s: %v", ops, key, err)
				}
				delete(model, key)
				deleted[key] = true
			}
		}
		now := time.Now()
		if dead >= 0 && now.After(deadUntil) {
			cl.Restart(dead)
			dead = -1
		}
		if dead < 0 && now.After(faultAt) {
			// One fault at a time: the previous one is healed first.
			if whole, _ := fullyRedundant(ctx, c, model); !whole {
				continue
			}
			i := rnd.IntN(nodes)
			if rnd.IntN(2) == 0 {
				dead = i
				// Briefly (no rebuild) or long enough to turn terminal.
				deadUntil = now.Add(time.Duration(200+rnd.IntN(2500)) * time.Millisecond)
				cl.Kill(i)
			} else {
				cl.Corrupt(i, rnd, 5+rnd.IntN(20))
				// Damage is found by a scrub (the background one is off to
				// keep the run's reads its own).
				if _, err := c.Scrub(ctx, ScrubOptions{}); err != nil {
					t.Fatalf("scrub: %v", err)
				}
			}
			faultAt = now.Add(time.Duration(300+rnd.IntN(1000)) * time.Millisecond)
		}
	}
	if dead >= 0 {
		cl.Restart(dead)
	}
	t.Logf("%d operations, %d objects", ops, len(model))
	if _, err := c.Scrub(ctx, ScrubOptions{}); err != nil {
		t.Fatal(err)
	}
	waitHealed(t, c, model, 60*time.Second)
	for k := range deleted {
		if _, err := c.Stat(ctx, k); !errors.Is(err, ErrNotFound) {
			t.Fatalf("deleted %s: stat %v", k, err)
		}
	}
}
