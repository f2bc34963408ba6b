package zstor

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/zerostor/zerostor/internal/zdbclient"
)

// backend is one configured zdb namespace, with what zstor has learned of
// it: latency, failures and mode.
type backend struct {
	id       string // address/namespace, as in metadata
	password string // to tell a changed backend on Reload
	cl       *zdbclient.Client
	seq      atomic.Bool // sequential-mode namespace: the backend picks keys

	// draining: every shard on it is moved elsewhere and nothing new is
	// placed on it. Set by Drain, or by a failed audit (the backend lied);
	// persisted in the metadata store.
	draining atomic.Bool
	// proof is whether the backend has PROOF (a zdb of this version, whose
	// HASH is the shard tree root too): proofUnknown, proofYes or proofNo
	// (0-db, an older zdb: audits and checks read the whole shard).
	proof atomic.Int32

	mu        sync.Mutex
	group     string
	labels    map[string]string
	downSince time.Time // first failure of the current streak of failures
	errRate   float64   // EWMA of failed calls (0..1)
	calls     int64
	audits    int64
	auditFail int64
	lastLie   time.Time     // last audit answered with wrong data
	ewma      time.Duration // of successful calls
	lat       [64]time.Duration
	sorted    [64]time.Duration
	latN      int
	p95       time.Duration // of lat, as of latN == p95At
	p95At     int
	fails     int       // consecutive transport failures
	downUntil time.Time // skip until then (cooldown after failures)
	lastErr   string
	full      bool
	fullSeen  time.Time // when full was last confirmed (by a reply or NSINFO)
	checking  bool      // a recheckFull is in flight
	errs      int64
	info      map[string]string
	infoAt    time.Time
	inflight  atomic.Int64
}

// downAfter consecutive failures mark a backend down for a cooldown;
// a success clears it.
const (
	downAfter    = 2
	downCooldown = 5 * time.Second
)

const (
	proofUnknown int32 = iota
	proofYes
	proofNo
)

// proofProbeKey is a key no shard has: PROOF of it tells whether the
// backend knows the command.
var proofProbeKey = []byte("zstor-proof-probe")

// hasProof reports whether the backend answers PROOF (and so computes
// HASH as the shard tree root), asking it once.
func (b *backend) hasProof(ctx context.Context) bool {
	switch b.proof.Load() {
	case proofYes:
		return true
	case proofNo:
		return false
	}
	err := b.call(ctx, func(ctx context.Context, cl *zdbclient.Client) error {
		_, err := cl.Proof(ctx, proofProbeKey, 0)
		return err
	})
	var re *zdbclient.ReplyError
	switch {
	case err == nil || errors.Is(err, zdbclient.ErrNotFound):
		b.proof.Store(proofYes)
		return true
	case errors.As(err, &re):
		b.proof.Store(proofNo)
	}
	return false // unknown (unreachable): read the shard this time
}

// setPlace sets the backend's group and labels (from the config).
func (b *backend) setPlace(group string, labels map[string]string) {
	b.mu.Lock()
	b.group, b.labels = group, labels
	b.mu.Unlock()
}

func (b *backend) place() (group string, labels map[string]string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.group, b.labels
}

// errRateWeight is the weight of one call in the error-rate EWMA: about
// the last 50 calls count.
const errRateWeight = 1.0 / 32

func (b *backend) observe(d time.Duration, err error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if err != nil && errors.Is(err, context.Canceled) {
		return // we gave up on it; says nothing about the backend
	}
	b.calls++
	failed := 0.0
	if err != nil && !errors.Is(err, zdbclient.ErrNotFound) {
		failed = 1
	}
	b.errRate += (failed - b.errRate) * errRateWeight
	if err != nil {
		var re *zdbclient.ReplyError
		if errors.As(err, &re) {
			b.errs++
			b.lastErr = err.Error()
			if isFullReply(re.Msg) {
				b.full, b.fullSeen = true, time.Now()
			}
			return // it answered: reachable
		}
		if errors.Is(err, zdbclient.ErrNotFound) || errors.Is(err, zdbclient.ErrCorrupt) {
			b.errs++
			return
		}
		b.errs++
		if b.fails == 0 {
			b.downSince = time.Now()
		}
		b.fails++
		b.lastErr = err.Error()
		if b.fails >= downAfter {
			b.downUntil = time.Now().Add(downCooldown)
		}
		return
	}
	b.fails = 0
	b.downSince = time.Time{}
	b.downUntil = time.Time{}
	b.sampleLocked(d)
}

// sampleLocked adds a latency sample.
func (b *backend) sampleLocked(d time.Duration) {
	if b.ewma == 0 {
		b.ewma = d
	} else {
		b.ewma += (d - b.ewma) / 8
	}
	b.lat[b.latN%len(b.lat)] = d
	b.latN++
}

func isFullReply(msg string) bool {
	return strings.HasPrefix(msg, "No space")
}

// observeAtLeast records a call that was abandoned after d: a censored
// sample, taken only when it raises the figures.
func (b *backend) observeAtLeast(d time.Duration) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if d > b.ewma {
		b.sampleLocked(d)
	}
}

// down reports whether the backend failed recently and should be skipped.
func (b *backend) down() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return time.Now().Before(b.downUntil)
}

// BackendState is what the monitor concludes about a backend.
type BackendState uint8

// Backend states, from best to worst.
const (
	// StateHealthy: answering, few errors.
	StateHealthy BackendState = iota
	// StateDegraded: answering, but failing many calls, full, or caught
	// lying by an audit recently. Placement avoids it when it can.
	StateDegraded
	// StateDown: the last calls failed. Reads and writes go around it; its
	// shards are not rebuilt yet (it may come back).
	StateDown
	// StateTerminal: down for longer than [repair] terminal_after: its
	// shards are treated as lost and rebuilt elsewhere.
	StateTerminal
)

func (s BackendState) String() string {
	switch s {
	case StateHealthy:
		return "healthy"
	case StateDegraded:
		return "degraded"
	case StateDown:
		return "down"
	case StateTerminal:
		return "terminal"
	}
	return "unknown"
}

// MarshalText makes states readable in JSON.
func (s BackendState) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// UnmarshalText parses String's output.
func (s *BackendState) UnmarshalText(b []byte) error {
	for v := StateHealthy; v <= StateTerminal; v++ {
		if v.String() == string(b) {
			*s = v
			return nil
		}
	}
	return fmt.Errorf("%w: backend state %q", ErrInvalid, b)
}

// degradedErrRate is the error rate above which a backend is degraded.
const degradedErrRate = 0.2

// lieMemory is how long an audit failure keeps a backend degraded.
const lieMemory = time.Hour

// state classifies the backend; terminalAfter is [repair] terminal_after.
func (b *backend) state(now time.Time, terminalAfter time.Duration) BackendState {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.stateLocked(now, terminalAfter)
}

func (b *backend) stateLocked(now time.Time, terminalAfter time.Duration) BackendState {
	switch {
	case b.fails >= downAfter && !b.downSince.IsZero() && now.Sub(b.downSince) >= terminalAfter:
		return StateTerminal
	case b.fails >= downAfter:
		return StateDown
	case b.errRate > degradedErrRate || b.full || !b.lastLie.IsZero() && now.Sub(b.lastLie) < lieMemory:
		return StateDegraded
	}
	return StateHealthy
}

// audited records the outcome of an audit: lied is a wrong answer (not a
// missing shard or a transport failure).
func (b *backend) audited(lied bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.audits++
	if lied {
		b.auditFail++
		b.lastLie = time.Now()
	}
}

func (b *backend) isFull() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.full
}

// fullRecheck is how long a backend found full is believed full before
// its NSINFO is read again: space may have been freed or the limit raised,
// and nothing else would ever place shards on it again.
const fullRecheck = time.Second

// recheckFull refreshes a full backend's NSINFO in the background when
// fullRecheck has passed since it was last found full.
func (b *backend) recheckFull() {
	b.mu.Lock()
	if !b.full || b.checking || time.Since(b.fullSeen) < fullRecheck {
		b.mu.Unlock()
		return
	}
	b.checking = true
	b.mu.Unlock()
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		defer cancel()
		err := b.refresh(ctx)
		b.mu.Lock()
		b.checking = false
		if err != nil {
			b.fullSeen = time.Now() // try again after another fullRecheck
		}
		b.mu.Unlock()
	}()
}

// stored records that a new value was stored on the backend: it has room.
func (b *backend) stored() {
	b.mu.Lock()
	b.full = false
	b.mu.Unlock()
}

// latency returns the EWMA and p95 of recent successful calls (zero when
// nothing was measured yet).
func (b *backend) latency() (ewma, p95 time.Duration) {
	b.mu.Lock()
	defer b.mu.Unlock()
	n := min(b.latN, len(b.lat))
	if n == 0 {
		return 0, 0
	}
	// Sorting the window costs: recompute after every 16 new samples.
	if b.p95 == 0 || b.latN-b.p95At >= 16 {
		s := b.sorted[:n]
		copy(s, b.lat[:n])
		slices.Sort(s)
		b.p95, b.p95At = s[(n*95-1)/100], b.latN
	}
	return b.ewma, b.p95
}

// call runs fn against the backend and records its latency and outcome.
func (b *backend) call(ctx context.Context, fn func(context.Context, *zdbclient.Client) error) error {
	b.inflight.Add(1)
	start := time.Now()
	err := fn(ctx, b.cl)
	b.inflight.Add(-1)
	b.observe(time.Since(start), err)
	return err
}

// refresh reads NSINFO: mode, size and limit. It is how a backend that was
// down comes back.
func (b *backend) refresh(ctx context.Context) error {
	var info map[string]string
	err := b.call(ctx, func(ctx context.Context, c *zdbclient.Client) (err error) {
		info, err = c.NSInfo(ctx)
		return err
	})
	if err != nil {
		return err
	}
	b.seq.Store(info["mode"] == "sequential")
	b.mu.Lock()
	b.info, b.infoAt = info, time.Now()
	limit, _ := strconv.ParseInt(info["data_limits_bytes"], 10, 64)
	size, _ := strconv.ParseInt(info["data_size_bytes"], 10, 64)
	b.full, b.fullSeen = limit > 0 && size >= limit, time.Now()
	b.mu.Unlock()
	return nil
}

func (b *backend) status(terminalAfter time.Duration) BackendStatus {
	ewma, p95 := b.latency()
	now := time.Now()
	b.mu.Lock()
	defer b.mu.Unlock()
	st := BackendStatus{
		ID: b.id, Group: b.group, Latency: ewma, P95: p95, Errors: b.errs, LastError: b.lastErr,
		Reachable: b.info != nil && b.fails < downAfter,
		State:     b.stateLocked(now, terminalAfter), Draining: b.draining.Load(),
		ErrorRate: b.errRate, Calls: b.calls, Audits: b.audits, AuditFailures: b.auditFail,
		DownSince: b.downSince,
	}
	if b.fails < downAfter {
		st.DownSince = time.Time{}
	}
	if b.info != nil {
		st.Mode = b.info["mode"]
		st.Entries, _ = strconv.ParseInt(b.info["entries"], 10, 64)
		st.DataSize, _ = strconv.ParseInt(b.info["data_size_bytes"], 10, 64)
		st.DataLimit, _ = strconv.ParseInt(b.info["data_limits_bytes"], 10, 64)
	}
	return st
}
