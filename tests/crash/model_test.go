package crash

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/fnv"
	"math"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// Values are derived from (key, version) so that any value read back can be
// checked byte for byte: "<key>|<version>|" followed by ChaCha8 bytes seeded
// by key and version, with a length also derived from both.

// sizes is the value length range, drawn log-uniformly.
type sizes struct{ min, max int }

var defaultSizes = sizes{100, 300 << 10}

func keyHash(key string) uint64 {
	h := fnv.New64a()
	h.Write([]byte(key))
	return h.Sum64()
}

func splitmix(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9
	x = (x ^ (x >> 27)) * 0x94d049bb133111eb
	return x ^ (x >> 31)
}

func (s sizes) size(key string, ver int64) int {
	u := float64(splitmix(keyHash(key)^uint64(ver)*0x2545f4914f6cdd1d)>>11) / (1 << 53)
	n := int(float64(s.min) * math.Pow(float64(s.max)/float64(s.min), u))
	return min(max(n, s.min), s.max)
}

func (s sizes) value(key string, ver int64) []byte {
	hdr := key + "|" + strconv.FormatInt(ver, 10) + "|"
	n := max(s.size(key, ver), len(hdr))
	b := make([]byte, n)
	copy(b, hdr)
	var seed [32]byte
	binary.LittleEndian.PutUint64(seed[:], keyHash(key))
	binary.LittleEndian.PutUint64(seed[8:], uint64(ver))
	rand.NewChaCha8(seed).Read(b[len(hdr):])
	return b
}

// version returns the version a value read for key claims to be and
// whether the value is exactly that version's bytes.
func (s sizes) version(key string, b []byte) (int64, bool) {
	rest, ok := bytes.CutPrefix(b, []byte(key+"|"))
	if !ok {
		return 0, false
	}
	i := bytes.IndexByte(rest, '|')
	if i <= 0 || i > 20 {
		return 0, false
	}
	ver, err := strconv.ParseInt(string(rest[:i]), 10, 64)
	if err != nil || ver <= 0 {
		return 0, false
	}
	return ver, bytes.Equal(b, s.value(key, ver))
}

// model is what the clients know of the store. A key's state is a version
// number, 0 meaning absent. acked is the state of the last write whose reply
// was received; pending holds the states of writes sent but not answered
// (lost in a crash: each may or may not have happened). Keys are owned by
// one writer each, so a key's writes never race with each other.
type model struct {
	sz      sizes
	mu      sync.Mutex
	acked   map[string]int64
	pending map[string][]int64
	nextVer map[string]int64
	ackedAt map[string]time.Time // when the last acknowledgement came
}

func newModel(sz sizes) *model {
	return &model{sz: sz, acked: map[string]int64{}, pending: map[string][]int64{}, nextVer: map[string]int64{}, ackedAt: map[string]time.Time{}}
}

// begin records a write about to be sent and returns its state.
func (m *model) begin(key string, del bool) int64 {
	m.mu.Lock()
	defer m.mu.Unlock()
	var st int64
	if !del {
		m.nextVer[key]++
		st = m.nextVer[key]
	} else if _, ok := m.nextVer[key]; !ok {
		m.nextVer[key] = 0
	}
	m.pending[key] = append(m.pending[key], st)
	return st
}

func (m *model) dropPending(key string, st int64) {
	p := m.pending[key]
	if i := slices.Index(p, st); i >= 0 {
		p = slices.Delete(p, i, i+1)
	}
	if len(p) == 0 {
		delete(m.pending, key)
	} else {
		m.pending[key] = p
	}
}

// ack records the reply of a write that took effect.
func (m *model) ack(key string, st int64) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.acked[key] = st
	m.ackedAt[key] = time.Now()
	m.dropPending(key, st)
}

// refused records an error reply: the write did not happen.
func (m *model) refused(key string, st int64) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.dropPending(key, st)
}

func (m *model) ackedState(key string) int64 {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.acked[key]
}

func (m *model) keys() []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	ks := make([]string, 0, len(m.nextVer))
	for k := range m.nextVer {
		ks = append(ks, k)
	}
	slices.Sort(ks)
	return ks
}

func (m *model) live() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	n := 0
	for _, st := range m.acked {
		if st != 0 {
			n++
		}
	}
	return n
}

// set writes key synchronously and records it; it fails the test on
// any error.
func (m *model) set(t *testing.T, cl *redis.Client, key string) {
	t.Helper()
	st := m.begin(key, false)
	if err := cl.Set(context.Background(), key, m.sz.value(key, st), 0).Err(); err != nil {
		t.Fatalf("SET %s: %v", key, err)
	}
	m.ack(key, st)
}

// del deletes key synchronously and records it.
func (m *model) del(t *testing.T, cl *redis.Client, key string) {
	t.Helper()
	st := m.begin(key, true)
	if err := cl.Do(context.Background(), "DEL", key).Err(); err != nil && err.Error() != "Key not found" {
		t.Fatalf("DEL %s: %v", key, err)
	}
	m.ack(key, st)
}

func stateString(st int64) string {
	if st == 0 {
		return "absent"
	}
	return "v" + strconv.FormatInt(st, 10)
}

// verify reads every key the model knows and checks it holds its
// acknowledged state or one of its in-flight states; it then settles the
// model on what was found. It also checks DBSIZE against the model.
func (m *model) verify(t *testing.T, cl *redis.Client, when string) {
	t.Helper()
	ctx := context.Background()
	keys := m.keys()
	bad := 0
	settled := 0
	for start := 0; start < len(keys); start += 32 {
		chunk := keys[start:min(start+32, len(keys))]
		cmds := make([]*redis.StringCmd, len(chunk))
		_, err := cl.Pipelined(ctx, func(p redis.Pipeliner) error {
			for i, k := range chunk {
				cmds[i] = p.Get(ctx, k)
			}
			return nil
		})
		if err != nil && !isReply(err) {
			t.Fatalf("%s: GET pipeline: %v", when, err)
		}
		m.mu.Lock()
		for i, k := range chunk {
			var obs int64
			v, err := cmds[i].Bytes()
			switch {
			case errors.Is(err, redis.Nil):
			case err != nil:
				bad++
				t.Errorf("%s: GET %s: %v (acked %s, in flight %v)", when, k, err, stateString(m.acked[k]), m.pending[k])
				continue
			default:
				ver, exact := m.sz.version(k, v)
				if !exact {
					bad++
					t.Errorf("%s: GET %s returned %d wrong bytes (claims %s; acked %s, in flight %v)",
						when, k, len(v), stateString(ver), stateString(m.acked[k]), m.pending[k])
					continue
				}
				obs = ver
			}
			allowed := append([]int64{m.acked[k]}, m.pending[k]...)
			if !slices.Contains(allowed, obs) {
				bad++
				t.Errorf("%s: key %s is %s, want acked %s or an in-flight state %v",
					when, k, stateString(obs), stateString(m.acked[k]), m.pending[k])
			}
			if len(m.pending[k]) > 0 {
				settled++
			}
			m.acked[k] = obs
			delete(m.pending, k)
		}
		m.mu.Unlock()
		if bad > 1000 {
			t.Fatalf("%s: too many bad keys", when)
		}
	}
	n, err := cl.DBSize(ctx).Result()
	if err != nil {
		t.Fatalf("%s: DBSIZE: %v", when, err)
	}
	if want := m.live(); n != int64(want) {
		t.Errorf("%s: DBSIZE = %d, model has %d live keys", when, n, want)
	}
	t.Logf("%s: verified %d keys (%d live, %d had writes in flight)", when, len(keys), m.live(), settled)
}

// workload drives concurrent writers against one daemon run.
type workload struct {
	m        *model
	writers  int
	keys     int // keys per writer
	delPct   int // share of DELs
	prefix   string
	seed     uint64
	round    int
	allowErr func(string) bool // error replies that are not test failures

	acked, lost, bytes atomic.Int64
	errs               chan string
	lossMu             sync.Mutex
	losses             map[string]int // transport errors seen, by text
}

func (w *workload) key(writer, i int) string {
	return fmt.Sprintf("%sw%d-%04d", w.prefix, writer, i)
}

// run starts the writers; they stop at the first transport error (the
// daemon was killed) or when stop closes. The returned function waits for
// them and reports unexpected error replies as test errors.
func (w *workload) run(t *testing.T, cl *redis.Client, stop <-chan struct{}) (wait func()) {
	w.errs = make(chan string, 64)
	w.losses = map[string]int{}
	var wg sync.WaitGroup
	for i := 0; i < w.writers; i++ {
		wg.Add(1)
		go func(id int) {
			defer wg.Done()
			w.writer(cl, id, stop)
		}(i)
	}
	return func() {
		t.Helper()
		wg.Wait()
		close(w.errs)
		n := 0
		for e := range w.errs {
			if n++; n <= 10 {
				t.Error(e)
			}
		}
		w.round++
	}
}

// errUnanswered marks a pipelined command that got no reply.
var errUnanswered = errors.New("no reply")

type sent struct {
	key string
	del bool
	st  int64
	cmd redis.Cmder
}

func (w *workload) writer(cl *redis.Client, id int, stop <-chan struct{}) {
	rng := rand.New(rand.NewPCG(w.seed, uint64(w.round)<<16|uint64(id)))
	ctx := context.Background()
	pipelined := id%2 == 1
	for {
		select {
		case <-stop:
			return
		default:
		}
		n := 1
		if pipelined {
			n = 1 + rng.IntN(8)
		}
		ops := make([]sent, n)
		for i := range ops {
			k := w.key(id, rng.IntN(w.keys))
			del := rng.IntN(100) < w.delPct
			ops[i] = sent{key: k, del: del, st: w.m.begin(k, del)}
		}
		var size int64
		if n == 1 {
			op := &ops[0]
			if op.del {
				op.cmd = cl.Do(ctx, "DEL", op.key)
			} else {
				v := w.m.sz.value(op.key, op.st)
				size += int64(len(v))
				op.cmd = cl.Set(ctx, op.key, v, 0)
			}
		} else {
			cl.Pipelined(ctx, func(p redis.Pipeliner) error {
				for i := range ops {
					op := &ops[i]
					if op.del {
						op.cmd = p.Do(ctx, "DEL", op.key)
					} else {
						v := w.m.sz.value(op.key, op.st)
						size += int64(len(v))
						op.cmd = p.Set(ctx, op.key, v, 0)
					}
					// go-redis leaves the commands of a pipeline it could
					// not send (no connection) without an error: mark them
					// until a reply replaces this.
					op.cmd.SetErr(errUnanswered)
				}
				return nil
			})
		}
		dead := false
		for _, op := range ops {
			err := op.cmd.Err()
			switch {
			case !isReply(err):
				w.lost.Add(1)
				w.lossMu.Lock()
				msg := err.Error()
				if i := strings.LastIndex(msg, ": "); i >= 0 {
					msg = msg[i+2:] // drop addresses
				}
				w.losses[msg]++
				w.lossMu.Unlock()
				dead = true
			case err == nil, errors.Is(err, redis.Nil):
				// 0-db answers a SET with its key and a DEL with OK.
				if sc, ok := op.cmd.(*redis.StatusCmd); ok && err == nil && sc.Val() != op.key {
					w.report(fmt.Sprintf("SET %s: reply %q does not name the key", op.key, sc.Val()))
				}
				if c, ok := op.cmd.(*redis.Cmd); ok && err == nil && c.Val() != "OK" {
					w.report(fmt.Sprintf("DEL %s: reply %v, want OK", op.key, c.Val()))
				}
				w.m.ack(op.key, op.st)
				w.acked.Add(1)
			case op.del && err.Error() == "Key not found":
				if prev := w.m.ackedState(op.key); prev != 0 {
					w.report(fmt.Sprintf("DEL %s: Key not found, but %s was acknowledged", op.key, stateString(prev)))
				}
				w.m.ack(op.key, 0)
				w.acked.Add(1)
			default:
				w.m.refused(op.key, op.st)
				if w.allowErr == nil || !w.allowErr(err.Error()) {
					w.report(fmt.Sprintf("%s %s: unexpected error reply %q", map[bool]string{true: "DEL", false: "SET"}[op.del], op.key, err))
				}
			}
		}
		if dead {
			return
		}
		w.bytes.Add(size)
	}
}

func (w *workload) report(s string) {
	select {
	case w.errs <- s:
	default:
	}
}

// randDelay returns a duration in [lo, hi).
func randDelay(rng *rand.Rand, lo, hi time.Duration) time.Duration {
	return lo + time.Duration(rng.Int64N(int64(hi-lo)))
}
