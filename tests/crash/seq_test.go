package crash

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// seqEntry is what the clients know of one id of a seq-mode namespace.
type seqEntry struct {
	token   string  // names the values written to this id
	acked   int64   // version acknowledged last, 0 = deleted
	pending []int64 // versions sent without a reply
}

// seqModel tracks the ids handed out by a seq-mode namespace.
type seqModel struct {
	sz      sizes
	mu      sync.Mutex
	ids     map[uint64]*seqEntry
	maxID   uint64 // highest id ever acknowledged, if any
	anyID   bool
	nextVer map[string]int64
}

func seqKey(id uint64) string {
	return string(binary.LittleEndian.AppendUint64(nil, id))
}

// TestKill9SeqMode runs inserts, updates and deletes against a namespace in
// sequential-id mode, kills zdb at random moments (some during a COMPACT)
// and checks every acknowledged id, and that ids are never handed out
// twice: a new id is always above every id acknowledged before, deleted
// or not.
func TestKill9SeqMode(t *testing.T) {
	seed := testSeed(t)
	rng := rand.New(rand.NewPCG(seed, 0))
	d := newDaemon(t, workDir(t), "--mode", "seq")
	m := &seqModel{sz: sizes{100, 64 << 10}, ids: map[uint64]*seqEntry{}, nextVer: map[string]int64{}}
	ctx := context.Background()
	rounds := cycles(t, 5, 2)
	for c := 1; c <= rounds; c++ {
		d.start()
		cl := d.client(8)
		if c > 1 {
			m.verify(t, cl, "seq cycle "+strconv.Itoa(c)+" after restart")
		}
		stop := make(chan struct{})
		var wg sync.WaitGroup
		errs := make(chan string, 16)
		for w := 0; w < 4; w++ {
			wg.Add(1)
			go func(w int) {
				defer wg.Done()
				m.writer(cl, rand.New(rand.NewPCG(seed, uint64(c)<<8|uint64(w))), fmt.Sprintf("c%dw%d", c, w), stop, errs)
			}(w)
		}
		if c%2 == 0 {
			time.Sleep(randDelay(rng, 200*time.Millisecond, 600*time.Millisecond))
			go d.client(1).Do(ctx, "COMPACT")
		}
		time.Sleep(randDelay(rng, 100*time.Millisecond, 1200*time.Millisecond))
		d.kill()
		close(stop)
		wg.Wait()
		close(errs)
		for e := range errs {
			t.Error(e)
		}
		t.Logf("cycle %d: %d ids known, highest %d", c, len(m.ids), m.maxID)
		if t.Failed() {
			return
		}
	}
	d.start()
	cl := d.client(2)
	m.verify(t, cl, "seq after last kill")

	// The highest id, deleted and compacted, must not be handed out again,
	// whether the index comes from hints or from the data files.
	for i, dropHints := range []bool{false, true} {
		id, err := cl.Set(ctx, "", "last", 0).Result()
		if err != nil {
			t.Fatal(err)
		}
		if err := cl.Do(ctx, "DEL", id).Err(); err != nil {
			t.Fatal(err)
		}
		if err := cl.Do(ctx, "NSJUMP").Err(); err != nil {
			t.Fatal(err)
		}
		if _, err := cl.Do(ctx, "COMPACT").Int64(); err != nil {
			t.Fatal(err)
		}
		if i == 0 {
			d.stop()
		} else {
			d.kill()
		}
		if dropHints {
			for _, h := range d.hintFiles() {
				os.Remove(h)
			}
		}
		d.start()
		cl = d.client(2)
		next, err := cl.Set(ctx, "", "next", 0).Result()
		if err != nil {
			t.Fatal(err)
		}
		deleted := binary.LittleEndian.Uint64([]byte(id))
		if got := binary.LittleEndian.Uint64([]byte(next)); got <= deleted {
			t.Errorf("after deleting id %d, COMPACT and a restart (hints dropped: %v), a new insert got id %d",
				deleted, dropHints, got)
		}
	}
	m.verify(t, cl, "seq at the end")
	d.stop()
}

// writer inserts (60%), updates (25%) and deletes (15%) until the daemon
// dies or stop closes. Updates and deletes touch only ids this writer
// created, so that their order is known.
func (m *seqModel) writer(cl *redis.Client, rng *rand.Rand, name string, stop <-chan struct{}, errs chan<- string) {
	ctx := context.Background()
	var mine []uint64
	report := func(s string) {
		select {
		case errs <- s:
		default:
		}
	}
	for n := 0; ; n++ {
		select {
		case <-stop:
			return
		default:
		}
		op := rng.IntN(100)
		if len(mine) == 0 || op < 60 {
			token := name + "-" + strconv.Itoa(n)
			m.mu.Lock()
			before, any := m.maxID, m.anyID
			m.mu.Unlock()
			v := m.sz.value(token, 1)
			reply, err := cl.Set(ctx, "", v, 0).Result()
			if !isReply(err) {
				return
			}
			if err != nil || len(reply) != 8 {
				report(fmt.Sprintf("insert: reply %q, %v", reply, err))
				continue
			}
			id := binary.LittleEndian.Uint64([]byte(reply))
			m.mu.Lock()
			if e, dup := m.ids[id]; dup {
				report(fmt.Sprintf("insert got id %d, already used by %s (state v%d)", id, e.token, e.acked))
			} else if any && id <= before {
				report(fmt.Sprintf("insert got id %d, not above %d acknowledged earlier", id, before))
			}
			m.ids[id] = &seqEntry{token: token, acked: 1}
			m.nextVer[token] = 1
			m.maxID, m.anyID = max(m.maxID, id), true
			m.mu.Unlock()
			mine = append(mine, id)
			continue
		}
		id := mine[rng.IntN(len(mine))]
		m.mu.Lock()
		e := m.ids[id]
		del := op >= 85 && e.acked != 0
		var ver int64
		if !del {
			m.nextVer[e.token]++
			ver = m.nextVer[e.token]
		}
		e.pending = append(e.pending, ver)
		m.mu.Unlock()
		var err error
		if del {
			err = cl.Do(ctx, "DEL", seqKey(id)).Err()
		} else {
			err = cl.Set(ctx, seqKey(id), m.sz.value(e.token, ver), 0).Err()
		}
		if !isReply(err) {
			return
		}
		m.mu.Lock()
		e.pending = slices.DeleteFunc(e.pending, func(v int64) bool { return v == ver })
		switch {
		case err == nil:
			e.acked = ver
		case !del && e.acked == 0 && err.Error() == "Invalid key, only update authorized":
			// Updating a deleted id is refused; nothing changed.
		default:
			report(fmt.Sprintf("id %d (%s): %v", id, e.token, err))
		}
		m.mu.Unlock()
	}
}

// verify checks every known id and settles in-flight writes.
func (m *seqModel) verify(t *testing.T, cl *redis.Client, when string) {
	t.Helper()
	ctx := context.Background()
	m.mu.Lock()
	defer m.mu.Unlock()
	bad := 0
	for id, e := range m.ids {
		v, err := cl.Get(ctx, seqKey(id)).Bytes()
		var got int64
		switch {
		case errors.Is(err, redis.Nil):
		case err != nil:
			t.Fatalf("%s: GET id %d: %v", when, id, err)
		default:
			ver, exact := m.sz.version(e.token, v)
			if !exact {
				bad++
				t.Errorf("%s: GET id %d returned %d wrong bytes (want %s v%d)", when, id, len(v), e.token, e.acked)
				continue
			}
			got = ver
		}
		if !slices.Contains(append([]int64{e.acked}, e.pending...), got) {
			bad++
			t.Errorf("%s: id %d (%s) is v%d, want v%d or in flight %v", when, id, e.token, got, e.acked, e.pending)
		}
		e.acked, e.pending = got, nil
		if bad > 20 {
			t.Fatalf("%s: too many bad ids", when)
		}
	}
	t.Logf("%s: verified %d ids", when, len(m.ids))
}
